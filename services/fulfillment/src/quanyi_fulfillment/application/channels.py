"""Delivering an order's keys on demand on another channel: a resend asked by a buyer or an operator, or an
operator's re-drive after a channel gave up.

1. One unit of work records ChannelRequested (its own stream, so requests never contend with the e-mail
   sender on the order's Delivery stream) and commits.
2. Network I/O only: reveal the keys from inventory (which audits the reveal), hand them to the channel,
   which retries passing failures with backoff and jitter. The target and the plaintext live in this
   call's locals only.
3. One unit of work records the outcome: ChannelDelivered, or DeliveryFailed (final, with the channel and
   the reason), which orders turns into an exception-queue entry.

A process that dies between 1 and 3 leaves a request without an outcome; the caller sees an error and may
ask again (the partner's top-up is idempotent per key; a webhook carries one delivery id per order).

A request without a target uses the one the buyer keeps with the gateway for that channel, asked at this
moment like the delivery e-mail's address (BuyerContactsService) and dropped after the call: the e-mail
address, or a kept phone number, webhook URL, partner account or device. So an operator re-drives a
channel that gave up without ever seeing the buyer's target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import uuid_utils

from quanyi_fulfillment.application.ports import (
    Address,
    ChannelAttempt,
    ChannelSender,
    ContactBook,
    InventoryUnavailable,
    KeyRevealer,
    Mailer,
    MailNotSent,
    RevealRefused,
    UnitOfWorkFactory,
)
from quanyi_fulfillment.domain.aggregate import DeliveredKey, channel_outcome, request_channel
from quanyi_fulfillment.domain.delivery import EMAIL, KeyToSend, pair_secrets
from quanyi_fulfillment.domain.errors import DeliveryNotFound, InvalidChannelRequest, RevealMismatch
from quanyi_fulfillment.domain.mail import render_delivery, scrub


@dataclass(frozen=True)
class ChannelResult:
    request_id: str
    delivered: bool
    attempts: int
    reason: str


async def deliver_on_channel(
    uow: UnitOfWorkFactory,
    inventory: KeyRevealer,
    senders: Mapping[str, ChannelSender],
    instructions: Mapping[str, str],
    order_id: str,
    channel: str,
    target: str,
    requested_by: str,
    clock: Callable[[], datetime],
    contacts: ContactBook | None = None,
) -> ChannelResult:
    """Deliver `order_id`'s keys on `channel` to `target` now (an empty target: the one the buyer keeps,
    from `contacts`). Raises DeliveryNotFound (no delivered keys), InvalidChannelRequest (unknown or
    unconfigured channel, no target given or kept, empty requester) and ContactsUnavailable."""
    if not target.strip():
        target = await _kept_target(uow, contacts, order_id, channel)
    now = clock()
    sender = senders.get(channel)
    async with uow() as work:
        state = (await work.deliveries.get_many([order_id])).get(order_id)
        requested = request_channel(state, str(uuid_utils.uuid7()), channel, requested_by, now)
        if sender is None:
            raise InvalidChannelRequest(f"channel {channel} is not configured")
        await work.record(requested)
        await work.commit()
    assert state is not None  # request_channel raised DeliveryNotFound otherwise
    attempt = await _attempt(inventory, sender, instructions, state.order_id, target, state.keys)
    async with uow() as work:
        await work.record(channel_outcome(requested[0], attempt.attempts, attempt.failure, clock()))
        await work.commit()
    return ChannelResult(
        requested[0].stream_id, attempt.failure is None, attempt.attempts, attempt.failure or ""
    )


async def _kept_target(
    uow: UnitOfWorkFactory, contacts: ContactBook | None, order_id: str, channel: str
) -> str:
    """The target the order's buyer keeps for `channel`, asked of the gateway now (never kept here)."""
    if contacts is None:
        raise InvalidChannelRequest("target is required")
    async with uow() as work:
        state = (await work.deliveries.get_many([order_id])).get(order_id)
    if state is None:
        raise DeliveryNotFound(order_id)
    found = (await contacts.contacts([state.buyer_id])).get(state.buyer_id)
    kept = found.target(channel) if isinstance(found, Address) else None
    if not kept:
        what = "e-mail address" if channel == EMAIL else f"{channel} target"
        raise InvalidChannelRequest(f"the buyer keeps no {what}: give a target")
    return kept


class EmailOnDemand:
    """The e-mail as an on-demand channel (a re-drive after the delivery e-mail gave up, or a resend to
    another address): the delivery e-mail, rendered as the sender renders it, handed to the mail server
    once (the mailer keeps its connections; an operator re-drives again if it fails)."""

    def __init__(self, mailer: Mailer) -> None:
        self._mailer = mailer

    async def send(
        self, target: str, order_id: str, keys: Sequence[KeyToSend], instructions: Mapping[str, str]
    ) -> ChannelAttempt:
        try:
            await self._mailer.send(target, render_delivery(order_id, keys, instructions))
        except MailNotSent as exc:
            return ChannelAttempt(1, scrub(exc.reason, keys))
        return ChannelAttempt(1)


async def _attempt(
    inventory: KeyRevealer,
    sender: ChannelSender,
    instructions: Mapping[str, str],
    order_id: str,
    target: str,
    delivered: Sequence[DeliveredKey],
) -> ChannelAttempt:
    try:
        [revealed] = await inventory.reveal_orders([(order_id, [k.key_id for k in delivered])])
    except InventoryUnavailable:
        return ChannelAttempt(0, "keys could not be revealed: inventory unavailable")
    if isinstance(revealed, InventoryUnavailable | RevealRefused):
        return ChannelAttempt(0, f"keys could not be revealed: {type(revealed).__name__}")
    try:
        to_send = pair_secrets([(k.key_id, k.line_no, k.unit_no) for k in delivered], revealed)
    except RevealMismatch as exc:
        return ChannelAttempt(0, f"keys could not be revealed: {exc}")
    return await sender.send(target, order_id, to_send, instructions)

