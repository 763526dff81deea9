"""A buyer's points and memberships from bundles in the user centre's API: /v1/me/points and
/v1/me/memberships answer fulfillment's record of them for the signed-in buyer only, with the orders they
came from."""

from typing import Any

from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb


async def test_a_buyer_sees_their_points_balance_and_memberships_with_the_orders_they_came_from(
    gw: Any, fake: Any
) -> None:
    buyer_id, auth = await gw.buyer("perks@example.com")
    _, other = await gw.buyer("other@example.com")
    fake.entitlements[buyer_id] = fulfillment_pb.ListEntitlementsResponse(
        points_balance=700,
        credits=[
            fulfillment_pb.PointsCredit(order_id="o-1", line_no=1, unit_no=2, points=500,
                                        credited_at="2026-12-01T08:00:00Z"),
            fulfillment_pb.PointsCredit(order_id="o-2", line_no=1, unit_no=2, points=200,
                                        credited_at="2026-12-01T09:00:00Z"),
        ],
        memberships=[fulfillment_pb.Membership(plan="vip", valid_until="2027-01-30T08:00:00Z")],
        grants=[
            fulfillment_pb.MembershipGrant(order_id="o-1", line_no=1, unit_no=3, plan="vip", days=30,
                                           valid_from="2026-12-01T08:00:00Z", valid_until="2026-12-31T08:00:00Z"),
            fulfillment_pb.MembershipGrant(order_id="o-2", line_no=1, unit_no=3, plan="vip", days=30,
                                           valid_from="2026-12-31T08:00:00Z", valid_until="2027-01-30T08:00:00Z"),
        ],
    )

    points = await gw.client.get("/v1/me/points", headers=auth)
    assert points.status_code == 200, points.text
    assert points.json()["balance"] == 700
    assert [(c["order_id"], c["points"]) for c in points.json()["credits"]] == [("o-1", 500), ("o-2", 200)]
    memberships = await gw.client.get("/v1/me/memberships", headers=auth)
    assert memberships.status_code == 200, memberships.text
    [vip] = memberships.json()
    assert (vip["plan"], vip["valid_until"]) == ("vip", "2027-01-30T08:00:00Z")
    assert [(g["order_id"], g["valid_from"]) for g in vip["grants"]] == [
        ("o-1", "2026-12-01T08:00:00Z"), ("o-2", "2026-12-31T08:00:00Z")
    ]
    # Another buyer has none of them; nobody signed in gets a problem, not a page.
    assert (await gw.client.get("/v1/me/points", headers=other)).json() == {"balance": 0, "credits": []}
    assert (await gw.client.get("/v1/me/memberships", headers=other)).json() == []
    anonymous = await gw.client.get("/v1/me/points")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"


async def test_a_bundle_component_is_exactly_one_of_keys_points_and_a_membership(gw: Any, fake: Any) -> None:
    admin = await gw.admin()
    url = "/v1/admin/products/p-1/skus"
    price = {"amount_minor": 5000, "currency": "CNY"}
    for bad in [
        {"sku_id": "s-1", "points": {"points": 5}},
        {},
        {"points": {"points": 0}},
        {"membership": {"plan": "vip", "days": 0}},
        {"membership": {"plan": "v i p", "days": 3}},
    ]:
        r = await gw.client.post(url, json={"name": "Box", "price": price, "components": [bad]}, headers=admin)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", (bad, r.text)
    good = [
        {"sku_id": "s-1", "quantity": 2},
        {"points": {"points": 500, "value": {"amount_minor": 250, "currency": "CNY"}}},
        {"membership": {"plan": "vip", "days": 30}},
    ]
    r = await gw.client.post(url, json={"name": "Box", "price": price, "components": good}, headers=admin)
    assert r.status_code == 201, r.text


def test_the_back_office_form_reads_keys_points_and_membership_components() -> None:
    import pytest
    from quanyi_gateway.web.routes.backoffice import _component

    keys, points, vip = (_component(t, "CNY") for t in ("s-1:2", "points:500:250", "membership:vip:30"))
    assert (keys.sku_id, keys.quantity) == ("s-1", 2)
    assert (points.points.points, points.points.value.minor_units, points.points.value.currency) == (
        500, 250, "CNY"
    )
    assert (vip.membership.plan, vip.membership.days) == ("vip", 30)
    for bad in ("points:x", "membership:vip", "membership::3", "points:1:2:3"):
        with pytest.raises(ValueError):
            _component(bad)
