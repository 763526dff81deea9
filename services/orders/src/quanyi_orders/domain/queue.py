"""The exception queue's entries as the domain decides them: what put an order there (its source), and how a
new entry joins one still open. An order has one entry at a time (a second OrderQueued reopens it with its
own reason and source), so an entry that no order status closes carries an open one's story along.

Sources: "delivery" (fulfillment gave up), "deadline" (not delivered in time), "channel" (a further
channel gave up after the order was fulfilled; `order.CHANNEL_SOURCE`), "refund" (inventory refused a
refund: an operator overrides or declines it) and "redeemed_after_refund" (inventory heard a key's
redemption after a refund of the order had taken that key back: the buyer has the money and used the key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from quanyi_orders.domain.events import Event, OrderQueued

#: The source of a refund inventory refused (`refund.close_refused` closes it).
REFUND_SOURCE = "refund"
#: The source of a key redeemed after the refund that took it back (inventory's RefundedKeyRedeemed). No
#: order status closes it: the order is usually refunded already, and the loss needs an operator.
REDEEMED_AFTER_REFUND_SOURCE = "redeemed_after_refund"
MAX_REASON = 500

_TAKEN = {"voided": "voided", "voided_undelivered": "voided", "released": "released"}


@dataclass(frozen=True)
class OpenEntry:
    """The order's exception-queue entry while it is open: what it says and what put it there."""

    reason: str
    source: str


def redeemed_after_refund_reason(
    key_id: str, sku_id: str, line_no: int, unit_no: int, refund_id: str, taken: str, partner: str,
    redeemed_at: datetime | None,
) -> str:
    """What an operator reads of a key redeemed after its refund: the key's id (never the key itself), its
    SKU and unit, the partner and when, and the refund that took it back."""
    when = f" at {redeemed_at.isoformat()}" if redeemed_at is not None else ""
    return (
        f"key {key_id} (SKU {sku_id}, line {line_no} unit {unit_no}) redeemed by partner {partner or '?'}"
        f"{when}, after refund {refund_id} {_TAKEN.get(taken, 'took')} it: the buyer was refunded and the"
        " key used"
    )[:MAX_REASON]


def beside_open_entry(events: Sequence[Event], open_entry: OpenEntry | None) -> list[Event]:
    """`events`, with an OrderQueued that joins an open entry where either is a key redeemed after its refund
    keeping the open entry's reason after its own (a loss must not drop out of the queue's text), under
    the source "refund" when either is a refused refund (its override or decline is still owed), else
    "redeemed_after_refund" (closed only by an operator). Other entries replace each other, as before."""
    out: list[Event] = []
    for event in events:
        if isinstance(event, OrderQueued) and open_entry is not None and REDEEMED_AFTER_REFUND_SOURCE in (
            event.source, open_entry.source
        ):
            sources = (event.source, open_entry.source)
            source = REFUND_SOURCE if REFUND_SOURCE in sources else REDEEMED_AFTER_REFUND_SOURCE
            event = OrderQueued(event.order_id, f"{event.reason}; {open_entry.reason}"[:MAX_REASON], source)
        if isinstance(event, OrderQueued):
            open_entry = OpenEntry(event.reason, event.source)
        out.append(event)
    return out
