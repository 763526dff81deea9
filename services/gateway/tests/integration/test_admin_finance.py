"""The admin finance API over a real ledger (its gRPC service on this test's database): reports and their
files, the trial balance, reconciliation, the operations list, resolutions, the signed head. Admins only;
problems as application/problem+json."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.ledger.v1 import ledger_service_pb2_grpc as ledger_grpc
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.adapters.signing import Ed25519Signer
from quanyi_ledger.application.posting import HeardFact, post_facts
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.journal import Money
from quanyi_ledger.domain.reconciliation import CHINA, WECHAT_HEADER
from quanyi_ledger.entrypoints.grpc_server import LedgerServicer
from quanyi_ledger.projections import PROJECTIONS
from quanyi_platform import db, rpc
from quanyi_platform.eventstore import EventStore

ROUTES = [
    ("GET", "/v1/admin/finance/trial-balance"),
    ("GET", "/v1/admin/finance/reports/sales"),
    ("GET", "/v1/admin/finance/mismatches"),
    ("POST", "/v1/admin/finance/chain-head"),
    ("GET", "/v1/admin/finance/verify"),
]


@pytest.fixture
async def ledger(database_url: str) -> AsyncIterator[tuple[str, AsyncConnectionPool, EventStore]]:
    await db.migrate(database_url, "ledger", ["quanyi_ledger.migrations"])
    pool = await db.create_pool(database_url, "ledger", 1, 4)
    store = EventStore("ledger", projections=PROJECTIONS)
    server = rpc.server()
    ledger_grpc.add_LedgerServiceServicer_to_server(
        LedgerServicer(lambda: PgLedgerUnitOfWork(store, pool=pool), Ed25519Signer.generate()), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", pool, store
    finally:
        await server.stop(grace=None)
        await pool.close()


async def post_sales(pool: AsyncConnectionPool, store: EventStore, now: datetime) -> None:
    cny = "CNY"
    facts: list[posting.Fact] = [
        posting.PaymentCaptured("o1", "wechatpay", "T1", Money(1000, cny)),
        posting.OrderPaid("o1", "storefront", Money(1000, cny), (posting.SaleLine("sku-a", Money(1000, cny)),)),
        posting.KeyDelivered("o1", "storefront", [Money(400, cny)], ["sku-a"]),
        posting.PaymentCaptured("o2", "wechatpay", "T2", Money(500, cny)),
        posting.OrderPaid("o2", "app", Money(500, cny), (posting.SaleLine("sku-b", Money(500, cny)),)),
    ]
    heard = [
        HeardFact(f, posting.Source(f"00000000-0000-7000-8000-{i:012d}", now), f.order_id)
        for i, f in enumerate(facts, start=1)
    ]
    await post_facts(PgLedgerUnitOfWork(store, pool=pool), heard)


def wechat_bill(now: datetime) -> bytes:
    when = now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    rows = [WECHAT_HEADER]
    for txn, order, amount, fee in [("T1", "o1", "10.00", "0.06"), ("T2", "o2", "4.90", "0.03")]:
        values = dict.fromkeys(WECHAT_HEADER, "")
        values.update({"交易时间": when, "微信订单号": txn, "商户订单号": order, "交易状态": "SUCCESS",
                       "货币种类": "CNY", "应结订单金额": amount, "手续费": fee})
        rows.append(["`" + values[h] for h in WECHAT_HEADER])
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode()


async def test_finance_routes_are_for_admins_only(gw: Any) -> None:
    _, buyer = await gw.buyer("buyer@example.com")
    for method, path in ROUTES:
        r = await gw.client.request(method, path, headers=buyer)
        assert r.status_code == 403, path
        assert r.headers["content-type"] == "application/problem+json"
        assert (await gw.client.request(method, path)).status_code == 401


async def test_an_admin_reports_reconciles_resolves_and_signs_through_the_api(
    start_gateway: Any, make_settings: Any, ledger: tuple[str, AsyncConnectionPool, EventStore]
) -> None:
    address, pool, store = ledger
    gw = await start_gateway(make_settings(ledger_grpc=address))
    admin = await gw.admin()
    now = datetime.now(UTC)
    await post_sales(pool, store, now)

    tb = await gw.client.get("/v1/admin/finance/trial-balance", headers=admin)
    assert tb.status_code == 200 and tb.json()["balanced"] and tb.json()["head_seq"] == 5

    report = await gw.client.get("/v1/admin/finance/reports/sales?by=channel&period=none", headers=admin)
    assert {(r["channel"], r["sales_minor"], r["margin_minor"]) for r in report.json()["rows"]} == {
        ("storefront", 1000, 600), ("app", 500, 500)}
    file = await gw.client.get("/v1/admin/finance/reports/sales?format=csv", headers=admin)
    assert file.status_code == 200 and file.headers["content-type"].startswith("text/csv")
    assert "attachment" in file.headers["content-disposition"]
    bad = await gw.client.get("/v1/admin/finance/reports/sales?by=colour", headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"

    rec = await gw.client.post(
        "/v1/admin/finance/reconciliations", headers=admin,
        data={"provider": "wechatpay"}, files={"file": ("bill.csv", wechat_bill(now), "text/csv")},
    )
    assert rec.status_code == 201, rec.text
    body = rec.json()
    assert body["statement"]["matched"] == "1" and body["statement"]["amount_mismatches"] == "1"
    [mismatch] = body["mismatches"]
    listed = await gw.client.get("/v1/admin/finance/mismatches", headers=admin)
    assert [m["mismatch"]["mismatch_id"] for m in listed.json()["mismatches"]] == [mismatch["mismatch_id"]]
    assert listed.json()["next_cursor"] is None
    for bad in ({"limit": 0}, {"limit": 501}, {"cursor": "not a cursor"}, {"cursor": "WzEsMl0"}):
        refused = await gw.client.get("/v1/admin/finance/mismatches", params=bad, headers=admin)
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"

    path = f"/v1/admin/finance/mismatches/{mismatch['mismatch_id']}/resolution"
    done = await gw.client.post(path, json={"note": "provider discount", "adjustment_minor": -10}, headers=admin)
    assert done.status_code == 200, done.text
    assert done.json()["resolved"] and done.json()["resolution"]["actor"].startswith("admin:")
    again = await gw.client.post(path, json={"note": "twice"}, headers=admin)
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    missing = await gw.client.post("/v1/admin/finance/mismatches/0000/resolution", json={"note": "x"},
                                   headers=admin)
    assert missing.status_code == 404

    head = await gw.client.post("/v1/admin/finance/chain-head", headers=admin)
    assert head.status_code == 201 and head.json()["actor"].startswith("admin:")
    verified = await gw.client.get(
        f"/v1/admin/finance/verify?head_seq={head.json()['seq']}&head_hash={head.json()['hash']}", headers=admin
    )
    assert verified.json()["ok"], verified.json()
    entries = await gw.client.get(f"/v1/admin/finance/entries?reference={mismatch['mismatch_id']}",
                                  headers=admin)
    assert [e["kind"] for e in entries.json()["entries"]] == ["reconciliation_adjustment"]
