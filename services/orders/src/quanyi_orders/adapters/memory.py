"""Orders' ports in memory: fakes that fold the fake event log, for tests of the application.

They refuse what the Postgres tables' constraints refuse (a taken idempotency key, a nonce or provider
transaction accepted twice), so the application meets the same errors on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from quanyi_platform.envelope import Envelope, NewEvent
from quanyi_platform.eventstore import ConcurrencyConflict
from quanyi_platform.projection import StoredEvent
from quanyi_platform.uow import InMemoryEventLog, InMemoryUnitOfWork

from quanyi_orders.adapters import coupon_mapping
from quanyi_orders.adapters.history import history_event
from quanyi_orders.adapters.proto_mapping import (
    NOTICE_ACCEPTED,
    ORDER_EVENT_TYPES,
    event_from_proto,
    notice_from_proto,
)
from quanyi_orders.application.ports import (
    CouponRepository,
    HistoryEvent,
    HoldRepository,
    IdempotencyKeyUsed,
    NoticeFacts,
    OrderRepository,
    OrdersUnitOfWork,
    QueueEntry,
    SagaRepository,
    queue_entry,
)
from quanyi_orders.domain import coupon as coupon_domain
from quanyi_orders.domain import refund as refund_domain
from quanyi_orders.domain.coupon import Coupon, CouponCreated, Usage, code_key
from quanyi_orders.domain.events import (
    OrderCancelled,
    OrderExpired,
    OrderPaid,
    OrderPlaced,
    OrderQueued,
    OrderRefunded,
    PaymentCaptured,
    PaymentNoticeAccepted,
    QueueEntryResolved,
    RefundDeclined,
    RefundKeysCleared,
    RefundRequested,
    RefundSent,
    RefundSucceeded,
)
from quanyi_orders.domain.holds import Holds, units
from quanyi_orders.domain.order import Order, Status, evolve
from quanyi_orders.projections.orders import _due_change


class _Record:
    """What the fake's tables would hold: every order folded, notices and payments, from stored events."""

    def __init__(self, stored: Sequence[StoredEvent]) -> None:
        self.orders: dict[str, Order] = {}
        self.notices: dict[tuple[str, str], PaymentNoticeAccepted] = {}
        self.payments: dict[tuple[str, str], str] = {}
        self.keys: dict[tuple[str, str], str] = {}
        self.refunds: dict[str, refund_domain.Refund] = {}
        self.due: dict[tuple[str, str], datetime] = {}
        self.queue: dict[str, tuple[str, str, datetime, str | None, str | None]] = {}
        self.holds: dict[str, tuple[str, str, dict[str, int]]] = {}  # order -> buyer, client, units
        for e in stored:
            self.add(e)

    def add(self, e: StoredEvent) -> None:
        if e.type == NOTICE_ACCEPTED:
            n = notice_from_proto(e.payload)
            if (n.provider, n.nonce) in self.notices:
                raise ConcurrencyConflict("payment notice accepted already")
            self.notices[(n.provider, n.nonce)] = n
            return
        if e.type not in ORDER_EVENT_TYPES:
            return
        ev = event_from_proto(e.payload, e.occurred_at)
        if isinstance(ev, OrderPlaced) and ev.order_id in self.orders:
            raise ConcurrencyConflict("order placed already")
        if isinstance(ev, OrderPlaced) and ev.idempotency_key:
            key = (ev.buyer_id, ev.idempotency_key)
            if key in self.keys:
                raise IdempotencyKeyUsed()
            self.keys[key] = ev.order_id
        if isinstance(ev, PaymentCaptured):
            if (ev.provider, ev.txn_id) in self.payments:
                raise ConcurrencyConflict("provider transaction captured already")
            self.payments[(ev.provider, ev.txn_id)] = ev.order_id
        if isinstance(ev, OrderPlaced) or ev.order_id in self.orders:
            # Like the projection's UPDATE, an event of an order that has no row changes no row.
            self.orders[ev.order_id] = evolve(self.orders.get(ev.order_id), ev)
        if isinstance(ev, OrderPlaced):
            self.holds[ev.order_id] = (ev.buyer_id, ev.client_tag, units(ev.lines))
        elif isinstance(ev, OrderPaid | OrderCancelled | OrderExpired | OrderRefunded):
            self.holds.pop(ev.order_id, None)
        if isinstance(ev, RefundRequested):
            self.refunds[ev.refund_id] = refund_domain.requested(ev)
        elif isinstance(ev, RefundSent | RefundSucceeded | RefundKeysCleared | RefundDeclined) \
                and ev.refund_id in self.refunds:
            self.refunds[ev.refund_id] = refund_domain.evolve(self.refunds[ev.refund_id], ev)
        if isinstance(ev, OrderQueued):
            self.queue[ev.order_id] = (ev.reason, ev.source, e.occurred_at, None, None)
        elif isinstance(ev, QueueEntryResolved) and ev.order_id in self.queue:
            reason, source, at, _, _ = self.queue[ev.order_id]
            self.queue[ev.order_id] = (reason, source, at, ev.action, ev.actor)
        for key, due_at in _due_change(ev, e.occurred_at):
            if due_at is None:
                self.due.pop(key, None)
            else:
                self.due[key] = due_at


class InMemoryOrdersEventLog(InMemoryEventLog):
    """The fake event store, refusing what orders' tables refuse."""

    async def append(self, events: Sequence[NewEvent]) -> list[Envelope]:
        before = len(self.pending)
        envs = await super().append(events)
        try:
            _Record(self.all())
        except (IdempotencyKeyUsed, ConcurrencyConflict):
            del self.pending[before:]
            raise
        return envs


class InMemoryOrderRepository(OrderRepository):
    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log

    def _record(self) -> _Record:
        return _Record(self._log.all())

    async def get(self, order_id: str) -> Order | None:
        return self._record().orders.get(order_id)

    async def get_many_for_update(self, order_ids: Sequence[str]) -> dict[str, Order]:
        orders = self._record().orders
        return {i: orders[i] for i in order_ids if i in orders}

    async def get_for_payment_notice(
        self, order_id: str, provider: str, nonce: str, txn_id: str
    ) -> tuple[Order | None, NoticeFacts]:
        record = self._record()
        order = record.orders.get(order_id)
        if order is None:
            return None, NoticeFacts(nonce_seen=False, txn_order_id=None)
        facts = NoticeFacts((provider, nonce) in record.notices, record.payments.get((provider, txn_id)))
        return order, facts

    async def get_for_payment_notices(
        self, notices: Sequence[tuple[str, str, str, str]]
    ) -> tuple[dict[str, Order], list[NoticeFacts]]:
        record = self._record()
        orders = {o: record.orders[o] for o, _, _, _ in notices if o in record.orders}
        facts = [
            NoticeFacts((provider, nonce) in record.notices, record.payments.get((provider, txn_id)))
            for _, provider, nonce, txn_id in notices
        ]
        return orders, facts

    async def by_idempotency_keys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Order]:
        record = self._record()
        return {k: record.orders[record.keys[k]] for k in keys if k in record.keys}

    async def by_idempotency_key(self, buyer_id: str, key: str) -> Order | None:
        record = self._record()
        order_id = record.keys.get((buyer_id, key))
        return None if order_id is None else record.orders[order_id]

    async def list_for_buyer(
        self, buyer_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[Order]:
        mine = [
            o for o in self._record().orders.values()
            if o.buyer_id == buyer_id and (before is None or (o.placed_at, o.order_id) < before)
        ]
        mine.sort(key=lambda o: (o.placed_at, o.order_id), reverse=True)
        return mine[:limit]

    async def history(self, order_id: str) -> list[HistoryEvent]:
        return [
            history_event(e.envelope.SerializeToString(), e.occurred_at)
            for e in self._log.all() if e.envelope.correlation_id == order_id
        ]

    async def search(
        self, channel: str, status: str, limit: int, before: tuple[datetime, str] | None
    ) -> list[Order]:
        found = [
            o for o in self._record().orders.values()
            if (not channel or o.channel == channel) and (not status or o.status.value == status)
            and (before is None or (o.placed_at, o.order_id) < before)
        ]
        found.sort(key=lambda o: (o.placed_at, o.order_id), reverse=True)
        return found[:limit]


class InMemorySagaRepository(SagaRepository):
    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log

    def _record(self) -> _Record:
        return _Record(self._log.all())

    async def due(self, kind: str, now: datetime, limit: int) -> list[str]:
        rows = sorted((at, key) for (k, key), at in self._record().due.items() if k == kind and at <= now)
        return [key for _, key in rows[:limit]]

    async def refunds(self, refund_ids: Sequence[str]) -> dict[str, refund_domain.Refund]:
        known = self._record().refunds
        return {r: known[r] for r in refund_ids if r in known}

    async def refunds_of_order(self, order_id: str) -> list[refund_domain.Refund]:
        return [r for r in self._record().refunds.values() if r.order_id == order_id]

    async def refunds_of_orders(self, order_ids: Sequence[str]) -> dict[str, list[refund_domain.Refund]]:
        found: dict[str, list[refund_domain.Refund]] = {o: [] for o in order_ids}
        for r in self._record().refunds.values():
            if r.order_id in found:
                found[r.order_id].append(r)
        return found

    async def queue(
        self, include_resolved: bool, limit: int, order_id: str = "",
        after: tuple[datetime, str] | None = None,
    ) -> list[QueueEntry]:
        record = self._record()
        entries = [
            queue_entry(o, reason, source, at, resolution, actor,
                        record.orders[o].status.value if o in record.orders else None)
            for o, (reason, source, at, resolution, actor) in record.queue.items()
            if (not order_id or o == order_id) and (after is None or (at, o) > after)
        ]
        entries.sort(key=lambda q: (q.queued_at, q.order_id))
        return [q for q in entries if include_resolved or q.status == "OPEN"][:limit]

    async def awaiting_payment(self, placed_from: datetime, placed_to: datetime, limit: int) -> list[str]:
        waiting = sorted(
            (o.placed_at, o.order_id) for o in self._record().orders.values()
            if o.status in (Status.PENDING_PAYMENT, Status.UNDER_REVIEW) and o.captured_txn_id is None
            and placed_from <= o.placed_at <= placed_to
        )
        return [order_id for _, order_id in waiting[:limit]]


class InMemoryHoldRepository(HoldRepository):
    """The fake's holds: one process, one event loop; its unit of work takes no locks."""

    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log

    async def lock_and_count(
        self, sku_ids: Sequence[str], buyer_ids: Sequence[str], client_tags: Sequence[str]
    ) -> Holds:
        holds = Holds()
        for buyer_id, client_tag, asked in _Record(self._log.all()).holds.values():
            for sku_id, quantity in asked.items():
                if sku_id in sku_ids:
                    holds.by_sku[sku_id] = holds.by_sku.get(sku_id, 0) + quantity
            if buyer_id in buyer_ids:
                holds.by_buyer[buyer_id] = holds.by_buyer.get(buyer_id, 0) + 1
            if client_tag and client_tag in client_tags:
                holds.by_client[client_tag] = holds.by_client.get(client_tag, 0) + 1
        return holds


class InMemoryCouponRepository(CouponRepository):
    """The fake's coupons and uses, folded from the log as the `coupons` projection folds them."""

    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log

    def _fold(self) -> tuple[dict[str, Coupon], dict[str, tuple[str, str, bool]]]:
        coupons: dict[str, Coupon] = {}
        uses: dict[str, tuple[str, str, bool]] = {}  # order -> coupon key, buyer, released
        for e in self._log.all():
            if e.type in (coupon_mapping.CREATED, coupon_mapping.DISABLED):
                ev = coupon_mapping.event_from_proto(e.payload, e.occurred_at)
                key = code_key(ev.terms.code if isinstance(ev, CouponCreated) else ev.code)
                coupons[key] = coupon_domain.evolve(coupons.get(key), ev)
            elif e.type in ORDER_EVENT_TYPES:
                order_ev = event_from_proto(e.payload, e.occurred_at)
                if isinstance(order_ev, OrderPlaced) and order_ev.coupon_code and order_ev.discount:
                    uses[order_ev.order_id] = (code_key(order_ev.coupon_code), order_ev.buyer_id, False)
                elif order_ev.order_id in uses and (
                    isinstance(order_ev, OrderCancelled | OrderExpired | OrderRefunded)
                    or (isinstance(order_ev, OrderPaid) and order_ev.discount is not None)
                ):
                    key, buyer, _ = uses[order_ev.order_id]
                    uses[order_ev.order_id] = (key, buyer, not isinstance(order_ev, OrderPaid))
        return coupons, uses

    async def get(self, key: str) -> Coupon | None:
        return self._fold()[0].get(key)

    async def lock_and_count(
        self, keys: Sequence[str], buyer_ids: Sequence[str]
    ) -> dict[str, tuple[Coupon, Usage]]:
        coupons, uses = self._fold()
        found = {k: (coupons[k], Usage()) for k in keys if k in coupons}
        for key, buyer, released in uses.values():
            if key in found and not released:
                usage = found[key][1]
                usage.total += 1
                if buyer in buyer_ids:
                    usage.by_buyer = usage.by_buyer or {}
                    usage.by_buyer[buyer] = usage.of(buyer) + 1
        return found

    async def list(self, limit: int, after: tuple[datetime, str] | None = None) -> list[tuple[Coupon, int]]:
        coupons, uses = self._fold()
        held: dict[str, int] = {}
        for key, _, released in uses.values():
            if not released:
                held[key] = held.get(key, 0) + 1
        ordered = sorted(coupons.items(), key=lambda kv: (-kv[1].created_at.timestamp(), kv[0]))
        if after is not None:
            at, key = after
            ordered = [(k, c) for k, c in ordered if c.created_at < at or (c.created_at == at and k > key)]
        return [(c, held.get(k, 0)) for k, c in ordered[:limit]]


class InMemoryOrdersUnitOfWork(InMemoryUnitOfWork, OrdersUnitOfWork):
    """Orders' fake unit of work; units of work made on one log share its committed events."""

    def __init__(self, events: InMemoryOrdersEventLog | None = None) -> None:
        super().__init__(events or InMemoryOrdersEventLog("orders"))
        self.orders = InMemoryOrderRepository(self.events)
        self.saga = InMemorySagaRepository(self.events)
        self.holds = InMemoryHoldRepository(self.events)
        self.coupons = InMemoryCouponRepository(self.events)
