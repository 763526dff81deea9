"""The saga's pollers: each round runs the saga's steps (application.saga_steps) at the current time.
Nothing is scheduled in memory: what is due is read from `due_events` (a projection) and from the orders
awaiting payment, and every action is an event that moves or removes what is due. Several processes may
poll at once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from quanyi_orders.application.saga_steps import SagaSteps

log = logging.getLogger(__name__)


class SagaPollers:
    """Runs `steps` every `poll_interval_s` (the active query every `query_interval_s`)."""

    def __init__(self, steps: SagaSteps, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._steps = steps
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
            await asyncio.sleep(self._steps.settings.poll_interval_s)

    async def round(self) -> None:
        await self._steps.expire_due(self._clock())
        if time.monotonic() - self._last_query >= self._steps.settings.query_interval_s:
            self._last_query = time.monotonic()
            await self._steps.query_awaiting(self._clock())
        await self._steps.queue_overdue(self._clock())
        await self._steps.send_due_refunds(self._clock())
