"""The HeldKeys port: an order's keys as the key-life decisions see them, the same on the fake and Postgres:
the keys it holds, and the keys its refunds took back with the refund and any redemption heard since."""

from __future__ import annotations

from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.application.key_life import change_held_keys
from quanyi_inventory.application.ports import Context
from quanyi_inventory.domain.events import RELEASED, VOIDED
from quanyi_inventory.domain.key_life import (
    DELIVERED,
    Command,
    Deliver,
    OrderKey,
    OrderKeys,
    Redeem,
    RefundUnits,
    SettleRefund,
    TakenKey,
)

from .conftest import Backend, import_codes, new_sku, pay


async def change(backend: Backend, *commands: Command) -> None:
    await change_held_keys(backend.uow(), [(c, Context(c.order_id)) for c in commands])


async def test_lock_returns_the_held_keys_and_those_refunds_took_back_with_a_late_redemption(
    backend: Backend, keyring: Keyring
) -> None:
    sku_id, pool_id = await new_sku(backend)
    await import_codes(backend, keyring, pool_id, ["A", "B", "C"])
    await pay(backend, "o-1", (sku_id, 3))
    async with backend.uow() as uow:
        held = [k.key for k in (await uow.held_keys.lock(["o-1"]))["o-1"].keys]
    first, second, third = sorted(held, key=lambda k: (k.line_no, k.unit_no))
    await change(backend, Deliver("o-1", (first.key_id, second.key_id), "d-1"))
    # Two units back: the undelivered key is released, a delivered one voided; then the voided one's
    # redemption is heard.
    await change(backend, SettleRefund("o-1", "r-1", (RefundUnits(1, sku_id, 2),), "ops", False, "", "f-1"))
    async with backend.uow() as uow:
        after_refund = (await uow.held_keys.lock(["o-1", "unknown"]))
    assert set(after_refund) == {"o-1"}
    voided = next(k for k in (first, second) if k.key_id not in {x.key.key_id for x in after_refund["o-1"].keys})
    kept = second if voided == first else first
    await change(backend, Redeem("o-1", voided.key_id, "partner", None, "late-1"))

    async with backend.uow() as uow:
        state = (await uow.held_keys.lock(["o-1"]))["o-1"]
    expected_taken = sorted(
        [TakenKey(third, "r-1", RELEASED), TakenKey(voided, "r-1", VOIDED, redeemed=True)],
        key=lambda t: t.key.key_id,
    )
    # KeyReserved, KeysDelivered, RefundKeysSettled, RefundedKeyRedeemed.
    assert state == OrderKeys("o-1", 4, True, (OrderKey(kept, DELIVERED),), tuple(expected_taken))
