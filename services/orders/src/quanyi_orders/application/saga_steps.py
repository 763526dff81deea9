"""The steps the saga's pollers take each round (entrypoints.saga runs them). Each reads what is due
and acts through the use cases, so every action is an event decided under the order's lock; two
processes running the same step at once act once.

1. expiry: orders past their pay_by are first asked for at their providers (a lost callback must not
   expire a paid order), then expired;
2. active query: orders placed between `query_window_s` and `query_after_s` ago that still await payment
   are asked for at every provider; a payment found is captured through the notice path (`capture`), so
   it is exactly as idempotent as a notice;
3. delivery deadline: paid orders not delivered in time go to the exception queue (application.queue);
4. refunds: each open refund whose next look is due is sent to its provider's refund API (idempotent on
   its refund id); the answer is recorded (RefundSent, or RefundSucceeded when the provider confirms at
   once). A provider that does not answer is asked again `refund_retry_s` later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from quanyi_orders.application import queue, saga
from quanyi_orders.application.orders import Captured, PaymentNotice
from quanyi_orders.application.ports import OrdersUnitOfWork
from quanyi_orders.application.providers import (
    PaymentProvider,
    ProviderUnavailable,
    find_payment,
    provider_for,
)
from quanyi_orders.application.saga import RefundOutcome
from quanyi_orders.domain.refund import Refund

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SagaSettings:
    poll_interval_s: float = 1.0
    query_after_s: float = 10.0
    query_window_s: float = 120.0
    query_interval_s: float = 10.0
    refund_retry_s: float = 30.0
    batch: int = 100


class SagaSteps:
    """The steps (see the module's docstring), each for the instant `now` it is given."""

    def __init__(
        self, unit_of_work: Callable[[], OrdersUnitOfWork],
        capture: Callable[[PaymentNotice], Awaitable[Captured]], providers: Mapping[str, PaymentProvider],
        settings: SagaSettings,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._capture = capture
        self._providers = providers
        self.settings = settings

    async def _capture_found(self, order_ids: Sequence[str]) -> set[str]:
        """Ask the providers about each order; capture what they report. The orders found paid."""
        found = await asyncio.gather(*(find_payment(self._providers, o) for o in order_ids))
        paid: set[str] = set()
        for notice in found:
            if notice is None:
                continue
            try:
                captured = await self._capture(notice)
            except Exception as exc:  # a refusal of one order must not stop the round
                log.warning("a payment the provider reported was refused",
                            extra={"order_id": notice.order_id, "error": str(exc)})
                continue
            log.info("payment found by active query", extra={"order_id": notice.order_id,
                                                             "duplicate": captured.duplicate})
            paid.add(notice.order_id)
        return paid

    async def expire_due(self, now: datetime) -> int:
        due = await saga.due_expiries(self._unit_of_work, now, self.settings.batch)
        if not due:
            return 0
        paid = await self._capture_found(due)
        expired = await saga.expire_orders(self._unit_of_work, [o for o in due if o not in paid], now)
        if expired:
            log.info("orders expired", extra={"count": expired})
        return expired

    async def query_awaiting(self, now: datetime) -> set[str]:
        s = self.settings
        since, until = now - timedelta(seconds=s.query_window_s), now - timedelta(seconds=s.query_after_s)
        waiting = await saga.awaiting_payment(self._unit_of_work, since, until, s.batch)
        return await self._capture_found(waiting) if waiting else set()

    async def queue_overdue(self, now: datetime) -> int:
        queued = await queue.queue_overdue(self._unit_of_work, now, self.settings.batch)
        if queued:
            log.warning("paid orders not delivered by their deadline went to the exception queue",
                        extra={"count": queued})
        return queued

    async def _send(self, refund: Refund) -> RefundOutcome:
        provider = provider_for(self._providers, refund.provider)
        if provider is None:
            return RefundOutcome(refund.refund_id, "NO_PROVIDER")
        try:
            return await provider.refund(refund)
        except ProviderUnavailable as exc:
            return RefundOutcome(refund.refund_id, f"UNAVAILABLE: {exc}")

    async def send_due_refunds(self, now: datetime) -> int:
        due = await saga.due_refunds(self._unit_of_work, now, self.settings.batch)
        if not due:
            return 0
        outcomes = await asyncio.gather(*(self._send(r) for r in due))
        next_at = now + timedelta(seconds=self.settings.refund_retry_s)
        await saga.record_refund_outcomes(self._unit_of_work, outcomes, next_at)
        log.info("refunds sent", extra={"count": len(due),
                                        "confirmed": sum(1 for o in outcomes if o.confirmed)})
        return len(due)
