"""The order saga's timeouts and the refund saga, over a unit of work; the pollers (entrypoints.saga)
call these. Every step is an event on the order, appended under the order's lock, so two pollers (or a
poller and a notice) never both act: the second decides against what the first committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from quanyi_platform.envelope import NewEvent

from quanyi_orders.adapters.proto_mapping import order_new_events
from quanyi_orders.application.errors import OrderNotFound
from quanyi_orders.application.orders import _retrying
from quanyi_orders.application.ports import OrdersUnitOfWork
from quanyi_orders.domain import refund as refunds
from quanyi_orders.domain.errors import NotAllowed
from quanyi_orders.domain.events import Event, RefundSent, RefundSucceeded
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Expire, Order, decide, fold
from quanyi_orders.projections.orders import EXPIRE, REFUND

UnitOfWorkFactory = Callable[[], OrdersUnitOfWork]


async def due(unit_of_work: UnitOfWorkFactory, kind: str, now: datetime, limit: int) -> list[str]:
    async with unit_of_work() as uow:
        return await uow.saga.due(kind, now, limit)


async def due_expiries(unit_of_work: UnitOfWorkFactory, now: datetime, limit: int) -> list[str]:
    """Orders whose pay_by has passed and that still await a payment."""
    return await due(unit_of_work, EXPIRE, now, limit)


async def due_refunds(unit_of_work: UnitOfWorkFactory, now: datetime, limit: int) -> list[refunds.Refund]:
    """Open refunds whose next look is due."""
    ids = await due(unit_of_work, REFUND, now, limit)
    async with unit_of_work() as uow:
        found = await uow.saga.refunds(ids)
    return [found[i] for i in ids if i in found]


async def awaiting_payment(
    unit_of_work: UnitOfWorkFactory, placed_from: datetime, placed_to: datetime, limit: int
) -> list[str]:
    async with unit_of_work() as uow:
        return await uow.saga.awaiting_payment(placed_from, placed_to, limit)


async def _on_orders(
    unit_of_work: UnitOfWorkFactory, order_ids: Sequence[str],
    decide_one: Callable[[Order], list[Event]],
) -> dict[str, list[Event]]:
    """Decide on each order (locked, in one unit of work) and append what they record, in one append."""

    async def attempt() -> dict[str, list[Event]]:
        recorded: dict[str, list[Event]] = {}
        async with unit_of_work() as uow:
            orders = await uow.orders.get_many_for_update(list(dict.fromkeys(order_ids)))
            new: list[NewEvent] = []
            for order_id in order_ids:
                order = orders.get(order_id)
                if order is None:
                    raise OrderNotFound(order_id)
                events = decide_one(order)
                new += order_new_events(order_id, order.version, events)
                after = fold(events, order)
                assert after is not None
                orders[order_id] = after
                recorded[order_id] = recorded.get(order_id, []) + events
            if new:
                await uow.events.append(new)
                await uow.commit()
        return recorded

    return await _retrying(attempt)


async def expire_orders(unit_of_work: UnitOfWorkFactory, order_ids: Sequence[str], now: datetime) -> int:
    """Expire the orders that are still unpaid past their pay_by; returns how many expired. An order paid
    or ended meanwhile records nothing; one not due yet is left alone."""

    def expire(order: Order) -> list[Event]:
        try:
            return decide(order, Expire(now))
        except NotAllowed:
            return []

    recorded = await _on_orders(unit_of_work, order_ids, expire)
    return sum(1 for events in recorded.values() if events)


@dataclass(frozen=True)
class RefundOutcome:
    """What the provider said about a refund: `confirmed` with its refund id, or still open."""

    refund_id: str
    outcome: str
    confirmed: bool = False
    provider_refund_id: str = ""
    amount: Money | None = None


async def record_refund_outcomes(
    unit_of_work: UnitOfWorkFactory, outcomes: Sequence[RefundOutcome], next_attempt_at: datetime
) -> list[Event]:
    """Record what the provider answered for each refund: RefundSucceeded once when it confirms (a
    confirmation of another amount is left open for an operator: RefundSent with that outcome), else
    RefundSent with the time the sender looks again. A refund confirmed before records nothing."""
    if not outcomes:
        return []
    async with unit_of_work() as uow:
        known = await uow.saga.refunds([o.refund_id for o in outcomes])
    by_order: dict[str, list[RefundOutcome]] = {}
    for o in outcomes:
        if o.refund_id in known:
            by_order.setdefault(known[o.refund_id].order_id, []).append(o)

    async def attempt() -> list[Event]:
        recorded: list[Event] = []
        async with unit_of_work() as uow:
            orders = await uow.orders.get_many_for_update(sorted(by_order))
            current = await uow.saga.refunds([o.refund_id for o in outcomes])
            new: list[NewEvent] = []
            for order_id, mine in by_order.items():
                order = orders[order_id]
                version, events = order.version, list[Event]()
                for o in mine:
                    refund = current[o.refund_id]
                    step: list[RefundSent | RefundSucceeded] = []
                    if o.confirmed:
                        try:
                            step += refunds.confirm(refund, o.provider_refund_id, o.amount or refund.amount)
                        except NotAllowed:
                            step += refunds.record_attempt(refund, "AMOUNT_DIFFERS", next_attempt_at)
                    else:
                        step += refunds.record_attempt(refund, o.outcome, next_attempt_at)
                    for ev in step:
                        current[o.refund_id] = refunds.evolve(current[o.refund_id], ev)
                    events += step
                new += order_new_events(order_id, version, events)
                recorded += events
            if new:
                await uow.events.append(new)
                await uow.commit()
        return recorded

    return await _retrying(attempt)
