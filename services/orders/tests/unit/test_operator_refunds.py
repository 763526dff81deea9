"""An operator's refunds, whole or in part: which keys are released, voided or (on override) refunded
although redeemed, and when the order itself is refunded."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_orders.domain.events import (
    OrderQueued,
    OrderRefunded,
    RefundDeclined,
    RefundKeysCleared,
    RefundReason,
    RefundRequested,
)
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import (
    CapturePayment,
    Order,
    Place,
    RecordDelivery,
    RecordRiskDecision,
    RiskDecision,
    Status,
    execute,
    fold,
)
from quanyi_orders.domain.refund import (
    LineKeys,
    Refund,
    RefundOrder,
    RefundStatus,
    clear_keys,
    close_refused,
    decide_refund,
    refused_refund,
    requested,
)
from quanyi_orders.domain.refund import evolve as evolve_refund

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def place(order_id: str, lines: list[tuple[str, int, Money]]) -> Place:
    fields = {"order_id": order_id, "buyer_id": "b-1", "channel": "web", "idempotency_key": f"k-{order_id}",
              "lines": lines, "placed_at": NOW}
    if "buyer_email" in {f.name for f in dataclasses.fields(Place)}:
        fields["buyer_email"] = ""
    return Place(**fields)  # type: ignore[arg-type]


def paid_order(delivered: bool = False) -> Order:
    order, _ = execute(None, place("o-1", [("sku-a", 3, cny(1000)), ("sku-b", 1, cny(500))]))
    order, _ = execute(order, CapturePayment(cny(3500), "wechatpay-sim", "t-1"))
    order, _ = execute(order, RecordRiskDecision(RiskDecision.APPROVE))
    if delivered:
        order, _ = execute(order, RecordDelivery())
    assert order is not None and order.status in (Status.PAID, Status.FULFILLED)
    return order


def refund(order: Order, lines: tuple[tuple[int, int], ...] = (), keys: dict[int, LineKeys] | None = None,
           before: tuple[Refund, ...] = (), override: bool = False, refund_id: str = "r-1") -> list[object]:
    return list(decide_refund(order, RefundOrder(refund_id, lines, keys or {}, before, "ops@shop",
                                                 override, "customer complaint")))


def test_a_partial_refund_of_undelivered_units_releases_their_keys_and_leaves_the_order_paid() -> None:
    (req,) = refund(paid_order(), ((1, 2),))
    assert isinstance(req, RefundRequested)
    assert (req.amount, req.reason, req.provider, req.txn_id) == (cny(2000), RefundReason.OPERATOR,
                                                                  "wechatpay-sim", "t-1")
    (line,) = req.lines
    assert (line.line_no, line.quantity, line.released, line.voided, line.redeemed) == (1, 2, 2, 0, 0)
    assert (req.actor, req.note) == ("ops@shop", "customer complaint")


def test_delivered_keys_that_were_not_redeemed_are_voided() -> None:
    (req,) = refund(paid_order(True), ((1, 2),), {1: LineKeys(delivered=3, redeemed=1)})
    assert isinstance(req, RefundRequested)
    assert [(ln.released, ln.voided, ln.redeemed) for ln in req.lines] == [(0, 2, 0)]


def test_a_redeemed_key_is_refused_without_the_override_and_refunded_with_it() -> None:
    order = paid_order(True)
    keys = {1: LineKeys(delivered=3, redeemed=3)}
    with pytest.raises(NotAllowed, match="override"):
        refund(order, ((1, 1),), keys)
    (req,) = refund(order, ((1, 1),), keys, override=True)
    assert isinstance(req, RefundRequested) and req.override_redeemed
    assert [(ln.released, ln.voided, ln.redeemed) for ln in req.lines] == [(0, 0, 1)]


def test_a_full_refund_refunds_the_order_once_inventory_took_its_keys_back_and_a_later_one_is_refused() -> None:
    order = paid_order()
    (req,) = refund(order)  # the keys first: no OrderRefunded (nor the ledger's reversal) before inventory
    assert isinstance(req, RefundRequested) and req.amount == cny(3500)
    order = fold([req], order)  # type: ignore[assignment]
    assert order.status is Status.PAID
    refunded, cleared = clear_keys(order, (requested(req),), "r-1", False, "")
    assert isinstance(refunded, OrderRefunded) and refunded.amount == cny(3500) and refunded.was_released
    assert cleared == RefundKeysCleared("o-1", "r-1", False, "")
    order = fold([refunded, cleared], order)  # type: ignore[assignment]
    assert order.status is Status.REFUNDED
    with pytest.raises(NotAllowed, match="REFUNDED"):
        refund(order, refund_id="r-2")
    assert clear_keys(order, (evolve_refund(requested(req), cleared),), "r-1", False, "") == []  # once


def test_refunds_add_up_and_the_last_units_settled_refund_the_order() -> None:
    order = paid_order()
    (first,) = refund(order, ((1, 2),))
    assert isinstance(first, RefundRequested)
    before = (requested(first),)
    with pytest.raises(InvalidOrder, match="at most 1"):
        refund(order, ((1, 2),), before=before, refund_id="r-2")
    (last,) = refund(order, before=before, refund_id="r-2")
    assert isinstance(last, RefundRequested) and last.amount == cny(1500)
    assert [(ln.line_no, ln.quantity) for ln in last.lines] == [(1, 1), (2, 1)]
    both = (requested(first), requested(last))
    # The last settles first: the first still waits for inventory, so the order is not refunded yet.
    assert clear_keys(order, both, "r-2", False, "") == [RefundKeysCleared("o-1", "r-2", False, "")]
    settled = (requested(first), evolve_refund(requested(last), RefundKeysCleared("o-1", "r-2")))
    refunded, _ = clear_keys(order, settled, "r-1", False, "")
    assert isinstance(refunded, OrderRefunded) and refunded.amount == cny(2000)


def test_a_refund_inventory_refuses_queues_the_order_and_is_never_sent() -> None:
    order = paid_order(True)
    (req,) = refund(order, ((1, 1),), {1: LineKeys(delivered=3)})
    cleared, queued = clear_keys(order, (requested(req),), "r-1", True, "1 of the refunded keys were redeemed")
    assert cleared == RefundKeysCleared("o-1", "r-1", True, "1 of the refunded keys were redeemed")
    assert isinstance(queued, OrderQueued) and queued.source == "refund" and "redeemed" in queued.reason
    assert fold([cleared, queued], order).status is Status.FULFILLED  # type: ignore[union-attr]
    refused = evolve_refund(requested(req), cleared)
    assert refused_refund((refused,)) == refused


def test_an_operator_declines_a_refused_refund_or_overrides_it_with_a_new_refund_of_the_same_units() -> None:
    order = paid_order(True)
    (req,) = refund(order, ((1, 2),), {1: LineKeys(delivered=3)})
    refused = evolve_refund(requested(req), RefundKeysCleared("o-1", "r-1", True, "redeemed"))
    keys = {1: LineKeys(delivered=3, redeemed=3)}  # fulfillment has heard of the redemptions since
    with pytest.raises(InvalidOrder, match="note"):
        close_refused(order, (refused,), "decline", "ops@shop", " ", "r-2", keys)
    (declined,) = close_refused(order, (refused,), "decline", "ops@shop", "redeemed before the request", "r-2", keys)
    assert declined == RefundDeclined("o-1", "r-1", "decline", "ops@shop", "redeemed before the request")
    assert evolve_refund(refused, declined).status is RefundStatus.DECLINED
    closed, again = close_refused(order, (refused,), "override", "ops@shop", "partner says unused", "r-2", keys)
    assert closed == RefundDeclined("o-1", "r-1", "override", "ops@shop", "partner says unused")
    assert isinstance(again, RefundRequested) and again.refund_id == "r-2" and again.override_redeemed
    assert [(ln.line_no, ln.quantity, ln.redeemed) for ln in again.lines] == [(1, 2, 2)]
    assert (again.amount, again.actor, again.note) == (cny(2000), "ops@shop", "partner says unused")
    # A declined refund's units may be refunded again later; one no operator closed may not.
    unused = {1: LineKeys(delivered=3)}
    assert refund(order, ((1, 3),), unused, before=(evolve_refund(refused, declined),), refund_id="r-3")
    with pytest.raises(InvalidOrder, match="at most 1"):
        refund(order, ((1, 3),), unused, before=(refused,), refund_id="r-3")
    with pytest.raises(NotAllowed, match="no refund that inventory refused"):
        close_refused(order, (evolve_refund(refused, declined),), "decline", "ops@shop", "again", "r-2", keys)


def test_an_unpaid_order_cannot_be_refunded_by_an_operator() -> None:
    order, _ = execute(None, place("o-2", [("sku-a", 1, cny(1000))]))
    assert order is not None
    with pytest.raises(NotAllowed):
        refund(order)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([(1, 1), (1, 2), (2, 1)]), st.booleans()), min_size=1, max_size=5),
       st.randoms(use_true_random=False))
def test_whatever_inventory_answers_and_in_whatever_order_the_order_is_refunded_once_and_only_when_whole(
    asked: list[tuple[tuple[int, int], bool]], rnd: Any
) -> None:
    """Refunds of some units each; inventory settles or refuses each, answers arriving in any order. The
    order is refunded (OrderRefunded) at most once, only when the settled refunds cover every unit, and the
    refunded amounts never exceed what was paid."""
    order = paid_order()
    refunds: list[Refund] = []
    for n, (line, _) in enumerate(asked):
        try:
            (req,) = refund(order, (line,), before=tuple(refunds), refund_id=f"r-{n}")
        except (InvalidOrder, NotAllowed):
            continue
        assert isinstance(req, RefundRequested)
        refunds.append(requested(req))
    answers = [(r.refund_id, refused) for r, (_, refused) in zip(refunds, asked, strict=False)]
    rnd.shuffle(answers)
    refunded = 0
    for refund_id, refused in answers:
        events = clear_keys(order, refunds, refund_id, refused, "redeemed" if refused else "")
        for ev in events:
            if isinstance(ev, OrderRefunded):
                refunded += 1
            if isinstance(ev, RefundKeysCleared):
                refunds = [evolve_refund(r, ev) if r.refund_id == ev.refund_id else r for r in refunds]
        order = fold(events, order)  # type: ignore[assignment]
    settled_units = sum(ln.quantity for r in refunds if r.keys.value == "cleared" for ln in r.lines)
    assert refunded == (1 if settled_units == 4 else 0)
    assert (order.status is Status.REFUNDED) == (settled_units == 4)
    assert sum(r.amount.minor_units for r in refunds) <= 3500


def test_what_the_buyer_may_see_of_a_refund_follows_its_state_and_never_its_note() -> None:
    from quanyi_orders.domain.events import (
        RefundDeclined,
        RefundKeysCleared,
        RefundLine,
        RefundReason,
        RefundRequested,
        RefundSucceeded,
    )
    from quanyi_orders.domain.refund import buyer_state, requested

    line = RefundLine(1, "sku-a", 1, Money(100, "CNY"), 1, 0, 0)  # names a released key
    asked = requested(RefundRequested("o1", "r1", "psp", "t1", Money(100, "CNY"), RefundReason.OPERATOR, (line,),
                                      "ops"))
    assert buyer_state(asked) == "AWAITING_KEYS"
    refused = evolve_refund(asked, RefundKeysCleared("o1", "r1", True, "redeemed"))
    assert buyer_state(refused) == "UNDER_REVIEW"
    assert buyer_state(evolve_refund(refused, RefundDeclined("o1", "r1", "decline", "lead", "n"))) == "DECLINED"
    assert buyer_state(evolve_refund(refused, RefundDeclined("o1", "r1", "override", "lead", "n"))) is None
    cleared = evolve_refund(asked, RefundKeysCleared("o1", "r1", False, ""))
    assert buyer_state(cleared) == "REQUESTED"
    done = evolve_refund(cleared, RefundSucceeded("o1", "r1", Money(100, "CNY"), "psp", (line,), "p1",
                                                  RefundReason.OPERATOR))
    assert buyer_state(done) == "REFUNDED"
