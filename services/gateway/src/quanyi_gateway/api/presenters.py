"""The use cases' values -> the HTTP API's response models."""

from __future__ import annotations

from quanyi_gateway import models, psp_sim
from quanyi_gateway.application import model


def money(m: model.Money) -> models.Money:
    return models.Money(amount_minor=m.amount_minor, currency=m.currency)


def money_in(m: models.Money) -> model.Money:
    return model.Money(m.amount_minor, m.currency)


def sku(s: model.SkuStock) -> models.SkuPublic:
    return models.SkuPublic(
        sku_id=s.sku.sku_id,
        product_id=s.sku.product_id,
        name=s.sku.name,
        price=money(s.sku.price),
        available=s.available,
    )


def payment(order: model.Order) -> models.PaymentInstructions:
    return models.PaymentInstructions(
        provider=psp_sim.PROVIDER, pay_url=psp_sim.PAY_PATH, amount=money(order.total)
    )


def order(o: model.Order, with_payment: bool | None = None) -> models.OrderPublic:
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
        discount=money(o.discount) if o.discount is not None else None,
        coupon_code=o.coupon_code or None,
    )


def delivered_key(k: model.DeliveredKey) -> models.DeliveredKeyPublic:
    return models.DeliveredKeyPublic(
        order_id=k.order_id,
        key_id=k.key_id,
        sku_id=k.sku_id,
        code=k.code,
        password=k.password,
        delivered_at=k.delivered_at,
        redeemed_at=k.redeemed_at,
    )
