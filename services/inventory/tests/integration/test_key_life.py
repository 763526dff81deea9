"""An order's keys after their reservation, on Postgres: fulfillment's KeyDelivered and Redeemed move them
reserved -> delivered -> redeemed, orders' RefundRequested takes them back (released, recycled, or refused
for a redeemed key without an operator's override), each counted per SKU and per pool; a redemption heard
after the refund that took its key back is recorded once (RefundedKeyRedeemed, `refunded_keys`) and moves
no key; and a replay equals live (I6)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import envelope_pb2
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.adapters.history_scope import InventoryHistoryScope
from quanyi_inventory.entrypoints.consumers import fulfillment_handler, order_paid_handler
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.envelope import new_event_id, open_envelope
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.replay import assert_replay_matches_live

from .conftest import UowFactory, order_paid
from .test_key_states import new_pool, new_sku, rows, stock
from .test_statements import Counting


def received(message: object, aggregate_id: str, producer: str) -> ReceivedEvent:
    envelope = envelope_pb2.Envelope(
        event_id=new_event_id(), type=message.DESCRIPTOR.full_name,  # type: ignore[attr-defined]
        aggregate_type="Test", aggregate_id=aggregate_id, aggregate_version=1, correlation_id=aggregate_id,
        producer=producer, payload=message.SerializeToString(),  # type: ignore[attr-defined]
    )
    return ReceivedEvent(envelope, message, f"quanyi.{producer}.v1", 0, 0)


def delivered(order_id: str, key_ids: Sequence[str]) -> ReceivedEvent:
    keys = [fulfillment_events.DeliveredKey(key_id=k) for k in key_ids]
    return received(fulfillment_events.KeyDelivered(order_id=order_id, keys=keys), order_id, "fulfillment")


def redeemed(order_id: str, key_id: str) -> ReceivedEvent:
    message = fulfillment_events.Redeemed(
        key_id=key_id, order_id=order_id, partner="p", redeemed_at="2026-11-30T12:00:00+00:00"
    )
    return received(message, key_id, "fulfillment")


def refund_requested(
    order_id: str, sku_id: str, quantity: int, *, released: int = 0, voided: int = 0, redeemed: int = 0,
    override: bool = False,
) -> ReceivedEvent:
    line = orders_events.RefundLine(
        line_no=1, sku_id=sku_id, quantity=quantity, released=released, voided=voided, redeemed=redeemed
    )
    message = orders_events.RefundRequested(
        order_id=order_id, refund_id=new_event_id(), lines=[line], actor="ops-alice",
        override_redeemed=override, note="buyer complained",
    )
    return received(message, order_id, "orders")


class Inventory:
    """Inventory's two consumers' batch handlers, each batch in one transaction as the consumer runs it."""

    def __init__(self, pool: AsyncConnectionPool, store: EventStore) -> None:
        self.pool = pool
        self.orders = order_paid_handler(store)
        self.fulfillment = fulfillment_handler(store)

    async def from_orders(self, *events: ReceivedEvent) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await self.orders.apply(conn, list(events))

    async def from_fulfillment(self, *events: ReceivedEvent) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await self.fulfillment.apply(conn, list(events))


async def states(pool: AsyncConnectionPool, key_ids: Sequence[str]) -> list[object]:
    found = await rows(pool, "SELECT key_id, state FROM keys WHERE key_id = ANY(%s)", list(key_ids))
    by_id = {r["key_id"]: r["state"] for r in found}
    return [by_id[k] for k in key_ids]


async def counts(pool: AsyncConnectionPool, table: str, column: str, id_: str) -> dict[str, object]:
    found = await rows(
        pool, f"SELECT available, reserved, delivered, redeemed, recycled FROM {table} WHERE {column} = %s", id_
    )
    return found[0]


async def event_types(pool: AsyncConnectionPool, order_id: str) -> list[object]:
    found = await rows(
        pool, "SELECT event_type AS type FROM events WHERE aggregate_type = 'Allocation' AND aggregate_id = %s"
        " ORDER BY aggregate_version", order_id,
    )
    return [str(r["type"]).rsplit(".", 1)[1] for r in found]


async def test_delivered_and_redeemed_keys_move_on_and_are_counted_per_sku_and_pool(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    inventory = Inventory(pool, store)
    sku = await new_sku(uow)
    pool_id = await new_pool(uow, sku)
    await stock(uow, keyring, pool_id, ["A", "B", "C"])
    await inventory.from_orders(order_paid("o-1", [(sku, 2)]))
    held = [str(r["key_id"]) for r in await rows(
        pool, "SELECT key_id FROM keys WHERE order_id = 'o-1' ORDER BY unit_no")]
    await inventory.from_fulfillment(delivered("o-1", held))
    assert await states(pool, held) == ["delivered", "delivered"]
    await inventory.from_fulfillment(redeemed("o-1", held[0]), delivered("o-1", held))  # a repeated report
    assert await states(pool, held) == ["redeemed", "delivered"]
    expected = {"available": 1, "reserved": 0, "delivered": 1, "redeemed": 1, "recycled": 0}
    assert await counts(pool, "sku_stock", "sku_id", sku) == expected
    assert await counts(pool, "pool_stock", "pool_id", pool_id) == expected
    assert await event_types(pool, "o-1") == ["KeyReserved", "KeysDelivered", "KeysRedeemed"]
    await assert_replay_matches_live(database_url, "inventory")


async def test_a_redemption_heard_before_its_delivery_delivers_the_key_first(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, store: EventStore
) -> None:
    inventory = Inventory(pool, store)
    sku = await new_sku(uow)
    await stock(uow, keyring, await new_pool(uow, sku), ["A"])
    await inventory.from_orders(order_paid("o-1", [(sku, 1)]))
    [key] = [str(r["key_id"]) for r in await rows(pool, "SELECT key_id FROM keys WHERE order_id = 'o-1'")]
    await inventory.from_fulfillment(redeemed("o-1", key))
    await inventory.from_fulfillment(delivered("o-1", [key]))
    assert await states(pool, [key]) == ["redeemed"]
    assert await event_types(pool, "o-1") == ["KeyReserved", "KeysDelivered", "KeysRedeemed"]
    assert (await counts(pool, "sku_stock", "sku_id", sku))["redeemed"] == 1


async def test_a_refund_releases_undelivered_keys_recycles_delivered_ones_and_needs_an_override_for_redeemed(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    inventory = Inventory(pool, store)
    sku = await new_sku(uow)
    pool_id = await new_pool(uow, sku)
    await stock(uow, keyring, pool_id, ["A", "B", "C", "D", "E"])
    await inventory.from_orders(order_paid("o-1", [(sku, 4)]))
    held = [str(r["key_id"]) for r in await rows(
        pool, "SELECT key_id FROM keys WHERE order_id = 'o-1' ORDER BY unit_no")]
    await inventory.from_fulfillment(delivered("o-1", held[:2]), redeemed("o-1", held[0]))

    # Every unit back without the override: the redeemed key refuses the whole refund; no key moves.
    await inventory.from_orders(refund_requested("o-1", sku, 4, released=2, voided=1, redeemed=1))
    assert await states(pool, held) == ["redeemed", "delivered", "reserved", "reserved"]
    refused = await rows(pool, "SELECT outcome, reason FROM refund_settlements WHERE order_id = 'o-1'")
    assert [r["outcome"] for r in refused] == ["refused"]
    assert "override" in str(refused[0]["reason"])

    # A partial refund of 3 units: the undelivered keys go back to the pool, the delivered one is recycled.
    await inventory.from_orders(refund_requested("o-1", sku, 3, released=2, voided=1))
    assert await states(pool, held) == ["redeemed", "recycled", "available", "available"]
    assert await counts(pool, "sku_stock", "sku_id", sku) == {
        "available": 3, "reserved": 0, "delivered": 0, "redeemed": 1, "recycled": 1}
    assert (await counts(pool, "pool_stock", "pool_id", pool_id))["available"] == 3
    # The released keys sell again; the recycled one never does.
    await inventory.from_orders(order_paid("o-2", [(sku, 3)]))
    resold = {str(r["key_id"]) for r in await rows(pool, "SELECT key_id FROM keys WHERE order_id = 'o-2'")}
    assert set(held[2:]) <= resold and held[1] not in resold

    # The last unit, redeemed, on the operator's override: the key stays redeemed, the override is audited.
    await inventory.from_orders(refund_requested("o-1", sku, 1, redeemed=1, override=True))
    assert await states(pool, held[:1]) == ["redeemed"]
    audit = await rows(
        pool, "SELECT outcome, released, voided, redeemed, override_redeemed, actor, note"
        " FROM refund_settlements WHERE order_id = 'o-1' ORDER BY settled_at, refund_id",
    )
    assert [(r["outcome"], r["released"], r["voided"], r["redeemed"], r["override_redeemed"]) for r in audit] == [
        ("refused", 0, 0, 0, False), ("settled", 2, 1, 0, False), ("settled", 0, 0, 1, True)]
    assert audit[2]["actor"] == "ops-alice" and audit[2]["note"] == "buyer complained"
    # Nothing is left to refund: a further refund of the line is refused.
    await inventory.from_orders(refund_requested("o-1", sku, 1, redeemed=1, override=True))
    assert (await event_types(pool, "o-1"))[-1] == "RefundKeysRefused"
    await assert_replay_matches_live(database_url, "inventory")


async def test_a_refund_that_names_no_keys_records_nothing(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, store: EventStore
) -> None:
    inventory = Inventory(pool, store)
    sku = await new_sku(uow)
    await stock(uow, keyring, await new_pool(uow, sku), ["A"])
    await inventory.from_orders(order_paid("o-1", [(sku, 1)]))
    await inventory.from_orders(refund_requested("o-1", sku, 1))  # a shortage's or a refused payment's
    assert await event_types(pool, "o-1") == ["KeyReserved"]


async def refunded_keys(pool: AsyncConnectionPool, order_id: str) -> list[dict[str, object]]:
    return await rows(
        pool, "SELECT key_id, refund_id, taken, redeemed_partner, redeemed_at, redemption_event_id"
        " FROM refunded_keys WHERE order_id = %s ORDER BY line_no, unit_no", order_id,
    )


async def test_a_redemption_heard_after_the_refund_that_voided_its_key_is_recorded_once_and_moves_nothing(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    inventory = Inventory(pool, store)
    sku = await new_sku(uow)
    pool_id = await new_pool(uow, sku)
    await stock(uow, keyring, pool_id, ["SECRET-CODE-A", "SECRET-CODE-B", "SECRET-CODE-C"])
    await inventory.from_orders(order_paid("o-1", [(sku, 2)]))
    held = [str(r["key_id"]) for r in await rows(
        pool, "SELECT key_id FROM keys WHERE order_id = 'o-1' ORDER BY unit_no")]
    await inventory.from_fulfillment(delivered("o-1", held))
    # The buyer redeems the first key; orders' refund of one unit reaches inventory before the redemption
    # does, so the refund takes that key as delivered and voids it.
    refund = refund_requested("o-1", sku, 1, voided=1)
    await inventory.from_orders(refund)
    assert await states(pool, held) == ["recycled", "delivered"]
    before = (await counts(pool, "sku_stock", "sku_id", sku), await counts(pool, "pool_stock", "pool_id", pool_id))

    report = redeemed("o-1", held[0])
    await inventory.from_fulfillment(report, redeemed("o-1", held[0]))  # reported twice (two event ids)
    await inventory.from_fulfillment(redeemed("o-1", held[0]))  # and again in a later batch

    assert await event_types(pool, "o-1") == [
        "KeyReserved", "KeysDelivered", "RefundKeysSettled", "RefundedKeyRedeemed"]
    refund_id = refund.payload.refund_id
    [voided, *_] = await refunded_keys(pool, "o-1")
    assert voided == {
        "key_id": held[0], "refund_id": refund_id, "taken": "voided", "redeemed_partner": "p",
        "redeemed_at": datetime(2026, 11, 30, 12, tzinfo=UTC), "redemption_event_id": report.event_id,
    }
    # The key stays recycled (the refund is settled and stands) and nothing is counted twice.
    assert await states(pool, held) == ["recycled", "delivered"]
    assert (await counts(pool, "sku_stock", "sku_id", sku), await counts(pool, "pool_stock", "pool_id", pool_id)) \
        == before == ({"available": 1, "reserved": 0, "delivered": 1, "redeemed": 0, "recycled": 1},) * 2
    # The event names the key by id only, with its refund; the key's history finds it through the refund.
    [late] = await rows(
        pool, "SELECT envelope FROM events WHERE event_type LIKE '%%.RefundedKeyRedeemed'",
    )
    _, payload = open_envelope(bytes(late["envelope"]))
    assert isinstance(payload, inventory_events.RefundedKeyRedeemed)
    assert (payload.key.key_id, payload.key.sku_id, payload.refund_id, payload.partner) == (
        held[0], sku, refund_id, "p")
    assert b"SECRET-CODE" not in bytes(late["envelope"])
    async with pool.connection() as conn:
        assert await InventoryHistoryScope().key_correlations(conn, held[0]) == ["o-1"]
    await assert_replay_matches_live(database_url, "inventory")


async def test_a_redemption_of_a_key_a_refund_released_is_recorded_without_touching_its_next_order(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    inventory = Inventory(pool, store)
    sku = await new_sku(uow)
    pool_id = await new_pool(uow, sku)
    await stock(uow, keyring, pool_id, ["A"])
    await inventory.from_orders(order_paid("o-1", [(sku, 1)]))
    [key] = [str(r["key_id"]) for r in await rows(pool, "SELECT key_id FROM keys WHERE order_id = 'o-1'")]
    await inventory.from_orders(refund_requested("o-1", sku, 1, released=1))
    await inventory.from_orders(order_paid("o-2", [(sku, 1)]))  # the released key sells again
    assert [r["order_id"] for r in await rows(pool, "SELECT order_id FROM keys WHERE key_id = %s", key)] == ["o-2"]

    await inventory.from_fulfillment(redeemed("o-1", key))

    assert (await event_types(pool, "o-1"))[-1] == "RefundedKeyRedeemed"
    assert [(r["key_id"], r["taken"]) for r in await refunded_keys(pool, "o-1")] == [(key, "released")]
    assert await states(pool, [key]) == ["reserved"]  # o-2's key is left alone
    assert await event_types(pool, "o-2") == ["KeyReserved"]
    assert await counts(pool, "sku_stock", "sku_id", sku) == {
        "available": 0, "reserved": 1, "delivered": 0, "redeemed": 0, "recycled": 0}
    await assert_replay_matches_live(database_url, "inventory")


async def test_a_batch_of_deliveries_costs_the_same_statements_whatever_its_size_and_refunds_taken_back(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, store: EventStore
) -> None:
    sku = await new_sku(uow)
    await stock(uow, keyring, await new_pool(uow, sku), [f"K{i}" for i in range(60)])
    inventory = Inventory(pool, store)
    await inventory.from_orders(*(order_paid(f"o-{i}", [(sku, 2)]) for i in range(30)))
    await inventory.from_orders(*(refund_requested(f"o-{i}", sku, 1, released=1) for i in range(1, 30, 2)))
    keys = {str(r["order_id"]): str(r["key_id"]) for r in await rows(
        pool, "SELECT order_id, key_id FROM keys WHERE order_id IS NOT NULL ORDER BY unit_no DESC")}

    async def statements(*events: ReceivedEvent) -> list[str]:
        async with pool.connection() as conn, conn.transaction():
            counting = Counting(conn)
            await inventory.fulfillment.apply(counting, list(events))  # type: ignore[arg-type]
            return counting.statements

    one = await statements(delivered("o-0", [keys["o-0"]]))
    many = await statements(*(delivered(f"o-{i}", [keys[f"o-{i}"]]) for i in range(1, 30)))
    # The orders' allocations with the keys their refunds took back, their keys (locked), the append, and
    # the projections keys, allocations and stock: the same for one order as for 29.
    assert len(one) == len(many) == 6, many
