"""A SKU's stock history and its low-stock threshold through the admin API (peers faked over gRPC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb


async def test_the_stock_history_is_every_day_ending_today_with_the_skus_threshold(gw: Any, fake: Any) -> None:
    fake.add_sku("s-1", available=4, low_stock_threshold=5)
    admin = await gw.admin()
    r = await gw.client.get("/v1/admin/skus/s-1/stock-history?days=7", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    today = datetime.now(UTC).date()
    assert body["low_stock_threshold"] == 5
    assert [d["day"] for d in body["days"]] == [(today - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert body["days"][-1]["available"] == 4 and body["days"][0]["available"] == 4 + 18
    r = await gw.client.get("/v1/admin/skus/s-1/stock-history", headers=admin)
    assert len(r.json()["days"]) == 30


async def test_a_history_out_of_range_is_422_and_an_unknown_sku_404_as_problems(gw: Any, fake: Any) -> None:
    fake.add_sku("s-1")
    admin = await gw.admin()
    for days in ("0", "367", "many"):
        r = await gw.client.get(f"/v1/admin/skus/s-1/stock-history?days={days}", headers=admin)
        assert r.status_code == 422, days
        assert r.headers["content-type"] == "application/problem+json"
    r = await gw.client.get("/v1/admin/skus/nope/stock-history", headers=admin)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_an_operator_sets_a_threshold_and_a_bad_one_is_422(gw: Any, fake: Any) -> None:
    fake.add_sku("s-1", low_stock_threshold=5)
    admin = await gw.admin()
    r = await gw.client.put("/v1/admin/skus/s-1/low-stock-threshold", json={"low_stock_threshold": 12},
                            headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["low_stock_threshold"] == 12 and r.json()["sku_id"] == "s-1"
    assert fake.skus["s-1"].low_stock_threshold == 12
    fake.calls.clear()
    for body in ({"low_stock_threshold": -1}, {"low_stock_threshold": "x"}, {}, {"low_stock_threshold": 1, "x": 1},
                 {"low_stock_threshold": 10**12}):
        r = await gw.client.put("/v1/admin/skus/s-1/low-stock-threshold", json=body, headers=admin)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == "application/problem+json"
    assert fake.calls == []
    r = await gw.client.put("/v1/admin/skus/nope/low-stock-threshold", json={"low_stock_threshold": 1},
                            headers=admin)
    assert r.status_code == 404


async def test_the_delivery_latency_report_passes_fulfillments_percentiles_and_refuses_bad_ranges(
    gw: Any, fake: Any
) -> None:
    fake.latency.append(fulfillment_pb.LatencyPercentiles(
        start="2026-12-01T07:00:00+00:00", orders=12, p50_ms=300, p95_ms=700, p99_ms=950.5
    ))
    admin = await gw.admin()
    r = await gw.client.get("/v1/admin/reports/delivery-latency?hours=48&bucket=day", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"since": "paid", "bucket": "day", "buckets": [
        {"start": "2026-12-01T07:00:00+00:00", "orders": 12, "p50_ms": 300.0, "p95_ms": 700.0, "p99_ms": 950.5}
    ]}
    fake.calls.clear()
    for query in ("hours=0", "hours=2161", "bucket=week", "hours=x"):
        r = await gw.client.get(f"/v1/admin/reports/delivery-latency?{query}", headers=admin)
        assert r.status_code == 422, query
        assert r.headers["content-type"] == "application/problem+json"
    assert fake.calls == []
