"""Peers' protobuf messages <-> the use cases' values."""

from __future__ import annotations

from quanyi.common.v1 import money_pb2
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.orders.v1 import orders_service_pb2 as orders_pb

from quanyi_gateway.application.model import (
    Delivery,
    Money,
    Order,
    OrderItem,
    OrderRefund,
    RevealedKey,
    Sku,
    SkuStock,
)


def money(m: money_pb2.Money) -> Money:
    return Money(m.minor_units, m.currency)


def money_pb(m: Money) -> money_pb2.Money:
    return money_pb2.Money(minor_units=m.amount_minor, currency=m.currency)


def sku(s: inventory_pb.Sku) -> Sku:
    return Sku(s.sku_id, s.product_id, s.name, money(s.price))


def sku_stock(s: inventory_pb.Sku) -> SkuStock:
    return SkuStock(sku(s), s.available, s.low_stock_threshold)


def order(o: orders_pb.Order) -> Order:
    return Order(
        order_id=o.order_id,
        buyer_id=o.buyer_id,
        status=o.status,
        items=tuple(OrderItem(i.sku_id, i.quantity, money(i.unit_price)) for i in o.items),
        total=money(o.total),
        risk_decision=o.risk_decision,
        channel=o.channel,
        created_at=o.created_at,
        version=o.version,
        discount=money(o.discount) if o.HasField("discount") else None,
        coupon_code=o.coupon_code,
        refunds=tuple(OrderRefund(r.refund_id, r.state, money(r.amount)) for r in o.refunds),
    )


def order_item_pb(item: OrderItem) -> orders_pb.OrderItem:
    return orders_pb.OrderItem(
        sku_id=item.sku_id, quantity=item.quantity, unit_price=money_pb(item.unit_price)
    )


def delivery(d: fulfillment_pb.Delivery) -> Delivery:
    return Delivery(d.order_id, d.key_id, d.sku_id, d.buyer_id, d.delivered_at, d.redeemed_at)


def revealed_key(k: inventory_pb.RevealedKey) -> RevealedKey:
    return RevealedKey(k.key_id, k.sku_id, k.code, k.password)
