"""The background e-mail sender: claims due delivery e-mails, sends them, records the outcomes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from psycopg import OperationalError
from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_fulfillment.application.email import (
    Claim,
    attempt_emails,
    claim_due_emails,
    record_outcomes,
    retry_times,
)
from quanyi_fulfillment.application.ports import ContactBook, KeyRevealer, Mailer, UnitOfWorkFactory
from quanyi_fulfillment.domain.aggregate import Failed
from quanyi_fulfillment.domain.events import KEPT_CHANNEL
from quanyi_fulfillment.domain.retry import RetryPolicy

log = logging.getLogger(__name__)

_PASSING = (OperationalError, OSError, ConcurrencyConflict)


class EmailSender:
    """Sends delivery e-mails without ever holding a transaction across network I/O.

    Each round claims up to `batch_size` due e-mails in one short transaction (EmailAttemptStarted, leased
    for `lease_s`), commits, asks the gateway for the buyers' addresses in one call (`contacts`), reveals
    their keys in one call to inventory, hands them all to the mailer
    (which bounds how many are on the wire), and records the outcomes in one more transaction. Up to
    `concurrency` rounds are in flight at once.

    Idle, it costs nothing: it sleeps until woken (`wake()`: a delivery committed in this process) or until
    the next e-mail falls due (a retry, or a lapsed claim of another sender), which each claim reads from
    the queue; at most `idle_recheck_s`, for e-mails another process queued. Woken, it waits `gather_s`
    before it claims, so that the deliveries of the next few consumer batches share its round: a round
    costs the same (two transactions, one address look-up, one reveal) for one e-mail or fifty, and the
    keys are in the buyer's user centre already, so only the e-mail waits. Several senders, in one
    process or many, may run: a claim skips e-mails another claim holds. A database or peer outage is
    logged and waited out; it never stops the process.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        inventory: KeyRevealer,
        mailer: Mailer,
        policy: RetryPolicy,
        *,
        contacts: ContactBook,
        lease_s: float = 60.0,
        batch_size: int = 50,
        concurrency: int = 4,
        idle_recheck_s: float = 60.0,
        gather_s: float = 0.0,
        instructions: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_kept: Callable[[], None] | None = None,
    ) -> None:
        self._uow = uow
        self._on_kept = on_kept
        self._inventory = inventory
        self._contacts = contacts
        self._mailer = mailer
        self._policy = policy
        self._lease_s = lease_s
        self._batch_size = max(1, batch_size)
        self._concurrency = max(1, concurrency)
        self._idle_recheck_s = idle_recheck_s
        self._gather_s = max(0.0, gather_s)
        self._clock = clock
        self._instructions = dict(instructions or {})
        self._woken = asyncio.Event()
        self._next_due: datetime | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._saturated = False

    def wake(self, _queued: int = 0) -> None:
        """E-mails may be due: look now rather than at the next due time."""
        self._woken.set()

    async def run_once(self) -> int:
        """Claim, send and record every e-mail due now, one round after another; returns how many were
        tried."""
        tried = 0
        while True:
            claimed = await claim_due_emails(self._uow, self._clock(), self._batch_size, self._lease_s)
            self._next_due = claimed.next_due
            if not claimed.claims:
                return tried
            await self._finish(claimed.claims)
            tried += len(claimed.claims)
            if len(claimed.claims) < self._batch_size:
                return tried

    async def run(self) -> None:
        try:
            while True:
                self._woken.clear()  # a wake() from here on means another look
                try:
                    await self._claim_rounds()
                except _PASSING as exc:
                    log.warning(
                        "e-mail claim failed for a passing reason", extra={"error": type(exc).__name__}
                    )
                    self._next_due = self._clock() + timedelta(seconds=1)
                await self._sleep()
        finally:
            for task in list(self._in_flight):
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _claim_rounds(self) -> None:
        while True:
            if len(self._in_flight) >= self._concurrency:
                self._saturated = True  # a round that ends wakes the loop
                return
            claimed = await claim_due_emails(self._uow, self._clock(), self._batch_size, self._lease_s)
            self._next_due = claimed.next_due
            if not claimed.claims:
                return
            task = asyncio.create_task(self._round(claimed.claims))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            if len(claimed.claims) < self._batch_size:
                return

    async def _round(self, claims: list[Claim]) -> None:
        try:
            retries = await self._finish(claims)
        except _PASSING as exc:
            # The claims stay open and fall due again when their leases run out.
            log.warning(
                "e-mail outcomes not recorded for a passing reason", extra={"error": type(exc).__name__}
            )
            retries = True
        except Exception as exc:
            # A bug: log its type only (never its text) and keep sending; the claims lapse and are retried.
            log.error("e-mail round failed", extra={"error": type(exc).__name__})
            retries = True
        if retries or self._saturated:
            self._saturated = False
            self.wake()  # the next due time moved, or more may be waiting

    async def _finish(self, claims: list[Claim]) -> bool:
        """Send the claimed e-mails and record the outcomes; True when some fall due again."""
        try:
            outcomes = await attempt_emails(
                self._contacts, self._inventory, self._mailer, claims, self._instructions
            )
        except Exception as exc:
            # A round that broke is a failed attempt for each of its e-mails; the type names the cause
            # without quoting it.
            log.error("e-mail round broke", extra={"error": type(exc).__name__})
            outcomes = [Failed(f"error: {type(exc).__name__}") for _ in claims]
        recorded = await record_outcomes(self._uow, list(zip(claims, outcomes, strict=True)), self._policy,
                                         self._clock())
        if self._on_kept is not None and any(r.stream == KEPT_CHANNEL for r in recorded):
            self._on_kept()  # deliveries on kept channels were scheduled: wake their sender
        return bool(retry_times(recorded))

    async def _sleep(self) -> None:
        timeout = self._idle_recheck_s
        if self._next_due is not None:
            timeout = min(timeout, max(0.0, (self._next_due - self._clock()).total_seconds()))
        try:
            await asyncio.wait_for(self._woken.wait(), timeout)
        except TimeoutError:
            return
        if self._gather_s:
            await asyncio.sleep(self._gather_s)
