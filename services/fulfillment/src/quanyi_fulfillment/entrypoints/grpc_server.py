"""Fulfillment's gRPC API: translate requests, call the use cases, map errors to status codes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import grpc
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc
from quanyi_platform.paging import InvalidPageToken

from quanyi_fulfillment.adapters import mappers
from quanyi_fulfillment.application.channels import deliver_on_channel
from quanyi_fulfillment.application.ports import (
    ChannelSender,
    ContactBook,
    ContactsUnavailable,
    KeyRevealer,
    UnitOfWorkFactory,
)
from quanyi_fulfillment.application.queries import (
    channel_history,
    delivery_latency,
    list_deliveries,
    list_entitlements,
)
from quanyi_fulfillment.application.redeem import record_redemption
from quanyi_fulfillment.domain.errors import DeliveryNotFound, InvalidChannelRequest, InvalidRedemption
from quanyi_fulfillment.domain.latency import DAY, HOUR, InvalidLatencyQuery
from quanyi_fulfillment.domain.redemption import parse_report, rfc3339


def _instant(text: str) -> datetime:
    """An RFC 3339 time with its offset, in UTC; InvalidLatencyQuery otherwise."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidLatencyQuery("times are RFC 3339") from None
    if at.tzinfo is None:
        raise InvalidLatencyQuery("times need a UTC offset")
    return at.astimezone(UTC)

# ListChannelEvents answers for at most this many orders at once.
MAX_HISTORY_ORDERS = 500
# ListDeliveries' order_ids filter names at most this many orders.
MAX_LISTED_ORDERS = 500


class FulfillmentServicer(pb_grpc.FulfillmentServiceServicer):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        inventory: KeyRevealer | None = None,
        senders: Mapping[str, ChannelSender] | None = None,
        instructions: Mapping[str, str] | None = None,
        contacts: ContactBook | None = None,
    ) -> None:
        self._contacts = contacts
        self._uow = uow
        self._clock = clock
        self._inventory = inventory
        self._senders = senders or {}
        self._instructions = instructions or {}

    async def ListDeliveries(
        self, request: pb.ListDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDeliveriesResponse:
        if not request.buyer_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "buyer_id is required")
        if len(request.order_ids) > MAX_LISTED_ORDERS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_LISTED_ORDERS} order_ids")
        orders = [request.order_id] if request.order_id else list(request.order_ids) or None
        try:
            found, token = await list_deliveries(
                self._uow, request.buyer_id, orders, request.limit, request.page_token
            )
        except InvalidPageToken as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.ListDeliveriesResponse(
            deliveries=[mappers.delivery(d, k) for d in found for k in d.keys], next_page_token=token
        )

    async def GetDeliveryLatency(
        self, request: pb.GetDeliveryLatencyRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDeliveryLatencyResponse:
        bucket = DAY if request.bucket == pb.LATENCY_BUCKET_DAY else HOUR
        try:
            start, end = _instant(request.from_time), _instant(request.to_time)
            found = await delivery_latency(self._uow, start, end, bucket)
        except InvalidLatencyQuery as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.GetDeliveryLatencyResponse(buckets=[
            pb.LatencyPercentiles(
                start=rfc3339(b.start), orders=b.orders, p50_ms=b.p50_ms, p95_ms=b.p95_ms, p99_ms=b.p99_ms
            )
            for b in found
        ])

    async def ListEntitlements(
        self, request: pb.ListEntitlementsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListEntitlementsResponse:
        if not request.buyer_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "buyer_id is required")
        found = await list_entitlements(self._uow, request.buyer_id)
        return pb.ListEntitlementsResponse(
            points_balance=found.points_balance,
            credits=[
                pb.PointsCredit(
                    order_id=c.order_id, line_no=c.line_no, unit_no=c.unit_no, points=c.points,
                    credited_at=rfc3339(c.credited_at),
                    debited_at=rfc3339(c.debited_at) if c.debited_at is not None else "",
                )
                for c in found.credits
            ],
            memberships=[
                pb.Membership(plan=m.plan, valid_until=rfc3339(m.valid_until)) for m in found.memberships
            ],
            grants=[
                pb.MembershipGrant(
                    order_id=g.order_id, line_no=g.line_no, unit_no=g.unit_no, plan=g.plan, days=g.days,
                    valid_from=rfc3339(g.valid_from), valid_until=rfc3339(g.valid_until),
                    shortened_at=rfc3339(g.shortened_at) if g.shortened_at is not None else "",
                )
                for g in found.grants
            ],
        )

    async def ListChannelEvents(
        self, request: pb.ListChannelEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListChannelEventsResponse:
        named = [request.order_id] if request.order_id else []
        order_ids = list(dict.fromkeys([*named, *request.order_ids]))
        if not order_ids or len(order_ids) > MAX_HISTORY_ORDERS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"name 1 to {MAX_HISTORY_ORDERS} orders"
            )
        history = await channel_history(self._uow, order_ids)
        return pb.ListChannelEventsResponse(events=[
            pb.ChannelEvent(
                order_id=order_id, channel=s.channel, outcome=s.outcome, at=rfc3339(s.at), attempt=s.attempt,
                final=s.final, requested_by=s.requested_by,
            )
            for order_id in order_ids
            for s in history.get(order_id, [])
        ])

    async def RecordRedemption(
        self, request: pb.RecordRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordRedemptionResponse:
        now = self._clock()
        try:
            report = parse_report(request.key_id, request.partner, request.redeemed_at, now)
        except InvalidRedemption as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            result = await record_redemption(self._uow, report, now)
        except DeliveryNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no delivered key with this id")
        return pb.RecordRedemptionResponse(
            delivery=mappers.delivery(result.delivery, result.key), duplicate=result.duplicate
        )

    async def DeliverOnChannel(
        self, request: pb.DeliverOnChannelRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeliverOnChannelResponse:
        if self._inventory is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "on-demand channels are not configured")
        assert self._inventory is not None
        try:
            result = await deliver_on_channel(
                self._uow, self._inventory, self._senders, self._instructions, request.order_id,
                request.channel, request.target, request.requested_by, self._clock, self._contacts,
            )
        except InvalidChannelRequest as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except ContactsUnavailable:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the buyer's contacts could not be read; retry")
        except DeliveryNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no delivered order with this id")
        return pb.DeliverOnChannelResponse(
            delivered=result.delivered, attempts=result.attempts, reason=result.reason
        )
