"""Orders' gRPC API: translate requests into use cases, and refusals into status codes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NoReturn, TypeVar

import grpc
from quanyi.orders.v1 import orders_service_pb2 as pb
from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc

from quanyi_orders.adapters.coupon_mapping import coupon_to_proto, terms_from_request
from quanyi_orders.adapters.proto_mapping import money_from_proto, money_to_proto, order_to_proto
from quanyi_orders.adapters.psp_notice import MalformedNotice, parse_notice
from quanyi_orders.adapters.psp_signature import NoticeRejected, NoticeVerifier
from quanyi_orders.application import coupons, orders, queue, refunds, saga
from quanyi_orders.application.entry import OrdersEntry
from quanyi_orders.application.errors import NoticeReplayed, OrderNotFound, PaymentBelongsToAnotherOrder
from quanyi_orders.application.ports import Deliveries, OrdersUnitOfWork, QueueEntry
from quanyi_orders.application.providers import PaymentProvider, RawNotice, find_payment
from quanyi_orders.domain.coupon import CouponExists, CouponNotFound, CouponRefused
from quanyi_orders.domain.errors import AmountMismatch, InvalidOrder, NotAllowed
from quanyi_orders.domain.events import RefundSucceeded
from quanyi_orders.domain.holds import HoldRefused

log = logging.getLogger(__name__)

T = TypeVar("T")

# Refusals and their status codes; the exception's message is safe to return.
_CODES: list[tuple[type[Exception], grpc.StatusCode]] = [
    (InvalidOrder, grpc.StatusCode.INVALID_ARGUMENT),
    (MalformedNotice, grpc.StatusCode.INVALID_ARGUMENT),
    (OrderNotFound, grpc.StatusCode.NOT_FOUND),
    (AmountMismatch, grpc.StatusCode.FAILED_PRECONDITION),
    (HoldRefused, grpc.StatusCode.FAILED_PRECONDITION),
    (CouponRefused, grpc.StatusCode.FAILED_PRECONDITION),
    (CouponExists, grpc.StatusCode.ALREADY_EXISTS),
    (CouponNotFound, grpc.StatusCode.NOT_FOUND),
    (NotAllowed, grpc.StatusCode.FAILED_PRECONDITION),
    (PaymentBelongsToAnotherOrder, grpc.StatusCode.FAILED_PRECONDITION),
    (NoticeReplayed, grpc.StatusCode.ALREADY_EXISTS),
    (NoticeRejected, grpc.StatusCode.UNAUTHENTICATED),
]


async def _abort(context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
    for kind, code in _CODES:
        if isinstance(exc, kind):
            await context.abort(code, str(exc))
    raise exc


def _entry(e: QueueEntry) -> pb.QueueEntry:
    return pb.QueueEntry(
        order_id=e.order_id, reason=e.reason, source=e.source, queued_at=e.queued_at.isoformat(),
        status=e.status, resolution=e.resolution, actor=e.actor,
    )


class OrdersServicer(pb_grpc.OrdersServiceServicer):
    def __init__(
        self, unit_of_work: Callable[[], OrdersUnitOfWork], notices: NoticeVerifier, entry: OrdersEntry,
        providers: Mapping[str, PaymentProvider] | None = None, refund_retry_s: float = 30.0,
        deliveries: Deliveries | None = None,
    ) -> None:
        self._deliveries = deliveries
        self._unit_of_work = unit_of_work
        self._notices = notices
        self._entry = entry
        self.entry = entry
        self._providers = dict(providers or {})
        self._refund_retry = timedelta(seconds=refund_retry_s)

    async def _run(
        self, context: grpc.aio.ServicerContext, work: Callable[[OrdersUnitOfWork], Awaitable[T]]
    ) -> T:
        return await self._answer(context, work(self._unit_of_work()))

    async def _answer(self, context: grpc.aio.ServicerContext, call: Awaitable[T]) -> T:
        try:
            return await call
        except tuple(kind for kind, _ in _CODES) as exc:
            await _abort(context, exc)

    async def PlaceOrder(
        self, request: pb.PlaceOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.PlaceOrderResponse:
        if not request.idempotency_key:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "idempotency_key is required")
        cmd = orders.PlaceOrder(
            buyer_id=request.buyer_id,
            # Orders keeps no personal data: a caller's address is not taken into events or tables (the
            # gateway owns it; fulfillment asks it by buyer id). The field stays only for old callers.
            buyer_email="",
            channel=request.channel or "web",
            lines=[(i.sku_id, i.quantity, money_from_proto(i.unit_price)) for i in request.items],
            idempotency_key=request.idempotency_key,
            client_ip=request.client_ip,
            coupon_code=request.coupon_code,
        )
        placed = await self._answer(context, self._entry.place(cmd))
        answer = order_to_proto(placed.order)
        if placed.order.discount is not None:
            # The stored order keeps its discount (total = lines less it); the code the caller named.
            answer.coupon_code = request.coupon_code.strip()
        return pb.PlaceOrderResponse(order=answer, replayed=placed.replayed)

    async def CreateCoupon(
        self, request: pb.CreateCouponRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateCouponResponse:
        if not request.actor:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "actor is required")
        try:
            terms = terms_from_request(request.coupon)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise AssertionError("abort raises") from exc
        coupon = await self._run(context, lambda uow: coupons.create_coupon(uow, terms, request.actor))
        return pb.CreateCouponResponse(coupon=coupon_to_proto(coupon, 0))

    async def ListCoupons(
        self, request: pb.ListCouponsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCouponsResponse:
        found, token = await self._run(
            context, lambda uow: coupons.list_coupons(uow, request.limit, request.page_token)
        )
        return pb.ListCouponsResponse(
            coupons=[coupon_to_proto(c, uses) for c, uses in found], next_page_token=token
        )

    async def DisableCoupon(
        self, request: pb.DisableCouponRequest, context: grpc.aio.ServicerContext
    ) -> pb.DisableCouponResponse:
        if not request.actor:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "actor is required")
        coupon, uses = await self._run(
            context, lambda uow: coupons.disable_coupon(uow, request.code, request.actor)
        )
        return pb.DisableCouponResponse(coupon=coupon_to_proto(coupon, uses))

    async def GetOrder(
        self, request: pb.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOrderResponse:
        order, refunds = await self._run(
            context, lambda uow: orders.get_order_with_refunds(uow, request.order_id)
        )
        return pb.GetOrderResponse(order=order_to_proto(order, refunds))

    async def ListOrders(
        self, request: pb.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOrdersResponse:
        if not request.buyer_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "buyer_id is required")
        found, token = await self._run(
            context,
            lambda uow: orders.list_orders_with_refunds(
                uow, request.buyer_id, request.limit, request.page_token
            ),
        )
        return pb.ListOrdersResponse(
            orders=[order_to_proto(o, refunds) for o, refunds in found], next_page_token=token
        )

    async def GetOrderHistory(
        self, request: pb.GetOrderHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOrderHistoryResponse:
        found = await self._run(context, lambda uow: orders.order_history(uow, request.order_id))
        return pb.GetOrderHistoryResponse(
            events=[
                pb.OrderHistoryEvent(
                    event_id=e.event_id, type=e.type, occurred_at=e.occurred_at.isoformat(),
                    causation_id=e.causation_id, payload_json=e.payload_json,
                )
                for e in found
            ]
        )

    async def SearchOrders(
        self, request: pb.SearchOrdersRequest, context: grpc.aio.ServicerContext
    ) -> pb.SearchOrdersResponse:
        found, token = await self._run(
            context,
            lambda uow: orders.search_orders(
                uow, request.channel, request.status, request.limit, request.page_token
            ),
        )
        return pb.SearchOrdersResponse(orders=[order_to_proto(o) for o in found], next_page_token=token)

    async def HandlePaymentNotice(
        self, request: pb.HandlePaymentNoticeRequest, context: grpc.aio.ServicerContext
    ) -> pb.HandlePaymentNoticeResponse:
        provider = self._providers.get(request.provider)
        if provider is not None:
            return await self._provider_notice(provider, request, context)
        try:
            self._notices.verify(request.provider, request.body, request.signature, request.timestamp,
                                 request.nonce)
            body = parse_notice(request.body)
        except (NoticeRejected, MalformedNotice) as exc:
            log.warning("payment notice refused", extra={"reason": str(exc), "serial": request.serial})
            await _abort(context, exc)
        notice = orders.PaymentNotice(
            provider=self._notices.provider, nonce=request.nonce, notice_id=body.notice_id,
            order_id=body.order_id, txn_id=body.txn_id, amount=body.amount,
        )
        captured = await self._answer(context, self._entry.capture(notice))
        return pb.HandlePaymentNoticeResponse(order_id=captured.order.order_id, duplicate=captured.duplicate)

    async def _provider_notice(
        self, provider: PaymentProvider, request: pb.HandlePaymentNoticeRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.HandlePaymentNoticeResponse:
        raw = RawNotice(request.body, request.signature, request.timestamp, request.nonce, request.serial)
        try:
            opened = provider.open_notice(raw)
        except (NoticeRejected, MalformedNotice) as exc:
            log.warning("payment notice refused", extra={"provider": provider.name, "reason": str(exc)})
            await _abort(context, exc)
        if isinstance(opened, orders.PaymentNotice):
            captured = await self._answer(context, self._entry.capture(opened))
            return pb.HandlePaymentNoticeResponse(
                order_id=captured.order.order_id, duplicate=captured.duplicate
            )
        recorded = await self._answer(context, saga.record_refund_outcomes(
            self._unit_of_work, [opened], datetime.now(UTC) + self._refund_retry
        ))
        succeeded = [e for e in recorded if isinstance(e, RefundSucceeded)]
        async with self._unit_of_work() as uow:
            known = await uow.saga.refunds([opened.refund_id])
        if opened.refund_id not in known:
            await context.abort(grpc.StatusCode.NOT_FOUND, "refund not found")
        order_id = known[opened.refund_id].order_id
        return pb.HandlePaymentNoticeResponse(order_id=order_id, duplicate=not succeeded)

    async def ConfirmPayment(
        self, request: pb.ConfirmPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfirmPaymentResponse:
        order = await self._run(context, lambda uow: orders.get_order(uow, request.order_id))
        if request.provider and request.provider not in self._providers:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown payment provider")
        found = await find_payment(self._providers, order.order_id, request.provider)
        log.info("payment confirmation asked", extra={"order_id": order.order_id, "actor": request.actor,
                                                      "found": found is not None})
        if found is None:
            return pb.ConfirmPaymentResponse(order=order_to_proto(order), paid=False)
        captured = await self._answer(context, self._entry.capture(found))
        return pb.ConfirmPaymentResponse(order=order_to_proto(captured.order), paid=True,
                                         duplicate=captured.duplicate)

    async def RefundOrder(
        self, request: pb.RefundOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefundOrderResponse:
        deliveries = self._deliveries
        if deliveries is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "refunds need fulfillment's record")
            raise AssertionError("abort raises")
        if not request.actor:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "actor is required")
        cmd = refunds.OperatorRefund(
            request.order_id, [(ln.line_no, ln.quantity) for ln in request.lines], request.actor,
            request.override_redeemed, request.reason,
        )
        requested = await self._answer(context, refunds.refund_order(self._unit_of_work, deliveries, cmd))
        log.info("refund requested by an operator", extra={
            "order_id": request.order_id, "refund_id": requested.refund_id, "actor": request.actor,
            "override_redeemed": request.override_redeemed, "amount_minor": requested.amount.minor_units,
        })
        return pb.RefundOrderResponse(refund_id=requested.refund_id, amount=money_to_proto(requested.amount))

    async def ListExceptionQueue(
        self, request: pb.ListExceptionQueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListExceptionQueueResponse:
        entries, token = await self._answer(
            context,
            queue.list_queue(self._unit_of_work, request.include_resolved, request.limit, request.page_token),
        )
        return pb.ListExceptionQueueResponse(entries=[_entry(e) for e in entries], next_page_token=token)

    async def ActOnQueueEntry(
        self, request: pb.ActOnQueueEntryRequest, context: grpc.aio.ServicerContext
    ) -> pb.ActOnQueueEntryResponse:
        deliveries = self._deliveries
        if deliveries is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "acting on the queue needs fulfillment's record")
            raise AssertionError("abort raises")
        entry, refund_id = await self._answer(context, queue.act_on_entry(
            self._unit_of_work, deliveries, request.order_id, request.action, request.actor, request.note,
            request.channel, request.target,
        ))
        log.info("exception queue entry acted on", extra={  # never the target: personal data
            "order_id": request.order_id, "action": request.action, "actor": request.actor,
            "refund_id": refund_id, "channel": request.channel,
        })
        return pb.ActOnQueueEntryResponse(entry=_entry(entry), refund_id=refund_id)

    async def ReviewOrder(
        self, request: pb.ReviewOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReviewOrderResponse:
        order = await self._run(
            context, lambda uow: orders.review_order(uow, request.order_id, request.approve)
        )
        log.info("order reviewed", extra={"order_id": order.order_id, "approve": request.approve,
                                          "reviewer": request.reviewer, "status": order.status.value})
        return pb.ReviewOrderResponse(order=order_to_proto(order))
