"""The exception queue: paid orders that need an operator, and what an operator does about them.

An order is queued (OrderQueued) when fulfillment gives its delivery up (DeliveryFailed, final) or when it
is not delivered within the delivery deadline (`due_events` 'order.deliver', from its payment, or from
OrderPaid when a reviewer released it): a payment risk never decided on is caught too. It leaves
the queue when it is delivered or refunded, or when an operator acts: "refund" (the order's remaining
units, through the provider, as an operator's refund), "resolve" (settled by hand: delivered manually),
"redrive" (the channel that gave up, again) or "switch" (another channel) — those two through fulfillment,
now, resolving the entry only when the channel delivered. Every action is an event with the operator and
the note. So no paid order is left without an owner (invariant I2).

A fulfilled order is queued too when a further channel gives up later (source "channel": the e-mail, an
SMS, the buyer's webhook or the partner's activation); its entry stays open although the order is
fulfilled, until an operator acts or the order is refunded.

A refund inventory refused (a key redeemed in a race with the refund: source "refund") waits here too,
never sent: "override" refunds the same units despite the redemption (a new refund with the operator's
override, which inventory records; audited with the operator and the note), "decline" closes it (the
buyer is answered no, with the note). Both need a note.

The other side of that race: a refund inventory heard before a redemption that happened first takes the
key back (voids it) and the money goes back, then the redemption arrives (inventory's RefundedKeyRedeemed:
source "redeemed_after_refund"). The buyer was refunded and used the key: a loss to settle by hand (claim it
back from the buyer or the partner, or write it off). The entry says which key (by id), SKU, refund and
partner, stays open whatever the order's status, and closes only by "resolve" with a note saying what was
done; nothing is delivered or refunded again from it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from quanyi_platform import paging
from quanyi_platform.envelope import new_event_id

from quanyi_orders.adapters.proto_mapping import order_new_events
from quanyi_orders.application.errors import OrderNotFound
from quanyi_orders.application.orders import _retrying
from quanyi_orders.application.pages import page_position
from quanyi_orders.application.ports import Deliveries, OrdersUnitOfWork, QueueEntry
from quanyi_orders.application.refunds import line_keys
from quanyi_orders.application.saga import _on_orders
from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_orders.domain.events import Event, QueueEntryResolved, RefundRequested
from quanyi_orders.domain.order import Order, Queue, decide
from quanyi_orders.domain.queue import REDEEMED_AFTER_REFUND_SOURCE
from quanyi_orders.domain.refund import CLOSE_ACTIONS, LineKeys, RefundOrder, close_refused, decide_refund
from quanyi_orders.projections.orders import DELIVER, DELIVERY_DEADLINE

ACTIONS = ("refund", "resolve", "redrive", "switch", *CLOSE_ACTIONS)
CHANNEL_ACTIONS = ("redrive", "switch")
MAX_LIST = 500
UnitOfWorkFactory = Callable[[], OrdersUnitOfWork]


async def queue_overdue(unit_of_work: UnitOfWorkFactory, now: datetime, limit: int) -> int:
    """Queue the released orders not delivered by their deadline; returns how many were queued."""
    async with unit_of_work() as uow:
        due = await uow.saga.due(DELIVER, now, limit)
    if not due:
        return 0
    minutes = int(DELIVERY_DEADLINE.total_seconds() // 60)
    reason = f"not delivered within {minutes} minutes of payment or release"

    def queue(order: Order) -> list[Event]:
        return decide(order, Queue(reason, "deadline"))

    recorded = await _on_orders(unit_of_work, due, queue)
    return sum(1 for events in recorded.values() if events)


async def list_queue(
    unit_of_work: UnitOfWorkFactory, include_resolved: bool, limit: int, page_token: str = ""
) -> tuple[list[QueueEntry], str]:
    """A page of the queue, oldest first (0: 100 entries, at most 500), and the next page's token ("" on
    the last). A token that is not one raises InvalidOrder."""
    limit = 100 if limit <= 0 else min(limit, MAX_LIST)
    after = page_position(page_token)
    async with unit_of_work() as uow:
        found = await uow.saga.queue(include_resolved, limit + 1, after=after)
    return paging.page(found, limit, lambda q: (q.queued_at, q.order_id))


async def _open_entry(uow: OrdersUnitOfWork, order_id: str, action: str, note: str) -> QueueEntry:
    found = await uow.saga.queue(True, 1, order_id)
    if not found:
        raise NotAllowed("the order is not in the exception queue")
    if found[0].status != "OPEN":
        raise NotAllowed(f"the entry is resolved already ({found[0].resolution})")
    if found[0].source == REDEEMED_AFTER_REFUND_SOURCE:
        if action != "resolve":
            raise NotAllowed("a key redeemed after its refund is settled by hand: resolve it with a note")
        if not note.strip():
            raise InvalidOrder("resolving a key redeemed after its refund needs a note of what was done")
    return found[0]


async def act_on_entry(
    unit_of_work: UnitOfWorkFactory, deliveries: Deliveries, order_id: str, action: str, actor: str,
    note: str, channel: str = "", target: str = "",
) -> tuple[QueueEntry, str]:
    """Act on an open entry; returns the entry after it and the refund id ("" but for refund). "redrive"
    and "switch" deliver on `channel` to `target` first (the target goes to fulfillment only) and resolve
    the entry only if it delivered. Raises OrderNotFound, NotAllowed (not queued, resolved already, the
    refund refused, the channel failed again), InvalidOrder."""
    if action not in ACTIONS:
        raise InvalidOrder(f"the action must be one of {', '.join(ACTIONS)}")
    if not actor:
        raise InvalidOrder("an action needs the operator's name")
    keys: dict[int, LineKeys] = {}
    if action in ("refund", "override"):
        keys = await line_keys(unit_of_work, deliveries, order_id)
    if action in CHANNEL_ACTIONS:
        if not channel:
            raise InvalidOrder(f"{action} needs the channel to deliver on")
        async with unit_of_work() as uow:
            if await uow.orders.get(order_id) is None:
                raise OrderNotFound(order_id)
            await _open_entry(uow, order_id, action, note)
        outcome = await deliveries.deliver(order_id, channel, target, f"operator:{actor}")
        if not outcome.delivered:
            raise NotAllowed(f"the {channel} delivery failed again after {outcome.attempts} attempts:"
                             f" {outcome.reason}"[:500])
        note = f"delivered on {channel}" + (f": {note}" if note else "")
    refund_id = new_event_id()

    async def attempt() -> str:
        async with unit_of_work() as uow:
            order = (await uow.orders.get_many_for_update([order_id])).get(order_id)
            if order is None:
                raise OrderNotFound(order_id)
            await _open_entry(uow, order_id, action, note)
            events: list[Event] = []
            if action == "refund":
                before = tuple(await uow.saga.refunds_of_order(order_id))
                events += decide_refund(order, RefundOrder(refund_id, (), keys, before, actor, False, note))
            elif action in CLOSE_ACTIONS:
                owed = await uow.saga.refunds_of_order(order_id)
                events += close_refused(order, owed, action, actor, note, refund_id, keys)
            events.append(QueueEntryResolved(order_id, action, actor, note))
            await uow.events.append(order_new_events(order_id, order.version, events))
            await uow.commit()
        return next((e.refund_id for e in events if isinstance(e, RefundRequested)), "")

    made = await _retrying(attempt)
    async with unit_of_work() as uow:
        (entry,) = await uow.saga.queue(True, 1, order_id)
    return entry, made
