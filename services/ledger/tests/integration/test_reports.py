"""Balances as of an instant, the trial balance, and sales reports (rows, CSV, XLSX) over a real journal."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from psycopg_pool import AsyncConnectionPool
from quanyi.fulfillment.v1 import events_pb2 as ff
from quanyi.ledger.v1 import ledger_service_pb2 as pb
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.domain import reports
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.eventstore import EventStore

from .conftest import deliver, fetch, received
from .facts import cny

DAY1 = datetime(2026, 11, 2, 10, tzinfo=UTC)  # a Monday
DAY2 = datetime(2026, 11, 10, 10, tzinfo=UTC)


def at(ev: ReceivedEvent, t: datetime) -> ReceivedEvent:
    ev.envelope.occurred_at.FromDatetime(t)
    return ev


def order(order_id: str, channel: str, t: datetime, lines: dict[str, int]) -> list[ReceivedEvent]:
    total = sum(lines.values())
    ol = [orders.OrderLine(line_no=i, sku_id=s, quantity=1, unit_price=cny(p))
          for i, (s, p) in enumerate(lines.items(), start=1)]
    keys = [ff.DeliveredKey(key_id=f"k-{order_id}-{s}", sku_id=s, unit_cost=cny(p // 2)) for s, p in lines.items()]
    return [
        at(received(orders.PaymentCaptured(order_id=order_id, provider="wechatpay", provider_txn_id=f"T{order_id}",
                                           amount=cny(total)), order_id), t),
        at(received(orders.OrderPaid(order_id=order_id, channel=channel, total=cny(total), lines=ol), order_id), t),
        at(received(ff.KeyDelivered(order_id=order_id, buyer_id="b", keys=keys, sales_channel=channel), order_id,
                    topic="quanyi.fulfillment.v1"), t),
    ]


def ts(t: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(t)
    return out


async def post_month(pool: AsyncConnectionPool, store: EventStore) -> None:
    await deliver(
        pool, store,
        *order("o1", "storefront", DAY1, {"sku-a": 1000, "sku-b": 400}),
        *order("o2", "tmall", DAY1, {"sku-a": 1000}),
        *order("o3", "storefront", DAY2, {"sku-b": 400}),
        at(received(orders.OrderRefunded(order_id="o1", channel="storefront", amount=cny(700), was_released=True),
                    "o1"), DAY2),
    )


async def test_balances_as_of_an_instant_count_only_the_facts_until_then(
    pool: AsyncConnectionPool, store: EventStore, ledger: pb_grpc.LedgerServiceStub
) -> None:
    await post_month(pool, store)
    before = await ledger.GetBalances(pb.GetBalancesRequest(account_prefix="revenue:", as_of=ts(DAY1 - timedelta(1))))
    assert list(before.balances) == []
    day1 = await ledger.GetBalances(pb.GetBalancesRequest(account_prefix="revenue:", as_of=ts(DAY1)))
    assert {(b.account, b.balance_minor) for b in day1.balances} == {("revenue:storefront", -1400),
                                                                      ("revenue:tmall", -1000)}
    now = await ledger.GetBalances(pb.GetBalancesRequest(account_prefix="re"))
    assert {(b.account, b.balance_minor) for b in now.balances} == {
        ("revenue:storefront", -1800), ("revenue:tmall", -1000), ("refunds:storefront", 700)}

    trial = await ledger.GetTrialBalance(pb.GetTrialBalanceRequest())
    assert trial.balanced and trial.head_seq == 10
    assert sum(r.debit_minor - r.credit_minor for r in trial.rows) == 0
    early = await ledger.GetTrialBalance(pb.GetTrialBalanceRequest(as_of=ts(DAY1)))
    assert early.balanced and sum(r.debit_minor for r in early.rows) < sum(r.debit_minor for r in trial.rows)


async def test_a_report_by_sku_channel_and_week_sums_sales_refunds_cost_and_margin_as_the_fold_does(
    pool: AsyncConnectionPool, store: EventStore, ledger: pb_grpc.LedgerServiceStub
) -> None:
    await post_month(pool, store)
    reply = await ledger.GetReport(pb.GetReportRequest(
        period=pb.REPORT_PERIOD_WEEK, group_by=["sku", "channel"], format=pb.REPORT_FORMAT_CSV, actor="admin:cfo"
    ))
    rows = {(r.period, r.channel, r.sku_id): (r.sales_minor, r.refunds_minor, r.cost_minor, r.margin_minor)
            for r in reply.rows}
    assert rows == {
        ("2026-11-02", "storefront", "sku-a"): (1000, 0, 500, 500),
        ("2026-11-02", "storefront", "sku-b"): (400, 0, 200, 200),
        ("2026-11-02", "tmall", "sku-a"): (1000, 0, 500, 500),
        ("2026-11-09", "storefront", "sku-a"): (0, 500, 0, -500),   # 700 refunded, split 1000:400
        ("2026-11-09", "storefront", "sku-b"): (400, 200, 200, 0),
    }
    # The same rows as the domain's fold over the recorded entries.
    uow = PgLedgerUnitOfWork(store, pool=pool)
    async with uow:
        recorded = [e.rec async for e in uow.journal.entries()]
    query = reports.ReportQuery(period=reports.Period.WEEK, group_by=frozenset({"sku", "channel"}))
    assert [(r.period, r.channel, r.sku_id, r.sales_minor, r.refunds_minor, r.cost_minor)
            for r in reports.report(recorded, query)] == [
        (r.period, r.channel, r.sku_id, r.sales_minor, r.refunds_minor, r.cost_minor) for r in reply.rows]

    table = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert table[0][:5] == ["period", "channel", "product", "sku", "currency"] and len(table) == 6
    assert reply.content_type.startswith("text/csv")
    exported = await fetch(pool, "SELECT count(*) AS n FROM events WHERE aggregate_type = 'Export'")
    assert exported[0]["n"] == 1

    month = await ledger.GetReport(pb.GetReportRequest(
        period=pb.REPORT_PERIOD_MONTH, from_time=ts(DAY1), to_time=ts(DAY2), format=pb.REPORT_FORMAT_XLSX))
    assert [(r.period, r.sales_minor, r.cost_minor) for r in month.rows] == [("2026-11-01", 2400, 1200)]
    with zipfile.ZipFile(io.BytesIO(month.content)) as book:
        assert "xl/worksheets/sheet1.xml" in book.namelist()
        assert b"2400" in book.read("xl/worksheets/sheet1.xml")


async def test_a_report_by_product_maps_the_journal_skus_through_the_catalogue(
    pool: AsyncConnectionPool, store: EventStore, ledger: pb_grpc.LedgerServiceStub
) -> None:
    await post_month(pool, store)
    reply = await ledger.GetReport(pb.GetReportRequest(group_by=["product"]))
    # sku-a and sku-b are both product-1 in the catalogue.
    assert [(r.product_id, r.sku_id, r.sales_minor, r.refunds_minor, r.cost_minor) for r in reply.rows] == [
        ("product-1", "", 2800, 700, 1400)
    ]
    by_both = await ledger.GetReport(pb.GetReportRequest(group_by=["product", "sku"]))
    assert {(r.product_id, r.sku_id, r.sales_minor) for r in by_both.rows} == {
        ("product-1", "sku-a", 2000), ("product-1", "sku-b", 800)
    }
