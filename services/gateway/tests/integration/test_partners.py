import json
import time
import uuid
from typing import Any

from quanyi_gateway.security import partner_signature

SECRET = "acme-secret"


def signed(
    body: dict[str, Any], secret: str = SECRET, ts: int | None = None, nonce: str | None = None
) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()) if ts is None else ts)
    nonce = nonce or uuid.uuid4().hex
    return {
        "content": raw,
        "headers": {
            "content-type": "application/json",
            "X-Partner-Timestamp": timestamp,
            "X-Partner-Nonce": nonce,
            "X-Partner-Signature": partner_signature(secret, timestamp, nonce, raw),
        },
    }


async def test_a_signed_redemption_is_recorded_without_echoing_the_code(gw: Any, fake: Any) -> None:
    key_id = fake.deliver("o-1", "buyer-1", "sku-a", code="SECRET-CODE-123")
    r = await gw.client.post("/v1/partners/acme/redemptions", **signed({"code": "SECRET-CODE-123"}))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["key_id"], body["order_id"], body["duplicate"]) == (key_id, "o-1", False)
    assert body["redeemed_at"]
    assert "SECRET-CODE-123" not in r.text
    again = await gw.client.post("/v1/partners/acme/redemptions", **signed({"code": "SECRET-CODE-123"}))
    assert again.json()["duplicate"] is True


async def test_a_bad_signature_is_401_before_any_peer_call(gw: Any, fake: Any) -> None:
    r = await gw.client.post("/v1/partners/acme/redemptions", **signed({"code": "X"}, secret="wrong"))
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    unknown_partner = await gw.client.post("/v1/partners/nobody/redemptions", **signed({"code": "X"}))
    assert unknown_partner.status_code == 401
    assert unknown_partner.json()["detail"] == r.json()["detail"]
    assert fake.calls == []


async def test_a_missing_signature_or_stale_timestamp_is_401(gw: Any, fake: Any) -> None:
    unsigned = await gw.client.post("/v1/partners/acme/redemptions", json={"code": "X"})
    stale = await gw.client.post(
        "/v1/partners/acme/redemptions", **signed({"code": "X"}, ts=int(time.time()) - 301)
    )
    assert (unsigned.status_code, stale.status_code) == (401, 401)
    assert fake.calls == []


async def test_a_replayed_nonce_is_409_before_any_peer_call(gw: Any, fake: Any) -> None:
    fake.deliver("o-1", "buyer-1", "sku-a", code="C")
    request = signed({"code": "C"})
    first = await gw.client.post("/v1/partners/acme/redemptions", **request)
    assert first.status_code == 200
    calls = list(fake.calls)
    replay = await gw.client.post("/v1/partners/acme/redemptions", **request)
    assert replay.status_code == 409
    assert replay.headers["content-type"] == "application/problem+json"
    assert fake.calls == calls


async def test_with_peers_down_signature_and_replay_are_still_checked_first(
    start_gateway: Any, make_settings: Any
) -> None:
    gw = await start_gateway(make_settings(peer="127.0.0.1:1"))
    request = signed({"code": "C"})
    assert (await gw.client.post("/v1/partners/acme/redemptions", **request)).status_code == 503
    assert (await gw.client.post("/v1/partners/acme/redemptions", **request)).status_code == 409
    bad = signed({"code": "C"}, secret="wrong")
    assert (await gw.client.post("/v1/partners/acme/redemptions", **bad)).status_code == 401


async def test_an_unknown_code_is_404_and_not_echoed(gw: Any, fake: Any) -> None:
    r = await gw.client.post("/v1/partners/acme/redemptions", **signed({"code": "NO-SUCH-CODE"}))
    assert r.status_code == 404
    assert "NO-SUCH-CODE" not in r.text


async def test_a_signed_body_that_is_not_a_redemption_is_422_without_echo(gw: Any, fake: Any) -> None:
    r = await gw.client.post(
        "/v1/partners/acme/redemptions", **signed({"code": 12345, "redeemed_at": "yesterday"})
    )
    assert r.status_code == 422
    assert "yesterday" not in r.text
    assert fake.calls == []


async def test_a_code_of_another_skus_key_gets_the_unknown_codes_answer_after_the_same_calls(
    gw: Any, fake: Any
) -> None:
    fake.deliver("o-1", "buyer-1", "sku-b", code="SKU-B-CODE")  # acme is scoped to sku-a only
    calls = len(fake.calls)
    foreign = await gw.client.post("/v1/partners/acme/redemptions", **signed({"code": "SKU-B-CODE"}))
    foreign_calls = fake.calls[calls:]
    unknown = await gw.client.post("/v1/partners/acme/redemptions", **signed({"code": "NO-SUCH-CODE"}))
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == {**unknown.json(), "instance": foreign.json()["instance"]}
    assert foreign_calls == fake.calls[calls + len(foreign_calls) :] == ["FindKey"]
    assert "RecordRedemption" not in fake.calls and "SKU-B-CODE" not in foreign.text


async def test_an_admin_sets_a_partners_skus(gw: Any, fake: Any) -> None:
    fake.deliver("o-1", "buyer-1", "sku-b", code="SKU-B-CODE")
    admin = await gw.admin()
    r = await gw.client.get("/v1/admin/partners/acme/skus", headers=admin)
    assert r.json() == {"partner": "acme", "sku_ids": ["sku-a"]}
    r = await gw.client.put("/v1/admin/partners/acme/skus", json={"sku_ids": ["sku-b"]}, headers=admin)
    assert r.status_code == 200 and r.json()["sku_ids"] == ["sku-b"]
    ok = await gw.client.post("/v1/partners/acme/redemptions", **signed({"code": "SKU-B-CODE"}))
    assert ok.status_code == 200, ok.text
    r = await gw.client.put("/v1/admin/partners/nobody/skus", json={"sku_ids": ["sku-b"]}, headers=admin)
    assert r.status_code == 404
    _, buyer = await gw.buyer("not-admin@example.com")
    r = await gw.client.put("/v1/admin/partners/acme/skus", json={"sku_ids": []}, headers=buyer)
    assert r.status_code == 403


async def test_an_admin_grants_a_partner_more_skus(gw: Any) -> None:
    admin = await gw.admin()
    r = await gw.client.post("/v1/admin/partners/acme/skus", json={"sku_ids": ["sku-c"]}, headers=admin)
    assert r.status_code == 200 and r.json()["sku_ids"] == ["sku-a", "sku-c"]
