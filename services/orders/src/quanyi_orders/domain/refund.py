"""A refund owed to a buyer, from its request to the provider's confirmation; decide/evolve, both pure.

Its events are recorded on its order (RefundRequested, RefundSent, RefundSucceeded), so one lock on the
order covers the refund too; its state is the fold of them (the `refunds` projection). A confirmation
is recorded once, whichever comes first: the provider's refund notice or its refund query.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_orders.domain.events import (
    Event,
    OrderRefunded,
    RefundLine,
    RefundReason,
    RefundRequested,
    RefundSent,
    RefundSucceeded,
)
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Order, Status


class RefundStatus(Enum):
    REQUESTED = "REQUESTED"
    SUCCEEDED = "SUCCEEDED"


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


def requested(event: RefundRequested) -> Refund:
    return Refund(
        event.refund_id, event.order_id, event.provider, event.txn_id, event.amount, event.reason,
        event.lines, event.actor, RefundStatus.REQUESTED, 0,
    )


def evolve(refund: Refund, event: RefundSent | RefundSucceeded) -> Refund:
    if isinstance(event, RefundSent):
        return replace(refund, attempts=max(refund.attempts, event.attempt))
    return replace(refund, status=RefundStatus.SUCCEEDED, provider_refund_id=event.provider_refund_id)


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
    if not whole:
        return [requested]
    # The order's last units: the order is refunded (for what this refund returns; earlier ones said theirs).
    return [OrderRefunded(order.order_id, order.channel, amount, RefundReason.OPERATOR, True), requested]
