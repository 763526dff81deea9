"""A refund owed to a buyer, from its request to the provider's confirmation; decide/evolve, both pure.

Its events are recorded on its order (RefundRequested, RefundKeysCleared, RefundSent, RefundSucceeded,
RefundDeclined), so one lock on the order covers the refund too; its state is the fold of them (the
`refunds` projection). A confirmation is recorded once, whichever comes first: the provider's refund
notice or its refund query.

A refund that names keys (an operator's) waits for inventory: the money is never sent, and the order never
refunded (OrderRefunded, the ledger's reversal), before inventory took the keys back (`clear_keys`). When
inventory refuses (a key redeemed in a race with the refund), the order goes to the exception queue
(source "refund") until an operator declines the refund or overrides the refusal (`close_refused`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_orders.domain.events import (
    Event,
    OrderQueued,
    OrderRefunded,
    RefundDeclined,
    RefundKeysCleared,
    RefundLine,
    RefundReason,
    RefundRequested,
    RefundSent,
    RefundSucceeded,
)
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Order, Status
from quanyi_orders.domain.queue import REFUND_SOURCE  # the exception queue's source of a refused refund


class RefundStatus(Enum):
    REQUESTED = "REQUESTED"
    SUCCEEDED = "SUCCEEDED"
    DECLINED = "DECLINED"  # closed by an operator after inventory refused it: never sent


class KeysState(Enum):
    """Where a refund stands with inventory: it names no keys, waits for inventory, or was answered."""

    NONE = "none"
    PENDING = "pending"
    CLEARED = "cleared"
    REFUSED = "refused"


#: What an operator may do with a refund inventory refused.
CLOSE_ACTIONS = ("decline", "override")


@dataclass(frozen=True)
class Refund:
    refund_id: str
    order_id: str
    provider: str
    txn_id: str
    amount: Money
    reason: RefundReason
    lines: tuple[RefundLine, ...]
    actor: str
    status: RefundStatus
    attempts: int
    provider_refund_id: str = ""
    keys: KeysState = KeysState.NONE
    keys_reason: str = ""  # inventory's, when it refused
    override_redeemed: bool = False
    closed_action: str = ""  # an operator's "decline" or "override", once DECLINED


def buyer_state(refund: Refund) -> str | None:
    """What the buyer may see of a refund: REQUESTED, AWAITING_KEYS (inventory first), UNDER_REVIEW
    (inventory refused; an operator decides), REFUNDED or DECLINED; None for one an operator replaced by an
    override (its replacement stands for it). Never the operator's note or inventory's reason."""
    if refund.status is RefundStatus.SUCCEEDED:
        return "REFUNDED"
    if refund.status is RefundStatus.DECLINED:
        return None if refund.closed_action == "override" else "DECLINED"
    if refund.keys is KeysState.PENDING:
        return "AWAITING_KEYS"
    if refund.keys is KeysState.REFUSED:
        return "UNDER_REVIEW"
    return "REQUESTED"


def names_keys(event: RefundRequested) -> bool:
    """Whether inventory must take keys back before the refund is sent: units whose keys were released,
    voided or redeemed (an operator's refund; a shortage's or a refused payment's names none)."""
    return any(ln.released or ln.voided or ln.redeemed for ln in event.lines)


def requested(event: RefundRequested) -> Refund:
    return Refund(
        event.refund_id, event.order_id, event.provider, event.txn_id, event.amount, event.reason,
        event.lines, event.actor, RefundStatus.REQUESTED, 0,
        keys=KeysState.PENDING if names_keys(event) else KeysState.NONE,
        override_redeemed=event.override_redeemed,
    )


RefundEvent = RefundSent | RefundSucceeded | RefundKeysCleared | RefundDeclined


def evolve(refund: Refund, event: RefundEvent) -> Refund:
    if isinstance(event, RefundSent):
        return replace(refund, attempts=max(refund.attempts, event.attempt))
    if isinstance(event, RefundKeysCleared):
        if event.refused:
            return replace(refund, keys=KeysState.REFUSED, keys_reason=event.reason)
        return replace(refund, keys=KeysState.CLEARED)
    if isinstance(event, RefundDeclined):
        return replace(refund, status=RefundStatus.DECLINED, closed_action=event.action)
    return replace(refund, status=RefundStatus.SUCCEEDED, provider_refund_id=event.provider_refund_id)


def clear_keys(
    order: Order, refunds: Sequence[Refund], refund_id: str, refused: bool, reason: str
) -> list[Event]:
    """Inventory's answer to a refund that names keys. Settled: RefundKeysCleared (the refund may be sent),
    with OrderRefunded first when, with it, every unit of the order is refunded by refunds inventory has
    settled (or that name no keys). Refused: RefundKeysCleared(refused) and the order in the exception queue
    with inventory's reason: nothing is sent. An answer to a refund answered before records nothing."""
    reason = reason[:500]
    refund = next((r for r in refunds if r.refund_id == refund_id), None)
    if refund is None or refund.keys is not KeysState.PENDING:
        # Unknown here (recorded by an older release) or answered before: keep the answer on record once.
        if refund is not None:
            return []
        return [RefundKeysCleared(order.order_id, refund_id, refused, reason)]
    if refused:
        why = f"refund {refund_id} refused by inventory: {reason}"[:500]
        return [RefundKeysCleared(order.order_id, refund_id, True, reason),
                OrderQueued(order.order_id, why, REFUND_SOURCE)]
    cleared = RefundKeysCleared(order.order_id, refund_id, False, "")
    if order.status is Status.REFUNDED or not _whole(order, refunds, refund_id):
        return [cleared]
    return [OrderRefunded(order.order_id, order.channel, refund.amount, refund.reason, True), cleared]


def _whole(order: Order, refunds: Sequence[Refund], settling: str) -> bool:
    """Whether every unit of the order is refunded once `settling` is: by refunds not declined whose keys
    inventory took back or that name none (a refund still waiting for inventory, or refused, does not
    count yet)."""
    units: dict[int, int] = {}
    for r in refunds:
        if r.status is RefundStatus.DECLINED or r.reason is RefundReason.AMOUNT_MISMATCH:
            continue
        if r.refund_id != settling and r.keys not in (KeysState.NONE, KeysState.CLEARED):
            continue
        for ln in r.lines:
            units[ln.line_no] = units.get(ln.line_no, 0) + ln.quantity
    return all(units.get(ln.line_no, 0) >= ln.quantity for ln in order.lines)


def refused_refund(refunds: Sequence[Refund]) -> Refund | None:
    """The order's refund inventory refused that no operator has closed yet (the oldest), or None."""
    return next((r for r in refunds if r.keys is KeysState.REFUSED and r.status is RefundStatus.REQUESTED),
                None)


def record_attempt(refund: Refund, outcome: str, next_attempt_at: datetime) -> list[RefundSent]:
    """The refund API was called once more; nothing once the refund is confirmed."""
    if refund.status is RefundStatus.SUCCEEDED:
        return []
    return [RefundSent(refund.order_id, refund.refund_id, refund.attempts + 1, outcome, next_attempt_at)]


def confirm(refund: Refund, provider_refund_id: str, amount: Money) -> list[RefundSucceeded]:
    """The provider says the refund is done. Once: a second confirmation records nothing. A confirmation
    of another amount is refused (an operator must look)."""
    if refund.status is RefundStatus.SUCCEEDED:
        return []
    if amount != refund.amount:
        raise NotAllowed("the provider refunded another amount")
    return [RefundSucceeded(
        refund.order_id, refund.refund_id, refund.amount, refund.provider, refund.lines, provider_refund_id,
        refund.reason,
    )]


# -- an operator's refund of a paid order, whole or in part ---------------------------------------


@dataclass(frozen=True)
class LineKeys:
    """What is known of one order line's keys: how many were delivered, and how many of those redeemed."""

    delivered: int = 0
    redeemed: int = 0


@dataclass(frozen=True)
class RefundOrder:
    """Refund `lines` ((line no, units); empty: every unit not refunded yet) of a released order.

    `keys` says per line how many keys were delivered and redeemed (fulfillment's record); `refunded` is
    every refund recorded for the order before. Units are taken undelivered first (their keys are
    released), then delivered and not redeemed (voided), then redeemed, which only `override_redeemed`
    allows (the override is recorded with the operator and the note)."""

    refund_id: str
    lines: tuple[tuple[int, int], ...]
    keys: dict[int, LineKeys]
    refunded: tuple[Refund, ...]
    actor: str
    override_redeemed: bool = False
    note: str = ""


def decide_refund(order: Order, command: RefundOrder) -> list[Event]:
    """The events of an operator's refund: RefundRequested (with OrderRefunded first when it takes the
    order's last units). Raises NotAllowed or InvalidOrder (recording nothing)."""
    if order.status not in (Status.PAID, Status.FULFILLED) or order.captured_txn_id is None:
        raise NotAllowed(f"an order that is {order.status.value} cannot be refunded by an operator")
    if not command.actor:
        raise InvalidOrder("a refund needs the operator's name")
    done: dict[int, list[int]] = {}  # line -> [units, released, voided, redeemed] refunded before
    for refund in command.refunded:
        if refund.status is RefundStatus.DECLINED:
            continue  # closed by an operator: its units were never refunded
        if refund.lines and refund.reason is not RefundReason.AMOUNT_MISMATCH:
            for ln in refund.lines:
                d = done.setdefault(ln.line_no, [0, 0, 0, 0])
                d[0] += ln.quantity
                d[1] += ln.released
                d[2] += ln.voided
                d[3] += ln.redeemed
    by_no = {ln.line_no: ln for ln in order.lines}
    wanted = command.lines or tuple(
        (ln.line_no, ln.quantity - done.get(ln.line_no, [0])[0]) for ln in order.lines
        if ln.quantity - done.get(ln.line_no, [0])[0] > 0
    )
    if not wanted:
        raise NotAllowed("every unit of the order is refunded already")
    lines: list[RefundLine] = []
    seen: set[int] = set()
    for line_no, units in wanted:
        line = by_no.get(line_no)
        if line is None or line_no in seen:
            raise InvalidOrder(f"the order has no line {line_no}, or it is named twice")
        seen.add(line_no)
        before = done.get(line_no, [0, 0, 0, 0])
        if units < 1 or units > line.quantity - before[0]:
            raise InvalidOrder(f"line {line_no}: at most {line.quantity - before[0]} units can be refunded")
        keys = command.keys.get(line_no, LineKeys())
        undelivered = line.quantity - keys.delivered - before[1]
        unredeemed = keys.delivered - keys.redeemed - before[2]
        released = max(0, min(units, undelivered))
        voided = max(0, min(units - released, unredeemed))
        redeemed = units - released - voided
        if redeemed and not command.override_redeemed:
            raise NotAllowed(f"line {line_no}: a redeemed key is refunded only with an operator's override")
        lines.append(RefundLine(line_no, line.sku_id, units, line.unit_price.times(units), released, voided,
                                redeemed))
    amount = Money.zero(order.total.currency)
    for ln in lines:
        amount = amount + ln.amount
    this = {ln.line_no: ln.quantity for ln in lines}
    whole = all(done.get(ln.line_no, [0])[0] + this.get(ln.line_no, 0) == ln.quantity for ln in order.lines)
    requested = RefundRequested(
        order.order_id, command.refund_id, order.captured_provider or "", order.captured_txn_id, amount,
        RefundReason.OPERATOR, tuple(lines), command.actor, command.override_redeemed, command.note,
    )
    if not whole or names_keys(requested):
        # Units whose keys inventory takes back first: the order is refunded once it has (clear_keys).
        return [requested]
    # The order's last units: the order is refunded (for what this refund returns; earlier ones said theirs).
    return [OrderRefunded(order.order_id, order.channel, amount, RefundReason.OPERATOR, True), requested]


def close_refused(
    order: Order, refunds: Sequence[Refund], action: str, actor: str, note: str, new_refund_id: str,
    keys: dict[int, LineKeys],
) -> list[Event]:
    """An operator's answer to the refund inventory refused: "decline" closes it (the buyer is answered no;
    nothing was sent), "override" closes it and requests the same units again with the override of
    redeemed keys, which inventory settles and records with the operator and the note. Raises NotAllowed
    when the order has no such refund, InvalidOrder without the operator or the note."""
    if action not in CLOSE_ACTIONS:
        raise InvalidOrder(f"a refused refund is closed by {' or '.join(CLOSE_ACTIONS)}")
    if not actor or not note.strip():
        raise InvalidOrder(f"{action} needs the operator's name and a note for the audit trail")
    refused = refused_refund(refunds)
    if refused is None:
        raise NotAllowed("the order has no refund that inventory refused")
    closed = RefundDeclined(order.order_id, refused.refund_id, action, actor, note)
    if action == "decline":
        return [closed]
    before = tuple(evolve(r, closed) if r.refund_id == refused.refund_id else r for r in refunds)
    again = decide_refund(order, RefundOrder(
        new_refund_id, tuple((ln.line_no, ln.quantity) for ln in refused.lines), keys, before, actor,
        override_redeemed=True, note=note,
    ))
    return [closed, *again]
