"""A buyer keeps delivery targets through /v1/me/delivery-targets (their own only, refused as a problem
document when a target does not fit its channel), BuyerContactsService answers them to the services that
deliver, and the buyer's erasure removes them."""

from __future__ import annotations

import psycopg
from quanyi.gateway.v1 import contacts_service_pb2 as pb
from quanyi.gateway.v1 import contacts_service_pb2_grpc as pb_grpc
from quanyi_platform import rpc

from services.gateway.tests.integration.conftest import Gateway

HOOK = "https://hooks.example.com/quanyi/keys"
PHONE = "+8613800138000"
DEVICE = "fcm:device-token-0123456789"


async def _contact(gw: Gateway, buyer_id: str) -> pb.BuyerContact:
    channel = rpc.channel(f"127.0.0.1:{gw.app.state.contacts_port}", 5.0)
    try:
        reply = await pb_grpc.BuyerContactsServiceStub(channel).GetContacts(
            pb.GetContactsRequest(buyer_ids=[buyer_id], purpose="test")
        )
    finally:
        await channel.close()
    contact: pb.BuyerContact
    [contact] = reply.contacts
    return contact


async def test_a_buyer_keeps_replaces_and_forgets_targets_and_contacts_answer_them(gw: Gateway) -> None:
    buyer_id, auth = await gw.buyer("keeper@buyer.test")
    other_id, other_auth = await gw.buyer("other@buyer.test")

    r = await gw.client.put(
        "/v1/me/delivery-targets",
        json={"targets": [{"channel": "webhook", "target": HOOK}, {"channel": "sms", "target": PHONE}]},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    assert r.json() == [{"channel": "sms", "target": PHONE}, {"channel": "webhook", "target": HOOK}]
    r = await gw.client.put("/v1/me/delivery-targets/app", json={"target": DEVICE}, headers=auth)
    assert r.status_code == 200, r.text

    contact = await _contact(gw, buyer_id)
    assert contact.status == pb.CONTACT_STATUS_ACTIVE and contact.email == "keeper@buyer.test"
    assert [(t.channel, t.target) for t in contact.targets] == [
        ("app", DEVICE), ("sms", PHONE), ("webhook", HOOK)
    ]
    # Only the buyer's own: the other buyer sees and keeps none of them.
    r = await gw.client.get("/v1/me/delivery-targets", headers=other_auth)
    assert r.status_code == 200 and r.json() == []
    assert list((await _contact(gw, other_id)).targets) == []

    r = await gw.client.delete("/v1/me/delivery-targets/sms", headers=auth)
    assert r.status_code == 204
    r = await gw.client.delete("/v1/me/delivery-targets/sms", headers=auth)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await gw.client.get("/v1/me/delivery-targets", headers=auth)
    assert r.json() == [{"channel": "app", "target": DEVICE}, {"channel": "webhook", "target": HOOK}]

    r = await gw.client.put("/v1/me/delivery-targets", json={"targets": [{"channel": "sms", "target": PHONE}]},
                            headers=auth)
    assert r.status_code == 200 and r.json() == [{"channel": "sms", "target": PHONE}]
    r = await gw.client.delete("/v1/me/delivery-targets", headers=auth)
    assert r.status_code == 204
    assert list((await _contact(gw, buyer_id)).targets) == []


async def test_a_target_that_does_not_fit_its_channel_is_a_problem_and_changes_nothing(gw: Gateway) -> None:
    _, auth = await gw.buyer("careful@buyer.test")
    await gw.client.put("/v1/me/delivery-targets/sms", json={"target": PHONE}, headers=auth)
    bad = [
        ("/v1/me/delivery-targets/webhook", {"target": "https://169.254.169.254/latest/meta-data"}),
        ("/v1/me/delivery-targets/webhook", {"target": "http://hooks.example.com/"}),
        ("/v1/me/delivery-targets/sms", {"target": "13912345678"}),
        ("/v1/me/delivery-targets/app", {"target": "tiny"}),
        ("/v1/me/delivery-targets/fax", {"target": "+8613800138000"}),
        ("/v1/me/delivery-targets/sms", {"target": "+86138\x0000138000"}),
        ("/v1/me/delivery-targets", {"targets": [{"channel": "sms", "target": "+8613900139000"},
                                                 {"channel": "sms", "target": "+8613700137000"}]}),
        ("/v1/me/delivery-targets", {"targets": [{"channel": "sms", "target": PHONE}], "extra": 1}),
    ]
    for path, body in bad:
        r = await gw.client.put(path, json=body, headers=auth)
        assert r.status_code == 422, (path, body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await gw.client.put("/v1/me/delivery-targets/sms", content=b"target=x", headers=auth)
    assert r.status_code == 415
    r = await gw.client.get("/v1/me/delivery-targets", headers=auth)
    assert r.json() == [{"channel": "sms", "target": PHONE}]
    r = await gw.client.get("/v1/me/delivery-targets")
    assert r.status_code == 401
    r = await gw.client.put("/v1/me/delivery-targets/sms", json={"target": PHONE}, headers=await gw.admin())
    assert r.status_code == 403


async def test_an_erased_buyers_targets_are_deleted_and_contacts_answer_erased(
    gw: Gateway, database_url: str
) -> None:
    buyer_id, auth = await gw.buyer("erased-keeper@buyer.test")
    r = await gw.client.put(
        "/v1/me/delivery-targets",
        json={"targets": [{"channel": "webhook", "target": HOOK}, {"channel": "app", "target": DEVICE}]},
        headers=auth,
    )
    assert r.status_code == 200, r.text

    r = await gw.client.delete("/v1/me", headers=auth)
    assert r.status_code == 204

    contact = await _contact(gw, buyer_id)
    assert contact.status == pb.CONTACT_STATUS_ERASED and list(contact.targets) == []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET search_path TO gateway")
        assert conn.execute("SELECT count(*) FROM delivery_targets").fetchone() == (0,)


def test_the_delivery_target_routes_are_documented_with_their_problems(gw: Gateway) -> None:
    spec = gw.app.openapi()
    paths = spec["paths"]
    assert set(paths["/v1/me/delivery-targets"]) == {"get", "put", "delete"}
    assert set(paths["/v1/me/delivery-targets/{channel}"]) == {"put", "delete"}
    put = paths["/v1/me/delivery-targets/{channel}"]["put"]
    assert "application/problem+json" in put["responses"]["422"]["content"]
    assert put["parameters"][0]["schema"]["enum"] == ["webhook", "sms", "activation", "app"]
