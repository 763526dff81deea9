"""LedgerService over a real grpc.aio server, before and after someone tampers with the journal."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1.money_pb2 import Money
from quanyi.ledger.v1 import ledger_service_pb2 as pb
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_platform.eventstore import EventStore

from .conftest import deliver, received


async def post_sales(pool: AsyncConnectionPool, store: EventStore) -> None:
    for order_id, channel, amount in [("o1", "web", 1000), ("o2", "tmall", 500), ("o3", "web", 250)]:
        money = Money(minor_units=amount, currency="CNY")
        await deliver(
            pool,
            store,
            received(orders.PaymentCaptured(order_id=order_id, provider="psp-sim", amount=money), order_id),
            received(orders.OrderPaid(order_id=order_id, channel=channel, total=money), order_id),
        )


async def tamper(database_url: str, statement: str, table: str) -> None:
    """What only a superuser can do: switch the append-only triggers off, change a row, switch them on."""
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("SET search_path TO ledger")
        await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        await conn.execute(statement)
        await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


async def test_balances_are_debits_minus_credits_and_filter_by_prefix(
    pool: AsyncConnectionPool, store: EventStore, ledger: pb_grpc.LedgerServiceStub
) -> None:
    await post_sales(pool, store)
    every = await ledger.GetBalances(pb.GetBalancesRequest())
    assert {(b.account, b.balance_minor, b.currency) for b in every.balances} == {
        ("clearing:psp:psp-sim", 1750, "CNY"),
        ("deposits:buyers", 0, "CNY"),
        ("revenue:tmall", -500, "CNY"),
        ("revenue:web", -1250, "CNY"),
    }
    revenue = await ledger.GetBalances(pb.GetBalancesRequest(account_prefix="revenue:"))
    assert [b.account for b in revenue.balances] == ["revenue:tmall", "revenue:web"]
    none = await ledger.GetBalances(pb.GetBalancesRequest(account_prefix="revenue_%"))
    assert list(none.balances) == []


async def test_an_intact_journal_verifies(
    pool: AsyncConnectionPool, store: EventStore, ledger: pb_grpc.LedgerServiceStub
) -> None:
    empty = await ledger.VerifyJournal(pb.VerifyJournalRequest())
    assert empty.ok and empty.entries == 0
    await post_sales(pool, store)
    result = await ledger.VerifyJournal(pb.VerifyJournalRequest())
    assert result.ok, list(result.problems)
    assert result.entries == 6 and list(result.problems) == []


async def test_a_changed_amount_is_reported_by_verification(
    pool: AsyncConnectionPool, store: EventStore, ledger: pb_grpc.LedgerServiceStub, database_url: str
) -> None:
    await post_sales(pool, store)
    assert (await ledger.VerifyJournal(pb.VerifyJournalRequest())).ok

    await tamper(
        database_url,
        "UPDATE journal_lines SET credit_minor = 900 WHERE entry_seq = 4 AND credit_minor > 0",
        "journal_lines",
    )

    result = await ledger.VerifyJournal(pb.VerifyJournalRequest())
    assert not result.ok and result.entries == 6
    assert "entry 4 was changed after it was posted (hash differs)" in result.problems
    assert "entry 4 does not balance: debits 500 ≠ credits 900 in CNY" in result.problems
    assert any("read model differs" in p for p in result.problems)


async def test_a_balanced_rewrite_of_an_entry_is_still_reported(
    pool: AsyncConnectionPool, store: EventStore, ledger: pb_grpc.LedgerServiceStub, database_url: str
) -> None:
    await post_sales(pool, store)
    await tamper(
        database_url,
        "UPDATE journal_lines SET account = 'revenue:jd' WHERE account = 'revenue:tmall'",
        "journal_lines",
    )
    result = await ledger.VerifyJournal(pb.VerifyJournalRequest())
    assert not result.ok
    assert "entry 4 was changed after it was posted (hash differs)" in result.problems


async def test_removed_entries_are_reported_by_verification(
    pool: AsyncConnectionPool, store: EventStore, ledger: pb_grpc.LedgerServiceStub, database_url: str
) -> None:
    await post_sales(pool, store)
    await tamper(database_url, "DELETE FROM journal_lines WHERE entry_seq IN (3, 6)", "journal_lines")
    await tamper(database_url, "DELETE FROM journal_entries WHERE seq IN (3, 6)", "journal_entries")

    result = await ledger.VerifyJournal(pb.VerifyJournalRequest())
    assert not result.ok and result.entries == 4
    assert "entry 3 is missing" in result.problems
    assert "entry 4 does not link to the entry before it (prev_hash differs)" in result.problems
    assert "the journal ends at entry 5 but entry 6 was posted" in result.problems
