"""The history fold (`quanyi history`, the back office): state at an instant and the causal chain, from events of several services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quanyi_platform.history import HistoryEvent, fold, merge

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def ev(n: int, service: str, type_: str, cause: str = "", payload: dict[str, object] | None = None,
       aggregate: tuple[str, str] = ("Order", "o-1")) -> HistoryEvent:
    return HistoryEvent(
        service=service, seq=n, event_id=f"e{n}", type=f"quanyi.{service}.v1.{type_}",
        aggregate_type=aggregate[0], aggregate_id=aggregate[1], correlation_id="o-1", causation_id=cause,
        occurred_at=T0 + timedelta(seconds=n), payload=payload or {},
    )


EVENTS = [
    ev(1, "orders", "OrderPlaced", payload={"buyerId": "b-1", "total": {"minorUnits": "1990", "currency": "CNY"}}),
    ev(2, "risk", "RiskDecided", "e1", aggregate=("Assessment", "o-1")),
    ev(3, "orders", "PaymentCaptured", payload={"providerTxnId": "t-9"}),
    ev(4, "orders", "OrderPaid"),
    ev(5, "inventory", "KeyReserved", "e4", {"keys": [{"keyId": "k-7"}]}, ("Allocation", "o-1")),
    ev(6, "fulfillment", "KeyDelivered", "e5", {"keys": [{"keyId": "k-7"}]}, ("Delivery", "o-1")),
    ev(7, "orders", "OrderFulfilled", "e6"),
    ev(8, "fulfillment", "Redeemed", "", {"keyId": "k-7", "partner": "p-1"}, ("Delivery", "o-1")),
]


def test_an_orders_state_is_the_fold_of_every_services_events_up_to_the_instant() -> None:
    assert fold("o-1", EVENTS).state == "fulfilled"
    at_paid = fold("o-1", EVENTS, T0 + timedelta(seconds=4, milliseconds=500))
    assert at_paid.state == "paid"
    assert [e.short_type for e in at_paid.events][-1] == "OrderPaid"
    assert at_paid.facts == {"buyer": "b-1", "total": "19.90 CNY", "payment": "t-9"}
    assert fold("o-1", EVENTS, T0).state == "unknown"


def test_the_causal_chain_puts_each_event_under_the_event_that_caused_it() -> None:
    chain = [(depth, e.short_type) for depth, e, _ in fold("o-1", EVENTS).chain()]
    assert chain == [
        (0, "OrderPlaced"), (1, "RiskDecided"), (0, "PaymentCaptured"), (0, "OrderPaid"), (1, "KeyReserved"),
        (2, "KeyDelivered"), (3, "OrderFulfilled"), (0, "Redeemed"),
    ]


def test_a_keys_state_follows_only_the_events_that_name_it() -> None:
    key_events = [e for e in EVENTS if e.short_type in {"KeyReserved", "KeyDelivered", "Redeemed"}]
    other = ev(9, "inventory", "KeyReserved", "", {"keys": [{"keyId": "k-8"}]}, ("Allocation", "o-2"))
    other = HistoryEvent(**{**other.__dict__, "correlation_id": "o-2"})
    history = fold("k-7", [*key_events, other])
    assert history.kind == "key"
    assert history.state == "redeemed"
    assert history.facts["redeemed_by"] == "p-1"
    assert fold("k-7", key_events, T0 + timedelta(seconds=5)).state == "reserved"


def test_merged_answers_hold_each_event_once_whatever_order_they_came_in() -> None:
    first, second = EVENTS[:5], EVENTS[3:]
    merged = merge(list(reversed(second)), first, EVENTS[2:4])
    assert [(e.service, e.seq) for e in merged] == [(e.service, e.seq) for e in EVENTS]
    # The same seq in two services' stores is two events.
    other = ev(1, "ledger", "EntriesPosted", "e1", aggregate=("Journal", "journal"))
    assert len(merge(EVENTS, [other])) == len(EVENTS) + 1


def test_the_chain_rows_indent_each_event_under_its_cause_with_its_payload_on_one_line() -> None:
    rows = fold("o-1", EVENTS).chain_rows()
    assert [(r["depth"], r["service"], r["event"]) for r in rows][:2] == [
        (0, "orders", "OrderPlaced"), (1, "risk", "RiskDecided"),
    ]
    assert rows[0]["details"] == "buyerId=b-1 total=19.90 CNY"
    assert rows[1]["caused_by"] == "e1"
    assert rows[4]["details"] == "keys=1 item"


def test_a_redemption_heard_after_the_refund_that_took_the_key_back_shows_on_the_key_and_the_order() -> None:
    refunded = [
        *EVENTS[:7],
        ev(8, "orders", "OrderRefunded", "e7"),
        ev(9, "inventory", "RefundedKeyRedeemed", "e10",
           {"key": {"keyId": "k-7", "skuId": "s-1"}, "partner": "p-2", "refundId": "r-1"}, ("Allocation", "o-1")),
    ]
    key = fold("k-7", refunded)
    assert key.state == "redeemed after its refund"
    assert key.facts["redeemed_by"] == "p-2"
    order = fold("o-1", refunded)
    assert order.state == "refunded"
    assert order.facts["redeemed_after_refund"] == "k-7"
