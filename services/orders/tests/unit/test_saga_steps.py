"""The pollers' steps on the fakes with a fake provider: a payment only the provider's query knows is
captured (before expiry too), unpaid orders expire, refunds are sent until the provider confirms."""

from __future__ import annotations

from datetime import timedelta

from quanyi_orders.application import orders, saga
from quanyi_orders.application.providers import PaymentProvider, ProviderUnavailable, RawNotice
from quanyi_orders.application.saga import RefundOutcome
from quanyi_orders.application.saga_steps import SagaSettings, SagaSteps
from quanyi_orders.domain.order import Status
from quanyi_orders.domain.refund import Refund, RefundStatus

from services.orders.tests.unit.test_saga import NOW, TTL, World, after_now, cny


class FakeProvider(PaymentProvider):
    name = "wechatpay-sim"

    def __init__(self) -> None:
        self.paid: dict[str, orders.PaymentNotice] = {}
        self.refunds: list[str] = []
        self.down = False

    def open_notice(self, raw: RawNotice) -> orders.PaymentNotice | RefundOutcome:
        raise NotImplementedError

    async def query_payment(self, order_id: str) -> orders.PaymentNotice | None:
        if self.down:
            raise ProviderUnavailable("down")
        return self.paid.get(order_id)

    async def refund(self, refund: Refund) -> RefundOutcome:
        if self.down:
            raise ProviderUnavailable("down")
        self.refunds.append(refund.refund_id)
        return RefundOutcome(refund.refund_id, "SUCCESS", True, f"p-{refund.refund_id}", refund.amount)


def steps(w: World, provider: FakeProvider) -> SagaSteps:
    async def capture(notice: orders.PaymentNotice) -> orders.Captured:
        return await orders.capture_notified_payment(w.uow(), notice)

    return SagaSteps(w.uow, capture, {"wechatpay-sim": provider},
                     SagaSettings(query_after_s=10, query_window_s=120, refund_retry_s=30))


async def test_a_payment_whose_notice_was_lost_is_captured_by_the_query_and_the_unpaid_order_expires() -> None:
    w, provider = World(), FakeProvider()
    lost, unpaid = await w.place("k1"), await w.place("k2")
    provider.paid[lost] = orders.PaymentNotice("wechatpay-sim", "query:t-1", "query", lost, "t-1", cny(1990))
    s = steps(w, provider)
    assert await s.query_awaiting(NOW + timedelta(seconds=5)) == set()  # too early to ask
    assert await s.query_awaiting(NOW + timedelta(seconds=11)) == {lost}
    assert await w.status(lost) == Status.CAPTURED
    assert await s.expire_due(NOW + TTL) == 1
    assert (await w.status(lost), await w.status(unpaid)) == (Status.CAPTURED, Status.EXPIRED)


async def test_expiry_asks_the_provider_first_so_a_paid_order_does_not_expire() -> None:
    w, provider = World(), FakeProvider()
    order_id = await w.place("k1")
    provider.paid[order_id] = orders.PaymentNotice("wechatpay-sim", "query:t", "query", order_id, "t", cny(1990))
    assert await steps(w, provider).expire_due(NOW + TTL) == 0
    assert await w.status(order_id) == Status.CAPTURED


async def test_a_refund_is_sent_again_while_the_provider_is_down_and_confirmed_once_it_answers() -> None:
    w, provider = World(), FakeProvider()
    order_id = await w.place("k1")
    await w.pay(order_id, "t-wrong", amount=1)
    s = steps(w, provider)
    provider.down = True
    later = after_now(days=1)
    assert await s.send_due_refunds(later) == 1
    assert await s.send_due_refunds(later) == 0  # next look in refund_retry_s
    provider.down = False
    assert await s.send_due_refunds(later + timedelta(seconds=31)) == 1
    (refund,) = (await saga.due_refunds(w.uow, later + timedelta(days=8), 10)) or [None]
    assert refund is None and len(provider.refunds) == 1
    async with w.uow() as uow:
        (done,) = await uow.saga.refunds_of_order(order_id)
    assert (done.status, done.attempts) == (RefundStatus.SUCCEEDED, 1)
