"""Proto <-> domain for the operator tools' events (BatchVoided, BatchRestored, KeysMoved, KeysExported)."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.inventory.v1 import events_pb2 as pb

from quanyi_inventory.domain.events import BatchRestored, BatchVoided, KeysExported, KeysMoved

ToolEvent = BatchVoided | BatchRestored | KeysExported | KeysMoved
ToolMessage = pb.BatchVoided | pb.BatchRestored | pb.KeysExported | pb.KeysMoved


def _timestamp(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    t = Timestamp()
    t.FromDatetime(at)
    return t


def tool_event_to_proto(event: ToolEvent) -> ToolMessage:
    if isinstance(event, BatchVoided):
        return pb.BatchVoided(batch_id=event.batch_id, pool_id=event.pool_id, sku_id=event.sku_id,
                              keys=event.keys, actor=event.actor, reason=event.reason)
    if isinstance(event, KeysMoved):
        return pb.KeysMoved(batch_id=event.batch_id, from_pool_id=event.from_pool_id,
                            from_sku_id=event.from_sku_id, to_pool_id=event.to_pool_id,
                            to_sku_id=event.to_sku_id, keys=event.keys, actor=event.actor)
    if isinstance(event, BatchRestored):
        return pb.BatchRestored(batch_id=event.batch_id, pool_id=event.pool_id, sku_id=event.sku_id,
                                keys=event.keys, actor=event.actor)
    return pb.KeysExported(export_id=event.export_id, actor=event.actor, batch_id=event.batch_id,
                           pool_id=event.pool_id, state=event.state,
                           expires_before=_timestamp(event.expires_before), keys=event.keys)


def tool_event_from_proto(m: ToolMessage) -> ToolEvent:
    if isinstance(m, pb.BatchVoided):
        return BatchVoided(m.batch_id, m.pool_id, m.sku_id, int(m.keys), m.actor, m.reason)
    if isinstance(m, pb.KeysMoved):
        return KeysMoved(m.batch_id, m.from_pool_id, m.from_sku_id, m.to_pool_id, m.to_sku_id, int(m.keys),
                         m.actor)
    if isinstance(m, pb.BatchRestored):
        return BatchRestored(m.batch_id, m.pool_id, m.sku_id, int(m.keys), m.actor)
    before = m.expires_before.ToDatetime(tzinfo=UTC) if m.HasField("expires_before") else None
    return KeysExported(m.export_id, m.actor, m.batch_id, m.pool_id, m.state, before, int(m.keys))
