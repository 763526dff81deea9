"""A refund owed to a buyer, from its request to the provider's confirmation; decide/evolve, both pure.

Its events are recorded on its order (RefundRequested, RefundSent, RefundSucceeded), so one lock on the
order covers the refund too; its state is the fold of them (the `refunds` projection). A confirmation
is recorded once, whichever comes first: the provider's refund notice or its refund query.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from quanyi_orders.domain.errors import NotAllowed
from quanyi_orders.domain.events import (
    RefundLine,
    RefundReason,
    RefundRequested,
    RefundSent,
    RefundSucceeded,
)
from quanyi_orders.domain.money import Money


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
