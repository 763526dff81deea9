"""What happens to an order's keys after they were reserved: delivered, redeemed, and taken back by refunds.

The events are later versions of the order's Allocation stream (KeyReserved is version 1), so one order's
key changes are decided one after another. The state is what the `keys` and `allocations` projections
hold for the order: the keys it holds now, each reserved, delivered or redeemed, and whether it was
revealed (a revealed key is never sold again, whatever fulfillment has reported).

Fulfillment's reports may come in any order (its Redeemed is keyed by key, its KeyDelivered by order) and
more than once: a key only moves forward (reserved -> delivered -> redeemed), a key the order no longer
holds is left alone, and a report that moves nothing records nothing.

Fulfillment's reports and orders' refunds come on two topics, so a refund may be heard before a redemption
that happened first: the refund then takes the key as delivered and voids it. The redemption heard after
it records RefundedKeyRedeemed (once per key): the buyer was refunded and the key used, a loss an operator
must look at (orders queues it). The key stays as the refund left it (recycled, or available when it was
released), so nothing is counted twice; the state remembers the keys refunds took (`taken_back`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from quanyi_inventory.domain.events import (
    ALLOCATION,
    RELEASED,
    VOIDED,
    VOIDED_UNDELIVERED,
    BundleComponent,
    Event,
    HeldKey,
    KeysDelivered,
    KeysRedeemed,
    Recorded,
    RefundedKeyRedeemed,
    RefundKeysRefused,
    RefundKeysSettled,
)

RESERVED = "reserved"
DELIVERED = "delivered"
REDEEMED = "redeemed"
_RANK = {RESERVED: 0, DELIVERED: 1, REDEEMED: 2}
MAX_NOTE = 500


@dataclass(frozen=True)
class OrderKey:
    """A key the order holds: its state, whether it was ever revealed, and whether a refund already
    took it (only a redeemed key refunded on an override stays with the order)."""

    key: HeldKey
    state: str
    revealed: bool = False
    refunded: bool = False


@dataclass(frozen=True)
class TakenKey:
    """A key a refund of the order took back: the refund, what it did with the key (`taken`: released,
    voided or voided_undelivered), and whether a redemption of it was heard since (RefundedKeyRedeemed)."""

    key: HeldKey
    refund_id: str
    taken: str
    redeemed: bool = False


@dataclass(frozen=True)
class OrderKeys:
    """An order's keys now. `version` is its Allocation stream's; `reserved` False when the order was
    never given keys (StockShort, or no allocation at all); `taken_back` the keys its refunds took back,
    in key id order."""

    order_id: str
    version: int
    reserved: bool
    keys: tuple[OrderKey, ...] = ()
    taken_back: tuple[TakenKey, ...] = ()


# -- commands ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deliver:
    """Fulfillment's KeyDelivered: these keys of the order reached the buyer."""

    order_id: str
    key_ids: tuple[str, ...]
    event_id: str


@dataclass(frozen=True)
class Redeem:
    """Fulfillment's Redeemed: a partner used this key of the order."""

    order_id: str
    key_id: str
    partner: str
    redeemed_at: datetime | None
    event_id: str


@dataclass(frozen=True)
class RefundUnits:
    """`units` units of order line `line_no` (of SKU `sku_id`, a bundle's for a bundle line) are refunded.
    Which keys are released, voided or refused is inventory's own record's call (orders' counts come from
    fulfillment's, which may lag): only inventory knows whether a key was revealed."""

    line_no: int
    sku_id: str
    units: int


@dataclass(frozen=True)
class SettleRefund:
    """Orders' RefundRequested that names keys: take back the keys of its units before the money goes."""

    order_id: str
    refund_id: str
    lines: tuple[RefundUnits, ...]
    actor: str
    override_redeemed: bool
    note: str
    event_id: str


Command = Deliver | Redeem | SettleRefund


# -- evolve -----------------------------------------------------------------------------------------


def evolve(state: OrderKeys, event: Event) -> OrderKeys:
    """The order's keys after one of its key events (a later version of its stream)."""
    if isinstance(event, KeysDelivered | KeysRedeemed):
        to = DELIVERED if isinstance(event, KeysDelivered) else REDEEMED
        moved = {k.key_id for k in event.keys}
        keys = tuple(replace(k, state=to) if k.key.key_id in moved else k for k in state.keys)
        return replace(state, version=state.version + 1, keys=keys)
    if isinstance(event, RefundKeysSettled):
        gone = {k.key_id for k in (*event.released, *event.voided, *event.voided_undelivered)}
        kept = {k.key_id for k in event.redeemed}
        keys = tuple(
            replace(k, refunded=True) if k.key.key_id in kept else k
            for k in state.keys
            if k.key.key_id not in gone
        )
        taken = (
            *(TakenKey(k, event.refund_id, RELEASED) for k in event.released),
            *(TakenKey(k, event.refund_id, VOIDED) for k in event.voided),
            *(TakenKey(k, event.refund_id, VOIDED_UNDELIVERED) for k in event.voided_undelivered),
        )
        taken_back = tuple(sorted(state.taken_back + taken, key=lambda t: t.key.key_id))
        return replace(state, version=state.version + 1, keys=keys, taken_back=taken_back)
    if isinstance(event, RefundedKeyRedeemed):
        taken_back = tuple(
            replace(t, redeemed=True) if t.key.key_id == event.key.key_id else t for t in state.taken_back
        )
        return replace(state, version=state.version + 1, taken_back=taken_back)
    if isinstance(event, RefundKeysRefused):
        return replace(state, version=state.version + 1)
    return state


# -- decide -----------------------------------------------------------------------------------------


def decide(
    state: OrderKeys | None, command: Command, bundles: Mapping[str, Sequence[BundleComponent]]
) -> list[Event]:
    """The events `command` records on the order's keys (none when it changes nothing).

    `state` None: the order has no allocation, and nothing is recorded. A delivery or redemption of keys
    the order does not hold (anymore) records nothing, but for the first redemption of a key a refund of
    the order took back (RefundedKeyRedeemed). A refund takes, per line (per bundle component for
    a bundle line), the refunded units' keys: first those reserved and never revealed (released), then
    those revealed or delivered (voided), then redeemed ones, only with the operator's override (else
    RefundKeysRefused, changing no key). An order never given keys settles with no key.
    """
    if isinstance(command, Deliver):
        return _deliver(state, command)
    if isinstance(command, Redeem):
        return _redeem(state, command)
    if state is None:
        return []  # never paid here: OrderPaid comes before any refund of a released order
    return [_settle(state, command, bundles)]


def _deliver(state: OrderKeys | None, command: Deliver) -> list[Event]:
    if state is None:
        return []
    asked = set(command.key_ids)
    moved = tuple(k.key for k in state.keys if k.key.key_id in asked and k.state == RESERVED)
    return [KeysDelivered(state.order_id, moved, command.event_id)] if moved else []


def _redeem(state: OrderKeys | None, command: Redeem) -> list[Event]:
    if state is None:
        return []
    held = next((k for k in state.keys if k.key.key_id == command.key_id), None)
    if held is None:
        return _redeemed_after_refund(state, command)
    if _RANK[held.state] >= _RANK[REDEEMED]:
        return []
    events: list[Event] = []
    if held.state == RESERVED:
        # Heard before its delivery: a redeemed key was delivered first.
        events.append(KeysDelivered(state.order_id, (held.key,), command.event_id))
    events.append(KeysRedeemed(state.order_id, (held.key,), command.partner, command.redeemed_at))
    return events


def _redeemed_after_refund(state: OrderKeys, command: Redeem) -> list[Event]:
    """A redemption of a key a refund of the order took back (heard after that refund): recorded once."""
    taken = next((t for t in state.taken_back if t.key.key_id == command.key_id), None)
    if taken is None or taken.redeemed:
        return []
    return [RefundedKeyRedeemed(
        state.order_id, taken.key, taken.refund_id, taken.taken, command.partner, command.redeemed_at,
        command.event_id,
    )]


def _settle(
    state: OrderKeys, command: SettleRefund, bundles: Mapping[str, Sequence[BundleComponent]]
) -> RefundKeysSettled | RefundKeysRefused:
    actor, note = command.actor.strip(), command.note.strip()[:MAX_NOTE]
    if not state.reserved:
        return RefundKeysSettled(command.order_id, command.refund_id, (), (), (), (), actor,
                                 command.override_redeemed, note)
    released: list[HeldKey] = []
    voided: list[HeldKey] = []
    voided_undelivered: list[HeldKey] = []
    redeemed: list[HeldKey] = []
    for line in command.lines:
        # A bundle's line takes its key components' keys (none for a bundle of points and memberships).
        components = bundles.get(line.sku_id)
        parts = [(c.sku_id, c.quantity) for c in components] if components is not None else [(line.sku_id, 1)]
        for sku_id, per_unit in parts:
            need = line.units * per_unit
            held = [
                k for k in state.keys
                if k.key.line_no == line.line_no and k.key.sku_id == sku_id and not k.refunded
            ]
            # Undelivered and never revealed first, then revealed or delivered, then redeemed; by unit.
            held.sort(key=lambda k: (_take_order(k), k.key.unit_no))
            taken = held[:need]
            if len(taken) < need:
                return RefundKeysRefused(
                    command.order_id, command.refund_id,
                    f"line {line.line_no}: the order holds {len(held)} keys of SKU {sku_id} not refunded"
                    f" yet, the refund names {need}",
                    actor,
                )
            for k in taken:
                if k.state == REDEEMED:
                    redeemed.append(k.key)
                elif k.state == DELIVERED:
                    voided.append(k.key)
                elif k.revealed:
                    voided_undelivered.append(k.key)
                else:
                    released.append(k.key)
    if redeemed and not command.override_redeemed:
        return RefundKeysRefused(
            command.order_id, command.refund_id,
            f"{len(redeemed)} of the refunded keys were redeemed: refunded only on an operator's override",
            actor,
        )
    return RefundKeysSettled(
        command.order_id, command.refund_id, tuple(released), tuple(voided), tuple(voided_undelivered),
        tuple(redeemed), actor, command.override_redeemed, note,
    )


def _take_order(k: OrderKey) -> int:
    if k.state == RESERVED and not k.revealed:
        return 0
    return 1 if k.state != REDEEMED else 2


def decide_all(
    states: Mapping[str, OrderKeys],
    commands: Sequence[Command],
    bundles: Mapping[str, Sequence[BundleComponent]],
) -> list[Recorded]:
    """Decide a batch of commands in order, each on the state its order's earlier events left; every
    event is the next version of its order's Allocation stream (`cause` is the command's event id)."""
    current = dict(states)
    recorded: list[Recorded] = []
    for command in commands:
        state = current.get(command.order_id)
        events = decide(state, command, bundles)
        version = state.version if state is not None else 0
        for event in events:
            version += 1
            recorded.append(Recorded(ALLOCATION, command.order_id, version, event, cause=command.event_id))
            if state is not None:
                state = evolve(state, event)
        if state is not None:
            current[command.order_id] = state
    return recorded
