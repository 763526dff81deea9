"""Inventory's RefundedKeyRedeemed (a key redeemed after the refund that took it back), on Postgres as the
consumer and the queue's use cases run it, listed through the gRPC API: the refunded order goes to the exception queue
with its own source and stays there, listed with the key's id, SKU, refund and partner (never the key),
until an operator resolves it with a note; heard twice in one batch it queues the order once with both
keys. Replay equals live."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from psycopg_pool import AsyncConnectionPool
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.orders.v1 import orders_service_pb2 as pb
from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc
from quanyi_orders.application import queue
from quanyi_orders.application.refunds import OperatorRefund, refund_order
from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.replay import assert_replay_matches_live

from .test_orders_handlers import UnitOfWorkFactory, handle, received, status_of
from .test_refused_refunds_pg import Fulfillment, delivered, settled

AT = datetime(2026, 11, 30, 11, 58, tzinfo=UTC)


def redeemed_after_refund(order_id: str, refund_id: str, key_id: str) -> Any:
    at = Timestamp()
    at.FromDatetime(AT)
    return received(inventory_events.RefundedKeyRedeemed(
        order_id=order_id, refund_id=refund_id, taken="voided", partner="partner-x", redeemed_at=at,
        key=inventory_events.HeldKey(key_id=key_id, sku_id="sku-a", pool_id="pool-1", line_no=1, unit_no=1),
        redemption_event_id="fulfillment-redeemed-1",
    ), order_id)


async def test_a_refunded_order_whose_key_was_redeemed_waits_in_the_queue_until_an_operator_resolves_it(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, probe: Any, database_url: str,
    orders: pb_grpc.OrdersServiceStub,
) -> None:
    order_id = await delivered(pool, store, unit_of_work, "late")
    made = await refund_order(unit_of_work, Fulfillment(), OperatorRefund(order_id, (), "ops@shop"))
    await handle(pool, store, settled(order_id, made.refund_id))
    assert await status_of(unit_of_work, order_id) == "REFUNDED"

    await handle(pool, store, redeemed_after_refund(order_id, made.refund_id, "key-1"))

    listed = (await orders.ListExceptionQueue(pb.ListExceptionQueueRequest())).entries
    [entry] = [e for e in listed if e.order_id == order_id]
    assert (entry.source, entry.status) == ("redeemed_after_refund", "OPEN")
    for fact in ("key-1", "sku-a", made.refund_id, "partner-x", AT.isoformat()):
        assert fact in entry.reason
    assert (await probe.event_types(order_id))[-1] == "OrderQueued"
    assert await status_of(unit_of_work, order_id) == "REFUNDED"  # nothing but the queue moved

    # Only a resolution with a note closes it.
    for action, note, error in (("refund", "again", NotAllowed), ("decline", "no", NotAllowed),
                                ("resolve", " ", InvalidOrder)):
        try:
            await queue.act_on_entry(unit_of_work, Fulfillment(), order_id, action, "lead@shop", note)
            raise AssertionError(f"{action} closed a late redemption")
        except error:
            pass
    entry, made_now = await queue.act_on_entry(
        unit_of_work, Fulfillment(), order_id, "resolve", "lead@shop", "written off; partner disputes it")
    assert (entry.status, entry.resolution, entry.actor, made_now) == ("RESOLVED", "resolve", "lead@shop", "")
    assert order_id not in [e.order_id for e in (await orders.ListExceptionQueue(pb.ListExceptionQueueRequest())).entries]
    await assert_replay_matches_live(database_url, "orders")


async def test_two_keys_heard_in_one_batch_queue_the_order_once_with_both(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, probe: Any, database_url: str,
) -> None:
    order_id = await delivered(pool, store, unit_of_work, "two")
    made = await refund_order(unit_of_work, Fulfillment(), OperatorRefund(order_id, (), "ops@shop"))
    await handle(pool, store, settled(order_id, made.refund_id))

    await handle(pool, store, redeemed_after_refund(order_id, made.refund_id, "key-1"),
                 redeemed_after_refund(order_id, made.refund_id, "key-2"))

    [entry] = [e for e in (await queue.list_queue(unit_of_work, False, 0))[0] if e.order_id == order_id]
    assert entry.source == "redeemed_after_refund" and entry.status == "OPEN"
    assert entry.reason.startswith("key key-2 ") and "key key-1 " in entry.reason
    assert (await probe.event_types(order_id)).count("OrderQueued") == 2
    await assert_replay_matches_live(database_url, "orders")
