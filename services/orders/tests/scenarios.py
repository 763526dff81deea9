"""Random lives of one order, driven through orders' use cases, for the property tests.

A scenario places an order, then takes steps: payment notices (of the right or a wrong amount, with
transaction ids and nonces drawn from small pools, so duplicates happen), risk decisions, reviews, stock
shortages, deliveries and a repeated placing. Consecutive risk, shortage and delivery steps reach the
application as one batch, as the consumer delivers them; when the batch is refused, each of its facts is
applied alone and the refused one is dropped, as the consumer's bisection does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import strategies as st
from quanyi_orders.application import orders
from quanyi_orders.application.errors import NoticeReplayed, PaymentBelongsToAnotherOrder
from quanyi_orders.application.ports import OrdersUnitOfWork
from quanyi_orders.application.reactions import OrderFact, apply_order_facts
from quanyi_orders.domain.errors import OrderError
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import RecordDelivery, RecordRiskDecision, RecordStockShort, RiskDecision

UnitOfWorkFactory = Callable[[], OrdersUnitOfWork]


@dataclass(frozen=True)
class Pay:
    right_amount: bool
    txn: str
    nonce: str


@dataclass(frozen=True)
class Risk:
    decision: RiskDecision


@dataclass(frozen=True)
class ReviewStep:
    approve: bool


@dataclass(frozen=True)
class Short:
    pass


@dataclass(frozen=True)
class Delivered:
    pass


@dataclass(frozen=True)
class PlaceAgain:
    pass


Step = Pay | Risk | ReviewStep | Short | Delivered | PlaceAgain

step = st.one_of(
    st.builds(Pay, st.sampled_from([True, True, True, False]), st.sampled_from(["t1", "t2"]),
              st.sampled_from(["n1", "n2", "n3", "n4"])),
    st.builds(Risk, st.sampled_from([RiskDecision.APPROVE, RiskDecision.REVIEW, RiskDecision.REJECT])),
    st.builds(ReviewStep, st.booleans()),
    st.just(Short()),
    st.just(Delivered()),
    st.just(PlaceAgain()),
)
lines = st.lists(
    st.tuples(st.sampled_from(["sku-a", "sku-b", "sku-c"]), st.integers(1, 5), st.integers(0, 5000)),
    min_size=1, max_size=3,
)
steps = st.lists(step, max_size=14)


@dataclass
class Scenario:
    """Runs steps on one order through the use cases; every unit of work comes from `unit_of_work`."""

    unit_of_work: UnitOfWorkFactory
    buyer_id: str
    order_id: str = ""
    total: Money = field(default_factory=lambda: Money(0, "CNY"))
    priced: list[tuple[str, int, int]] = field(default_factory=list)

    @classmethod
    def new(cls, unit_of_work: UnitOfWorkFactory) -> Scenario:
        return cls(unit_of_work, f"buyer-{uuid.uuid4().hex[:8]}")

    def _place_command(self, priced: list[tuple[str, int, int]]) -> orders.PlaceOrder:
        return orders.PlaceOrder(
            self.buyer_id, "b@example.com", "web", [(s, q, Money(p, "CNY")) for s, q, p in priced], "key-1"
        )

    async def place(self, priced: list[tuple[str, int, int]]) -> None:
        placed = await orders.place_order(self.unit_of_work(), self._place_command(priced))
        assert not placed.replayed
        self.order_id = placed.order.order_id
        self.total = placed.order.total
        self.priced = priced

    async def run(self, taken: list[Step]) -> None:
        batch: list[OrderFact] = []
        for s in taken:
            fact = self._fact(s)
            if fact is not None:
                batch.append(fact)
                continue
            await self._facts(batch)
            batch = []
            await self._step(s)
        await self._facts(batch)

    def _fact(self, s: Step) -> OrderFact | None:
        cause = str(uuid.uuid4())
        match s:
            case Risk(decision):
                return OrderFact(self.order_id, RecordRiskDecision(decision, ("a reason",)), cause)
            case Short():
                return OrderFact(self.order_id, RecordStockShort(), cause)
            case Delivered():
                return OrderFact(self.order_id, RecordDelivery(), cause)
        return None

    async def _facts(self, batch: list[OrderFact]) -> None:
        if not batch:
            return
        try:
            await apply_order_facts(self.unit_of_work(), batch)
            return
        except OrderError:
            pass
        for fact in batch:
            try:
                await apply_order_facts(self.unit_of_work(), [fact])
            except OrderError:
                pass

    async def _step(self, s: Step) -> None:
        match s:
            case Pay(right_amount, txn, nonce):
                amount = self.total if right_amount else Money(self.total.minor_units + 1, "CNY")
                notice = orders.PaymentNotice("psp-sim", f"{self.buyer_id}-{nonce}", f"notice-{nonce}",
                                              self.order_id, f"{self.buyer_id}-{txn}", amount)
                try:
                    await orders.capture_notified_payment(self.unit_of_work(), notice)
                except (OrderError, NoticeReplayed, PaymentBelongsToAnotherOrder):
                    pass
            case ReviewStep(approve):
                try:
                    await orders.review_order(self.unit_of_work(), self.order_id, approve)
                except OrderError:
                    pass
            case PlaceAgain():
                again = await orders.place_order(self.unit_of_work(), self._place_command(self.priced))
                assert again.replayed and again.order.order_id == self.order_id
