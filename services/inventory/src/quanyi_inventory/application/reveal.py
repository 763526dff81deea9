"""Revealing and finding keys. Only RevealKeys ever decrypts, and every reveal is an audit event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from quanyi_platform.envelope import new_event_id

from quanyi_inventory.application.ports import Context, FoundKey, InventoryUnitOfWork, Keys, Opener
from quanyi_inventory.domain import custody
from quanyi_inventory.domain.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from quanyi_inventory.domain.events import Recorded
from quanyi_inventory.domain.keyfile import normalize_code


@dataclass(frozen=True)
class RevealedKey:
    """A key in plaintext, on its way to the one caller that asked. Never log or store it."""

    key_id: str
    sku_id: str
    code: str = field(repr=False)
    password: str = field(repr=False)


@dataclass(frozen=True)
class RevealRequest:
    """One order's reveal: which keys (empty: all it holds), who asks and why (for the audit trail)."""

    order_id: str
    key_ids: Sequence[str]
    actor: str
    purpose: str
    on_behalf_of: str = ""


RevealError = InvalidInput | NotFound | Unauthenticated | PermissionDenied


@dataclass(frozen=True)
class RevealResult:
    """One order's reveal within a batch: its keys, or why not (`error`, safe to show, no key in it)."""

    order_id: str
    keys: list[RevealedKey]
    error: RevealError | None = None


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
    [result] = await reveal_orders_keys(uow, keys, [RevealRequest(order_id, key_ids, actor, purpose)])
    if result.error is not None:
        raise result.error
    return result.keys


async def reveal_orders_keys(
    uow: InventoryUnitOfWork, keys: Keys, requests: Sequence[RevealRequest]
) -> list[RevealResult]:
    """`reveal_keys` for several orders at once: one read of their sealed keys, one KeysRevealed per order
    revealed (each with its own reveal id, actor, purpose and keys, correlated to its order) appended
    together, one commit; each data key is unwrapped once. One result per request, in order: a refused
    order (InvalidInput, NotFound) is its own result, records nothing and does not stop the others.
    """
    errors: dict[int, RevealError] = {}
    wanted: dict[int, list[str]] = {}
    for n, request in enumerate(requests):
        try:
            custody.check_reveal(request.order_id, request.actor)
        except InvalidInput as exc:
            errors[n] = exc
        else:
            wanted[n] = custody.wanted_keys(request.key_ids)
    revealed: dict[int, list[RevealedKey]] = {}
    async with uow:
        held = await uow.vault.sealed_keys_of_orders(_asked(requests, wanted))
        openers: dict[str, Opener] = {}
        audits: list[Recorded] = []
        by_cause: dict[str, Context] = {}
        for n, ids in wanted.items():
            order_id = requests[n].order_id
            rows = [r for r in held.get(order_id, []) if not ids or r.key_id in ids]
            if not rows:
                errors[n] = NotFound("this order holds no keys")
                continue
            if ids and len(rows) != len(ids):
                errors[n] = NotFound("this order does not hold every key asked for")
                continue
            plain: list[RevealedKey] = []
            for row in rows:
                if row.batch_id not in openers:
                    openers[row.batch_id] = keys.unwrap(row.data_key, row.batch_id)
                code, password = openers[row.batch_id].open(row.key_id, row.sealed)
                plain.append(RevealedKey(row.key_id, row.sku_id, code, password))
            reveal_id = new_event_id()
            audit = custody.reveal(reveal_id, order_id, [k.key_id for k in plain], requests[n].actor,
                                   requests[n].purpose, requests[n].on_behalf_of)
            audits.append(replace(audit, cause=reveal_id))
            by_cause[reveal_id] = Context(correlation_id=order_id)
            revealed[n] = plain
        if audits:
            await uow.record(audits, by_cause=by_cause)
            await uow.commit()
    return [
        RevealResult(r.order_id, revealed.get(n, []), errors.get(n)) for n, r in enumerate(requests)
    ]


async def reveal_as_caller(
    uow: Callable[[], InventoryUnitOfWork],
    keys: Keys,
    requests: Sequence[RevealRequest],
    *,
    identity: str | None,
    policy: custody.RevealPolicy,
) -> list[RevealResult]:
    """Reveals asked by a caller whose service identity the transport proved (`identity`; None when it
    proved none). The audited actor of each reveal is that identity; the name the request passed as
    actor is kept as whom it asks for. A request the policy refuses (Unauthenticated, PermissionDenied)
    decrypts nothing, is its own result, and is recorded as KeysRevealRefused (committed before the
    others are revealed); the others go to `reveal_orders_keys`. One result per request, in order."""
    refusals: dict[int, Unauthenticated | PermissionDenied] = {}
    audits: list[Recorded] = []
    by_cause: dict[str, Context] = {}
    for n, request in enumerate(requests):
        try:
            policy.check(identity, request.purpose)
        except (Unauthenticated, PermissionDenied) as exc:
            refusals[n] = exc
            attempt_id = new_event_id()
            audits.append(replace(
                custody.refused(attempt_id, request.order_id, identity, request.actor, request.purpose, exc),
                cause=attempt_id,
            ))
            by_cause[attempt_id] = Context(correlation_id=request.order_id)
    if audits:
        async with uow() as unit:
            await unit.record(audits, by_cause=by_cause)
            await unit.commit()
    allowed = [n for n in range(len(requests)) if n not in refusals]
    revealed = await reveal_orders_keys(
        uow(), keys,
        [replace(requests[n], actor=identity or "", on_behalf_of=requests[n].actor) for n in allowed],
    ) if allowed else []
    results = dict(zip(allowed, revealed, strict=True))
    return [
        results[n] if n in results else RevealResult(r.order_id, [], refusals[n])
        for n, r in enumerate(requests)
    ]


def _asked(requests: Sequence[RevealRequest], wanted: dict[int, list[str]]) -> dict[str, list[str]]:
    """Order id -> the key ids to read for it: all of them (empty) when some request of it wants all."""
    asked: dict[str, set[str] | None] = {}
    for n, ids in wanted.items():
        order_id = requests[n].order_id
        so_far = asked.get(order_id, set())
        asked[order_id] = None if so_far is None or not ids else so_far | set(ids)
    return {order_id: sorted(ids or ()) for order_id, ids in asked.items()}


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
