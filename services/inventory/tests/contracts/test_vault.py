"""The KeyVault port: the record of sealed keys and wrapped data keys."""

from __future__ import annotations

from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.application import import_keys

from .conftest import Backend, import_codes, new_sku, pay


async def test_a_code_is_stored_once_per_sku_and_may_be_stored_for_another(
    backend: Backend, keyring: Keyring
) -> None:
    sku_a, pool_a = await new_sku(backend)
    _, pool_b = await new_sku(backend)
    first = await import_codes(backend, keyring, pool_a, ["X", "Y"])
    again = await import_codes(backend, keyring, pool_a, ["Y", "Z"])
    other = await import_codes(backend, keyring, pool_b, ["X"])
    assert (first.imported, again.imported, again.duplicates, other.imported) == (2, 1, 1, 1)
    async with backend.uow() as uow:
        sku = await uow.catalogue.sku(sku_a)
    assert sku is not None and sku.available == 3


async def test_nothing_of_a_batch_stays_when_its_unit_of_work_does_not_commit(
    backend: Backend, keyring: Keyring
) -> None:
    sku, pool = await new_sku(backend)
    batch = import_keys.prepare_batch(keyring, b"code\nGONE-1\n", 10)
    async with backend.uow() as uow:
        assert await uow.vault.add_batch(sku, batch) == 1
    assert (await import_codes(backend, keyring, pool, ["GONE-1"])).imported == 1
    async with backend.uow() as uow:
        wrapped = await uow.vault.wrapped_not_by("nobody")
    assert len(wrapped) == 1 and batch.batch_id not in wrapped


async def test_an_orders_sealed_keys_come_in_line_and_unit_order_and_only_those_asked_for(
    backend: Backend, keyring: Keyring
) -> None:
    a, pool_a = await new_sku(backend)
    b, pool_b = await new_sku(backend)
    await import_codes(backend, keyring, pool_a, ["A0", "A1", "A2"])
    await import_codes(backend, keyring, pool_b, ["B0"])
    await pay(backend, "o-1", (b, 1), (a, 2))
    async with backend.uow() as uow:
        held = await uow.vault.sealed_keys("o-1", [])
        some = await uow.vault.sealed_keys("o-1", [held[2].key_id, "not-mine"])
        none = await uow.vault.sealed_keys("o-2", [])
    assert [k.sku_id for k in held] == [b, a, a]
    codes = [keyring.unwrap(k.data_key, k.batch_id).open(k.key_id, k.sealed)[0] for k in held]
    assert codes[0] == "B0" and sorted(codes[1:]) == ["A0", "A1"]
    assert [k.key_id for k in some] == [held[2].key_id]
    assert none == []


async def test_the_sealed_keys_of_several_orders_come_in_one_read_each_order_only_those_asked_for(
    backend: Backend, keyring: Keyring
) -> None:
    a, pool_a = await new_sku(backend)
    await import_codes(backend, keyring, pool_a, ["K0", "K1", "K2", "K3"])
    await pay(backend, "o-1", (a, 2))
    await pay(backend, "o-2", (a, 2))
    async with backend.uow() as uow:
        one = await uow.vault.sealed_keys("o-1", [])
        two = await uow.vault.sealed_keys("o-2", [])
        held = await uow.vault.sealed_keys_of_orders(
            {"o-1": [], "o-2": [two[1].key_id, one[0].key_id], "o-3": [], "o-4": [one[1].key_id]}
        )
    assert held == {"o-1": one, "o-2": [two[1]]}


async def test_find_prefers_a_held_key_the_most_recently_reserved_first(backend: Backend, keyring: Keyring) -> None:
    _, pool_a = await new_sku(backend)
    b, pool_b = await new_sku(backend)
    c, pool_c = await new_sku(backend)
    for pool in (pool_a, pool_b, pool_c):
        await import_codes(backend, keyring, pool, ["SAME"])
    async with backend.uow() as uow:
        free = await uow.vault.find(keyring.fingerprint("SAME"))
        assert await uow.vault.find(keyring.fingerprint("OTHER")) is None
    assert free is not None and free.order_id == ""
    await pay(backend, "o-b", (b, 1))
    await pay(backend, "o-c", (c, 1))
    async with backend.uow() as uow:
        found = await uow.vault.find(keyring.fingerprint(" SAME "))
    assert found is not None and (found.sku_id, found.order_id) == (c, "o-c")


async def test_rewrapped_data_keys_replace_the_old_wrapping(backend: Backend, keyring: Keyring) -> None:
    to = "k2"
    _, pool = await new_sku(backend)
    await import_codes(backend, keyring, pool, ["R0"])
    async with backend.uow() as uow:
        old = await uow.vault.wrapped_not_by(to)
        await uow.vault.rewrap({b: keyring.rewrap(w, b, to) for b, w in old.items()})
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.vault.wrapped_not_by(to) == {}
        now = await uow.vault.wrapped_not_by("k1")
    assert set(now) == set(old) and {w.master_key_id for w in now.values()} == {to}
    assert all(now[b].blob != old[b].blob for b in old)
