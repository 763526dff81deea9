"""A bundle's points and memberships in the journal: each PointsCredited is one entry, Dr expense:points /
Cr liability:points at the points' value; a membership with a cost is posted like a key's cost; one that
costs nothing and points worth nothing post nothing. Redelivered, nothing posts twice; the chain verifies."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from psycopg_pool import AsyncConnectionPool
from quanyi.fulfillment.v1 import events_pb2 as ff
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.application.verification import verify_journal
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.replay import assert_replay_matches_live

from .conftest import deliver, fetch, received
from .facts import cny, delivered, sale


def points(order_id: str, unit: int, n: int, value: int) -> ReceivedEvent:
    msg = ff.PointsCredited(order_id=order_id, line_no=1, unit_no=unit, buyer_id="b", points=n,
                            value=cny(value), sales_channel="web", bundle_sku_id="box")
    return received(msg, order_id, topic="quanyi.fulfillment.v1")


def membership(order_id: str, unit: int, cost: int) -> ReceivedEvent:
    msg = ff.MembershipGranted(order_id=order_id, line_no=1, unit_no=unit, buyer_id="b", plan="vip", days=30,
                               valid_from=Timestamp(seconds=1), valid_until=Timestamp(seconds=2),
                               cost=cny(cost), sales_channel="web", bundle_sku_id="box")
    return received(msg, order_id, topic="quanyi.fulfillment.v1")


async def test_each_points_credit_is_one_entry_on_the_points_liability_and_a_costly_membership_is_a_cost(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    credits = [points("o1", 2, 500, 250), points("o1", 3, 500, 250)]
    free_points, free_vip, paid_vip = points("o1", 4, 10, 0), membership("o1", 5, 0), membership("o1", 6, 900)
    events = [*sale("o1", "web", 5000), delivered("o1", "web", 300), *credits, free_points, free_vip, paid_vip]
    await deliver(pool, store, *events)
    await deliver(pool, store, *credits, paid_vip)  # redelivered: posted once

    entries = await fetch(pool, "SELECT seq, kind, source_event_id FROM journal_entries ORDER BY seq")
    assert [e["kind"] for e in entries] == [
        "payment", "sale", "key_cost", "points_credited", "points_credited", "membership_cost"
    ]
    assert [str(e["source_event_id"]) for e in entries[3:]] == [
        credits[0].event_id, credits[1].event_id, paid_vip.event_id
    ]
    lines = await fetch(
        pool,
        "SELECT l.account, l.debit_minor, l.credit_minor FROM journal_lines l JOIN journal_entries e"
        " ON e.seq = l.entry_seq WHERE e.kind = 'points_credited' ORDER BY l.entry_seq, l.account",
    )
    assert [(r["account"], r["debit_minor"], r["credit_minor"]) for r in lines] == [
        ("expense:points", 250, 0), ("liability:points", 0, 250),
    ] * 2
    balances = {r["account"]: r["net"] for r in await fetch(
        pool, "SELECT account, debit_total - credit_total AS net FROM balances"
    )}
    assert balances["liability:points"] == -500 and balances["expense:points"] == 500
    assert balances["payables:memberships"] == -900 and balances["cogs:web"] == 300 + 900
    assert sum(balances.values()) == 0
    report = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert report.ok, report.problems
    await assert_replay_matches_live(database_url, "ledger")


def debit(order_id: str, unit: int, n: int, value: int) -> ReceivedEvent:
    msg = ff.PointsDebited(order_id=order_id, line_no=1, unit_no=unit, buyer_id="b", points=n,
                           value=cny(value), sales_channel="web", bundle_sku_id="box")
    return received(msg, order_id, topic="quanyi.fulfillment.v1")


def shortened(order_id: str, unit: int, cost: int) -> ReceivedEvent:
    msg = ff.MembershipShortened(order_id=order_id, line_no=1, unit_no=unit, buyer_id="b", plan="vip",
                                 days=30, valid_until=Timestamp(seconds=1), cost=cny(cost),
                                 sales_channel="web", bundle_sku_id="box")
    return received(msg, order_id, topic="quanyi.fulfillment.v1")


async def test_a_refunds_points_debit_reverses_the_credit_and_a_shortened_membership_its_whole_cost(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    credits = [points("o2", 2, 500, 250), points("o2", 3, 500, 250), points("o2", 4, 10, 0)]
    grants = [membership("o2", 5, 900), membership("o2", 6, 0)]
    await deliver(pool, store, *sale("o2", "web", 5000), *credits, *grants)
    taken = [debit("o2", 2, 500, 250), debit("o2", 3, 500, 250), debit("o2", 4, 10, 0),
             shortened("o2", 5, 900), shortened("o2", 6, 0)]
    await deliver(pool, store, *taken)
    await deliver(pool, store, *taken)  # redelivered: posted once

    entries = await fetch(
        pool, "SELECT kind, source_event_id FROM journal_entries WHERE kind IN"
        " ('points_debited', 'membership_cost_reversed') ORDER BY seq",
    )
    assert [(e["kind"], str(e["source_event_id"])) for e in entries] == [
        ("points_debited", taken[0].event_id), ("points_debited", taken[1].event_id),
        ("membership_cost_reversed", taken[3].event_id),
    ]  # one entry per event; worth nothing or costing nothing posts nothing
    lines = await fetch(
        pool,
        "SELECT l.account, l.debit_minor, l.credit_minor FROM journal_lines l JOIN journal_entries e"
        " ON e.seq = l.entry_seq WHERE e.kind IN ('points_debited', 'membership_cost_reversed')"
        " ORDER BY l.entry_seq, l.account",
    )
    assert [(r["account"], r["debit_minor"], r["credit_minor"]) for r in lines] == [
        ("expense:points", 0, 250), ("liability:points", 250, 0),
    ] * 2 + [("cogs:web", 0, 900), ("payables:memberships", 900, 0)]
    balances = {r["account"]: r["net"] for r in await fetch(
        pool, "SELECT account, debit_total - credit_total AS net FROM balances"
    )}
    assert balances["liability:points"] == 0 and balances["expense:points"] == 0
    assert balances["payables:memberships"] == 0 and balances.get("cogs:web", 0) == 0
    assert sum(balances.values()) == 0
    report = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert report.ok, report.problems
    await assert_replay_matches_live(database_url, "ledger")
