"""An order's keys after their reservation: fulfillment's deliveries and redemptions, and orders' refunds,
a batch at a time in one unit of work."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from quanyi_inventory.application.ports import Context, InventoryUnitOfWork
from quanyi_inventory.domain.events import Recorded, RefundedKeyRedeemed, RefundKeysRefused, RefundKeysSettled
from quanyi_inventory.domain.key_life import Command, SettleRefund, decide_all

log = logging.getLogger(__name__)


async def change_held_keys(
    uow: InventoryUnitOfWork, commands: Sequence[tuple[Command, Context]]
) -> list[Recorded]:
    """Decide a batch of deliveries, redemptions and refunds in order, on the state of their orders' keys
    read (and locked) at once, and append what changed in one append (with each command's correlation and
    causation ids). Returns the recorded events.

    A report that changes nothing (repeated, or about keys the order no longer holds) records nothing, but
    a redemption of a key a refund of the order took back records RefundedKeyRedeemed once; a
    refund is settled or refused once (a version of its order's Allocation stream: another writer that
    changed the order first makes the append conflict, and the batch is decided again)."""
    if not commands:
        return []
    contexts = {command.event_id: context for command, context in commands}
    async with uow:
        states = await uow.held_keys.lock({command.order_id for command, _ in commands})
        refunds = [command for command, _ in commands if isinstance(command, SettleRefund)]
        refunded_skus = {line.sku_id for command in refunds for line in command.lines}
        bundles = await uow.catalogue.bundles(refunded_skus) if refunded_skus else {}
        recorded = decide_all(states, [command for command, _ in commands], bundles)
        await uow.record(recorded, by_cause=contexts)
        await uow.commit()
    for r in recorded:
        if isinstance(r.event, RefundKeysRefused):
            log.warning("refund's keys refused", extra={
                "order_id": r.event.order_id, "refund_id": r.event.refund_id, "reason": r.event.reason})
        elif isinstance(r.event, RefundedKeyRedeemed):
            # A refunded buyer's key was used all the same: a loss orders puts before an operator. Ids only.
            log.warning("a key was redeemed after its refund took it back", extra={
                "order_id": r.event.order_id, "key_id": r.event.key.key_id, "sku_id": r.event.key.sku_id,
                "refund_id": r.event.refund_id, "taken": r.event.taken, "partner": r.event.partner})
        elif isinstance(r.event, RefundKeysSettled) and r.event.redeemed:
            log.warning("redeemed keys refunded on an operator's override", extra={
                "order_id": r.event.order_id, "refund_id": r.event.refund_id, "actor": r.event.actor,
                "keys": len(r.event.redeemed)})
    missing = {c.order_id for c, _ in commands} - set(states)
    if missing:
        log.warning("key changes for orders without an allocation ignored", extra={"orders": len(missing)})
    return recorded
