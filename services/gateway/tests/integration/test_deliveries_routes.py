"""Resends on another channel through the gateway: a buyer's for their own order only, an operator's for any;
the target is checked per channel (a buyer's webhook only to a public https host) and passed through."""

from typing import Any

from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb

PROBLEM = "application/problem+json"


async def _order(gw: Any, fake: Any, auth: dict[str, str], key: str) -> str:
    fake.add_sku("sku-a")
    r = await gw.client.post(
        "/v1/orders", json={"items": [{"sku_id": "sku-a", "quantity": 1}]}, headers={**auth, "Idempotency-Key": key}
    )
    assert r.status_code == 201, r.text
    order = r.json()
    fake.deliveries.append(fulfillment_pb.Delivery(order_id=order["order_id"], key_id=f"k-{key}",
                                                   sku_id="sku-a", buyer_id=order["buyer_id"]))
    return str(order["order_id"])


async def test_a_buyer_resends_their_order_on_another_channel_and_the_target_passes_through(
    gw: Any, fake: Any
) -> None:
    buyer_id, auth = await gw.buyer("buyer@example.com")
    order_id = await _order(gw, fake, auth, "o1")

    r = await gw.client.post(f"/v1/me/orders/{order_id}/deliveries", json={"channel": "sms", "target": "+8613800138000"},
                             headers=auth)

    assert r.status_code == 200, r.text
    assert r.json() == {"delivered": True, "attempts": 1, "reason": ""}
    [request] = fake.channel_requests
    assert (request.order_id, request.channel, request.target, request.requested_by) == (
        order_id, "sms", "+8613800138000", f"buyer:{buyer_id}"
    )


async def test_another_buyers_order_is_a_404_and_nothing_is_sent(gw: Any, fake: Any) -> None:
    _, owner = await gw.buyer("owner@example.com")
    order_id = await _order(gw, fake, owner, "o2")
    _, other = await gw.buyer("other@example.com")

    r = await gw.client.post(f"/v1/me/orders/{order_id}/deliveries",
                             json={"channel": "activation", "target": "acct-1"}, headers=other)

    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert fake.channel_requests == []


async def test_targets_are_checked_per_channel_and_a_buyers_webhook_must_be_public_https(gw: Any, fake: Any) -> None:
    _, auth = await gw.buyer("buyer@example.com")
    order_id = await _order(gw, fake, auth, "o3")
    for body in [
        {"channel": "sms", "target": "12345"},
        {"channel": "activation", "target": "acct with spaces"},
        {"channel": "webhook", "target": "ftp://example.com/x"},
        {"channel": "webhook", "target": "http://example.com/hook"},
        {"channel": "webhook", "target": "https://127.0.0.1/hook"},
        {"channel": "webhook", "target": "https://10.0.0.8/hook"},
        {"channel": "webhook", "target": "https://localhost/hook"},
        {"channel": "webhook", "target": "https://[::1]/hook"},
        {"channel": "email", "target": "x@example.com"},
        {"channel": "sms", "target": "+8613800138000", "requested_by": "operator:me"},
    ]:
        r = await gw.client.post(f"/v1/me/orders/{order_id}/deliveries", json=body, headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == PROBLEM
    assert fake.channel_requests == []
    ok = await gw.client.post(f"/v1/me/orders/{order_id}/deliveries",
                              json={"channel": "webhook", "target": "https://hooks.example.com/q"}, headers=auth)
    assert ok.status_code == 200, ok.text


async def test_an_operator_redelivers_any_order_and_a_buyer_may_not_use_the_admin_route(gw: Any, fake: Any) -> None:
    _, auth = await gw.buyer("buyer@example.com")
    order_id = await _order(gw, fake, auth, "o4")
    admin = await gw.admin()

    forbidden = await gw.client.post(f"/v1/admin/orders/{order_id}/deliveries",
                                     json={"channel": "activation", "target": "acct-1"}, headers=auth)
    r = await gw.client.post(f"/v1/admin/orders/{order_id}/deliveries",
                             json={"channel": "activation", "target": "acct-1"}, headers=admin)
    missing = await gw.client.post("/v1/admin/orders/no-such-order/deliveries",
                                   json={"channel": "activation", "target": "acct-1"}, headers=admin)

    assert forbidden.status_code == 403
    assert r.status_code == 200, r.text
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert [q.requested_by.split(":")[0] for q in fake.channel_requests] == ["admin", "admin"]
