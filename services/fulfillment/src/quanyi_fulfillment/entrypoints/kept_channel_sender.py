"""The background sender of deliveries on the channels buyers keep targets for: claims due ones, delivers
them, records the outcomes (application.kept_channels)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from psycopg import OperationalError
from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_fulfillment.application.kept_channels import (
    KeptClaim,
    attempt_kept,
    claim_due_kept,
    record_kept,
)
from quanyi_fulfillment.application.ports import ChannelSender, ContactBook, KeyRevealer, UnitOfWorkFactory
from quanyi_fulfillment.domain.kept_channels import KeptOutcome

log = logging.getLogger(__name__)

_PASSING = (OperationalError, OSError, ConcurrencyConflict)


class KeptChannelSender:
    """Delivers on kept channels without ever holding a transaction across network I/O.

    Each round claims up to `batch_size` due deliveries in one short transaction (ChannelAttemptStarted,
    leased for `lease_s`, which must outlast a channel's own retries), commits, asks the gateway for the
    targets of the round's buyers in one call, reveals their keys in one call, calls every channel at once,
    and records the outcomes in one more transaction. Up to `concurrency` rounds are in flight.

    Idle, it costs nothing: it sleeps until woken (`wake()`: the e-mail sender of this process scheduled
    deliveries) or until the next claim lapses, which each claim reads from the queue; at most
    `idle_recheck_s`, for deliveries another process scheduled. Several senders, in one process or many,
    may run: a claim skips deliveries another claim holds. A database or peer outage is logged and waited
    out; it never stops the process.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        inventory: KeyRevealer,
        contacts: ContactBook,
        senders: Mapping[str, ChannelSender],
        *,
        lease_s: float = 120.0,
        batch_size: int = 50,
        concurrency: int = 4,
        idle_recheck_s: float = 60.0,
        instructions: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = uow
        self._inventory = inventory
        self._contacts = contacts
        self._senders = dict(senders)
        self._lease_s = lease_s
        self._batch_size = max(1, batch_size)
        self._concurrency = max(1, concurrency)
        self._idle_recheck_s = idle_recheck_s
        self._instructions = dict(instructions or {})
        self._clock = clock
        self._woken = asyncio.Event()
        self._next_due: datetime | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Deliveries may be due: look now rather than at the next due time."""
        self._woken.set()

    async def run_once(self) -> int:
        """Claim, deliver and record every delivery due now, one round after another; returns how many
        were tried."""
        tried = 0
        while True:
            claimed = await claim_due_kept(self._uow, self._clock(), self._batch_size, self._lease_s)
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
                self._woken.clear()
                try:
                    await self._claim_rounds()
                except _PASSING as exc:
                    log.warning("kept channel claim failed for a passing reason",
                                extra={"error": type(exc).__name__})
                    self._next_due = self._clock() + timedelta(seconds=1)
                await self._sleep()
        finally:
            for task in list(self._in_flight):
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _claim_rounds(self) -> None:
        while len(self._in_flight) < self._concurrency:
            claimed = await claim_due_kept(self._uow, self._clock(), self._batch_size, self._lease_s)
            self._next_due = claimed.next_due
            if not claimed.claims:
                return
            task = asyncio.create_task(self._round(claimed.claims))
            self._in_flight.add(task)
            task.add_done_callback(self._round_done)
            if len(claimed.claims) < self._batch_size:
                return

    def _round_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self.wake()  # a slot is free, and more may be waiting

    async def _round(self, claims: list[KeptClaim]) -> None:
        try:
            await self._finish(claims)
        except _PASSING as exc:
            # The claims stay open and fall due again when their leases run out.
            log.warning("kept channel outcomes not recorded for a passing reason",
                        extra={"error": type(exc).__name__})
        except Exception as exc:
            # A bug: log its type only (never its text); the claims lapse and are tried again.
            log.error("kept channel round failed", extra={"error": type(exc).__name__})

    async def _finish(self, claims: list[KeptClaim]) -> None:
        outcomes: list[KeptOutcome | None] = await attempt_kept(
            self._contacts, self._inventory, self._senders, self._instructions, claims
        )
        await record_kept(self._uow, list(zip(claims, outcomes, strict=True)), self._clock())

    async def _sleep(self) -> None:
        timeout = self._idle_recheck_s
        if self._next_due is not None:
            timeout = min(timeout, max(0.0, (self._next_due - self._clock()).total_seconds()))
        try:
            await asyncio.wait_for(self._woken.wait(), timeout)
        except TimeoutError:
            return
