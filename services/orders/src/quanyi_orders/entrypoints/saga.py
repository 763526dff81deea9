"""The saga's pollers: the service acts on its due timeouts and asks providers what their notices may
not have said. Nothing is scheduled in memory: what is due is read from `due_events` (a projection)
and from the orders awaiting payment, and every action is an event that moves or removes what is due.
Several processes may poll at once: each step is decided under the order's lock.

Each round (every `poll_interval_s`):
1. expiry: orders past their pay_by are first asked for at their providers (a lost callback must not
   expire a paid order), then expired;
2. active query (every `query_interval_s`): orders placed between `query_window_s` and `query_after_s`
   ago that still await payment are asked for at every provider; a payment found is captured through
   the notice path (`OrdersEntry.capture`), so it is exactly as idempotent;
3. delivery deadline: released orders not delivered within the deadline go to the exception queue
   (application.queue);
4. refunds: each open refund whose next look is due is sent to its provider's refund API (idempotent on
   its refund id); the answer is recorded (RefundSent, or RefundSucceeded when the provider confirms at
   once). A provider that does not answer is asked again `refund_retry_s` later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from quanyi_orders.adapters.providers import PaymentProvider, ProviderUnavailable
from quanyi_orders.application import queue, saga
from quanyi_orders.application.entry import OrdersEntry
from quanyi_orders.application.orders import Captured, PaymentNotice
from quanyi_orders.application.ports import OrdersUnitOfWork
from quanyi_orders.application.saga import RefundOutcome
from quanyi_orders.domain.refund import Refund

log = logging.getLogger(__name__)

#: Payments of the first simulator are queried and refunded through the WeChat-style API.
ALIASES = {"psp-sim": "wechatpay-sim"}


@dataclass(frozen=True)
class SagaSettings:
    poll_interval_s: float = 1.0
    query_after_s: float = 10.0
    query_window_s: float = 120.0
    query_interval_s: float = 10.0
    refund_retry_s: float = 30.0
    batch: int = 100


def provider_for(providers: Mapping[str, PaymentProvider], name: str) -> PaymentProvider | None:
    return providers.get(name) or providers.get(ALIASES.get(name, ""))


async def find_payment(
    providers: Mapping[str, PaymentProvider], order_id: str, only: str = ""
) -> PaymentNotice | None:
    """The first payment a provider reports for the order; providers that do not answer are skipped."""
    names = [only] if only else list(providers)
    for name in names:
        provider = provider_for(providers, name)
        if provider is None:
            continue
        try:
            found = await provider.query_payment(order_id)
        except ProviderUnavailable as exc:
            log.warning("payment query failed", extra={"provider": name, "order_id": order_id,
                                                       "error": str(exc)})
            continue
        if found is not None:
            return found
    return None


class SagaPollers:
    """The pollers of one orders process (see the module's docstring)."""

    def __init__(
        self, unit_of_work: Callable[[], OrdersUnitOfWork], entry: OrdersEntry,
        providers: Mapping[str, PaymentProvider], settings: SagaSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._unit_of_work = unit_of_work
        self._entry = entry
        self._providers = providers
        self._settings = settings
        self._clock = clock
        self._last_query = 0.0

    async def run(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("saga round failed; trying again next round")
            await asyncio.sleep(self._settings.poll_interval_s)

    async def round(self) -> None:
        await self.expire_due()
        queued = await queue.queue_overdue(self._unit_of_work, self._clock(), self._settings.batch)
        if queued:
            log.warning("orders not delivered by their deadline went to the exception queue",
                        extra={"count": queued})
        if time.monotonic() - self._last_query >= self._settings.query_interval_s:
            self._last_query = time.monotonic()
            await self.query_awaiting()
        await self.send_due_refunds()

    async def _capture_found(self, order_ids: Sequence[str]) -> set[str]:
        """Ask the providers about each order; capture what they report. The orders found paid."""
        found = await asyncio.gather(*(find_payment(self._providers, o) for o in order_ids))
        paid: set[str] = set()
        for notice in found:
            if notice is None:
                continue
            try:
                captured: Captured = await self._entry.capture(notice)
            except Exception as exc:  # a refusal of one order must not stop the round
                log.warning("a payment the provider reported was refused",
                            extra={"order_id": notice.order_id, "error": str(exc)})
                continue
            log.info("payment found by active query", extra={"order_id": notice.order_id,
                                                             "duplicate": captured.duplicate})
            paid.add(notice.order_id)
        return paid

    async def expire_due(self) -> int:
        now = self._clock()
        due = await saga.due_expiries(self._unit_of_work, now, self._settings.batch)
        if not due:
            return 0
        paid = await self._capture_found(due)
        expired = await saga.expire_orders(self._unit_of_work, [o for o in due if o not in paid], now)
        if expired:
            log.info("orders expired", extra={"count": expired})
        return expired

    async def query_awaiting(self) -> set[str]:
        now = self._clock()
        s = self._settings
        since, until = now - timedelta(seconds=s.query_window_s), now - timedelta(seconds=s.query_after_s)
        waiting = await saga.awaiting_payment(self._unit_of_work, since, until, s.batch)
        return await self._capture_found(waiting) if waiting else set()

    async def _send(self, refund: Refund) -> RefundOutcome:
        provider = provider_for(self._providers, refund.provider)
        if provider is None:
            return RefundOutcome(refund.refund_id, "NO_PROVIDER")
        try:
            return await provider.refund(refund)
        except ProviderUnavailable as exc:
            return RefundOutcome(refund.refund_id, f"UNAVAILABLE: {exc}")

    async def send_due_refunds(self) -> int:
        now = self._clock()
        due = await saga.due_refunds(self._unit_of_work, now, self._settings.batch)
        if not due:
            return 0
        outcomes = await asyncio.gather(*(self._send(r) for r in due))
        next_at = now + timedelta(seconds=self._settings.refund_retry_s)
        await saga.record_refund_outcomes(self._unit_of_work, outcomes, next_at)
        log.info("refunds sent", extra={"count": len(due),
                                        "confirmed": sum(1 for o in outcomes if o.confirmed)})
        return len(due)
