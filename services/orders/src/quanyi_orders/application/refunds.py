"""An operator's refund of a paid order, whole or in part: decided against what fulfillment delivered
(and what was redeemed) and every refund recorded before, then sent to the provider by the refund
sender (entrypoints.saga) like every other refund."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quanyi_platform.envelope import new_event_id

from quanyi_orders.adapters.proto_mapping import order_new_events
from quanyi_orders.application.errors import OrderNotFound
from quanyi_orders.application.orders import _retrying
from quanyi_orders.application.ports import Deliveries, DeliveriesUnavailable, OrdersUnitOfWork
from quanyi_orders.domain.events import RefundRequested
from quanyi_orders.domain.refund import LineKeys, RefundOrder, decide_refund

log = logging.getLogger(__name__)


async def line_keys(
    unit_of_work: Callable[[], OrdersUnitOfWork], deliveries: Deliveries, order_id: str
) -> dict[int, LineKeys]:
    """Per order line, how many of its keys fulfillment delivered and how many of those were redeemed.
    Fulfillment's record is a first check only (an operator is told at once of a redeemed key): inventory's
    own record decides when it takes the keys back. So when fulfillment does not answer, every unit counts
    as delivered and not redeemed, and inventory refuses a redeemed key (the exception queue) if there is
    one."""
    async with unit_of_work() as uow:
        order = await uow.orders.get(order_id)
    if order is None:
        raise OrderNotFound(order_id)
    try:
        delivered = await deliveries.of_order(order.buyer_id, order.order_id)
    except DeliveriesUnavailable:
        log.warning("fulfillment did not answer: the refund's keys are left to inventory's record",
                    extra={"order_id": order_id})
        return {line.line_no: LineKeys(delivered=line.quantity) for line in order.lines}
    keys: dict[int, LineKeys] = {}
    for line in order.lines:  # a line's keys are its SKU's (lines of one SKU share them in line order)
        mine = [redeemed for sku, redeemed in delivered if sku == line.sku_id]
        taken = sum(k.delivered for n, k in keys.items() if order.lines[n - 1].sku_id == line.sku_id)
        share = mine[taken:taken + line.quantity]
        keys[line.line_no] = LineKeys(delivered=len(share), redeemed=sum(share))
    return keys


@dataclass(frozen=True)
class OperatorRefund:
    order_id: str
    lines: Sequence[tuple[int, int]]
    actor: str
    override_redeemed: bool = False
    note: str = ""


async def refund_order(
    unit_of_work: Callable[[], OrdersUnitOfWork], deliveries: Deliveries, cmd: OperatorRefund
) -> RefundRequested:
    """Record the refund (RefundRequested, and OrderRefunded when it takes the order's last units) and
    return it. Fulfillment is asked first, outside the transaction; the decision is taken under the
    order's lock against the refunds recorded so far. Raises OrderNotFound, NotAllowed, InvalidOrder."""
    keys = await line_keys(unit_of_work, deliveries, cmd.order_id)
    refund_id = new_event_id()

    async def attempt() -> RefundRequested:
        async with unit_of_work() as uow:
            locked = (await uow.orders.get_many_for_update([cmd.order_id])).get(cmd.order_id)
            if locked is None:
                raise OrderNotFound(cmd.order_id)
            before = tuple(await uow.saga.refunds_of_order(cmd.order_id))
            events = decide_refund(locked, RefundOrder(
                refund_id, tuple(cmd.lines), keys, before, cmd.actor, cmd.override_redeemed, cmd.note,
            ))
            await uow.events.append(order_new_events(locked.order_id, locked.version, events))
            await uow.commit()
        requested = events[-1]
        assert isinstance(requested, RefundRequested)
        return requested

    return await _retrying(attempt)
