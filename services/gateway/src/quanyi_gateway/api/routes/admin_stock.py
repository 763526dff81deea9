"""The back office's charts as data: a SKU's stock over time (its burn-down, from inventory's
`stock_daily`) and its low-stock threshold, which an operator who manages the catalogue sets; and the
delivery latency's percentiles (fulfillment's `delivery_latency`). The back office draws the same data."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb

from quanyi_gateway.adapters import mappers
from quanyi_gateway.api import presenters
from quanyi_gateway.api.deps import Allowed, JsonBody, PeersDep, get_current_admin
from quanyi_gateway.api.problems import responses
from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.models import Input, SkuPublic

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(get_current_admin)],
    responses=responses(401, 403, 503),
)

#: The longest history one request covers (inventory's limit too).
MAX_HISTORY_DAYS = 366
#: The largest threshold taken: far above any pool, far below what a bigint holds.
MAX_THRESHOLD = 1_000_000_000
#: The longest latency report, in hours (90 days).
MAX_LATENCY_HOURS = 90 * 24
Bucket = Literal["hour", "day"]
BUCKETS = {"hour": fulfillment_pb.LATENCY_BUCKET_HOUR, "day": fulfillment_pb.LATENCY_BUCKET_DAY}


class StockDayPublic(BaseModel):
    day: str = Field(description="UTC day, YYYY-MM-DD.")
    available: int = Field(description="Keys available at the end of the day.")
    imported: int
    reserved: int
    released: int = Field(description="Reserved keys a refund made available again.")
    expired: int
    voided: int = Field(description="Voided less restored (may be negative).")
    moved: int = Field(description="Moved in less moved out (may be negative).")


class StockHistoryPublic(BaseModel):
    sku_id: str
    low_stock_threshold: int
    days: list[StockDayPublic]


class LowStockThresholdUpdate(Input):
    low_stock_threshold: int = Field(ge=0, le=MAX_THRESHOLD, description="0: never reported low.")


class SkuThresholdPublic(SkuPublic):
    low_stock_threshold: int


def history_range(days: int, today: datetime | None = None) -> tuple[str, str]:
    """The `days` UTC days ending today, as (first, last)."""
    last = (today or datetime.now(UTC)).astimezone(UTC).date()
    return (last - timedelta(days=days - 1)).isoformat(), last.isoformat()


async def stock_history(peers: PeersDep, sku_id: str, days: int) -> StockHistoryPublic:
    """The SKU (for its threshold) and its days, asked of inventory at once."""
    first, last = history_range(days)
    sku, history = await asyncio.gather(
        peers.inventory.GetSku(inventory_pb.GetSkuRequest(sku_id=sku_id)),
        peers.inventory.GetStockHistory(
            inventory_pb.GetStockHistoryRequest(sku_id=sku_id, from_day=first, to_day=last)
        ),
    )
    return StockHistoryPublic(
        sku_id=sku_id,
        low_stock_threshold=sku.sku.low_stock_threshold,
        days=[
            StockDayPublic(
                day=d.day, available=d.available, imported=d.imported, reserved=d.reserved,
                released=d.released, expired=d.expired, voided=d.voided, moved=d.moved,
            )
            for d in history.days
        ],
    )


@router.get(
    "/skus/{sku_id}/stock-history", dependencies=[Allowed(P.CATALOGUE_READ)], responses=responses(404, 422)
)
async def get_stock_history(
    sku_id: PathId, peers: PeersDep, days: Annotated[int, Query(ge=1, le=MAX_HISTORY_DAYS)] = 30
) -> StockHistoryPublic:
    """A SKU's available keys at the end of each of the last `days` UTC days, and what moved them."""
    return await stock_history(peers, sku_id, days)


@router.put(
    "/skus/{sku_id}/low-stock-threshold",
    dependencies=[Allowed(P.CATALOGUE_WRITE), JsonBody],
    responses=responses(404, 415, 422),
)
async def set_low_stock_threshold(
    sku_id: PathId, body: LowStockThresholdUpdate, peers: PeersDep
) -> SkuThresholdPublic:
    """Set the available keys at which the SKU is reported low (0: never)."""
    reply = await peers.inventory.SetLowStockThreshold(
        inventory_pb.SetLowStockThresholdRequest(sku_id=sku_id, low_stock_threshold=body.low_stock_threshold)
    )
    sku = presenters.sku(mappers.sku_stock(reply.sku))
    return SkuThresholdPublic(**sku.model_dump(), low_stock_threshold=reply.sku.low_stock_threshold)


class LatencyBucketPublic(BaseModel):
    start: str = Field(description="The hour's or UTC day's start, RFC 3339.")
    orders: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


class DeliveryLatencyPublic(BaseModel):
    since: Literal["paid"] = Field(
        description="Latency is measured from payment to the first keys delivered (from the keys' "
        "reservation for records that do not say when the order was paid)."
    )
    bucket: Bucket
    buckets: list[LatencyBucketPublic]


async def delivery_latency(peers: PeersDep, hours: int, bucket: Bucket) -> DeliveryLatencyPublic:
    """The percentiles over the last `hours` hours, per hour or day, from fulfillment."""
    end = datetime.now(UTC)
    reply = await peers.fulfillment.GetDeliveryLatency(
        fulfillment_pb.GetDeliveryLatencyRequest(
            from_time=(end - timedelta(hours=hours)).isoformat(),
            to_time=end.isoformat(),
            bucket=BUCKETS[bucket],
        )
    )
    return DeliveryLatencyPublic(
        since="paid",
        bucket=bucket,
        buckets=[
            LatencyBucketPublic(
                start=b.start, orders=b.orders, p50_ms=b.p50_ms, p95_ms=b.p95_ms, p99_ms=b.p99_ms
            )
            for b in reply.buckets
        ],
    )


@router.get(
    "/reports/delivery-latency", dependencies=[Allowed(P.ORDERS_READ)], responses=responses(422)
)
async def get_delivery_latency(
    peers: PeersDep,
    hours: Annotated[int, Query(ge=1, le=MAX_LATENCY_HOURS)] = 24,
    bucket: Bucket = "hour",
) -> DeliveryLatencyPublic:
    """Delivery latency from payment to the first keys delivered: p50, p95 and p99 per hour or day."""
    return await delivery_latency(peers, hours, bucket)
