"""`quanyi audit key K` names the key's own import, read from inventory's record of sealed keys (the rows
its KeysImported points to), not a guess among the imports into the key's pool."""

from __future__ import annotations

import json

import psycopg
import pytest
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_cli.main import app
from quanyi_inventory import bootstrap
from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.application import catalogue, import_keys
from quanyi_inventory.config import Settings
from quanyi_inventory.domain.catalogue import Money
from quanyi_inventory.entrypoints.consumers import order_paid_handler
from quanyi_platform import db
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.envelope import Envelope, new_event_id
from typer.testing import CliRunner


async def _stock_two_batches(database_url: str) -> tuple[str, str, str]:
    """A pool filled by two imports (by ann, then by bob) and an order paid for one unit: the pool, the
    order and its reserved key."""
    settings = Settings(database_url=database_url)
    await db.migrate(database_url, "inventory", ["quanyi_inventory.migrations"])
    pool = await db.create_pool(database_url, "inventory", min_size=1, max_size=4)
    store = bootstrap.event_store()
    keyring = bootstrap.keyring(settings)
    try:
        def uow() -> PgInventoryUnitOfWork:
            return PgInventoryUnitOfWork(store, pool=pool)

        product = await catalogue.create_product(uow(), name="Steam wallet", kind="card_key")
        sku = await catalogue.create_sku(uow(), product_id=product.product_id, name="Steam 100",
                                         price=Money(1000, "CNY"), low_stock_threshold=0)
        key_pool = await catalogue.create_pool(uow(), sku_id=sku.sku_id, name="main")
        for actor, codes in (("admin:ann", ["A-1", "A-2"]), ("admin:bob", ["B-1", "B-2"])):
            batch = import_keys.prepare_batch(keyring, ("code\n" + "\n".join(codes) + "\n").encode(), 100)
            await import_keys.store_batch(uow(), batch, pool_id=key_pool.pool_id,
                                          unit_cost=Money(400, "CNY"), actor=actor)
        paid = orders_events.OrderPaid(
            order_id="o-1", buyer_id="buyer-1", channel="storefront",
            lines=[orders_events.OrderLine(line_no=1, sku_id=sku.sku_id, quantity=1)],
        )
        env = Envelope(event_id=new_event_id(), type=paid.DESCRIPTOR.full_name, aggregate_type="Order",
                       aggregate_id="o-1", aggregate_version=3, correlation_id="o-1", producer="orders",
                       payload=paid.SerializeToString())
        async with pool.connection() as conn, conn.transaction():
            await order_paid_handler(store).apply(conn, [ReceivedEvent(env, paid, "quanyi.orders.v1", 0, 0)])
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT key_id FROM keys WHERE order_id = 'o-1'")
            [(key_id,)] = [tuple(r.values()) for r in await cur.fetchall()]
        return key_pool.pool_id, "o-1", str(key_id)
    finally:
        await pool.close()


def _batches(database_url: str) -> dict[str, list[str]]:
    """Key ids of each import batch, by the batch's actor."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT b.actor, m.key_id FROM inventory.key_material m"
            " JOIN inventory.key_batches b ON b.batch_id = m.batch_id ORDER BY m.key_id"
        ).fetchall()
    out: dict[str, list[str]] = {}
    for actor, key_id in rows:
        out.setdefault(actor, []).append(key_id)
    return out


def _audit(key_id: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["audit", "key", key_id, "--json"])
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.output)
    return body


async def test_a_keys_audit_names_exactly_the_import_it_came_from_sold_or_still_in_stock(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, order_id, sold = await _stock_two_batches(database_url)
    monkeypatch.setenv("QUANYI_DATABASE_URL", database_url)
    batches = _batches(database_url)
    assert sold in batches["admin:ann"]  # FIFO: the first import's key was sold

    trail = _audit(sold)
    rows = [(a["what"], a["who"]) for a in trail["trail"]]  # type: ignore[union-attr, index]
    assert rows == [("keys imported", "admin:ann"), ("keys reserved", "inventory")]
    assert trail["notes"] == []

    in_stock = batches["admin:bob"][0]  # named by no event: only the record knows its batch
    trail = _audit(in_stock)
    assert [(a["what"], a["who"]) for a in trail["trail"]] == [("keys imported", "admin:bob")]  # type: ignore[union-attr, index]
    assert trail["notes"] == []
    assert order_id not in json.dumps(trail)
