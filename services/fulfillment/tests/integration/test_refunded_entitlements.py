"""A refunded bundle through the consumer on real Postgres: orders' OrderRefunded takes back the order's
points (PointsDebited) and shortens its membership (MembershipShortened) once, whatever is redelivered or
repeated; an order refunded before its delivery takes nothing; replay equals live."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, timedelta
from typing import Any

from aiokafka.structs import ConsumerRecord
from quanyi.common.v1 import money_pb2
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_fulfillment.application.queries import list_entitlements
from quanyi_platform.envelope import NewEvent, seal
from quanyi_platform.eventstore import topic_for
from quanyi_platform.testing.replay import assert_replay_matches_live

from .test_entitlements import perks

DEBITED = fulfillment_events.PointsDebited.DESCRIPTOR.full_name
SHORTENED = fulfillment_events.MembershipShortened.DESCRIPTOR.full_name
GRANTED = fulfillment_events.MembershipGranted.DESCRIPTOR.full_name
_offsets = itertools.count(1)


def refunded(order_id: str) -> ConsumerRecord[bytes, bytes]:
    """orders' OrderRefunded of the whole order (a new event id each time: a repeated refund)."""
    payload = orders_events.OrderRefunded(
        order_id=order_id, channel="web", amount=money_pb2.Money(minor_units=990, currency="CNY"),
        reason=orders_events.REFUND_REASON_OPERATOR, was_released=True,
    )
    envelope = seal(NewEvent("Order", order_id, 9, payload, correlation_id=order_id), "orders")
    value = envelope.SerializeToString()
    return ConsumerRecord(topic_for("orders"), 0, next(_offsets), 0, 0, None, value, None, 0, len(value), [])


async def test_a_refund_takes_back_the_bundles_points_and_membership_once(
    world: Any, database_url: str
) -> None:
    buyer = f"buyer-{uuid.uuid4().hex[:6]}"
    kept, kept_order = perks(world, buyer)
    bought, order = perks(world, buyer, units=2)
    assert await world.handle(kept, bought) == 2
    before = await list_entitlements(world.uow, buyer)
    assert before.points_balance == 600
    until = before.memberships[0].valid_until

    # The refund, the same event redelivered and a repeated refund of the order: taken back once.
    refund = refunded(order)
    assert await world.handle(refund) == 1
    assert await world.handle(refund, refunded(order)) == 1
    debits = [p for _, p in await world.events(DEBITED)]
    cuts = [p for _, p in await world.events(SHORTENED)]
    assert sorted((d.order_id, d.unit_no, d.points, d.value.minor_units) for d in debits) == [
        (order, 1, 200, 200), (order, 2, 200, 200)
    ]
    assert [(c.order_id, c.unit_no, c.days) for c in cuts] == [(order, 3, 30), (order, 4, 30)]
    assert cuts[-1].valid_until.ToDatetime(tzinfo=UTC) == until - timedelta(days=60)

    mine = await list_entitlements(world.uow, buyer)
    assert mine.points_balance == 200  # the kept order's
    assert [(m.plan, m.valid_until) for m in mine.memberships] == [("vip", until - timedelta(days=60))]
    assert {(c.order_id, c.debited_at is not None) for c in mine.credits} == {(kept_order, False), (order, True)}
    assert {(g.order_id, g.shortened_at is not None) for g in mine.grants} == {
        (kept_order, False), (order, True)
    }

    # Refunded before delivery (or no bundle at all): nothing to take back.
    assert await world.handle(refunded(f"order-{uuid.uuid4().hex[:8]}")) == 1
    assert len(await world.events(DEBITED)) == 2 and len(await world.events(SHORTENED)) == 2
    # A later grant of the plan stacks on the shortened membership.
    later, _ = perks(world, buyer)
    assert await world.handle(later) == 1
    last = [p for _, p in await world.events(GRANTED)][-1]
    assert last.valid_from.ToDatetime(tzinfo=UTC) == until - timedelta(days=60)
    await assert_replay_matches_live(database_url, "fulfillment")
