"""Personal data: orders get a buyer id and no address; the gateway answers contacts over gRPC; a buyer's
erasure removes the account and what is keyed by its address, and keeps the orders under the id."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from quanyi.gateway.v1 import contacts_service_pb2 as pb
from quanyi.gateway.v1 import contacts_service_pb2_grpc as pb_grpc
from quanyi_platform import rpc

from services.gateway.tests.integration.conftest import FakePeers, Gateway


async def _contacts(gw: Gateway, *buyer_ids: str) -> list[pb.BuyerContact]:
    channel = rpc.channel(f"127.0.0.1:{gw.app.state.contacts_port}", 5.0)
    try:
        reply = await pb_grpc.BuyerContactsServiceStub(channel).GetContacts(
            pb.GetContactsRequest(buyer_ids=list(buyer_ids), purpose="test")
        )
    finally:
        await channel.close()
    return list(reply.contacts)


async def test_an_order_carries_the_buyers_id_and_no_address(gw: Gateway, fake: FakePeers) -> None:
    fake.add_sku("sku-1")
    buyer_id, auth = await gw.buyer("private@buyer.test")
    r = await gw.client.post(
        "/v1/orders",
        json={"items": [{"sku_id": "sku-1", "quantity": 1}]},
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    [order] = fake.orders.values()
    assert order.buyer_id == buyer_id
    assert "private@buyer.test" not in str(order) and "private@buyer.test" not in r.text


async def test_contacts_answer_each_buyer_in_the_order_asked_with_unknown_and_erased_ids(gw: Gateway) -> None:
    alice, _ = await gw.buyer("alice@buyer.test")
    bob, _ = await gw.buyer("bob@buyer.test")
    r = await gw.client.post(f"/v1/admin/buyers/{bob}/erasure", headers=await gw.admin())
    assert r.status_code == 200, r.text
    nobody = str(uuid.uuid4())

    contacts = await _contacts(gw, nobody, alice, "not-a-uuid", bob)

    assert [(c.buyer_id, c.email, c.status) for c in contacts] == [
        (nobody, "", pb.CONTACT_STATUS_UNKNOWN),
        (alice, "alice@buyer.test", pb.CONTACT_STATUS_ACTIVE),
        ("not-a-uuid", "", pb.CONTACT_STATUS_UNKNOWN),
        (bob, "", pb.CONTACT_STATUS_ERASED),
    ]


async def test_a_buyer_erases_themselves_and_nothing_personal_is_left_in_the_gateway(
    gw: Gateway, database_url: str
) -> None:
    email = "leaving@buyer.test"
    buyer_id, auth = await gw.buyer(email)
    other_device = {"Authorization": f"Bearer {await gw.token(email)}"}
    r = await gw.client.post("/v1/auth/token", json={"email": email, "password": "wrong-password"})
    assert r.status_code == 401  # a failed sign-in is kept under the address

    r = await gw.client.delete("/v1/me", headers=auth)
    assert r.status_code == 204, r.text

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET search_path TO gateway")
        assert _mentions(conn, email) == []
        row = conn.execute("SELECT requested_by FROM erasures WHERE buyer_id = %s", (buyer_id,)).fetchone()
        assert row == ("self",)
    r = await gw.client.get("/v1/me/orders", headers=auth)
    assert r.status_code == 401  # every token of the account was revoked
    r = await gw.client.get("/v1/me/orders", headers=other_device)
    assert r.status_code == 401
    r = await gw.client.post("/v1/auth/token", json={"email": email, "password": "correct-horse"})
    assert r.status_code == 401
    # The address is free again: registering it makes a new buyer, not the old one.
    again = await gw.register(email)
    assert again["user_id"] != buyer_id


async def test_an_admin_erases_a_buyer_once_and_cannot_erase_an_admin_or_an_unknown_id(gw: Gateway) -> None:
    buyer_id, buyer_auth = await gw.buyer("gone@buyer.test")
    admin = await gw.admin()

    first = await gw.client.post(f"/v1/admin/buyers/{buyer_id}/erasure", headers=admin)
    again = await gw.client.post(f"/v1/admin/buyers/{buyer_id}/erasure", headers=admin)
    unknown = await gw.client.post(f"/v1/admin/buyers/{uuid.uuid4()}/erasure", headers=admin)
    by_buyer = await gw.client.post(f"/v1/admin/buyers/{buyer_id}/erasure", headers=buyer_auth)
    admin_self = await gw.client.delete("/v1/me", headers=admin)

    assert first.status_code == 200 and again.status_code == 200, (first.text, again.text)
    assert first.json() == again.json()
    assert first.json()["buyer_id"] == buyer_id
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/problem+json")
    assert by_buyer.status_code in (401, 403)
    assert admin_self.status_code == 403
    r = await gw.client.get("/v1/me/orders", headers=buyer_auth)
    assert r.status_code == 401  # the erased buyer's tokens stopped working
    r = await gw.client.post("/v1/auth/token", json={"email": "gone@buyer.test", "password": "correct-horse"})
    assert r.status_code == 401


def _mentions(conn: psycopg.Connection[Any], text: str) -> list[str]:
    """Every text column of the gateway's tables that holds `text`."""
    found = []
    columns = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'gateway'"
        " AND data_type IN ('text', 'character varying', 'bytea', 'jsonb')"
    ).fetchall()
    for table, column in columns:
        row = conn.execute(
            psycopg.sql.SQL("SELECT count(*) FROM {} WHERE position(%s in {}::text) > 0").format(
                psycopg.sql.Identifier(table), psycopg.sql.Identifier(column)
            ),
            (text,),
        ).fetchone()
        if row and row[0]:
            found.append(f"{table}.{column}")
    return found
