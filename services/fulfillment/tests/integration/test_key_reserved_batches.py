"""The KeyReserved consumer on real Postgres: a fetched batch is one unit of work, set-wise."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_fulfillment import bootstrap
from quanyi_platform.envelope import NewEvent, seal
from quanyi_platform.testing.statements import CountingConnection

DELIVERED = fulfillment_events.KeyDelivered.DESCRIPTOR.full_name


def with_keys(world: Any, order_id: str, key_ids: list[str]) -> Any:
    """A KeyReserved of `order_id` naming exactly these key ids."""
    payload = inventory_events.KeyReserved(
        order_id=order_id, buyer_id="buyer-1", channel="web",
        keys=[inventory_events.ReservedKey(key_id=k, sku_id="sku-gold", line_no=1, unit_no=n)
              for n, k in enumerate(key_ids, start=1)],
    )
    return world.record(seal(NewEvent("Reservation", order_id, 1, payload, correlation_id=order_id), "inventory"))


@pytest.mark.parametrize("size", [1, 40])
async def test_a_batch_costs_the_same_six_statements_however_many_orders_it_holds(
    world: Any, counted_pool: AsyncConnectionPool, size: int
) -> None:
    consumer = bootstrap.consumer(world.store, counted_pool, world.settings, world.sender())
    batch = [world.reserve(keys=2).record for _ in range(size)]
    CountingConnection.statements.clear()

    assert await consumer.apply(batch) == size

    # inbox claim, load of the batch's deliveries, append, deliveries rows, email_outbox rows,
    # delivery_latency rows
    assert len(CountingConnection.statements) == 6, CountingConnection.statements
    assert len(await world.rows("SELECT 1 FROM delivery_latency WHERE since = 'reserved'")) == size
    assert len(await world.rows("SELECT 1 FROM deliveries")) == 2 * size
    assert len(await world.rows("SELECT 1 FROM email_outbox WHERE state = 'pending'")) == size


async def test_a_poison_reservation_in_the_middle_of_a_batch_is_dead_lettered_and_the_rest_apply_once(
    world: Any,
) -> None:
    first, last = world.reserve(keys=1), world.reserve(keys=2)
    twice = with_keys(world, "order-twice", ["key-a", "key-a"])  # a key reserved twice: never deliverable
    taken = with_keys(world, "order-taken", [world.inventory.keys[first.order_id][0].key_id])  # I1

    assert await world.handle(first.record, twice, last.record, taken) == 2

    dead = await world.rows("SELECT error FROM dead_letters")
    assert sorted(r["error"].split("(")[0] for r in dead) == ["InvalidReservation", "KeyAlreadyDelivered"]
    assert {r["order_id"] for r in await world.rows("SELECT order_id FROM deliveries")} == {
        first.order_id, last.order_id
    }
    assert len(await world.events(DELIVERED)) == 2


async def test_a_redelivered_batch_or_a_repeated_reservation_has_no_effect_twice(world: Any) -> None:
    reserved = [world.reserve(keys=2) for _ in range(5)]
    again = [world.reserve(order_id=r.order_id) for r in reserved]  # inventory recorded them again

    assert await world.handle(*(r.record for r in reserved)) == 5
    before = await world.rows("SELECT * FROM deliveries ORDER BY key_id")
    assert await world.handle(*(r.record for r in reserved)) == 0  # the same events: the inbox drops them
    assert await world.handle(*(r.record for r in again), again[0].record) == 5  # new ids: the domain drops them

    assert await world.rows("SELECT * FROM deliveries ORDER BY key_id") == before
    assert len(await world.events(DELIVERED)) == 5
    assert len(await world.rows("SELECT 1 FROM email_outbox")) == 5


async def test_one_order_reserved_twice_within_a_batch_is_delivered_once(world: Any) -> None:
    reserved = world.reserve(keys=2)
    again = world.reserve(order_id=reserved.order_id)

    assert await world.handle(reserved.record, again.record) == 2

    assert len(await world.events(DELIVERED)) == 1
    assert len(await world.rows("SELECT 1 FROM deliveries")) == 2
