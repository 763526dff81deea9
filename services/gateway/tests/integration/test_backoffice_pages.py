"""The back office's pages check the operator's role on the server, as the admin API does: each role
against each page and form → allowed or 403 (and nothing asked of a peer); a buyer gets 403, a visitor
is sent to sign in. The gateway runs against real Postgres with its peers faked over real gRPC."""

from __future__ import annotations

import re
from typing import Any

import pytest
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb
from quanyi.orders.v1 import orders_service_pb2 as orders_pb
from quanyi_gateway.application.roles import OPERATOR_ROLES
from quanyi_gateway.web.session import CSRF_COOKIE, SESSION_COOKIE

PASSWORD = "operator-password"
ROLES = ("admin", *OPERATOR_ROLES)
OWNERS = {"admin", "owner"}
OPS = OWNERS | {"operations"}
FIN = OWNERS | {"finance"}
EVERYONE = set(ROLES)
NONCE = "n" * 32
FILE = "file"

PAGES: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/admin", None, EVERYONE),
    ("GET", "/admin/catalogue", None, EVERYONE),
    ("POST", "/admin/catalogue/products", {"name": "Gift card", "kind": "card_key"}, OPS),
    ("POST", "/admin/catalogue/skus", {"product_id": "p-1", "name": "100", "price_minor": "100"}, OPS),
    ("POST", "/admin/catalogue/pools", {"sku_id": "s-1", "name": "main"}, OPS),
    ("GET", "/admin/catalogue/skus/s-1", None, EVERYONE),
    ("POST", "/admin/catalogue/skus/s-1/threshold", {"low_stock_threshold": "3"}, OPS),
    ("GET", "/admin/keys", None, OPS | {"read-only"}),
    ("POST", "/admin/keys/import", FILE, OPS),
    ("GET", "/admin/keys/export.csv?pool_id=pool-1", None, OPS | {"read-only"}),
    ("POST", "/admin/keys/export.csv", {"pool_id": "pool-1"}, OPS),
    ("GET", "/admin/orders", None, EVERYONE),
    ("GET", "/admin/orders?channel=tmall&status=PAID", None, EVERYONE),
    ("GET", "/admin/orders/o-1", None, EVERYONE),
    ("POST", "/admin/orders/o-1/refund", {"reason": "asked"}, FIN),
    ("POST", "/admin/orders/o-1/review", {"decision": "approve"}, OPS),
    ("POST", "/admin/orders/o-1/deliver", {"channel": "sms", "target": "+8613800138000"}, OPS | {"support"}),
    ("GET", "/admin/queue", None, EVERYONE),
    ("POST", "/admin/queue/o-1", {"action": "resolve"}, OPS | {"support"}),
    ("POST", "/admin/queue/o-1", {"action": "refund"}, FIN),
    ("POST", "/admin/queue/o-1", {"action": "switch", "channel": "sms", "target": "+8613800138000"}, OPS | {"support"}),
    ("GET", "/admin/audit", None, EVERYONE),
    ("POST", "/admin/audit", {"order_id": "o-1"}, EVERYONE),
    ("POST", "/admin/audit", {"code": "NO-SUCH-CODE"}, EVERYONE),
    ("GET", "/admin/finance", None, FIN | {"read-only"}),
    ("GET", "/admin/finance/report.csv", None, FIN | {"read-only"}),
    ("GET", "/admin/coupons", None, OPS | {"finance", "read-only"}),
    ("POST", "/admin/coupons", {"code": "SPRING10", "kind": "percent", "off": "1000"}, OPS),
    ("POST", "/admin/coupons/SPRING10/disable", {}, OPS),
]


async def _sessions(gw: Any) -> dict[str, str]:
    """role -> a session token, for an operator of each role the owner added through the API."""
    owner = await gw.admin()
    tokens = {"admin": owner["Authorization"].removeprefix("Bearer ")}
    for role in OPERATOR_ROLES:
        email = f"{role}@example.com"
        r = await gw.client.post(
            "/v1/admin/operators", json={"email": email, "password": PASSWORD, "role": role}, headers=owner
        )
        assert r.status_code == 201, r.text
        tokens[role] = await gw.token(email, PASSWORD)
    return tokens


async def _send(gw: Any, method: str, path: str, body: Any, token: str | None) -> Any:
    cookies = {CSRF_COOKIE: NONCE, **({SESSION_COOKIE: token} if token else {})}
    gw.client.cookies.clear()
    headers = {"X-CSRF-Token": gw.app.state.web.csrf.token(NONCE), "Accept": "text/html"}
    if body == FILE:
        return await gw.client.post(
            path,
            files={"file": ("keys.csv", b"code\nA\n", "text/csv")},
            data={"pool_id": "pool-1", "unit_cost_minor": "100"},
            headers=headers,
            cookies=cookies,
        )
    if method == "POST":
        return await gw.client.post(path, data=body, headers=headers, cookies=cookies)
    return await gw.client.get(path, headers=headers, cookies=cookies)


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_opens_exactly_the_back_office_pages_its_job_needs(gw: Any, fake: Any, role: str) -> None:
    token = (await _sessions(gw))[role]
    for method, path, body, allowed in PAGES:
        fake.calls.clear()
        r = await _send(gw, method, path, body, token)
        label = f"{method} {path} {body or ''}"
        if role in allowed:
            assert r.status_code not in (401, 403) and "/login" not in r.headers.get("location", ""), (
                f"{role} refused {label}: {r.status_code}"
            )
        else:
            assert r.status_code == 403, f"{role} let through {label}: {r.status_code}"
            assert fake.calls == [], f"{role}: {label} asked a peer before refusing"


async def test_the_navigation_shows_only_what_the_role_may_use(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a", available=3, low_stock_threshold=5)
    fake.add_sku("sku-b", available=3, low_stock_threshold=2)
    tokens = await _sessions(gw)
    r = await _send(gw, "GET", "/admin", None, tokens["finance"])
    assert r.status_code == 200
    assert 'href="/admin/finance"' in r.text and 'href="/admin/keys"' not in r.text
    r = await _send(gw, "GET", "/admin", None, tokens["operations"])
    assert 'href="/admin/keys"' in r.text and 'href="/admin/finance"' not in r.text
    # Three keys left: the stock table marks the SKU low at five, not the one low at two.
    assert '<tr data-sku="sku-a" class="low">' in r.text and '<tr data-sku="sku-b">' in r.text


async def test_a_buyer_gets_403_and_a_visitor_is_sent_to_sign_in(gw: Any, fake: Any) -> None:
    _, buyer = await gw.buyer("buyer@example.com")
    token = buyer["Authorization"].removeprefix("Bearer ")
    for method, path, body, _ in PAGES:
        assert (await _send(gw, method, path, body, token)).status_code == 403, path
        r = await _send(gw, method, path, body, None)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    assert fake.calls == []


async def test_a_form_without_the_csrf_token_is_refused(gw: Any, fake: Any) -> None:
    token = (await _sessions(gw))["admin"]
    gw.client.cookies.clear()
    r = await gw.client.post(
        "/admin/catalogue/products",
        data={"name": "Gift card"},
        cookies={SESSION_COOKIE: token, CSRF_COOKIE: NONCE},
    )
    assert r.status_code == 403
    assert fake.calls == []


async def test_the_order_list_shows_every_buyers_orders_filtered_by_channel(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a")
    _, alice = await gw.buyer("alice@example.com")
    _, bob = await gw.buyer("bob@example.com")
    placed = []
    for who in (alice, bob):
        r = await gw.client.post(
            "/v1/orders",
            json={"items": [{"sku_id": "sku-a", "quantity": 1}]},
            headers={**who, "Idempotency-Key": who["Authorization"][-12:]},
        )
        assert r.status_code == 201, r.text
        placed.append(r.json()["order_id"])
    token = (await _sessions(gw))["support"]
    r = await _send(gw, "GET", "/admin/orders?channel=web", None, token)
    assert r.status_code == 200
    assert all(f'data-order="{o}"' in r.text for o in placed)
    r = await _send(gw, "GET", "/admin/orders?channel=tmall", None, token)
    assert not any(f'data-order="{o}"' in r.text for o in placed)


async def test_an_order_page_shows_its_delivered_keys_to_whoever_audits(gw: Any, fake: Any) -> None:
    buyer_id, _ = await gw.buyer("carol@example.com")
    key_id = fake.deliver("o-9", buyer_id, "sku-a", "SECRET-CODE-1")
    tokens = await _sessions(gw)
    r = await _send(gw, "GET", "/admin/orders/o-9", None, tokens["support"])
    assert r.status_code == 200
    assert f'id="key-{key_id}"' in r.text and "SECRET-CODE-1" not in r.text
    # The history across the services: these fakes answer none of it, so the page names every service
    # whose events are missing instead of failing.
    missing = re.search(r"<p [^>]*data-history-missing>([^<]*)</p>", r.text)
    assert missing is not None
    assert all(s in missing.group(1) for s in ("orders", "inventory", "fulfillment", "ledger", "risk"))
    # A key's code, posted, finds its order.
    r = await _send(gw, "POST", "/admin/audit", {"code": "SECRET-CODE-1"}, tokens["read-only"])
    assert r.status_code == 303 and r.headers["location"] == f"/admin/orders/o-9#key-{key_id}"


async def test_a_skus_page_draws_its_burn_down_and_sets_its_threshold(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a", available=4, low_stock_threshold=2)
    tokens = await _sessions(gw)
    r = await _send(gw, "GET", "/admin/catalogue/skus/sku-a?days=7", None, tokens["operations"])
    assert r.status_code == 200
    assert 'id="burn-down"' in r.text and r.text.count("<svg") == 1
    # Available keys (22 seven days ago, 4 today) and the threshold, each a line.
    assert r.text.count('class="chart-line') == 2 and 'id="threshold-form"' in r.text
    r = await _send(gw, "POST", "/admin/catalogue/skus/sku-a/threshold", {"low_stock_threshold": "6"},
                    tokens["operations"])
    assert r.status_code == 303 and r.headers["location"] == "/admin/catalogue/skus/sku-a?done=threshold"
    assert fake.skus["sku-a"].low_stock_threshold == 6
    # The stock page's marks follow it: 4 available is now low.
    r = await _send(gw, "GET", "/admin/catalogue", None, tokens["read-only"])
    row = re.search(r'<tr data-sku="sku-a"([^>]*)>', r.text)
    assert row is not None and 'class="low"' in row.group(1)
    # Read-only sees the chart, not the form; a negative threshold is refused, and nothing is asked.
    r = await _send(gw, "GET", "/admin/catalogue/skus/sku-a", None, tokens["read-only"])
    assert 'id="burn-down"' in r.text and 'id="threshold-form"' not in r.text
    fake.calls.clear()
    r = await _send(gw, "POST", "/admin/catalogue/skus/sku-a/threshold", {"low_stock_threshold": "-1"},
                    tokens["operations"])
    assert r.status_code == 422 and fake.calls == []


async def test_the_overview_charts_stock_per_sku_and_the_delivery_latency_percentiles(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a", available=7)
    fake.latency.extend([
        fulfillment_pb.LatencyPercentiles(start="2026-12-01T07:00:00+00:00", orders=40, p50_ms=310, p95_ms=820,
                                          p99_ms=1900),
        fulfillment_pb.LatencyPercentiles(start="2026-12-01T08:00:00+00:00", orders=3, p50_ms=250, p95_ms=400,
                                          p99_ms=420),
    ])
    tokens = await _sessions(gw)
    r = await _send(gw, "GET", "/admin", None, tokens["owner"])
    assert r.status_code == 200
    assert 'id="stock-chart"' in r.text and 'id="latency-chart"' in r.text
    # One line per percentile, and the chart's text description: each hour and its latency.
    chart = r.text[r.text.index('id="latency-chart"'):]
    assert chart.count('class="chart-line') == 3
    assert "07:00 0.31 s, 08:00 0.25 s" in chart and "07:00 1.90 s" in chart
    assert fake.calls.count("GetDeliveryLatency") == 1 and "ListDeliveries" not in fake.calls
    # Without deliveries there is no latency chart, and the page still shows.
    fake.latency.clear()
    r = await _send(gw, "GET", "/admin", None, tokens["read-only"])
    assert r.status_code == 200 and 'id="latency-chart"' not in r.text


async def test_a_bundle_sku_is_made_from_its_components_and_a_malformed_list_is_refused(gw: Any, fake: Any) -> None:
    token = (await _sessions(gw))["operations"]
    form = {"product_id": "p-1", "name": "Duo", "price_minor": "3000", "components": "s-1:2, s-2"}
    r = await _send(gw, "POST", "/admin/catalogue/skus", form, token)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/catalogue?done=sku")
    fake.calls.clear()
    r = await _send(gw, "POST", "/admin/catalogue/skus", {**form, "components": "s-1:none"}, token)
    assert r.status_code == 400 and fake.calls == []


async def test_the_keys_page_sums_each_pools_stock_over_its_batches_and_marks_the_low_ones(gw: Any, fake: Any) -> None:
    from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb

    # Each pool is marked low by its SKU's own threshold.
    fake.add_sku("s-1", available=110, low_stock_threshold=100)
    fake.add_sku("s-2", available=2, low_stock_threshold=5)
    fake.batches = [
        inventory_pb.KeyBatch(batch_id="b-1", pool_id="pool-full", sku_id="s-1", imported=100,
                              keys_by_state={"available": 60, "delivered": 40}),
        inventory_pb.KeyBatch(batch_id="b-2", pool_id="pool-full", sku_id="s-1", imported=50,
                              keys_by_state={"available": 50}),
        inventory_pb.KeyBatch(batch_id="b-3", pool_id="pool-low", sku_id="s-2", imported=5,
                              keys_by_state={"available": 2, "delivered": 3}),
    ]
    r = await _send(gw, "GET", "/admin/keys", None, (await _sessions(gw))["read-only"])
    assert r.status_code == 200
    table = r.text[r.text.index('class="responsive pools"') :].split("</table>")[0]
    rows = {("pool-low" if "pool-low" in row else "pool-full"): row for row in table.split("<tr")[2:]}
    assert "110" in rows["pool-full"] and not rows["pool-full"].startswith(' class="low"')  # 60 + 50 available
    assert rows["pool-low"].startswith(' class="low"')
    assert 'action="/admin/keys/import"' not in r.text  # read-only: no import form


async def test_the_coupons_page_lists_coupons_creates_one_from_its_form_and_disables_it(gw: Any, fake: Any) -> None:
    tokens = await _sessions(gw)
    r = await _send(gw, "POST", "/admin/coupons", {
        "code": "Spring10", "kind": "percent", "off": "1000", "max_discount": "500", "total_cap": "100",
        "valid_from": "2026-12-01T00:00",
    }, tokens["operations"])
    assert r.status_code == 303 and r.headers["location"] == "/admin/coupons?done=coupon&code=Spring10"
    r = await _send(gw, "GET", "/admin/coupons", None, tokens["finance"])
    assert r.status_code == 200
    assert "Spring10" in r.text and "10.0%" in r.text and "0 / 100" in r.text
    assert 'action="/admin/coupons"' not in r.text  # finance reads, never creates
    r = await _send(gw, "GET", "/admin/coupons", None, tokens["operations"])
    assert 'action="/admin/coupons"' in r.text and 'action="/admin/coupons/Spring10/disable"' in r.text
    assert "<script" not in r.text.split("<main", 1)[-1]
    r = await _send(gw, "POST", "/admin/coupons/Spring10/disable", {}, tokens["operations"])
    assert r.status_code == 303
    r = await _send(gw, "POST", "/admin/coupons", {"code": "bad code", "kind": "percent", "off": "1"},
                    tokens["operations"])
    assert r.status_code in (400, 422)


async def test_a_key_redeemed_after_its_refund_is_shown_in_the_queue_with_only_a_noted_resolution(
    gw: Any, fake: Any
) -> None:
    reason = ("key k-1 (SKU sku-a, line 1 unit 1) redeemed by partner partner-x at 2026-11-30T11:58:00+00:00,"
              " after refund rf-1 voided it: the buyer was refunded and the key used")
    fake.queue.append(orders_pb.QueueEntry(
        order_id="o-late", reason=reason, source="redeemed_after_refund", queued_at="2026-11-30T12:00:00+00:00",
        status="OPEN",
    ))
    fake.queue.append(orders_pb.QueueEntry(
        order_id="o-sms", reason="sms delivery given up", source="channel", queued_at="2026-11-30T12:01:00+00:00",
        status="OPEN",
    ))
    tokens = await _sessions(gw)
    r = await _send(gw, "GET", "/admin/queue", None, tokens["admin"])
    assert r.status_code == 200
    late = r.text[r.text.index('id="q-o-late"'):r.text.index('id="q-o-sms"')]
    assert "data-late-redemption" in late and reason in late
    # Resolved by hand with a note, nothing else: no refund, no delivery from this entry.
    assert 'value="resolve"' in late and 'name="note" maxlength="500" required' in late
    assert 'value="refund"' not in late and 'value="redrive"' not in late and 'value="switch"' not in late
    other = r.text[r.text.index('id="q-o-sms"'):]
    assert "data-late-redemption" not in other and 'value="refund"' in other and 'value="redrive"' in other
    # The admin API lists it with its source, as the orders service says it.
    r = await gw.client.get("/v1/admin/ops/queue", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert r.status_code == 200, r.text
    assert [(e["order_id"], e["source"], e["reason"]) for e in r.json()["items"]] == [
        ("o-late", "redeemed_after_refund", reason), ("o-sms", "channel", "sms delivery given up")]
