"""Inventory's use cases on the in-memory fakes (no I/O): what they record."""

from __future__ import annotations

import os

import pytest
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.adapters.mappers import from_proto
from quanyi_inventory.adapters.memory import InMemoryInventory
from quanyi_inventory.application import catalogue, import_keys, reveal, rotate
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.ports import Context
from quanyi_inventory.domain.allocation import OrderLine, PaidOrder
from quanyi_inventory.domain.errors import InvalidInput, NotFound
from quanyi_inventory.domain.events import DataKeysRewrapped, KeysImported, KeysRevealed
from quanyi_inventory.domain.money import Money

KEYS = Keyring({"k1": os.urandom(32), "k2": os.urandom(32)}, "k1")


async def stocked(store: InMemoryInventory, codes: list[str]) -> tuple[str, str]:
    product = await catalogue.create_product(store.uow(), name="P", kind="")
    sku = await catalogue.create_sku(
        store.uow(), product_id=product.product_id, name="S", price=Money(100, "CNY"), low_stock_threshold=0
    )
    pool = await catalogue.create_pool(store.uow(), sku_id=sku.sku_id, name="main")
    await import_keys.import_file(
        store.uow, KEYS, pool_id=pool.pool_id, csv_data=("code\n" + "\n".join(codes)).encode(),
        unit_cost=Money(60, "CNY"), actor=" admin:a ", max_rows=100,
    )
    return sku.sku_id, pool.pool_id


def recorded(store: InMemoryInventory) -> list[object]:
    return [from_proto(e.payload) for e in store.committed]


async def test_an_import_records_what_it_stored_and_who_stored_it() -> None:
    store = InMemoryInventory()
    sku, pool = await stocked(store, ["A", "B", "A", ""])
    [imported] = [e for e in recorded(store) if isinstance(e, KeysImported)]
    assert (imported.sku_id, imported.pool_id, imported.imported, imported.duplicates, imported.rejected) == (
        sku, pool, 2, 1, 0
    )
    assert (imported.actor, imported.master_key_id, imported.unit_cost) == ("admin:a", "k1", Money(60, "CNY"))


async def test_a_reveal_records_one_audit_event_naming_every_key_and_no_secret() -> None:
    store = InMemoryInventory()
    sku, _ = await stocked(store, ["SECRET-1", "SECRET-2"])
    order = PaidOrder("o-1", "b", "", "web", (OrderLine(1, sku, 2),))
    await allocate_paid_orders(store.uow(), [(order, Context("o-1"))])
    keys = await reveal.reveal_keys(
        store.uow(), KEYS, order_id="o-1", key_ids=[], actor="fulfillment", purpose="delivery"
    )
    assert sorted(k.code for k in keys) == ["SECRET-1", "SECRET-2"]
    [audit] = [e for e in recorded(store) if isinstance(e, KeysRevealed)]
    assert (audit.order_id, audit.key_ids, audit.actor, audit.purpose) == (
        "o-1", tuple(k.key_id for k in keys), "fulfillment", "delivery"
    )
    assert "SECRET" not in repr(store.committed)


async def test_a_refused_reveal_records_nothing() -> None:
    store = InMemoryInventory()
    await stocked(store, ["X"])
    before = len(store.committed)
    with pytest.raises(NotFound):
        await reveal.reveal_keys(store.uow(), KEYS, order_id="nobody", key_ids=[], actor="f", purpose="d")
    assert len(store.committed) == before


async def test_a_reveal_of_several_orders_audits_each_apart_in_one_commit_and_refuses_each_apart() -> None:
    store = InMemoryInventory()
    sku, _ = await stocked(store, ["S-1", "S-2", "S-3"])
    paid = [PaidOrder(o, "b", "", "web", (OrderLine(1, sku, n),)) for o, n in (("o-1", 2), ("o-2", 1))]
    await allocate_paid_orders(store.uow(), [(o, Context(o.order_id)) for o in paid])
    before = len(store.committed)
    results = await reveal.reveal_orders_keys(
        store.uow(), KEYS,
        [
            reveal.RevealRequest("o-1", [], "fulfillment", "delivery"),
            reveal.RevealRequest("nobody", [], "fulfillment", "delivery"),
            reveal.RevealRequest("o-2", [], "buyer:b", "user-center"),
            reveal.RevealRequest("o-2", [], " ", "user-center"),
        ],
    )
    assert [r.order_id for r in results] == ["o-1", "nobody", "o-2", "o-2"]
    assert sorted(k.code for k in results[0].keys + results[2].keys) == ["S-1", "S-2", "S-3"]
    assert isinstance(results[1].error, NotFound) and results[1].keys == []
    assert isinstance(results[3].error, InvalidInput) and results[3].keys == []
    audits = [(e, from_proto(e.payload)) for e in store.committed[before:]]
    assert [(a.order_id, a.key_ids, a.actor, a.purpose) for _, a in audits] == [
        ("o-1", tuple(k.key_id for k in results[0].keys), "fulfillment", "delivery"),
        ("o-2", tuple(k.key_id for k in results[2].keys), "buyer:b", "user-center"),
    ]
    assert [e.envelope.correlation_id for e, _ in audits] == ["o-1", "o-2"]
    assert len({a.reveal_id for _, a in audits}) == 2
    assert "S-" not in repr(store.committed)


async def test_a_reveal_of_orders_that_are_all_refused_records_nothing() -> None:
    store = InMemoryInventory()
    await stocked(store, ["X"])
    before = len(store.committed)
    results = await reveal.reveal_orders_keys(
        store.uow(), KEYS, [reveal.RevealRequest("nobody", [], "f", "d"), reveal.RevealRequest("", [], "f", "d")]
    )
    assert [type(r.error) for r in results] == [NotFound, InvalidInput]
    assert len(store.committed) == before


async def test_a_rotation_records_which_batches_it_rewrapped_from_which_key() -> None:
    store = InMemoryInventory()
    await stocked(store, ["R"])
    await stocked(store, ["S"])
    assert await rotate.rotate_master_key(store.uow(), KEYS, "k2", actor="ops") == 2
    assert await rotate.rotate_master_key(store.uow(), KEYS, "k2") == 0
    [rotation] = [e for e in recorded(store) if isinstance(e, DataKeysRewrapped)]
    assert rotation.master_key_id == "k2" and [b.previous_master_key_id for b in rotation.batches] == ["k1", "k1"]
    assert {w.master_key_id for w in store.data_keys.values()} == {"k2"}
