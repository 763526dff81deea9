"""A bundle's points and memberships through the KeyReserved consumer on real Postgres: granted with the
delivery, each its own event, shown by ListEntitlements' query, once, and replayed as they are live."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from typing import Any

from quanyi.common.v1 import money_pb2
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_fulfillment.application.queries import list_entitlements
from quanyi_platform.envelope import NewEvent, seal
from quanyi_platform.testing.replay import assert_replay_matches_live

POINTS = fulfillment_events.PointsCredited.DESCRIPTOR.full_name
GRANTED = fulfillment_events.MembershipGranted.DESCRIPTOR.full_name
DELIVERED = fulfillment_events.KeyDelivered.DESCRIPTOR.full_name


def perks(world: Any, buyer_id: str, units: int = 1, order_id: str | None = None) -> Any:
    """A KeyReserved of a bundle of 200 points (worth ¥2.00) and 30 days of "vip", no key."""
    order_id = order_id or f"order-{uuid.uuid4().hex[:8]}"
    entitlements = []
    for u in range(units):
        entitlements.append(inventory_events.ReservedEntitlement(
            line_no=1, unit_no=u + 1, bundle_sku_id="sku-perks",
            points=inventory_events.PointsComponent(
                points=200, value=money_pb2.Money(minor_units=200, currency="CNY")
            ),
        ))
        entitlements.append(inventory_events.ReservedEntitlement(
            line_no=1, unit_no=units + u + 1, bundle_sku_id="sku-perks",
            membership=inventory_events.MembershipComponent(plan="vip", days=30),
        ))
    payload = inventory_events.KeyReserved(
        order_id=order_id, buyer_id=buyer_id, channel="web", entitlements=entitlements
    )
    envelope = seal(NewEvent("Reservation", order_id, 1, payload, correlation_id=order_id), "inventory")
    return world.record(envelope), order_id


async def test_a_bundles_points_and_memberships_are_granted_with_its_keys_stacked_per_plan_and_once(
    world: Any, database_url: str
) -> None:
    buyer = f"buyer-{uuid.uuid4().hex[:6]}"
    keyed = world.reserve(keys=1, buyer_id=buyer)
    first, first_order = perks(world, buyer, units=2)
    second, second_order = perks(world, buyer)
    # One batch: a plain order, a bundle of two units, and one more; the same order again (new event id).
    again, _ = perks(world, buyer, units=2, order_id=first_order)
    assert await world.handle(keyed.record, first, second, again) == 4

    credited = [p for _, p in await world.events(POINTS)]
    granted = [p for _, p in await world.events(GRANTED)]
    assert sorted((p.order_id, p.unit_no, p.points) for p in credited) == sorted(
        [(first_order, 1, 200), (first_order, 2, 200), (second_order, 1, 200)]
    )
    assert [(g.order_id, g.unit_no, g.days) for g in granted] == [
        (first_order, 3, 30), (first_order, 4, 30), (second_order, 2, 30)
    ]
    # Stacked: each grant of the plan starts when the one before ends.
    starts = [g.valid_from.ToDatetime(tzinfo=UTC) for g in granted]
    ends = [g.valid_until.ToDatetime(tzinfo=UTC) for g in granted]
    assert starts[1:] == ends[:-1] and ends[-1] - starts[0] == timedelta(days=90)
    # Orders of points and memberships only are delivered (orders completes them) with no key and no mail.
    delivered = {p.order_id: len(p.keys) for _, p in await world.events(DELIVERED)}
    assert delivered == {keyed.order_id: 1, first_order: 0, second_order: 0}
    assert len(await world.rows("SELECT 1 FROM email_outbox")) == 1

    mine = await list_entitlements(world.uow, buyer)
    assert mine.points_balance == 600
    assert [(m.plan, m.valid_until) for m in mine.memberships] == [("vip", ends[-1])]
    assert [g.order_id for g in mine.grants] == [first_order, first_order, second_order]

    # Redelivered or repeated: nothing is granted twice.
    repeat, _ = perks(world, buyer, order_id=second_order)
    assert await world.handle(first, repeat) == 1  # the inbox drops the same event, the domain the repeat
    assert len(await world.events(POINTS)) == 3 and len(await world.events(GRANTED)) == 3
    assert (await list_entitlements(world.uow, buyer)).points_balance == 600
    await assert_replay_matches_live(database_url, "fulfillment")
