"""Revealing and finding keys. Only RevealKeys ever decrypts, and every reveal is an audit event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from quanyi_platform.envelope import new_event_id

from quanyi_inventory.application.ports import Context, FoundKey, InventoryUnitOfWork, Keys, Opener
from quanyi_inventory.domain import custody
from quanyi_inventory.domain.errors import InvalidInput, NotFound
from quanyi_inventory.domain.keyfile import normalize_code


@dataclass(frozen=True)
class RevealedKey:
    """A key in plaintext, on its way to the one caller that asked. Never log or store it."""

    key_id: str
    sku_id: str
    code: str = field(repr=False)
    password: str = field(repr=False)


async def reveal_keys(
    uow: InventoryUnitOfWork,
    keys: Keys,
    *,
    order_id: str,
    key_ids: Sequence[str],
    actor: str,
    purpose: str,
) -> list[RevealedKey]:
    """The plaintext of the keys `order_id` holds (only `key_ids` when given), in (line, unit) order.

    Records KeysRevealed (who, why, which order, which keys) in the same unit of work, and hands the keys
    out only once it has committed: no key leaves without its audit record. NotFound when the order holds
    no keys, or not every one of `key_ids`.
    """
    custody.check_reveal(order_id, actor)
    wanted = custody.wanted_keys(key_ids)
    async with uow:
        rows = await uow.vault.sealed_keys(order_id, wanted)
        if not rows:
            raise NotFound("this order holds no keys")
        if wanted and len(rows) != len(wanted):
            raise NotFound("this order does not hold every key asked for")
        openers: dict[str, Opener] = {}
        revealed: list[RevealedKey] = []
        for row in rows:
            if row.batch_id not in openers:
                openers[row.batch_id] = keys.unwrap(row.data_key, row.batch_id)
            code, password = openers[row.batch_id].open(row.key_id, row.sealed)
            revealed.append(RevealedKey(row.key_id, row.sku_id, code, password))
        audit = custody.reveal(new_event_id(), order_id, [k.key_id for k in revealed], actor, purpose)
        await uow.record([audit], Context(correlation_id=order_id))
        await uow.commit()
    return revealed


async def find_key(uow: InventoryUnitOfWork, keys: Keys, code: str) -> FoundKey:
    """The key with this code, by fingerprint (nothing is decrypted). When several SKUs hold the same
    code, a key held by an order wins, the most recently reserved first. NotFound when none."""
    if not normalize_code(code):
        raise InvalidInput("code is required")
    async with uow:
        found = await uow.vault.find(keys.fingerprint(code))
    if found is None:
        raise NotFound("no such key")
    return found
