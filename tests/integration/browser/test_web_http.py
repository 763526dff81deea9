"""The web's security over plain HTTP: the Content-Security-Policy and no inline script on every page,
the session cookie's flags, CSRF refusals that change nothing, and another buyer's pages answered as
missing ones. Also the buyer's refund request through the JSON API."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from quanyi_cli.stack import Stack

from tests.integration.checks import scalar
from tests.integration.harness import (
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    new_buyer,
    order_status,
    pay,
    place_order,
)

pytestmark = pytest.mark.integration

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class Browser:
    """A cookie-keeping HTTP client that reads the CSRF token from pages, as a browser's page would."""

    def __init__(self, stack: Stack) -> None:
        self.http = httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=30)

    async def token(self, path: str = "/login") -> str:
        r = await self.http.get(path)
        found = _META.search(r.text)
        assert found, r.text[:500]
        return found.group(1)

    async def sign_up(self) -> str:
        email = f"web-{uuid.uuid4().hex[:10]}@buyer.test"
        r = await self.http.post("/signup", data={
            "email": email, "password": "buyer-password", "csrf_token": await self.token("/signup"),
        })
        assert r.status_code == 303, r.text
        return email

    async def close(self) -> None:
        await self.http.aclose()


async def _fulfilled_order(http: httpx.AsyncClient, stock: int = 1) -> tuple[Any, dict[str, Any], str]:
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(stock))
    alice = await new_buyer(http)
    order = (await place_order(alice, sku["sku_id"])).json()
    assert (await pay(http, order)).status_code == 200
    await eventually(lambda: _status_is(alice, order["order_id"], "FULFILLED"))
    keys = (await alice.get(f"/v1/me/keys?order_id={order['order_id']}")).json()["items"]
    return alice, order, keys[0]["key_id"]


async def _status_is(buyer: Any, order_id: str, status: str) -> bool:
    return await order_status(buyer, order_id) == status


async def test_every_web_page_has_the_policy_and_no_inline_script_or_style(stack: Stack) -> None:
    web = Browser(stack)
    try:
        await web.sign_up()
        for path in ("/", "/login", "/signup", "/me", "/orders/no-such-order", "/static/app.js"):
            r = await web.http.get(path)
            policy = r.headers.get("content-security-policy", "")
            assert "script-src 'self'" in policy and "style-src 'self'" in policy, (path, policy)
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
            assert "frame-ancestors 'none'" in policy and r.headers["x-content-type-options"] == "nosniff"
            if r.headers["content-type"].startswith("text/html"):
                html = r.text
                assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path  # no inline script
                assert not re.search(r"\son[a-z]+\s*=", html), path  # no inline handler
                assert " style=" not in html, path
                assert 'src="http' not in html and 'href="http' not in html.replace('href="https://', "")
        assert (await web.http.get("/orders/no-such-order")).status_code == 404
    finally:
        await web.close()


async def test_the_session_cookie_is_httponly_and_samesite_and_signing_out_ends_it(stack: Stack) -> None:
    web = Browser(stack)
    try:
        email = f"web-{uuid.uuid4().hex[:10]}@buyer.test"
        r = await web.http.post("/signup", data={
            "email": email, "password": "buyer-password", "csrf_token": await web.token("/signup"),
        })
        assert r.status_code == 303
        cookies = {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}
        session = cookies["qy_session"]
        assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session, session
        assert "Secure" not in session  # a test environment (outside development it is Secure: unit test)
        assert "HttpOnly" in cookies["qy_csrf"]
        assert email in (await web.http.get("/me")).text
        token = web.http.cookies["qy_session"]

        r = await web.http.post("/logout", data={"csrf_token": await web.token("/me")})
        assert r.status_code == 303
        assert (await web.http.get("/me")).status_code == 303  # back to the sign-in page
        # The token the cookie held is revoked, for the API too.
        r = await web.http.get("/v1/me/orders", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
    finally:
        await web.close()


async def test_a_state_changing_request_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1))
    web, other = Browser(stack), Browser(stack)
    try:
        await web.sign_up()
        good = await web.token("/")
        foreign = await other.token("/")  # a valid token, but for another browser's nonce
        form = {"sku_id": sku["sku_id"], "quantity": "1", "request_id": uuid.uuid4().hex}
        for token in (None, "", "forged", foreign, good[:-3] + "abc"):
            data = form if token is None else {**form, "csrf_token": token}
            r = await web.http.post("/checkout", data=data)
            assert r.status_code == 403, (token, r.status_code)
            assert "text/html" in r.headers["content-type"]
        r = await web.http.post("/logout", data={"csrf_token": foreign})
        assert r.status_code == 403
        r = await other.http.post("/login", data={"email": "x@y.z", "password": "p"})
        assert r.status_code == 403
        # Nothing was placed, and the session survived the refused sign-out.
        me = await web.http.get("/me")
        assert me.status_code == 200 and "/orders/" not in me.text
        # The right token works.
        r = await web.http.post("/checkout", data={**form, "csrf_token": good})
        assert r.status_code == 303 and r.headers["location"].startswith("/orders/")
    finally:
        await web.close()
        await other.close()


async def test_a_buyers_session_gets_404_for_another_buyers_order_and_key_pages(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    _, order, key_id = await _fulfilled_order(http)
    order_id = order["order_id"]
    bob = Browser(stack)
    try:
        await bob.sign_up()
        token = await bob.token("/me")
        url = stack.config.database_url
        reveals = "SELECT count(*) FROM inventory.key_reveals WHERE order_id = %s"
        before = await scalar(url, reveals, (order_id,))
        for path in (f"/orders/{order_id}", f"/orders/{order_id}/live", f"/me/keys/{key_id}"):
            r = await bob.http.get(path)
            assert r.status_code == 404, (path, r.status_code)
            assert "¥" not in r.text and "<table" not in r.text  # nothing of the order is shown
        posts = {
            f"/me/orders/{order_id}/keys/{key_id}/reveal": {},
            f"/me/orders/{order_id}/refund-request": {"reason": "other"},
            f"/me/orders/{order_id}/resend": {"channel": "sms", "target": "+8613800138000"},
            f"/orders/{order_id}/pay": {},
        }
        for path, data in posts.items():
            r = await bob.http.post(path, data={**data, "csrf_token": token})
            assert r.status_code == 404, (path, r.status_code)
        r = await bob.http.post(
            f"/me/orders/{order_id}/keys/{key_id}/reveal", headers={"X-CSRF-Token": token}
        )
        assert r.status_code == 404
        assert await scalar(url, reveals, (order_id,)) == before  # nothing revealed
        assert await scalar(url, "SELECT count(*) FROM gateway.refund_requests WHERE order_id = %s",
                            (order_id,)) == 0
    finally:
        await bob.close()


async def test_a_buyer_asks_once_for_a_refund_of_a_paid_order_and_operators_see_it(
    http: httpx.AsyncClient,
) -> None:
    alice, order, _ = await _fulfilled_order(http, stock=2)
    path = f"/v1/me/orders/{order['order_id']}/refund-requests"
    first = await alice.post(path, json={"reason": "not_working"})
    assert first.status_code == 201, first.text
    again = await alice.post(path, json={"reason": "other"})
    assert again.status_code == 200 and again.json() == first.json()
    assert first.json()["reason"] == "not_working"

    bob = await new_buyer(http)
    assert (await bob.post(path, json={"reason": "other"})).status_code == 404
    assert (await alice.post(path, json={"reason": "because"})).status_code == 422
    unpaid = await place_order(alice, order["items"][0]["sku_id"])
    assert unpaid.status_code == 201, unpaid.text
    r = await alice.post(f"/v1/me/orders/{unpaid.json()['order_id']}/refund-requests", json={"reason": "other"})
    assert r.status_code == 409, r.text

    assert first.json()["state"] == "requested"  # where it stands is the buyer's (operators read the order)
    listed = await (await admin(http)).get("/v1/admin/refund-requests")
    assert {k: v for k, v in first.json().items() if k != "state"} in listed.json()["items"]
    assert (await alice.get("/v1/admin/refund-requests")).status_code == 403


async def test_a_buyer_buys_pays_resends_by_sms_and_asks_for_a_refund_through_the_web_forms(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    sku = await create_sku_with_keys(await admin(http), fresh_keys(1))
    web = Browser(stack)
    try:
        await web.sign_up()
        token = await web.token("/")
        r = await web.http.post("/checkout", data={
            "sku_id": sku["sku_id"], "quantity": "1", "request_id": uuid.uuid4().hex, "csrf_token": token,
        })
        assert r.status_code == 303, r.text
        order_path = r.headers["location"]
        order_id = order_path.rsplit("/", 1)[-1]
        assert (await web.http.post(f"{order_path}/pay", data={"csrf_token": token})).status_code == 303

        async def delivered() -> bool:
            return "data-live-done" in (await web.http.get(f"{order_path}/live")).text

        await eventually(delivered)
        page = (await web.http.get(order_path)).text
        assert 'data-order-status="FULFILLED"' in page and "table class=\"responsive keys\"" in page

        r = await web.http.post(f"/me/orders/{order_id}/resend", data={
            "channel": "sms", "target": "+8613912345678", "csrf_token": token,
        })
        assert r.status_code == 303 and "done=resent" in r.headers["location"], r.headers.get("location")
        history = (await web.http.get(order_path)).text
        assert 'data-channel="sms" data-outcome="requested"' in history and "由你申请" in history
        assert 'data-channel="sms" data-outcome="delivered"' in history
        assert "+8613912345678" not in history  # the target is kept nowhere
        r = await web.http.post(f"/me/orders/{order_id}/resend", data={
            "channel": "webhook", "target": "http://127.0.0.1/steal", "csrf_token": token,
        })
        assert r.status_code == 422  # a buyer's webhook goes to a public https host only

        r = await web.http.post(f"/me/orders/{order_id}/refund-request", data={
            "reason": "not_working", "csrf_token": token,
        })
        assert r.status_code == 303 and "done=refund-requested" in r.headers["location"]
        me = (await web.http.get("/me")).text
        assert "已申请退款" in me and "卡密无法使用" in me
        assert 'data-channel="sms" data-outcome="delivered"' in me  # the channel history, in the list too
        assert 'action="/me/orders/' + order_id + '/refund-request"' not in (await web.http.get(order_path)).text
    finally:
        await web.close()


async def test_a_checkout_refused_for_stock_says_why_on_its_409_page(http: httpx.AsyncClient, stack: Stack) -> None:
    sku = await create_sku_with_keys(await admin(http), fresh_keys(1))
    web = Browser(stack)
    try:
        await web.sign_up()
        token = await web.token("/")
        r = await web.http.post("/checkout", data={
            "sku_id": sku["sku_id"], "quantity": "2", "request_id": uuid.uuid4().hex, "csrf_token": token,
        })
        assert r.status_code == 409, r.text
        assert "该操作当前无法完成" in r.text  # the page's own words, then the refusal's reason
        assert f"SKU {sku['sku_id']}: 1 available, 2 asked" in r.text
    finally:
        await web.close()
