"""The gRPC API through a real channel, against a fresh Postgres database."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import money_pb2
from quanyi.orders.v1 import orders_service_pb2 as pb
from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.entrypoints.consumers import order_facts_handler
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.envelope import Envelope, new_event_id
from quanyi_platform.eventstore import EventStore


def cny(minor: int) -> money_pb2.Money:
    return money_pb2.Money(minor_units=minor, currency="CNY")


def place_request(buyer_id: str = "buyer-1", key: str = "key-1", quantity: int = 2) -> pb.PlaceOrderRequest:
    return pb.PlaceOrderRequest(
        buyer_id=buyer_id, buyer_email="buyer@example.com", channel="web", idempotency_key=key,
        items=[pb.OrderItem(sku_id="sku-a", quantity=quantity, unit_price=cny(1500)),
               pb.OrderItem(sku_id="sku-b", quantity=1, unit_price=cny(990))],
    )


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


async def risk_decides(
    pool: AsyncConnectionPool,
    store: EventStore,
    order_id: str,
    decision: risk_events.Decision,
    reasons: tuple[str, ...] = (),
) -> None:
    """What the inbox consumer does with a RiskDecided: the batch handler inside one transaction."""
    payload = risk_events.RiskDecided(
        order_id=order_id, buyer_id="buyer-1", decision=decision, reasons=reasons
    )
    env = Envelope(event_id=new_event_id(), type=payload.DESCRIPTOR.full_name, correlation_id=order_id)
    handler = order_facts_handler(lambda conn: PgOrdersUnitOfWork(store, conn=conn))
    async with pool.connection() as conn, conn.transaction():
        await handler.apply(conn, [ReceivedEvent(env, payload, "quanyi.risk.v1", 0, 0)])


# -- placing and reading ---------------------------------------------------------------------------


async def test_placing_an_order_twice_with_the_same_key_creates_one_order(
    orders: pb_grpc.OrdersServiceStub, probe: Any
) -> None:
    first = await orders.PlaceOrder(place_request())
    again = await orders.PlaceOrder(place_request(quantity=5))  # a different body: the key wins

    assert first.replayed is False
    assert again.replayed is True
    assert again.order == first.order
    assert first.order.status == "PENDING_PAYMENT"
    assert first.order.risk_decision == "PENDING"
    assert first.order.total == cny(2 * 1500 + 990)
    assert first.order.version == 1
    assert await probe.count("orders") == 1
    assert await probe.event_types(first.order.order_id) == ["OrderPlaced"]


async def test_concurrent_requests_with_one_key_create_one_order(
    orders: pb_grpc.OrdersServiceStub, probe: Any
) -> None:
    results = await asyncio.gather(*[orders.PlaceOrder(place_request()) for _ in range(4)])
    assert len({r.order.order_id for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False, True, True, True]
    assert await probe.count("events") == 1


async def test_the_same_key_from_another_buyer_is_another_order(orders: pb_grpc.OrdersServiceStub) -> None:
    a = await orders.PlaceOrder(place_request(buyer_id="buyer-1"))
    b = await orders.PlaceOrder(place_request(buyer_id="buyer-2"))
    assert a.order.order_id != b.order.order_id
    assert not b.replayed


async def test_an_order_without_an_idempotency_key_is_refused(
    orders: pb_grpc.OrdersServiceStub, probe: Any
) -> None:
    err = await rpc_error(orders.PlaceOrder(place_request(key="")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await probe.count("orders") == 0


async def test_an_order_the_domain_refuses_is_an_invalid_argument(
    orders: pb_grpc.OrdersServiceStub, probe: Any
) -> None:
    err = await rpc_error(orders.PlaceOrder(place_request(quantity=101)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "quantity" in (err.details() or "")
    assert await probe.counts() == {"orders": 0, "events": 0, "payments": 0, "payment_notices": 0, "refunds": 0}


async def test_an_order_is_read_back_and_an_unknown_one_is_not_found(
    orders: pb_grpc.OrdersServiceStub,
) -> None:
    placed = await orders.PlaceOrder(place_request())
    got = await orders.GetOrder(pb.GetOrderRequest(order_id=placed.order.order_id))
    assert got.order == placed.order
    assert [(i.sku_id, i.quantity) for i in got.order.items] == [("sku-a", 2), ("sku-b", 1)]
    err = await rpc_error(orders.GetOrder(pb.GetOrderRequest(order_id="no-such-order")))
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_a_buyers_orders_are_listed_newest_first_up_to_the_limit(
    orders: pb_grpc.OrdersServiceStub,
) -> None:
    ids = [(await orders.PlaceOrder(place_request(key=f"k{n}"))).order.order_id for n in range(3)]
    await orders.PlaceOrder(place_request(buyer_id="someone-else"))

    listed = await orders.ListOrders(pb.ListOrdersRequest(buyer_id="buyer-1"))
    assert [o.order_id for o in listed.orders] == ids[::-1]
    limited = await orders.ListOrders(pb.ListOrdersRequest(buyer_id="buyer-1", limit=2))
    assert [o.order_id for o in limited.orders] == ids[:0:-1]


# -- payment notices -------------------------------------------------------------------------------


async def test_a_signed_payment_notice_captures_and_risk_approval_releases_the_order(
    orders: pb_grpc.OrdersServiceStub, pool: AsyncConnectionPool, store: EventStore, psp: Any, probe: Any
) -> None:
    order = (await orders.PlaceOrder(place_request())).order

    reply = await orders.HandlePaymentNotice(psp.notice(order))
    assert (reply.order_id, reply.duplicate) == (order.order_id, False)
    assert await probe.event_types(order.order_id) == ["OrderPlaced", "PaymentCaptured"]
    assert (await orders.GetOrder(pb.GetOrderRequest(order_id=order.order_id))).order.status == "CAPTURED"

    await risk_decides(pool, store, order.order_id, risk_events.DECISION_APPROVE)
    assert await probe.event_types(order.order_id) == ["OrderPlaced", "PaymentCaptured", "OrderPaid"]
    got = (await orders.GetOrder(pb.GetOrderRequest(order_id=order.order_id))).order
    assert (got.status, got.risk_decision, got.version) == ("PAID", "APPROVE", 3)
    assert await probe.count("payments") == 1


async def test_an_approval_before_the_payment_releases_the_order_on_payment(
    orders: pb_grpc.OrdersServiceStub, pool: AsyncConnectionPool, store: EventStore, psp: Any, probe: Any
) -> None:
    order = (await orders.PlaceOrder(place_request())).order
    await risk_decides(pool, store, order.order_id, risk_events.DECISION_APPROVE)
    assert await probe.event_types(order.order_id) == ["OrderPlaced", "OrderApproved"]
    approved = (await orders.GetOrder(pb.GetOrderRequest(order_id=order.order_id))).order
    assert (approved.status, approved.risk_decision, approved.version) == ("PENDING_PAYMENT", "APPROVE", 2)

    await orders.HandlePaymentNotice(psp.notice(order))
    assert await probe.event_types(order.order_id) == [
        "OrderPlaced", "OrderApproved", "PaymentCaptured", "OrderPaid"
    ]


async def test_a_payment_and_an_approval_racing_release_the_order_exactly_once(
    orders: pb_grpc.OrdersServiceStub, pool: AsyncConnectionPool, store: EventStore, psp: Any, probe: Any
) -> None:
    for n in range(5):
        order = (await orders.PlaceOrder(place_request(key=f"race-{n}"))).order
        await asyncio.gather(
            orders.HandlePaymentNotice(psp.notice(order, txn_id=f"txn-{n}")),
            risk_decides(pool, store, order.order_id, risk_events.DECISION_APPROVE),
        )
        # Whichever locks the order first, the payment or the approval, it is released once.
        assert await probe.event_types(order.order_id) in (
            ["OrderPlaced", "PaymentCaptured", "OrderPaid"],
            ["OrderPlaced", "OrderApproved", "PaymentCaptured", "OrderPaid"],
        )


async def test_a_notice_with_a_wrong_signature_is_unauthenticated_and_writes_nothing(
    orders: pb_grpc.OrdersServiceStub, psp: Any, probe: Any
) -> None:
    order = (await orders.PlaceOrder(place_request())).order
    before = await probe.counts()
    forged = psp.notice(order)
    forged.body = forged.body.replace(b"txn-1", b"txn-2")

    err = await rpc_error(orders.HandlePaymentNotice(forged))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    unsigned = psp.notice(order)
    unsigned.signature = ""
    assert (await rpc_error(orders.HandlePaymentNotice(unsigned))).code() == grpc.StatusCode.UNAUTHENTICATED
    assert await probe.counts() == before


async def test_a_stale_notice_is_unauthenticated(
    orders: pb_grpc.OrdersServiceStub, psp: Any, probe: Any
) -> None:
    order = (await orders.PlaceOrder(place_request())).order
    before = await probe.counts()
    err = await rpc_error(orders.HandlePaymentNotice(psp.notice(order, timestamp=int(time.time()) - 301)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert await probe.counts() == before


async def test_a_notice_resent_with_its_nonce_is_a_duplicate_and_writes_nothing(
    orders: pb_grpc.OrdersServiceStub, psp: Any, probe: Any
) -> None:
    order = (await orders.PlaceOrder(place_request())).order
    notice = psp.notice(order)
    await orders.HandlePaymentNotice(notice)
    before = await probe.counts()

    again = await orders.HandlePaymentNotice(notice)  # a provider resends a notice it got no answer to
    assert (again.order_id, again.duplicate) == (order.order_id, True)
    assert await probe.counts() == before


async def test_a_notice_of_the_wrong_amount_is_recorded_and_refunded_once(
    orders: pb_grpc.OrdersServiceStub, psp: Any, probe: Any
) -> None:
    order = (await orders.PlaceOrder(place_request())).order

    wrong_amount = psp.notice(order, minor_units=1, txn_id="t-wrong")
    wrong_currency = psp.notice(order, currency="USD", txn_id="t-usd")
    for wrong in (wrong_amount, wrong_currency):
        assert not (await orders.HandlePaymentNotice(wrong)).duplicate
    assert (await orders.HandlePaymentNotice(psp.notice(order, minor_units=1, txn_id="t-wrong"))).duplicate
    assert await probe.event_types(order.order_id) == [
        "OrderPlaced", "PaymentCaptured", "RefundRequested", "PaymentCaptured", "RefundRequested",
    ]
    assert await probe.count("refunds") == 2
    got = (await orders.GetOrder(pb.GetOrderRequest(order_id=order.order_id))).order
    assert got.status == "PENDING_PAYMENT"

    # The order still takes its right payment.
    await orders.HandlePaymentNotice(psp.notice(order))
    assert (await probe.event_types(order.order_id))[-1] == "PaymentCaptured"


async def test_a_second_notice_for_a_captured_transaction_is_a_duplicate_with_no_new_events(
    orders: pb_grpc.OrdersServiceStub, psp: Any, probe: Any
) -> None:
    order = (await orders.PlaceOrder(place_request())).order
    await orders.HandlePaymentNotice(psp.notice(order))

    again = await orders.HandlePaymentNotice(psp.notice(order))  # a new nonce, the same txn_id
    assert (again.order_id, again.duplicate) == (order.order_id, True)
    assert await probe.event_types(order.order_id) == ["OrderPlaced", "PaymentCaptured"]
    assert await probe.count("payments") == 1


async def test_a_notice_for_an_unknown_order_is_not_found(
    orders: pb_grpc.OrdersServiceStub, psp: Any, probe: Any
) -> None:
    ghost = pb.Order(order_id="no-such-order", total=cny(100))
    err = await rpc_error(orders.HandlePaymentNotice(psp.notice(ghost)))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert await probe.count("payment_notices") == 0


async def test_a_malformed_notice_is_an_invalid_argument(
    orders: pb_grpc.OrdersServiceStub, psp: Any, probe: Any
) -> None:
    err = await rpc_error(orders.HandlePaymentNotice(psp.notice(pb.Order(), body=b'{"status": "SUCCESS"}')))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await probe.count("payment_notices") == 0


async def test_a_notice_for_a_cancelled_order_is_recorded_and_refunded(
    orders: pb_grpc.OrdersServiceStub, pool: AsyncConnectionPool, store: EventStore, psp: Any, probe: Any
) -> None:
    order = (await orders.PlaceOrder(place_request())).order
    await risk_decides(pool, store, order.order_id, risk_events.DECISION_REJECT)
    await orders.HandlePaymentNotice(psp.notice(order))
    assert await probe.event_types(order.order_id) == [
        "OrderPlaced", "OrderCancelled", "PaymentCaptured", "RefundRequested"
    ]
    got = (await orders.GetOrder(pb.GetOrderRequest(order_id=order.order_id))).order
    assert got.status == "CANCELLED"


# -- review ----------------------------------------------------------------------------------------


async def test_an_order_not_under_review_cannot_be_reviewed(orders: pb_grpc.OrdersServiceStub) -> None:
    order = (await orders.PlaceOrder(place_request())).order
    err = await rpc_error(orders.ReviewOrder(pb.ReviewOrderRequest(order_id=order.order_id, approve=True)))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    err = await rpc_error(orders.ReviewOrder(pb.ReviewOrderRequest(order_id="nope", approve=True)))
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_a_held_paid_order_approved_in_review_is_released(
    orders: pb_grpc.OrdersServiceStub, pool: AsyncConnectionPool, store: EventStore, psp: Any, probe: Any
) -> None:
    order = (await orders.PlaceOrder(place_request())).order
    await risk_decides(pool, store, order.order_id, risk_events.DECISION_REVIEW, ("velocity",))
    await orders.HandlePaymentNotice(psp.notice(order))
    held = (await orders.GetOrder(pb.GetOrderRequest(order_id=order.order_id))).order
    assert held.status == "UNDER_REVIEW"

    reviewed = await orders.ReviewOrder(
        pb.ReviewOrderRequest(order_id=order.order_id, approve=True, reviewer="ops-1")
    )
    assert reviewed.order.status == "PAID"
    assert await probe.event_types(order.order_id) == [
        "OrderPlaced", "OrderHeld", "PaymentCaptured", "OrderPaid"
    ]


async def test_a_held_paid_order_rejected_in_review_is_refunded(
    orders: pb_grpc.OrdersServiceStub, pool: AsyncConnectionPool, store: EventStore, psp: Any, probe: Any
) -> None:
    order = (await orders.PlaceOrder(place_request())).order
    await orders.HandlePaymentNotice(psp.notice(order))
    await risk_decides(pool, store, order.order_id, risk_events.DECISION_REVIEW)
    reviewed = await orders.ReviewOrder(pb.ReviewOrderRequest(order_id=order.order_id, approve=False))
    assert (reviewed.order.status, reviewed.order.risk_decision) == ("REFUNDED", "REJECT")
    assert await probe.event_types(order.order_id) == [
        "OrderPlaced", "PaymentCaptured", "OrderHeld", "OrderRefunded", "RefundRequested"
    ]
