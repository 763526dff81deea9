"""Reconciliation of generated WeChat Pay and Alipay trade bills with injected differences against a real
journal: exactly those differences are found, recorded, listed and resolved (audited)."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1.money_pb2 import Money
from quanyi.ledger.v1 import events_pb2 as ev
from quanyi.ledger.v1 import ledger_service_pb2 as pb
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_ledger.domain.reconciliation import CHINA, RowKind, StatementRow
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.replay import assert_replay_matches_live

from ..statements import alipay_bill, wechatpay_bill
from .conftest import deliver, fetch, received
from .facts import cny


def paid(provider: str, order_id: str, amount: int) -> list:  # type: ignore[type-arg]
    return [
        received(orders.PaymentCaptured(order_id=order_id, provider=provider, provider_txn_id=f"T{order_id}",
                                        amount=cny(amount)), order_id),
        received(orders.OrderPaid(order_id=order_id, channel="storefront", total=cny(amount)), order_id),
    ]


def refund(provider: str, order_id: str, amount: int) -> list:  # type: ignore[type-arg]
    return [
        received(orders.OrderRefunded(order_id=order_id, channel="storefront", amount=cny(amount),
                                      was_released=True), order_id),
        received(orders.RefundSucceeded(order_id=order_id, refund_id=f"R{order_id}", provider=provider,
                                        amount=cny(amount)), order_id),
    ]


def bill(layout: str, rows: list[StatementRow]) -> bytes:
    if layout == "wechatpay":
        return wechatpay_bill(rows)
    return alipay_bill(rows, rows[0].at.astimezone(CHINA).strftime("%Y年%m月%d日"))


@pytest.mark.parametrize("layout", ["wechatpay", "alipay"])
async def test_a_bill_with_injected_differences_yields_exactly_those_mismatches_listed_until_resolved(
    pool: AsyncConnectionPool, store: EventStore, ledger: pb_grpc.LedgerServiceStub, layout: str,
    database_url: str,
) -> None:
    amounts = {"o1": 1000, "o2": 1000, "o3": 600, "o4": 250, "o5": 1990}
    for order_id, amount in amounts.items():
        await deliver(pool, store, *paid(layout, order_id, amount))
    await deliver(pool, store, *refund(layout, "o3", 600))
    now = datetime.now(UTC)

    def row(order_id: str, amount: int, fee: int, kind: RowKind = RowKind.PAYMENT) -> StatementRow:
        refund_id = f"R{order_id}" if kind is RowKind.REFUND else ""
        return StatementRow(kind, f"T{order_id}", order_id, refund_id, amount, fee, "CNY", now)

    rows = [
        row("o1", 1000, 6),
        row("o2", 990, 6),             # injected: an amount that differs
        row("o3", 600, 4),
        row("o3", 600, -4, RowKind.REFUND),
        row("o4", 250, 2),
        row("ghost", 777, 5),          # injected: a payment the ledger never heard of
        # injected: o5's payment is missing from the bill
    ]
    content = bill(layout, rows)

    reply = await ledger.ReconcileStatement(
        pb.ReconcileStatementRequest(provider=layout, content=content, actor="admin:finance")
    )
    s = reply.statement
    assert (s.matched, s.missing_in_ledger, s.missing_in_statement, s.amount_mismatches) == (4, 1, 1, 1)
    assert s.fee_total.minor_units == 6 + 6 + 4 - 4 + 2 + 5
    assert s.payment_total.minor_units == 1000 + 990 + 600 + 250 + 777 and s.refund_total.minor_units == 600
    found = {(m.kind, m.provider_txn_id, m.ledger_amount.minor_units, m.statement_amount.minor_units)
             for m in reply.mismatches}
    assert found == {
        (ev.MISMATCH_KIND_AMOUNT, "To2", 1000, 990),
        (ev.MISMATCH_KIND_MISSING_IN_LEDGER, "Tghost", 0, 777),
        (ev.MISMATCH_KIND_MISSING_IN_STATEMENT, "To5", 1990, 0),
    }

    # The fees are posted against the provider's clearing account.
    balances = await ledger.GetBalances(pb.GetBalancesRequest(account_prefix=f"fees:psp:{layout}"))
    assert [(b.account, b.balance_minor) for b in balances.balances] == [(f"fees:psp:{layout}", 19)]

    listed = await ledger.ListMismatches(pb.ListMismatchesRequest())
    assert {m.mismatch.mismatch_id for m in listed.mismatches} == {m.mismatch_id for m in reply.mismatches}
    assert not any(m.resolved for m in listed.mismatches)

    # The same file again records nothing new.
    again = await ledger.ReconcileStatement(
        pb.ReconcileStatementRequest(provider=layout, content=content, actor="admin:finance")
    )
    assert again.already_reconciled
    assert len((await ledger.ListMismatches(pb.ListMismatchesRequest())).mismatches) == 3

    # A resolution is audited and its adjustment posted with the mismatch as the entry's reference.
    amount_mismatch = next(m for m in reply.mismatches if m.kind == ev.MISMATCH_KIND_AMOUNT)
    resolved = await ledger.ResolveMismatch(pb.ResolveMismatchRequest(
        mismatch_id=amount_mismatch.mismatch_id, actor="admin:finance", note="discount given by the provider",
        adjustment=Money(minor_units=-10, currency="CNY"),
    ))
    assert resolved.mismatch.resolved and resolved.mismatch.resolution.actor == "admin:finance"
    entries = await ledger.ListEntries(pb.ListEntriesRequest(reference=amount_mismatch.mismatch_id))
    [entry] = entries.entries
    assert entry.kind == "reconciliation_adjustment"
    assert {(ln.account, ln.debit_minor, ln.credit_minor) for ln in entry.lines} == {
        ("expense:reconciliation", 10, 0), (f"clearing:psp:{layout}", 0, 10)
    }
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ledger.ResolveMismatch(pb.ResolveMismatchRequest(
            mismatch_id=amount_mismatch.mismatch_id, actor="admin:other", note="again"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    open_now = await ledger.ListMismatches(pb.ListMismatchesRequest())
    assert len(open_now.mismatches) == 2
    every = await ledger.ListMismatches(pb.ListMismatchesRequest(include_resolved=True))
    assert len(every.mismatches) == 3 and every.next_page_token == ""
    # A page at a time (keyset on found_at, mismatch id): the same list; a made-up token is refused.
    first = await ledger.ListMismatches(pb.ListMismatchesRequest(include_resolved=True, limit=2))
    rest = await ledger.ListMismatches(
        pb.ListMismatchesRequest(include_resolved=True, limit=2, page_token=first.next_page_token)
    )
    assert first.next_page_token and rest.next_page_token == ""
    assert [*first.mismatches, *rest.mismatches] == list(every.mismatches)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ledger.ListMismatches(pb.ListMismatchesRequest(page_token="WzEsMl0"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (await ledger.VerifyJournal(pb.VerifyJournalRequest())).ok
    events = await fetch(pool, "SELECT count(*) AS n FROM events WHERE aggregate_type = 'Mismatch'")
    assert events[0]["n"] == 4
    # The operations list and the statements are projections: a replay of the events gives them back.
    [comparison] = await assert_replay_matches_live(database_url, "ledger")
    tables = {t.table: t.live_rows for t in comparison.tables}
    assert tables["reconciliation_mismatches"] == 3 and tables["reconciliation_statements"] == 1


async def test_a_file_that_is_not_a_bill_is_refused_as_invalid(ledger: pb_grpc.LedgerServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ledger.ReconcileStatement(pb.ReconcileStatementRequest(provider="wechatpay", content=b"a,b\n1,2\n"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ledger.ReconcileStatement(pb.ReconcileStatementRequest(provider="paypal", content=b"x"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
