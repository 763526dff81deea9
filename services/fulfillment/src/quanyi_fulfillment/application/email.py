"""The delivery e-mail: claim due e-mails, send them outside any transaction, record the outcomes.

1. `claim_due_emails`: one short unit of work claims a batch (EmailAttemptStarted per e-mail, with a lease)
   and commits.
2. `attempt_emails`: network I/O only, no unit of work: reveal the round's keys from inventory in one
   call, render, hand the messages to the mail server. The plaintext lives in this call's locals and
   nowhere else.
3. `record_outcomes`: one unit of work records every outcome of the batch (sent; failed and due again after
   a backoff; given up into the exception queue).

A sender that dies between 1 and 3 leaves its claims open: each e-mail falls due again when its lease runs
out, so delivery e-mail is at-least-once (as it always was), never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_fulfillment.application.ports import (
    Address,
    ContactBook,
    ContactsUnavailable,
    InventoryUnavailable,
    KeyRevealer,
    Mailer,
    MailNotSent,
    RevealOutcome,
    RevealRefused,
    UnitOfWorkFactory,
)
from quanyi_fulfillment.domain.aggregate import (
    Delivery,
    Failed,
    Outcome,
    Postponed,
    Sent,
    Unreachable,
    evolve_all,
    record_outcome,
    start_attempt,
)
from quanyi_fulfillment.domain.delivery import RevealedSecret, pair_secrets
from quanyi_fulfillment.domain.errors import RevealMismatch
from quanyi_fulfillment.domain.events import EmailAttemptFailed, Recorded
from quanyi_fulfillment.domain.mail import render_delivery, scrub
from quanyi_fulfillment.domain.retry import RetryPolicy

log = logging.getLogger(__name__)

RECORD_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    """A delivery whose e-mail this sender has claimed (its state includes the claim)."""

    delivery: Delivery

    @property
    def lease(self) -> int:
        assert self.delivery.email is not None
        return self.delivery.email.lease

    @property
    def order_id(self) -> str:
        return self.delivery.order_id


@dataclass(frozen=True)
class Claimed:
    claims: list[Claim]
    # When the next e-mail not claimed here falls due (None: none is waiting).
    next_due: datetime | None


async def claim_due_emails(uow: UnitOfWorkFactory, now: datetime, limit: int, lease_s: float) -> Claimed:
    """Claim up to `limit` due e-mails for `lease_s` seconds, in one unit of work that commits at once."""
    async with uow() as work:
        due = await work.deliveries.claim_due(now, limit)
        claims: list[Claim] = []
        recorded: list[Recorded] = []
        for delivery in due.deliveries:
            started = start_attempt(delivery, now, lease_s)
            after = evolve_all(delivery, started)
            if started and after is not None:
                recorded.extend(started)
                claims.append(Claim(after))
        await work.record(recorded)
        await work.commit()
    return Claimed(claims, due.next_due)


async def send_keys(
    mailer: Mailer, to: str, delivery: Delivery, secrets: Sequence[RevealedSecret],
    instructions: Mapping[str, str] | None = None,
) -> str | None:
    """Render the delivery's e-mail from its revealed keys and hand it to the mail server, to `to`.

    Returns None when the mail server accepted it, else why not (never containing a key). Raises
    RevealMismatch when `secrets` are not exactly the delivery's keys.
    """
    assert delivery.email is not None
    keys = [(k.key_id, k.line_no, k.unit_no) for k in delivery.keys]
    to_send = pair_secrets(keys, secrets)
    content = render_delivery(delivery.order_id, to_send, instructions)
    try:
        await mailer.send(to, content)
    except MailNotSent as exc:
        return scrub(exc.reason, to_send)
    return None


async def attempt_emails(
    contacts: ContactBook, inventory: KeyRevealer, mailer: Mailer, claims: Sequence[Claim],
    instructions: Mapping[str, str] | None = None,
) -> list[Outcome]:
    """One attempt at each claimed e-mail of a round: network I/O only, in no transaction.

    One look-up of the round's buyers' addresses at the gateway (which owns them; nothing here keeps one),
    then one reveal for the e-mails that have somebody to go to (inventory audits each order's), then every
    e-mail handed to the mail server at once (the mailer bounds how many are in flight). One outcome per
    claim, in order. The plaintext lives in this call's locals only, until the round's e-mails are sent.
    """
    if not claims:
        return []
    try:
        found = await contacts.contacts(sorted({c.delivery.buyer_id for c in claims}))
    except ContactsUnavailable:
        return [Postponed("gateway unavailable") for _ in claims]
    # The channels each buyer keeps a target for ride on the outcome (names only): the first attempt's
    # outcome schedules the order's delivery on them, with no look-up of its own.
    addressed = [
        (c, contact.email, tuple(channel for channel, target in contact.targets if target))
        for c in claims
        if isinstance(contact := found.get(c.delivery.buyer_id), Address)
    ]
    outcomes: dict[str, Outcome] = {
        c.order_id: Unreachable(contact.reason if contact is not None else "the buyer has no address")
        for c in claims
        if not isinstance(contact := found.get(c.delivery.buyer_id), Address)
    }
    if addressed:
        try:
            revealed = await inventory.reveal_orders(
                [(c.order_id, [k.key_id for k in c.delivery.keys]) for c, _, _ in addressed]
            )
        except InventoryUnavailable:
            revealed = [InventoryUnavailable("inventory unavailable") for _ in addressed]
        sent = await asyncio.gather(
            *(
                _attempt(mailer, c, to, r, instructions, kept)
                for (c, to, kept), r in zip(addressed, revealed, strict=True)
            )
        )
        outcomes.update((c.order_id, o) for (c, _, _), o in zip(addressed, sent, strict=True))
    return [outcomes[c.order_id] for c in claims]


async def _attempt(
    mailer: Mailer, claim: Claim, to: str, revealed: RevealOutcome, instructions: Mapping[str, str] | None,
    kept: tuple[str, ...] = (),
) -> Outcome:
    if isinstance(revealed, InventoryUnavailable):
        return Postponed("inventory unavailable")
    if isinstance(revealed, RevealRefused):
        return Failed(f"keys could not be revealed: {revealed}", kept)
    try:
        failure = await send_keys(mailer, to, claim.delivery, revealed, instructions)
    except RevealMismatch as exc:
        return Failed(f"keys could not be revealed: {exc}", kept)
    except Exception as exc:
        # An attempt that broke is a failed attempt; the type names the cause without quoting it.
        log.error("e-mail attempt broke", extra={"order_id": claim.order_id, "error": type(exc).__name__})
        return Failed(f"error: {type(exc).__name__}", kept)
    return Sent(kept) if failure is None else Failed(failure, kept)


async def record_outcomes(
    uow: UnitOfWorkFactory, outcomes: Sequence[tuple[Claim, Outcome]], policy: RetryPolicy, now: datetime
) -> list[Recorded]:
    """Record how each claimed attempt ended, in one unit of work; returns the events recorded.

    Optimistic: the outcomes are decided from the states the claims left and appended without a read. If
    another sender took one of the e-mails meanwhile (its lease ran out), the append conflicts; then the
    batch's states are read again and the outcomes of superseded claims are dropped (the newer claim's
    outcome counts).
    """
    states = {c.order_id: c.delivery for c, _ in outcomes}
    for attempt in range(RECORD_ATTEMPTS):
        try:
            async with uow() as work:
                if attempt > 0:
                    states = await work.deliveries.get_many(list(states))
                recorded = [
                    r
                    for claim, outcome in outcomes
                    if claim.order_id in states
                    for r in record_outcome(states[claim.order_id], claim.lease, outcome, policy, now)
                ]
                await work.record(recorded)
                await work.commit()
            return recorded
        except ConcurrencyConflict:
            if attempt == RECORD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def retry_times(recorded: Sequence[Recorded]) -> list[datetime]:
    """When the e-mails that failed in `recorded` fall due again."""
    return [r.event.next_attempt_at for r in recorded if isinstance(r.event, EmailAttemptFailed)]
