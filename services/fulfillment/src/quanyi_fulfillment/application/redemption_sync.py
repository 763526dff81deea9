"""The periodic redemption sync: read the partner's feed of used keys and mark them redeemed.

The same path as the partner's callback (`record_redemption`): a key is redeemed once, a repeat is a
duplicate, and a key never delivered raises the alert. The partner may only report keys of its own SKUs
(`skus`, as the gateway scopes the callback): a delivered key of another SKU is skipped and counted. The
cursor is the partner's; re-reading a page (after a restart) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from quanyi_fulfillment.application.ports import RedemptionFeed, UnitOfWorkFactory
from quanyi_fulfillment.application.redeem import record_redemption
from quanyi_fulfillment.domain.errors import DeliveryNotFound, InvalidRedemption
from quanyi_fulfillment.domain.redemption import parse_report

MAX_PAGES = 100  # per poll; the next poll carries on from the cursor


@dataclass
class SyncResult:
    cursor: str
    recorded: int = 0
    duplicates: int = 0
    out_of_scope: int = 0
    alerts: int = 0
    invalid: int = 0


async def sync_redemptions(
    uow: UnitOfWorkFactory,
    feed: RedemptionFeed,
    partner: str,
    skus: Collection[str],
    cursor: str,
    clock: Callable[[], datetime],
) -> SyncResult:
    """Apply the feed after `cursor`, page by page; returns the counts and the cursor to poll from next.
    Raises FeedUnavailable (what was applied stays applied; the caller keeps its last cursor)."""
    result = SyncResult(cursor)
    for _ in range(MAX_PAGES):
        page = await feed.since(result.cursor)
        for item in page.items:
            try:
                report = parse_report(item.key_id, partner, item.redeemed_at, clock())
            except InvalidRedemption:
                result.invalid += 1
                continue
            async with uow() as work:
                delivery = await work.deliveries.by_key(item.key_id)
            key = delivery.key(item.key_id) if delivery is not None else None
            if key is not None and key.sku_id not in skus:
                result.out_of_scope += 1
                continue
            try:
                done = await record_redemption(uow, report, clock())
            except DeliveryNotFound:
                result.alerts += 1
                continue
            if done.duplicate:
                result.duplicates += 1
            else:
                result.recorded += 1
        moved = page.next_cursor != result.cursor
        result.cursor = page.next_cursor
        if not page.items or not moved:
            break
    return result
