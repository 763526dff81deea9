"""Facts the ledger posts, as the orders and fulfillment services publish them."""

from __future__ import annotations

from quanyi.common.v1.money_pb2 import Money
from quanyi.fulfillment.v1 import events_pb2 as ff
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_platform.consumer import ReceivedEvent

from .conftest import received


def cny(minor: int) -> Money:
    return Money(minor_units=minor, currency="CNY")


def sale(order_id: str, channel: str, amount: int) -> list[ReceivedEvent]:
    return [
        received(
            orders.PaymentCaptured(
                order_id=order_id, provider="psp-sim", provider_txn_id=f"t-{order_id}", amount=cny(amount)
            ),
            order_id,
        ),
        received(orders.OrderPaid(order_id=order_id, channel=channel, total=cny(amount)), order_id),
    ]


def delivered(order_id: str, channel: str, *costs: int) -> ReceivedEvent:
    keys = [ff.DeliveredKey(key_id=f"k{i}", sku_id="sku", unit_cost=cny(c)) for i, c in enumerate(costs)]
    msg = ff.KeyDelivered(
        order_id=order_id, buyer_id="b", keys=keys, channels=["email"], sales_channel=channel
    )
    return received(msg, order_id, topic="quanyi.fulfillment.v1")


def refunded(order_id: str, channel: str, amount: int, was_released: bool) -> ReceivedEvent:
    msg = orders.OrderRefunded(order_id=order_id, channel=channel, amount=cny(amount),
                               reason=orders.REFUND_REASON_OPERATOR, was_released=was_released)
    return received(msg, order_id)
