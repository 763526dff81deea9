"""What other services report about orders (risk's decision, a shortage, a delivery, inventory's answer to a
refund, a key inventory heard redeemed after its refund), a batch at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quanyi_platform.envelope import NewEvent

from quanyi_orders.adapters.proto_mapping import order_new_events
from quanyi_orders.application.errors import OrderNotFound
from quanyi_orders.application.ports import OrdersUnitOfWork
from quanyi_orders.domain import refund as refunds
from quanyi_orders.domain.events import (
    Event,
    OrderQueued,
    RefundDeclined,
    RefundKeysCleared,
    RefundSent,
    RefundSucceeded,
)
from quanyi_orders.domain.order import (
    Queue,
    RecordDelivery,
    RecordRefundedKeyRedeemed,
    RecordRefundKeys,
    RecordRiskDecision,
    RecordStockShort,
    execute,
    fold,
)
from quanyi_orders.domain.queue import OpenEntry, beside_open_entry


@dataclass(frozen=True)
class OrderFact:
    """A command on an order, from an event of another service (`causation_id`)."""

    order_id: str
    command: (
        RecordRiskDecision | RecordStockShort | RecordDelivery | Queue | RecordRefundKeys
        | RecordRefundedKeyRedeemed
    )
    causation_id: str


def _may_queue(fact: OrderFact) -> bool:
    """Whether the fact may put its order in the exception queue (rare: a read of the entry is due)."""
    c = fact.command
    return isinstance(c, Queue | RecordRefundedKeyRedeemed) or (isinstance(c, RecordRefundKeys) and c.refused)


async def apply_order_facts(uow: OrdersUnitOfWork, facts: Sequence[OrderFact]) -> list[Event]:
    """Decide every fact in order and record all new events in one unit of work.

    One read loads and locks every order the batch touches; the facts are decided in memory one after
    the other (several may concern one order); one append records the new events, each caused by its
    fact. Facts that repeat what is recorded add nothing. Raises, recording nothing, when an order is
    unknown or refuses a fact: the consumer then isolates that fact.
    """
    if not facts:
        return []
    async with uow:
        orders = await uow.orders.get_many_for_update(list(dict.fromkeys(f.order_id for f in facts)))
        # Inventory's answers to refunds are decided against the order's refunds (read under its lock).
        owed: dict[str, list[refunds.Refund]] = {}
        for order_id in dict.fromkeys(f.order_id for f in facts if isinstance(f.command, RecordRefundKeys)):
            owed[order_id] = list(await uow.saga.refunds_of_order(order_id))
        # An entry joins the order's open one (domain.queue.beside_open_entry): read under the order's lock.
        open_entries: dict[str, OpenEntry | None] = {}
        for order_id in dict.fromkeys(f.order_id for f in facts if _may_queue(f)):
            found = await uow.saga.queue(True, 1, order_id)
            is_open = bool(found) and found[0].status == "OPEN"
            open_entries[order_id] = OpenEntry(found[0].reason, found[0].source) if is_open else None
        recorded: list[Event] = []
        new: list[NewEvent] = []
        for fact in facts:
            order = orders.get(fact.order_id)
            if order is None:
                raise OrderNotFound(fact.order_id)
            if isinstance(fact.command, RecordRefundKeys):
                c = fact.command
                events = refunds.clear_keys(order, owed[order.order_id], c.refund_id, c.refused, c.reason)
                owed[order.order_id] = [_after(r, events) for r in owed[order.order_id]]
                after = fold(events, order)
            else:
                after, events = execute(order, fact.command)
            assert after is not None
            if order.order_id in open_entries:
                events = beside_open_entry(events, open_entries[order.order_id])
                for ev in events:
                    if isinstance(ev, OrderQueued):
                        open_entries[order.order_id] = OpenEntry(ev.reason, ev.source)
            new += order_new_events(order.order_id, order.version, events, causation_id=fact.causation_id)
            recorded += events
            orders[order.order_id] = after
        await uow.events.append(new)
        await uow.commit()
    return recorded


def _after(refund: refunds.Refund, events: Sequence[Event]) -> refunds.Refund:
    for ev in events:
        if isinstance(ev, RefundKeysCleared | RefundDeclined | RefundSent | RefundSucceeded) \
                and ev.refund_id == refund.refund_id:
            refund = refunds.evolve(refund, ev)
    return refund
