"""Commissions and channel receivables posted from the events that exist, through the ledger's consumer
on real Postgres: a sale on a channel whose partner earns a commission accrues it in the sale's own entry
(one event, one entry) and a refund of the sale gives back the same share; a payment a marketplace channel
collected itself (provider "channel:<channel>") is a receivable from the channel, and its refund is paid
from it."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.application.verification import verify_journal
from quanyi_ledger.domain.posting import ChannelTerms
from quanyi_ledger.entrypoints.consumers import batch_handler
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.eventstore import EventStore

from .conftest import fetch, received
from .facts import cny, refunded

TERMS = ChannelTerms({"tmall": 500})


async def post(pool: AsyncConnectionPool, store: EventStore, *events: ReceivedEvent) -> None:
    """One consumer batch, as the service's consumer runs it with QUANYI_LEDGER_COMMISSION_BPS={"tmall": 500}."""
    handler = batch_handler(lambda conn: PgLedgerUnitOfWork(store, conn=conn), TERMS)
    async with pool.connection() as conn, conn.transaction():
        await handler.apply(conn, list(events))


def marketplace_sale(order_id: str, amount: int) -> list[ReceivedEvent]:
    """A Tmall order whose money Tmall collected: captured by provider channel:tmall, sold on tmall."""
    return [
        received(orders.PaymentCaptured(order_id=order_id, provider="channel:tmall", provider_txn_id=f"tm-{order_id}",
                                        amount=cny(amount)), order_id),
        received(orders.OrderPaid(order_id=order_id, channel="tmall", total=cny(amount)), order_id),
    ]


async def balances(pool: AsyncConnectionPool) -> dict[str, int]:
    rows = await fetch(pool, "SELECT account, debit_total - credit_total AS net FROM balances")
    return {r["account"]: int(r["net"]) for r in rows}


async def test_a_marketplace_sale_accrues_its_commission_and_is_owed_by_the_channel_and_a_refund_gives_back(
    pool: AsyncConnectionPool, store: EventStore
) -> None:
    await post(pool, store, *marketplace_sale("o1", 19_990), *marketplace_sale("o2", 5_000))
    [sale] = await fetch(
        pool, "SELECT e.seq, count(*) AS lines FROM journal_entries e JOIN journal_lines l ON l.entry_seq = e.seq"
        " WHERE e.kind = 'sale' AND e.correlation_id = 'o1' GROUP BY e.seq"
    )
    assert sale["lines"] == 4  # deposits, revenue, and the commission's two sides: one event, one entry
    await post(pool, store, refunded("o2", "tmall", 5_000, was_released=True))
    await post(
        pool, store,
        received(orders.RefundSucceeded(order_id="o2", refund_id="r-o2", amount=cny(5_000), provider="channel:tmall"),
                 "o2"),
    )

    net = await balances(pool)
    # 5% of 199.90 is 9.995, rounded down to 9.99; o2's 2.50 accrued and given back with its refund.
    assert net["expense:commissions:tmall"] == 999
    assert net["payables:commissions:tmall"] == -999
    assert net["receivables:channel:tmall"] == 19_990  # collected by Tmall for o1; o2's refunded from it
    assert "clearing:psp:channel:tmall" not in net and "clearing:psp:tmall" not in net
    assert -net["revenue:tmall"] - net["refunds:tmall"] == 19_990  # I4: paid − refunded
    assert sum(net.values()) == 0
    result = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert result.ok, result.problems


async def test_a_channel_without_terms_earns_no_commission(pool: AsyncConnectionPool, store: EventStore) -> None:
    await post(pool, store, received(orders.OrderPaid(order_id="o1", channel="web", total=cny(1_000)), "o1"))
    assert not [a for a in await balances(pool) if a.startswith(("expense:commissions", "payables:commissions"))]
