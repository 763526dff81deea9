"""The background redemption sync: polls the partner's feed every `interval_s`
(application.redemption_sync)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from psycopg import OperationalError

from quanyi_fulfillment.application.ports import FeedUnavailable, RedemptionFeed, UnitOfWorkFactory
from quanyi_fulfillment.application.redemption_sync import SyncResult, sync_redemptions

log = logging.getLogger(__name__)


class RedemptionPoller:
    """Keeps the feed's cursor in memory: after a restart it reads the feed from the start again, which
    records nothing twice (a key is redeemed once)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        feed: RedemptionFeed,
        partner: str,
        skus: Collection[str],
        interval_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow
        self._feed = feed
        self._partner = partner
        self._skus = frozenset(skus)
        self._interval_s = interval_s
        self._clock = clock
        self.cursor = ""

    async def poll_once(self) -> SyncResult:
        result = await sync_redemptions(
            self._uow, self._feed, self._partner, self._skus, self.cursor, self._clock
        )
        self.cursor = result.cursor
        return result

    async def run(self) -> None:
        while True:
            try:
                result = await self.poll_once()
                if result.recorded or result.alerts or result.out_of_scope:
                    log.info("redemptions synced", extra={
                        "partner": self._partner, "recorded": result.recorded, "alerts": result.alerts,
                        "out_of_scope": result.out_of_scope, "duplicates": result.duplicates,
                    })
            except (FeedUnavailable, OperationalError, OSError) as exc:
                log.warning(
                    "redemption sync failed for a passing reason", extra={"error": type(exc).__name__}
                )
            await asyncio.sleep(self._interval_s)
