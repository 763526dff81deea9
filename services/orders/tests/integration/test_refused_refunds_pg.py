"""A refund inventory refuses (a key redeemed in a race with the refund), on Postgres as the consumer and the
queue's use cases run it: the refund is never sent and the order waits in the exception queue with
inventory's reason; an operator's override requests the same units again with the override of redeemed
keys, which is sent once inventory settles it (and only then is the order refunded); "decline" closes it
and the money stays with the sale. Replay equals live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.orders.v1 import orders_service_pb2 as pb
from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc
from quanyi_orders.application import queue, saga
from quanyi_orders.application.ports import ChannelOutcome, Deliveries, DeliveriesUnavailable
from quanyi_orders.application.refunds import OperatorRefund, refund_order
from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.replay import assert_replay_matches_live

from .test_orders_handlers import UnitOfWorkFactory, handle, paid_order, received, status_of


class Fulfillment(Deliveries):
    """Fulfillment's record as orders asks it: one key delivered, redeemed or not (or no answer at all)."""

    def __init__(self, redeemed: bool = False, down: bool = False) -> None:
        self.redeemed = redeemed
        self.down = down

    async def of_order(self, buyer_id: str, order_id: str) -> list[tuple[str, bool]]:
        if self.down:
            raise DeliveriesUnavailable("UNAVAILABLE")
        return [("sku-a", self.redeemed)]

    async def deliver(self, order_id: str, channel: str, target: str, requested_by: str) -> ChannelOutcome:
        raise AssertionError("no channel here")


async def delivered(pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, key: str) -> str:
    order_id = await paid_order(pool, store, unit_of_work, key)
    await handle(pool, store, received(fulfillment_events.KeyDelivered(order_id=order_id), order_id))
    assert await status_of(unit_of_work, order_id) == "FULFILLED"
    return order_id


def refused(order_id: str, refund_id: str) -> Any:
    return received(inventory_events.RefundKeysRefused(
        order_id=order_id, refund_id=refund_id, actor="ops@shop",
        reason="1 of the refunded keys were redeemed: refunded only on an operator's override",
    ), order_id)


def settled(order_id: str, refund_id: str) -> Any:
    return received(inventory_events.RefundKeysSettled(order_id=order_id, refund_id=refund_id), order_id)


async def refund_rows(pool: AsyncConnectionPool, order_id: str) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT refund_id, status, keys_state, keys_reason, override_redeemed, closed_action, closed_by,"
            " closed_note FROM refunds WHERE order_id = %s ORDER BY requested_at, refund_id", (order_id,)
        )
        return list(await cur.fetchall())


async def buyer_sees(orders: pb_grpc.OrdersServiceStub, order_id: str) -> list[tuple[str, str]]:
    """The order's refunds as orders' gRPC API shows them to the buyer's side: (refund id, state), the same
    through GetOrder and ListOrders."""
    got = (await orders.GetOrder(pb.GetOrderRequest(order_id=order_id))).order
    listed = (await orders.ListOrders(pb.ListOrdersRequest(buyer_id=got.buyer_id, limit=50))).orders
    [same] = [o for o in listed if o.order_id == order_id]
    assert list(same.refunds) == list(got.refunds)
    return [(r.refund_id, r.state) for r in got.refunds]


async def due_refund_ids(unit_of_work: UnitOfWorkFactory) -> list[str]:
    later = datetime.now(UTC) + timedelta(days=1)
    return [r.refund_id for r in await saga.due_refunds(unit_of_work, later, 100)]


async def test_a_refused_refund_waits_in_the_queue_unsent_until_an_operator_overrides_it(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, probe: Any, database_url: str,
    orders: pb_grpc.OrdersServiceStub,
) -> None:
    order_id = await delivered(pool, store, unit_of_work, "race")
    # Fulfillment has not heard of the redemption yet: the refund goes to inventory without the override.
    first = await refund_order(unit_of_work, Fulfillment(), OperatorRefund(order_id, (), "ops@shop", note="asked"))
    assert await status_of(unit_of_work, order_id) == "FULFILLED"  # not refunded before inventory answers
    assert await buyer_sees(orders, order_id) == [(first.refund_id, "AWAITING_KEYS")]
    await handle(pool, store, refused(order_id, first.refund_id))
    assert await buyer_sees(orders, order_id) == [(first.refund_id, "UNDER_REVIEW")]

    assert await due_refund_ids(unit_of_work) == []  # never sent
    assert await status_of(unit_of_work, order_id) == "FULFILLED"
    [entry] = (await queue.list_queue(unit_of_work, False, 0))[0]
    assert (entry.order_id, entry.source, entry.status) == (order_id, "refund", "OPEN")
    assert first.refund_id in entry.reason and "redeemed" in entry.reason
    [row] = await refund_rows(pool, order_id)
    assert (row["status"], row["keys_state"]) == ("REQUESTED", "refused") and "redeemed" in row["keys_reason"]
    # Inventory's answer heard again (a redelivery under another event id) changes nothing.
    await handle(pool, store, refused(order_id, first.refund_id))
    assert (await probe.event_types(order_id)).count("OrderQueued") == 1

    fulfillment = Fulfillment(redeemed=True)  # it has heard of the redemption since
    try:
        await queue.act_on_entry(unit_of_work, fulfillment, order_id, "override", "lead@shop", "")
        raise AssertionError("an override without a note was taken")
    except InvalidOrder:
        pass
    entry, second = await queue.act_on_entry(
        unit_of_work, fulfillment, order_id, "override", "lead@shop", "partner confirmed the top-up failed"
    )
    assert (entry.status, entry.resolution, entry.actor) == ("RESOLVED", "override", "lead@shop") and second
    rows = await refund_rows(pool, order_id)
    assert [(r["refund_id"], r["status"], r["closed_action"], r["closed_by"]) for r in rows] == [
        (first.refund_id, "DECLINED", "override", "lead@shop"), (second, "REQUESTED", None, None)
    ]
    assert (rows[1]["keys_state"], rows[1]["override_redeemed"]) == ("pending", True)
    # The buyer's side sees the replacement only: the overridden refund is not a decline.
    assert await buyer_sees(orders, order_id) == [(second, "AWAITING_KEYS")]
    assert await due_refund_ids(unit_of_work) == []  # still waits for inventory
    assert await status_of(unit_of_work, order_id) == "FULFILLED"

    await handle(pool, store, settled(order_id, second))

    assert await due_refund_ids(unit_of_work) == [second]  # now the money may go
    assert await buyer_sees(orders, order_id) == [(second, "REQUESTED")]
    assert await status_of(unit_of_work, order_id) == "REFUNDED"
    types = await probe.event_types(order_id)
    assert types[-5:] == [
        "RefundDeclined", "RefundRequested", "QueueEntryResolved", "OrderRefunded", "RefundKeysCleared"
    ]
    assert types.count("OrderRefunded") == 1
    await assert_replay_matches_live(database_url, "orders")


async def test_an_operator_declines_a_refused_refund_and_the_money_stays_with_the_sale(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, probe: Any, database_url: str,
    orders: pb_grpc.OrdersServiceStub,
) -> None:
    order_id = await delivered(pool, store, unit_of_work, "decline")
    # Fulfillment does not answer: the refund goes on, inventory's record decides (and refuses).
    refund = await refund_order(unit_of_work, Fulfillment(down=True), OperatorRefund(order_id, (), "ops@shop"))
    await handle(pool, store, refused(order_id, refund.refund_id))
    try:
        await queue.act_on_entry(unit_of_work, Fulfillment(), order_id, "refund", "ops@shop", "try again")
        raise AssertionError("the refused refund's units were refunded a second time")
    except NotAllowed:
        pass

    entry, made = await queue.act_on_entry(
        unit_of_work, Fulfillment(), order_id, "decline", "lead@shop", "redeemed before the request"
    )

    assert (entry.status, entry.resolution, made) == ("RESOLVED", "decline", "")
    [row] = await refund_rows(pool, order_id)
    assert (row["status"], row["closed_action"], row["closed_note"]) == (
        "DECLINED", "decline", "redeemed before the request"
    )
    assert await due_refund_ids(unit_of_work) == []
    # The buyer's side learns it was declined, never the operator's note.
    assert await buyer_sees(orders, order_id) == [(refund.refund_id, "DECLINED")]
    got = (await orders.GetOrder(pb.GetOrderRequest(order_id=order_id))).order
    assert "redeemed before" not in str(got) and got.refunds[0].amount.minor_units > 0
    assert await status_of(unit_of_work, order_id) == "FULFILLED"
    assert "OrderRefunded" not in await probe.event_types(order_id)  # the ledger never reversed the sale
    assert (await queue.list_queue(unit_of_work, False, 0))[0] == []
    try:
        await queue.act_on_entry(unit_of_work, Fulfillment(), order_id, "override", "lead@shop", "too late")
        raise AssertionError("a closed entry was acted on")
    except NotAllowed:
        pass
    await assert_replay_matches_live(database_url, "orders")
