"""`quanyi history`'s fold: state at an instant and the causal chain, from events of several services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quanyi_cli.history import HistoryEvent, fold

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
