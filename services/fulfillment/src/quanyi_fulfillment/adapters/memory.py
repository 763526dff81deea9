"""In-memory fakes of fulfillment's unit of work and repository, for tests of the use cases.

The fake repository folds the fake event log (committed and pending events) with the domain's `evolve`,
decoding each stored payload through the codec: what it returns is what the projections must hold.
Units of work over one log run one at a time (the fake has no concurrency control beyond versions).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from quanyi_platform.uow import InMemoryEventLog, InMemoryUnitOfWork

from quanyi_fulfillment.adapters import codec
from quanyi_fulfillment.application.ports import (
    BuyerEntitlements,
    DueEmails,
    DueKept,
    FulfillmentUnitOfWork,
    MembershipGrant,
    PointsCredit,
)
from quanyi_fulfillment.domain import entitlements, latency
from quanyi_fulfillment.domain.aggregate import Delivery, EmailStatus, fold
from quanyi_fulfillment.domain.entitlements import Membership, PlanKey
from quanyi_fulfillment.domain.errors import KeyAlreadyDelivered
from quanyi_fulfillment.domain.events import (
    DELIVERY,
    KEPT_CHANNEL,
    EntitlementEvent,
    KeyDelivered,
    MembershipGranted,
    MembershipShortened,
    PointsCredited,
    PointsDebited,
    Recorded,
)
from quanyi_fulfillment.domain.kept_channels import KeptDelivery, KeptStatus, evolve_kept


class InMemoryDeliveryRepository:
    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log

    def _all(self) -> dict[str, Delivery]:
        return fold(r for e in self._log.all() if (r := codec.recorded_of(e)) is not None)

    async def get_many(self, order_ids: Collection[str]) -> dict[str, Delivery]:
        states = self._all()
        return {o: states[o] for o in order_ids if o in states}

    async def by_key(self, key_id: str) -> Delivery | None:
        return next((d for d in self._all().values() if d.key(key_id) is not None), None)

    async def for_buyer(
        self,
        buyer_id: str,
        limit: int,
        after: tuple[datetime, str] | None = None,
        order_ids: Collection[str] | None = None,
    ) -> list[Delivery]:
        found = [
            d for d in self._all().values()
            if d.buyer_id == buyer_id and (order_ids is None or d.order_id in order_ids)
            and (after is None or (d.delivered_at, d.order_id) < after)
        ]
        return sorted(found, key=lambda d: (d.delivered_at, d.order_id), reverse=True)[:limit]

    async def order_events(self, order_ids: Collection[str]) -> list[Recorded]:
        wanted = set(order_ids)
        return [
            r for e in self._log.all()
            if e.envelope.correlation_id in wanted and (r := codec.recorded_of(e)) is not None
        ]

    async def claim_due(self, now: datetime, limit: int) -> DueEmails:
        waiting = [
            (d.email.next_attempt_at, d.order_id, d)
            for d in self._all().values()
            if d.email is not None and d.email.status in (EmailStatus.PENDING, EmailStatus.SENDING)
        ]
        due = sorted((at, o, d) for at, o, d in waiting if at <= now)
        later = [at for at, _, _ in waiting if at > now]
        return DueEmails([d for _, _, d in due[:limit]], min(later) if later else None)

    def owners(self) -> dict[str, str]:
        """Which order each delivered key is in."""
        return {k: d.order_id for d in self._all().values() for k in d.key_ids}


class InMemoryKeptChannelRepository:
    """The kept-channel queue folded from the fake log (domain.kept_channels.evolve_kept)."""

    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log

    def _in_hand(self) -> dict[tuple[str, str], KeptDelivery]:
        states: dict[str, KeptDelivery | None] = {}
        for e in self._log.all():
            r = codec.recorded_of(e)
            if r is not None and r.stream == KEPT_CHANNEL:
                states[r.stream_id] = evolve_kept(states.get(r.stream_id), r)
        return {
            (s.order_id, s.channel): s
            for s in states.values()
            if s is not None and s.status is not KeptStatus.DONE
        }

    async def claim_due(self, now: datetime, limit: int) -> DueKept:
        waiting = sorted(self._in_hand().values(), key=lambda s: (s.due_at, s.order_id, s.channel))
        later = [s.due_at for s in waiting if s.due_at > now]
        return DueKept([s for s in waiting if s.due_at <= now][:limit], min(later) if later else None)

    async def get_many(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], KeptDelivery]:
        in_hand = self._in_hand()
        return {k: in_hand[k] for k in keys if k in in_hand}


class InMemoryEntitlementRepository:
    """Points and memberships folded from the fake log (domain.entitlements)."""

    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log

    def _records(self) -> list[Recorded]:
        return [
            r for e in self._log.all()
            if (r := codec.recorded_of(e)) is not None
            and isinstance(r.event, EntitlementEvent)
        ]

    async def memberships(self, keys: Collection[PlanKey]) -> dict[PlanKey, Membership]:
        states = entitlements.fold(self._records())
        return {k: states[k] for k in keys if k in states}

    async def granted_orders(self, order_ids: Collection[str]) -> set[str]:
        return {r.order_id for r in self._records()} & set(order_ids)

    async def for_buyer(self, buyer_id: str) -> BuyerEntitlements:
        records = self._records()
        credits = [
            r.event for r in records if isinstance(r.event, PointsCredited) and r.event.buyer_id == buyer_id
        ]
        grants = sorted(
            ((r.event, r.version) for r in records
             if isinstance(r.event, MembershipGranted) and r.event.buyer_id == buyer_id),
            key=lambda x: (x[0].plan, x[1]),
        )
        debits = {
            (r.event.order_id, r.event.line_no, r.event.unit_no): r.event for r in records
            if isinstance(r.event, PointsDebited) and r.event.buyer_id == buyer_id
        }
        cuts = {
            (r.event.order_id, r.event.line_no, r.event.unit_no): r.event.at for r in records
            if isinstance(r.event, MembershipShortened) and r.event.buyer_id == buyer_id
        }
        states = entitlements.fold(records)
        return BuyerEntitlements(
            sum(c.points for c in credits) - sum(d.points for d in debits.values()),
            [
                PointsCredit(
                    c.order_id, c.line_no, c.unit_no, c.points, c.at,
                    d.at if (d := debits.get((c.order_id, c.line_no, c.unit_no))) is not None else None,
                )
                for c in sorted(credits, key=lambda c: (c.at, c.order_id, c.line_no, c.unit_no))
            ],
            [states[k] for k in sorted(states) if k[0] == buyer_id],
            [
                MembershipGrant(
                    g.order_id, g.line_no, g.unit_no, g.plan, g.days, g.valid_from, g.valid_until,
                    cuts.get((g.order_id, g.line_no, g.unit_no)),
                )
                for g, _ in grants
            ],
        )


class InMemoryLatencyRepository:
    """The latencies folded from the log's KeyDelivered, first per order, as the projection keeps them."""

    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log

    async def stats(self, start: datetime, end: datetime, bucket: str) -> list[latency.LatencyStats]:
        found: dict[str, latency.Latency] = {}
        for e in self._log.all():
            r = codec.recorded_of(e)
            if r is not None and r.stream == DELIVERY and isinstance(r.event, KeyDelivered):
                x = latency.of(r.event)
                if x is not None:
                    found.setdefault(x.order_id, x)
        return latency.stats([x for x in found.values() if start <= x.delivered_at < end], bucket)


class InMemoryFulfillmentUnitOfWork(InMemoryUnitOfWork, FulfillmentUnitOfWork):
    """Give every unit of work of one test the same InMemoryEventLog."""

    deliveries: InMemoryDeliveryRepository
    kept: InMemoryKeptChannelRepository
    entitlements: InMemoryEntitlementRepository
    latency: InMemoryLatencyRepository

    def __init__(self, events: InMemoryEventLog | None = None) -> None:
        super().__init__(events)
        self.deliveries = InMemoryDeliveryRepository(self.events)
        self.kept = InMemoryKeptChannelRepository(self.events)
        self.entitlements = InMemoryEntitlementRepository(self.events)
        self.latency = InMemoryLatencyRepository(self.events)

    async def record(self, records: Sequence[Recorded]) -> None:
        if not records:
            return
        owner = self.deliveries.owners()
        for r in records:
            if isinstance(r.event, KeyDelivered):
                for k in r.event.keys:
                    if owner.setdefault(k.key_id, r.order_id) != r.order_id:
                        raise KeyAlreadyDelivered("a delivered key is already another order's")
        await self.events.append([codec.new_event(r) for r in records])
