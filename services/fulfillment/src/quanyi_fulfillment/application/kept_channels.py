"""Delivering an order's keys on each channel its buyer keeps a target for, without being asked.

The delivery e-mail's first attempt schedules them (ChannelRequested on the order's KeptChannel stream of
each channel the round's contacts named: aggregate.schedule_kept), in the unit of work that records that
attempt: a buyer who keeps no target costs nothing more. Then, as for the e-mail:
1. `claim_due_kept`: one short unit of work claims a batch (ChannelAttemptStarted each, with a lease),
   reads their deliveries' keys, and commits.
2. `attempt_kept`: network I/O only, in no transaction: one look-up of the round's buyers at the gateway
   (the targets, asked now and dropped after the call), one reveal at inventory, then every channel called
   at once, each retrying passing failures itself.
3. `record_kept`: one unit of work records the outcomes: ChannelDelivered, DeliveryFailed (final: orders
   queues the order with the channel as its source), or ChannelCancelled (no target kept any more).
A sender that dies between 1 and 3 leaves its claims open: each falls due again when its lease runs out
(at-least-once; the partner's top-up is idempotent per key, a push per order, a webhook carries one
delivery id per order). A passing outage (gateway, inventory) records nothing: the claim lapses and the
delivery is tried again then.
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
    ChannelAttempt,
    ChannelSender,
    ContactBook,
    ContactsUnavailable,
    InventoryUnavailable,
    KeyRevealer,
    RevealOutcome,
    RevealRefused,
    UnitOfWorkFactory,
)
from quanyi_fulfillment.domain.aggregate import Delivery
from quanyi_fulfillment.domain.delivery import pair_secrets
from quanyi_fulfillment.domain.errors import RevealMismatch
from quanyi_fulfillment.domain.events import Recorded
from quanyi_fulfillment.domain.kept_channels import (
    KeptCancelled,
    KeptDelivered,
    KeptDelivery,
    KeptFailed,
    KeptOutcome,
    evolve_kept,
    finish_kept,
    start_kept,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeptClaim:
    """A delivery on a kept channel this sender claimed (its state includes the claim), with the order's
    delivery (its buyer and keys)."""

    state: KeptDelivery
    delivery: Delivery


@dataclass(frozen=True)
class ClaimedKept:
    claims: list[KeptClaim]
    next_due: datetime | None


async def claim_due_kept(uow: UnitOfWorkFactory, now: datetime, limit: int, lease_s: float) -> ClaimedKept:
    """Claim up to `limit` due deliveries for `lease_s` seconds, in one unit of work that commits at once."""
    async with uow() as work:
        due = await work.kept.claim_due(now, limit)
        deliveries = await work.deliveries.get_many(sorted({s.order_id for s in due.deliveries}))
        claims: list[KeptClaim] = []
        recorded: list[Recorded] = []
        for state in due.deliveries:
            started = start_kept(state, now, lease_s)
            delivery = deliveries.get(state.order_id)
            if started and delivery is not None:
                after = evolve_kept(state, started[0])
                assert after is not None
                recorded.extend(started)
                claims.append(KeptClaim(after, delivery))
        await work.record(recorded)
        await work.commit()
    return ClaimedKept(claims, due.next_due)


async def attempt_kept(
    contacts: ContactBook,
    inventory: KeyRevealer,
    senders: Mapping[str, ChannelSender],
    instructions: Mapping[str, str],
    claims: Sequence[KeptClaim],
) -> list[KeptOutcome | None]:
    """One delivery of each claim, in order: its outcome, or None when it must wait (the gateway or
    inventory could not be asked: the claim lapses and is tried again). The targets and the plaintext live
    in this call's locals only."""
    if not claims:
        return []
    try:
        found = await contacts.contacts(sorted({c.delivery.buyer_id for c in claims}))
    except ContactsUnavailable:
        return [None for _ in claims]
    outcomes: dict[int, KeptOutcome | None] = {}
    targeted: list[tuple[int, KeptClaim, str, ChannelSender]] = []
    for n, claim in enumerate(claims):
        contact = found.get(claim.delivery.buyer_id)
        target = contact.target(claim.state.channel) if isinstance(contact, Address) else None
        sender = senders.get(claim.state.channel)
        if not target:
            outcomes[n] = KeptCancelled(f"the buyer keeps no {claim.state.channel} target")
        elif sender is None:
            outcomes[n] = KeptCancelled(f"channel {claim.state.channel} is not configured")
        else:
            targeted.append((n, claim, target, sender))
    if targeted:
        orders = sorted({c.delivery.order_id for _, c, _, _ in targeted})
        by_order = {c.delivery.order_id: c.delivery for _, c, _, _ in targeted}
        try:
            revealed = await inventory.reveal_orders(
                [(o, [k.key_id for k in by_order[o].keys]) for o in orders]
            )
        except InventoryUnavailable:
            revealed = [InventoryUnavailable("inventory unavailable") for _ in orders]
        secrets = dict(zip(orders, revealed, strict=True))
        sent = await asyncio.gather(*(
            _send(sender, instructions, claim.delivery, target, secrets[claim.delivery.order_id])
            for _, claim, target, sender in targeted
        ))
        outcomes.update((n, o) for (n, _, _, _), o in zip(targeted, sent, strict=True))
    return [outcomes[n] for n in range(len(claims))]


async def _send(
    sender: ChannelSender, instructions: Mapping[str, str], delivery: Delivery, target: str,
    revealed: RevealOutcome,
) -> KeptOutcome | None:
    if isinstance(revealed, InventoryUnavailable):
        return None
    if isinstance(revealed, RevealRefused):
        return KeptFailed(0, f"keys could not be revealed: {type(revealed).__name__}")
    try:
        to_send = pair_secrets([(k.key_id, k.line_no, k.unit_no) for k in delivery.keys], revealed)
    except RevealMismatch as exc:
        return KeptFailed(0, f"keys could not be revealed: {exc}")
    try:
        attempt: ChannelAttempt = await sender.send(target, delivery.order_id, to_send, instructions)
    except Exception as exc:
        # A send that broke is a failed delivery; the type names the cause without quoting it.
        log.error(
            "kept channel send broke", extra={"order_id": delivery.order_id, "error": type(exc).__name__}
        )
        return KeptFailed(1, f"error: {type(exc).__name__}")
    if attempt.failure is None:
        return KeptDelivered(attempt.attempts)
    return KeptFailed(attempt.attempts, attempt.failure)


async def record_kept(
    uow: UnitOfWorkFactory, outcomes: Sequence[tuple[KeptClaim, KeptOutcome | None]], now: datetime
) -> list[Recorded]:
    """Record the outcomes in one unit of work; those of claims that are no longer open (their lease ran
    out and another sender took them) are dropped. Returns the events recorded."""
    ended: list[tuple[KeptClaim, KeptOutcome]] = [(c, o) for c, o in outcomes if o is not None]
    if not ended:
        return []
    states = {(c.state.order_id, c.state.channel): c.state for c, _ in ended}
    for attempt in range(3):
        try:
            async with uow() as work:
                if attempt > 0:
                    states = await work.kept.get_many(list(states))
                recorded = [
                    r
                    for claim, outcome in ended
                    if (key := (claim.state.order_id, claim.state.channel)) in states
                    for r in finish_kept(states[key], claim.state.lease, outcome, now)
                ]
                await work.record(recorded)
                await work.commit()
            return recorded
        except ConcurrencyConflict:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
