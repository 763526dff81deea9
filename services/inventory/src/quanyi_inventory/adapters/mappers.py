"""Inventory's domain events <-> protobuf messages, and recorded events -> the event store's NewEvent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.envelope import NewEvent, datetime_of

from quanyi_inventory.adapters.batch_mappers import tool_event_from_proto, tool_event_to_proto
from quanyi_inventory.adapters.import_job_mappers import PROTOS as JOB_PROTOS
from quanyi_inventory.adapters.import_job_mappers import job_event_from_proto, job_event_to_proto
from quanyi_inventory.adapters.key_life_mappers import PROTOS as KEY_LIFE_PROTOS
from quanyi_inventory.adapters.key_life_mappers import key_life_from_proto, key_life_to_proto
from quanyi_inventory.application.ports import Context
from quanyi_inventory.domain.events import (
    FEFO,
    FIFO,
    MEMBERSHIP,
    POINTS,
    BatchRestored,
    BatchVoided,
    BundleComponent,
    BundleDefined,
    ClaimedKey,
    DataKeysRewrapped,
    Entitlement,
    Event,
    ExpiredKey,
    ImportSource,
    KeyFileImportFinished,
    KeyFileImportProgressed,
    KeyFileImportStarted,
    KeyReserved,
    KeysDelivered,
    KeysExpired,
    KeysExported,
    KeysImported,
    KeysMoved,
    KeysRedeemed,
    KeysRevealed,
    KeysRevealRefused,
    LowStockThresholdSet,
    PoolCreated,
    PoolPriorityChanged,
    ProductCreated,
    Recorded,
    RefundedKeyRedeemed,
    RefundKeysRefused,
    RefundKeysSettled,
    ReservedEntitlement,
    RewrappedBatch,
    ShortLine,
    SkuCreated,
    StockLow,
    StockLowCleared,
    StockShort,
)
from quanyi_inventory.domain.money import Money


def _money(m: Money) -> money_pb2.Money:
    return money_pb2.Money(minor_units=m.minor_units, currency=m.currency)


def _source(source: ImportSource | None) -> pb.ImportSource | None:
    if source is None:
        return None
    return pb.ImportSource(
        file_sha256=source.file_sha256, file_name=source.file_name, format=source.format,
        mode=source.mode, rows=source.rows, bytes=source.bytes,
    )


def _from_source(m: pb.ImportSource) -> ImportSource:
    return ImportSource(m.file_sha256, m.file_name, m.format, m.mode, int(m.rows), int(m.bytes))


def _from_money(m: money_pb2.Money) -> Money:
    return Money(int(m.minor_units), str(m.currency))


_STRATEGY = {FIFO: pb.ALLOCATION_STRATEGY_FIFO, FEFO: pb.ALLOCATION_STRATEGY_FEFO}


def strategy_to_proto(strategy: str) -> pb.AllocationStrategy:
    return _STRATEGY[strategy]


def strategy_from_proto(value: int) -> str:
    """FEFO or FIFO (unset, and values this version does not know, mean FIFO)."""
    return FEFO if value == pb.ALLOCATION_STRATEGY_FEFO else FIFO


def timestamp(at: datetime | None) -> Timestamp | None:
    """A protobuf Timestamp of a timezone-aware time (None stays unset)."""
    if at is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(at.astimezone(UTC))
    return ts


def from_timestamp(message: Message, field: str) -> datetime | None:
    """The UTC time in `message.field`, None when it is unset."""
    if not message.HasField(field):
        return None
    ts: Timestamp = getattr(message, field)
    return datetime_of(ts)


def to_proto(event: Event) -> Message:
    """The protobuf message of a domain event."""
    if isinstance(event, ProductCreated):
        return pb.ProductCreated(product_id=event.product_id, name=event.name, kind=event.kind)
    if isinstance(event, SkuCreated):
        return pb.SkuCreated(
            sku_id=event.sku_id, product_id=event.product_id, name=event.name, price=_money(event.price),
            low_stock_threshold=event.low_stock_threshold,
            allocation_strategy=strategy_to_proto(event.allocation_strategy),
        )
    if isinstance(event, PoolCreated):
        return pb.PoolCreated(
            pool_id=event.pool_id, sku_id=event.sku_id, name=event.name, priority=event.priority
        )
    if isinstance(event, BundleDefined):
        return pb.BundleDefined(
            sku_id=event.sku_id,
            components=[
                *(pb.BundleComponent(sku_id=c.sku_id, quantity=c.quantity) for c in event.components),
                *(entitlement_to_proto(e) for e in event.entitlements),
            ],
        )
    if isinstance(event, PoolPriorityChanged):
        return pb.PoolPriorityChanged(pool_id=event.pool_id, sku_id=event.sku_id, priority=event.priority)
    if isinstance(event, LowStockThresholdSet):
        return pb.LowStockThresholdSet(sku_id=event.sku_id, low_stock_threshold=event.low_stock_threshold)
    if isinstance(event, KeysExpired):
        return pb.KeysExpired(
            sweep_id=event.sweep_id, as_of=timestamp(event.as_of),
            keys=[pb.ExpiredKey(key_id=k.key_id, sku_id=k.sku_id, pool_id=k.pool_id) for k in event.keys],
        )
    if isinstance(event, BatchVoided | BatchRestored | KeysExported | KeysMoved):
        return tool_event_to_proto(event)
    if isinstance(event, KeysDelivered | KeysRedeemed | RefundKeysSettled | RefundKeysRefused
                  | RefundedKeyRedeemed):
        return key_life_to_proto(event)
    if isinstance(event, KeyFileImportStarted | KeyFileImportProgressed | KeyFileImportFinished):
        return job_event_to_proto(event)
    if isinstance(event, KeysImported):
        return pb.KeysImported(
            batch_id=event.batch_id, pool_id=event.pool_id, sku_id=event.sku_id, imported=event.imported,
            duplicates=event.duplicates, unit_cost=_money(event.unit_cost), rejected=event.rejected,
            actor=event.actor, master_key_id=event.master_key_id, channel=event.channel,
            valid_from=timestamp(event.valid_from), expires_at=timestamp(event.expires_at),
            source=_source(event.source),
        )
    if isinstance(event, KeyReserved):
        return pb.KeyReserved(
            order_id=event.order_id, buyer_id=event.buyer_id, buyer_email=event.buyer_email,
            channel=event.channel,
            keys=[
                pb.ReservedKey(
                    key_id=k.key_id, sku_id=k.sku_id, line_no=k.line_no, unit_no=k.unit_no,
                    unit_cost=money_pb2.Money(minor_units=k.unit_cost_minor, currency=k.currency),
                    pool_id=k.pool_id,
                )
                for k in event.keys
            ],
            entitlements=[_reserved_entitlement(r) for r in event.entitlements],
            paid_at=timestamp(event.paid_at),
        )
    if isinstance(event, StockShort):
        return pb.StockShort(
            order_id=event.order_id,
            lines=[
                pb.ShortLine(line_no=s.line_no, sku_id=s.sku_id, wanted=s.wanted, available=s.available)
                for s in event.lines
            ],
        )
    if isinstance(event, StockLow):
        return pb.StockLow(sku_id=event.sku_id, available=event.available, threshold=event.threshold)
    if isinstance(event, StockLowCleared):
        return pb.StockLowCleared(sku_id=event.sku_id, available=event.available, threshold=event.threshold)
    if isinstance(event, KeysRevealed):
        return pb.KeysRevealed(
            reveal_id=event.reveal_id, order_id=event.order_id, key_ids=list(event.key_ids),
            actor=event.actor, purpose=event.purpose, on_behalf_of=event.on_behalf_of,
        )
    if isinstance(event, KeysRevealRefused):
        return pb.KeysRevealRefused(
            attempt_id=event.attempt_id, order_id=event.order_id, identity=event.identity,
            on_behalf_of=event.on_behalf_of, purpose=event.purpose, reason=event.reason,
        )
    if isinstance(event, DataKeysRewrapped):
        return pb.DataKeysRewrapped(
            rotation_id=event.rotation_id, master_key_id=event.master_key_id, actor=event.actor,
            batches=[
                pb.RewrappedBatch(batch_id=b.batch_id, previous_master_key_id=b.previous_master_key_id)
                for b in event.batches
            ],
        )
    raise TypeError(f"not an inventory event: {type(event).__name__}")


def from_proto(message: Message) -> Event | None:
    """The domain event of a protobuf message; None for a message that is not one of inventory's events."""
    m: object = message
    if isinstance(m, pb.ProductCreated):
        return ProductCreated(m.product_id, m.name, m.kind)
    if isinstance(m, pb.SkuCreated):
        return SkuCreated(
            m.sku_id, m.product_id, m.name, _from_money(m.price), int(m.low_stock_threshold),
            strategy_from_proto(m.allocation_strategy),
        )
    if isinstance(m, pb.PoolCreated):
        return PoolCreated(m.pool_id, m.sku_id, m.name, int(m.priority))
    if isinstance(m, pb.BundleDefined):
        keys, entitlements = components_from_proto(m.components)
        return BundleDefined(m.sku_id, keys, entitlements)
    if isinstance(m, pb.PoolPriorityChanged):
        return PoolPriorityChanged(m.pool_id, m.sku_id, int(m.priority))
    if isinstance(m, pb.LowStockThresholdSet):
        return LowStockThresholdSet(m.sku_id, int(m.low_stock_threshold))
    if isinstance(m, pb.KeysExpired):
        as_of = from_timestamp(m, "as_of")
        assert as_of is not None
        return KeysExpired(
            m.sweep_id, as_of, tuple(ExpiredKey(k.key_id, k.sku_id, k.pool_id) for k in m.keys)
        )
    if isinstance(m, pb.BatchVoided | pb.BatchRestored | pb.KeysExported | pb.KeysMoved):
        return tool_event_from_proto(m)
    if isinstance(m, KEY_LIFE_PROTOS):
        return key_life_from_proto(m)
    if isinstance(m, JOB_PROTOS):
        return job_event_from_proto(m)
    if isinstance(m, pb.KeysImported):
        return KeysImported(
            m.batch_id, m.pool_id, m.sku_id, int(m.imported), int(m.duplicates), int(m.rejected),
            _from_money(m.unit_cost), m.actor, m.master_key_id, m.channel,
            from_timestamp(m, "valid_from"), from_timestamp(m, "expires_at"),
            _from_source(m.source) if m.HasField("source") else None,
        )
    if isinstance(m, pb.KeyReserved):
        return KeyReserved(
            m.order_id, m.buyer_id, m.buyer_email, m.channel,
            tuple(
                ClaimedKey(k.key_id, k.sku_id, k.line_no, k.unit_no, int(k.unit_cost.minor_units),
                           k.unit_cost.currency, k.pool_id)
                for k in m.keys
            ),
            tuple(
                ReservedEntitlement(
                    r.line_no, r.unit_no, r.bundle_sku_id,
                    _entitlement(r.points if r.HasField("points") else None,
                                 r.membership if r.HasField("membership") else None),
                )
                for r in m.entitlements
            ),
            from_timestamp(m, "paid_at"),
        )
    if isinstance(m, pb.StockShort):
        return StockShort(
            m.order_id, tuple(ShortLine(s.line_no, s.sku_id, s.wanted, s.available) for s in m.lines)
        )
    if isinstance(m, pb.StockLow):
        return StockLow(m.sku_id, int(m.available), int(m.threshold))
    if isinstance(m, pb.StockLowCleared):
        return StockLowCleared(m.sku_id, int(m.available), int(m.threshold))
    if isinstance(m, pb.KeysRevealed):
        return KeysRevealed(m.reveal_id, m.order_id, tuple(m.key_ids), m.actor, m.purpose, m.on_behalf_of)
    if isinstance(m, pb.KeysRevealRefused):
        return KeysRevealRefused(m.attempt_id, m.order_id, m.identity, m.on_behalf_of, m.purpose, m.reason)
    if isinstance(m, pb.DataKeysRewrapped):
        return DataKeysRewrapped(
            m.rotation_id, m.master_key_id,
            tuple(RewrappedBatch(b.batch_id, b.previous_master_key_id) for b in m.batches), m.actor,
        )
    return None


def new_events(
    changes: Sequence[Recorded], context: Context = Context(), by_cause: Mapping[str, Context] | None = None
) -> list[NewEvent]:
    """The event store's NewEvents of recorded changes; a change with a `cause` found in `by_cause` takes
    that command's ids, the others `context`'s."""
    causes = by_cause or {}
    return [
        NewEvent(
            aggregate_type=change.aggregate_type,
            aggregate_id=change.aggregate_id,
            aggregate_version=change.version,
            payload=to_proto(change.event),
            correlation_id=causes.get(change.cause, context).correlation_id,
            causation_id=causes.get(change.cause, context).causation_id,
        )
        for change in changes
    ]


# -- bundle components ---------------------------------------------------------------------------------


def entitlement_to_proto(e: Entitlement) -> pb.BundleComponent:
    """A points or membership component as a BundleComponent (no SKU, quantity 1)."""
    value = money_pb2.Money(minor_units=e.value_minor, currency=e.currency)
    if e.kind == POINTS:
        return pb.BundleComponent(quantity=1, points=pb.PointsComponent(points=e.points, value=value))
    return pb.BundleComponent(
        quantity=1, membership=pb.MembershipComponent(plan=e.plan, days=e.days, cost=value)
    )


def _reserved_entitlement(r: ReservedEntitlement) -> pb.ReservedEntitlement:
    c = entitlement_to_proto(r.entitlement)
    out = pb.ReservedEntitlement(line_no=r.line_no, unit_no=r.unit_no, bundle_sku_id=r.bundle_sku_id)
    if r.entitlement.kind == POINTS:
        out.points.CopyFrom(c.points)
    else:
        out.membership.CopyFrom(c.membership)
    return out


def _entitlement(
    points: pb.PointsComponent | None, membership: pb.MembershipComponent | None
) -> Entitlement:
    if points is not None:
        return Entitlement(
            POINTS, points=int(points.points), value_minor=int(points.value.minor_units),
            currency=points.value.currency,
        )
    m = membership or pb.MembershipComponent()
    return Entitlement(
        MEMBERSHIP, plan=m.plan, days=int(m.days), value_minor=int(m.cost.minor_units),
        currency=m.cost.currency,
    )


def components_from_proto(
    components: Sequence[pb.BundleComponent],
) -> tuple[tuple[BundleComponent, ...], tuple[Entitlement, ...]]:
    """A bundle's components split into key components and points/membership components (each in the
    order given). A component that sets neither points nor a membership is keys of its SKU."""
    keys: list[BundleComponent] = []
    entitlements: list[Entitlement] = []
    for c in components:
        if c.HasField("points") or c.HasField("membership"):
            entitlements.append(_entitlement(
                c.points if c.HasField("points") else None, c.membership if c.HasField("membership") else None
            ))
        else:
            keys.append(BundleComponent(c.sku_id, int(c.quantity)))
    return tuple(keys), tuple(entitlements)
