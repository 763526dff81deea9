"""Recording redemptions reported by partners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import EventStore

from quanyi_fulfillment.adapters import repository as repo
from quanyi_fulfillment.adapters.repository import DeliveryRow
from quanyi_fulfillment.domain.errors import DeliveryNotFound
from quanyi_fulfillment.domain.redemption import RedemptionReport, is_duplicate, rfc3339


@dataclass(frozen=True)
class RedemptionResult:
    delivery: DeliveryRow
    duplicate: bool


async def record_redemption(
    conn: AsyncConnection[Any], store: EventStore, report: RedemptionReport
) -> RedemptionResult:
    """Mark a delivered key redeemed and record Redeemed, once; a repeat changes nothing and says so.

    The delivery row is locked, so two concurrent reports of one key yield one Redeemed.
    Raises DeliveryNotFound when no delivered key has this id.
    """
    row = await repo.lock_delivery(conn, report.key_id)
    if row is None:
        raise DeliveryNotFound(f"no delivered key {report.key_id}")
    if is_duplicate(row.redeemed_at):
        return RedemptionResult(row, duplicate=True)
    row = await repo.mark_redeemed(conn, report.key_id, report.partner, report.redeemed_at)
    await store.append(
        conn,
        [
            NewEvent(
                aggregate_type="Redemption",
                aggregate_id=report.key_id,
                aggregate_version=1,
                payload=fulfillment_events.Redeemed(
                    key_id=report.key_id,
                    order_id=row.order_id,
                    partner=report.partner,
                    redeemed_at=rfc3339(report.redeemed_at),
                ),
                correlation_id=row.order_id,
            )
        ],
    )
    return RedemptionResult(row, duplicate=False)
