"""Properties of the Order aggregate over random command sequences: its state is exactly the fold of the
events it recorded, and the fold survives the trip through protos and the projection's batching."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from quanyi_orders.adapters.memory import InMemoryOrdersEventLog, InMemoryOrdersUnitOfWork
from quanyi_orders.adapters.proto_mapping import NOTICE_ACCEPTED, event_from_proto, event_to_proto
from quanyi_orders.domain.errors import OrderError
from quanyi_orders.domain.events import (
    Event,
    OrderPaid,
    OrderPlaced,
    OrderQueued,
    PaymentCaptured,
    RefundRequested,
)
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import (
    CapturePayment,
    Command,
    Expire,
    Order,
    Phase,
    Place,
    RecordDelivery,
    RecordRefundedKeyRedeemed,
    RecordRiskDecision,
    RecordStockShort,
    Review,
    RiskDecision,
    Status,
    advance,
    decide,
    evolve,
    fold,
)
from quanyi_orders.domain.queue import REDEEMED_AFTER_REFUND_SOURCE
from quanyi_orders.projections.orders import OrderChange

from services.orders.tests.scenarios import Scenario, lines, steps

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

commands = st.lists(
    st.one_of(
        st.builds(
            lambda right, txn: ("pay", right, txn),
            st.sampled_from([True, True, False]), st.sampled_from(["t1", "t2"]),
        ),
        st.sampled_from([RiskDecision.APPROVE, RiskDecision.REVIEW, RiskDecision.REJECT]).map(
            RecordRiskDecision
        ),
        st.booleans().map(Review),
        st.just(RecordStockShort()),
        st.just(RecordDelivery()),
        st.just(Expire(NOW + timedelta(hours=1))),
        # Inventory heard a key redeemed after a refund took it back: queued whatever the status.
        st.just(RecordRefundedKeyRedeemed("k-1", "sku-a", 1, 1, "rf-1", "voided", "partner", NOW)),
    ),
    max_size=16,
)


def _refusal(event: Event) -> bool:
    """A refused payment's record (and its refund), which any order may take, whatever its status."""
    return isinstance(event, RefundRequested) or (isinstance(event, PaymentCaptured) and event.refused is not None)


def _late_redemption(event: Event) -> bool:
    """A key redeemed after its refund: queued for an operator, whatever the order's status."""
    return isinstance(event, OrderQueued) and event.source == REDEEMED_AFTER_REFUND_SOURCE


def accepted_captures(events: list[Event]) -> int:
    return sum(isinstance(e, PaymentCaptured) and e.refused is None for e in events)


def run(priced: list[tuple[str, int, int]], taken: list[object]) -> tuple[Order, list[Event], list[Order]]:
    """The order after each accepted command, and every event recorded, refused commands skipped."""
    recorded = decide(None, Place("o-1", "b-1", "b@example.com", "web",
                                  [(s, q, Money(p, "CNY")) for s, q, p in priced], "k-1", NOW,
                                  NOW + timedelta(minutes=15)))
    order = fold(recorded)
    assert order is not None
    states = [order]
    refused: set[str] = set()  # transactions recorded as refused: the application answers those itself
    for raw in taken:
        command: Command
        if isinstance(raw, tuple):
            _, right, txn = raw
            if txn in refused:
                continue
            amount = order.total if right else Money(order.total.minor_units + 1, "CNY")
            command = CapturePayment(amount, "psp-sim", txn)
        else:
            assert isinstance(
                raw, RecordRiskDecision | Review | RecordStockShort | RecordDelivery | Expire | RecordRefundedKeyRedeemed
            )
            command = raw
        try:
            new = decide(order, command)
        except OrderError:
            continue
        terminal = order.status in (Status.CANCELLED, Status.REFUNDED, Status.FULFILLED)
        assert not (terminal and [e for e in new if not _refusal(e) and not _late_redemption(e)]), (
            f"{order.status.value} recorded {new}"
        )
        refused |= {e.txn_id for e in new if isinstance(e, PaymentCaptured) and e.refused is not None}
        for event in new:
            order = evolve(order, event)
        recorded += new
        states.append(order)
    return order, recorded, states


@settings(max_examples=300, deadline=None)
@given(lines, commands)
def test_folding_the_recorded_events_yields_exactly_the_orders_state(
    priced: list[tuple[str, int, int]], taken: list[object]
) -> None:
    order, recorded, _ = run(priced, taken)
    assert fold(recorded) == order
    assert order.version == len(recorded)
    assert sum(isinstance(e, OrderPaid) for e in recorded) <= 1
    assert accepted_captures(recorded) <= 1
    if order.status in (Status.PAID, Status.FULFILLED):
        assert order.captured_txn_id is not None and order.risk_decision is RiskDecision.APPROVE


@settings(max_examples=300, deadline=None)
@given(lines, commands)
def test_the_fold_survives_the_trip_through_the_protos(
    priced: list[tuple[str, int, int]], taken: list[object]
) -> None:
    order, recorded, _ = run(priced, taken)
    back = [event_from_proto(event_to_proto(e), NOW) for e in recorded]
    assert back == recorded
    assert fold(back) == order


@settings(max_examples=300, deadline=None)
@given(lines, commands, st.data())
def test_the_projections_update_of_a_later_batch_yields_the_fold_wherever_the_batch_starts(
    priced: list[tuple[str, int, int]], taken: list[object], data: st.DataObject
) -> None:
    order, recorded, _ = run(priced, taken)
    split = data.draw(st.integers(1, len(recorded)))
    row = fold(recorded[:split])
    assert row is not None
    if split == len(recorded):
        assert row == order
        return
    change = OrderChange.of("o-1", recorded[split:], len(recorded), NOW + timedelta(seconds=1))
    assert change.applied_to(row) == order


@settings(max_examples=300, deadline=None)
@given(
    lines, commands, st.sampled_from(list(Status)), st.sampled_from(list(RiskDecision)),
    st.sampled_from([None, "t0"]), st.sampled_from(list(Status)), st.sampled_from(list(RiskDecision)),
    st.sampled_from([None, "t9"]),
)
def test_each_part_of_the_phase_moves_from_its_own_previous_value_and_the_event_alone(
    priced: list[tuple[str, int, int]], taken: list[object], status: Status, risk: RiskDecision, txn: str | None,
    other_status: Status, other_risk: RiskDecision, other_txn: str | None,
) -> None:
    """What lets the projection tabulate a batch's effect per column, whatever the row holds."""
    _, recorded, _ = run(priced, taken)
    for event in recorded[1:]:
        one = advance(Phase(status, risk, txn), event)
        mixed = [
            advance(Phase(status, other_risk, other_txn), event).status,
            advance(Phase(other_status, risk, other_txn), event).risk_decision,
        ]
        assert mixed == [one.status, one.risk_decision]
        moved = advance(Phase(other_status, other_risk, txn), event).captured_txn_id
        assert moved == one.captured_txn_id
        assert one.captured_txn_id in (txn, getattr(event, "txn_id", None))


@settings(max_examples=100, deadline=None)
@given(lines, steps)
def test_through_the_use_cases_the_loaded_order_is_the_fold_of_its_recorded_events(
    priced: list[tuple[str, int, int]], taken: list[object]
) -> None:
    log = InMemoryOrdersEventLog("orders")

    async def scenario() -> tuple[Order | None, list[Event], list[str]]:
        s = Scenario.new(lambda: InMemoryOrdersUnitOfWork(log))
        await s.place(priced)
        await s.run(taken)  # type: ignore[arg-type]
        async with InMemoryOrdersUnitOfWork(log) as uow:
            loaded = await uow.orders.get(s.order_id)
        mine = [e for e in log.committed if e.aggregate_id == s.order_id]
        nonces = [e.payload.nonce for e in log.committed if e.type == NOTICE_ACCEPTED]
        return loaded, [event_from_proto(e.payload, e.occurred_at) for e in mine], nonces

    loaded, recorded, nonces = asyncio.run(scenario())
    assert loaded == fold(recorded)
    assert isinstance(recorded[0], OrderPlaced)
    assert loaded is not None and loaded.version == len(recorded)
    assert len(nonces) == len(set(nonces))
    assert accepted_captures(recorded) <= 1
