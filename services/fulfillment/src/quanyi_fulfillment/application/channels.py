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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import uuid_utils

from quanyi_fulfillment.application.ports import (
    ChannelAttempt,
    ChannelSender,
    InventoryUnavailable,
    KeyRevealer,
    RevealRefused,
    UnitOfWorkFactory,
)
from quanyi_fulfillment.domain.aggregate import DeliveredKey, channel_outcome, request_channel
from quanyi_fulfillment.domain.delivery import pair_secrets
from quanyi_fulfillment.domain.errors import InvalidChannelRequest, RevealMismatch


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
) -> ChannelResult:
    """Deliver `order_id`'s keys on `channel` to `target` now. Raises DeliveryNotFound (no delivered keys)
    and InvalidChannelRequest (unknown or unconfigured channel, empty target or requester)."""
    now = clock()
    if not target.strip():
        raise InvalidChannelRequest("target is required")
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

