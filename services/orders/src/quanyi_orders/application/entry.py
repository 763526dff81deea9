"""Orders' entry path under load: PlaceOrder and payment notices, group-committed.

Concurrent calls of one kind are decided together in one unit of work (`group_commit.GroupCommit`):
one append and one commit for a group of placements, one locking read, one append and one commit for a
group of notices. Each caller gets what its call alone would have given, decided after the calls
queued before it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from quanyi_platform.group_commit import GroupCommit

from quanyi_orders.application.holds import HoldPolicy
from quanyi_orders.application.orders import (
    Captured,
    PaymentNotice,
    Placed,
    Placement,
    PlaceOrder,
    capture_notified_payments,
    place_order,
    place_orders,
    prepare,
)
from quanyi_orders.application.ports import OrdersUnitOfWork
from quanyi_orders.domain.errors import InvalidOrder


class OrdersEntry:
    """PlaceOrder and HandlePaymentNotice for the gRPC servicer, a group per unit of work; with `holds`,
    every placement takes a stock hold (application.holds), refused with HoldRefused past its caps."""

    def __init__(
        self, unit_of_work: Callable[[], OrdersUnitOfWork], *, max_group: int = 64, max_in_flight: int = 2,
        pay_within: timedelta | None = None, holds: HoldPolicy | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._pay_within = pay_within
        self._holds = holds
        # With holds, placement groups run one at a time: a second group would only wait inside Postgres
        # for the first's hold locks (per SKU, buyer and address) until its commit, holding a pooled
        # connection and a backend meanwhile; here its calls wait for free and join the next, larger group.
        # The locks stay: they order the groups of other replicas.
        self.placing: GroupCommit[Placement, Placed] = GroupCommit(
            lambda group: place_orders(unit_of_work(), group, holds),
            max_group=max_group, max_in_flight=1 if holds is not None else max_in_flight,
        )
        self.capturing: GroupCommit[PaymentNotice, Captured] = GroupCommit(
            lambda group: capture_notified_payments(unit_of_work(), group),
            max_group=max_group, max_in_flight=max_in_flight,
        )

    async def place(self, cmd: PlaceOrder) -> Placed:
        """Place the order; one the domain refuses goes alone (its key may name an order placed before)."""
        key = self._holds.client_key if self._holds is not None else b""
        try:
            placement = prepare(cmd, pay_within=self._pay_within, client_key=key)
        except InvalidOrder:
            return await place_order(
                self._unit_of_work(), cmd, pay_within=self._pay_within, holds=self._holds
            )
        return await self.placing.submit(placement)

    async def capture(self, notice: PaymentNotice) -> Captured:
        return await self.capturing.submit(notice)
