"""Protobuf messages of the peers <-> the HTTP API's models."""

from __future__ import annotations

from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.orders.v1 import orders_service_pb2 as orders_pb

from quanyi_gateway import models, psp_sim


def money(m: money_pb2.Money) -> models.Money:
    return models.Money(amount_minor=m.minor_units, currency=m.currency)


def money_pb(m: models.Money) -> money_pb2.Money:
    return money_pb2.Money(minor_units=m.amount_minor, currency=m.currency)


def sku(s: inventory_pb.Sku) -> models.SkuPublic:
    return models.SkuPublic(
        sku_id=s.sku_id, product_id=s.product_id, name=s.name, price=money(s.price), available=s.available
    )


def payment(order: orders_pb.Order) -> models.PaymentInstructions:
    return models.PaymentInstructions(
        provider=psp_sim.PROVIDER, pay_url=psp_sim.PAY_PATH, amount=money(order.total)
    )


def order(o: orders_pb.Order, with_payment: bool | None = None) -> models.OrderPublic:
    """The order; payment instructions are included while it awaits payment, or when `with_payment`."""
    include = with_payment if with_payment is not None else o.status == "PENDING_PAYMENT"
    return models.OrderPublic(
        order_id=o.order_id,
        buyer_id=o.buyer_id,
        status=o.status,
        items=[
            models.OrderItemPublic(sku_id=i.sku_id, quantity=i.quantity, unit_price=money(i.unit_price))
            for i in o.items
        ],
        total=money(o.total),
        risk_decision=o.risk_decision,
        channel=o.channel,
        created_at=o.created_at,
        version=o.version,
        payment=payment(o) if include else None,
    )
