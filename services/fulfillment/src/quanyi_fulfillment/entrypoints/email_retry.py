"""The background e-mail sender: sends queued delivery e-mails and retries failed ones."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, OperationalError
from psycopg_pool import AsyncConnectionPool
from quanyi_platform.eventstore import EventStore, in_transaction

from quanyi_fulfillment.application.email_retry import retry_due_email
from quanyi_fulfillment.application.ports import KeyRevealer, Mailer
from quanyi_fulfillment.domain.retry import RetryPolicy

log = logging.getLogger(__name__)


class EmailRetrier:
    """Works through due rows of email_outbox with `concurrency` workers, one transaction per e-mail,
    then sleeps `poll_s` or until woken (`wake()`, called when this process queued new e-mails).

    Several workers and processes may run it: each row is taken with FOR UPDATE SKIP LOCKED. A database
    or peer outage is logged and waited out; it never stops the process.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool,
        store: EventStore,
        inventory: KeyRevealer,
        mailer: Mailer,
        policy: RetryPolicy,
        poll_s: float = 1.0,
        concurrency: int = 1,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._store = store
        self._inventory = inventory
        self._mailer = mailer
        self._policy = policy
        self._poll_s = poll_s
        self._concurrency = max(1, concurrency)
        self._clock = clock
        self._woken = asyncio.Event()

    def wake(self, _queued: int = 0) -> None:
        """New e-mails may be due: look now rather than at the next poll."""
        self._woken.set()

    async def run_once(self) -> int:
        """Send or retry every e-mail due now; returns how many were tried."""

        async def work(conn: AsyncConnection[Any]) -> bool:
            return await retry_due_email(conn, self._store, self._inventory, self._mailer, self._policy,
                                         self._clock())

        async def worker() -> int:
            tried = 0
            while await in_transaction(self._pool, work):
                tried += 1
            return tried

        return sum(await asyncio.gather(*(worker() for _ in range(self._concurrency))))

    async def run(self) -> None:
        while True:
            self._woken.clear()  # a wake() from here on means another round
            try:
                await self.run_once()
            except (OperationalError, OSError) as exc:
                log.warning("e-mail retry failed for a passing reason", extra={"error": type(exc).__name__})
            try:
                await asyncio.wait_for(self._woken.wait(), self._poll_s)
            except TimeoutError:
                pass
