"""The Allocations port: what a batch of paid orders reads, at once."""

from __future__ import annotations

from datetime import UTC, datetime

from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.domain.allocation import Reserved, Short, ShortLine

from .conftest import Backend, import_codes, new_sku, pay

NOW = datetime.now(UTC)


async def test_load_claims_the_lowest_available_keys_up_to_the_need_of_each_sku(
    backend: Backend, keyring: Keyring
) -> None:
    a, pool_a = await new_sku(backend)
    b, pool_b = await new_sku(backend)
    await import_codes(backend, keyring, pool_a, [f"A{i}" for i in range(5)], cost=700)
    await import_codes(backend, keyring, pool_b, ["B0"])
    async with backend.uow() as uow:
        state = await uow.allocations.load(["o-1"], {(a, "web"): 3, (b, "web"): 2, ("unknown", "web"): 1}, NOW)
    assert set(state.stock) == {a, b} and state.decided == {}
    assert len(state.available[(a, "web")]) == 3 and len(state.available[(b, "web")]) == 1
    assert [k.key_id for k in state.available[(a, "web")]] == sorted(k.key_id for k in state.available[(a, "web")])
    assert {(k.sku_id, k.unit_cost_minor, k.currency) for k in state.available[(a, "web")]} == {(a, 700, "CNY")}
    assert ("unknown", "web") not in state.available
    async with backend.uow() as uow:
        everything = await uow.allocations.load([], {(a, "web"): 10}, NOW)
    assert [k.key_id for k in everything.available[(a, "web")]][:3] == [k.key_id for k in state.available[(a, "web")]]


async def test_load_returns_the_outcomes_already_decided_and_never_a_reserved_key(
    backend: Backend, keyring: Keyring
) -> None:
    sku, pool = await new_sku(backend)
    await import_codes(backend, keyring, pool, ["K0", "K1", "K2"])
    reserved = await pay(backend, "o-1", (sku, 1), (sku, 1))
    short = await pay(backend, "o-2", (sku, 5))
    assert isinstance(reserved, Reserved) and isinstance(short, Short)
    async with backend.uow() as uow:
        state = await uow.allocations.load(["o-1", "o-2", "o-3"], {(sku, "web"): 3}, NOW)
    assert state.decided == {"o-1": reserved, "o-2": Short((ShortLine(1, sku, 5, 1),))}
    assert [(k.line_no, k.unit_no) for k in reserved.keys] == [(1, 1), (2, 1)]
    held = {k.key_id for k in reserved.keys}
    assert len(state.available[(sku, "web")]) == 1 and state.available[(sku, "web")][0].key_id not in held


async def test_keys_reserved_earlier_in_the_unit_of_work_are_not_offered_again(
    backend: Backend, keyring: Keyring
) -> None:
    from quanyi_inventory.domain.allocation import OrderLine, PaidOrder, allocate

    sku, pool = await new_sku(backend)
    await import_codes(backend, keyring, pool, ["K0", "K1", "K2"])
    async with backend.uow() as uow:
        state = await uow.allocations.load(["o-1"], {(sku, "web"): 1}, NOW)
        order = PaidOrder("o-1", "b", "", "web", (OrderLine(1, sku, 1),))
        decision = allocate([order], state.decided, state.stock, state.available, NOW)
        await uow.record(decision.recorded)
        again = await uow.allocations.load(["o-1"], {(sku, "web"): 3}, NOW)
    taken = state.available[(sku, "web")][0].key_id
    assert "o-1" in again.decided
    assert taken not in {k.key_id for k in again.available[(sku, "web")]} and len(again.available[(sku, "web")]) == 2
    assert again.stock[sku].available == 2
