"""`quanyi audit`'s fold: who did what to a key or an order, and the order's journal entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quanyi_cli.audit import trail
from quanyi_platform.history import HistoryEvent

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CNY = {"minorUnits": "1990", "currency": "CNY"}


def ev(n: int, service: str, type_: str, payload: dict[str, object], correlation: str = "o-1") -> HistoryEvent:
    return HistoryEvent(
        service=service, seq=n, event_id=f"e{n}", type=f"quanyi.{service}.v1.{type_}",
        aggregate_type="X", aggregate_id="x", correlation_id=correlation, causation_id="",
        occurred_at=T0 + timedelta(seconds=n), payload=payload,
    )


EVENTS = [
    ev(0, "inventory", "KeysImported", {"batchId": "b-1", "poolId": "p-1", "imported": "10", "unitCost": CNY,
                                        "actor": "admin:ann"}, correlation=""),
    ev(1, "orders", "OrderPlaced", {"buyerId": "b-9", "channel": "storefront", "total": CNY}),
    ev(2, "orders", "PaymentCaptured", {"provider": "wechatpay", "providerTxnId": "T1", "amount": CNY}),
    ev(3, "inventory", "KeyReserved", {"keys": [{"keyId": "k-7", "poolId": "p-1"}]}),
    ev(4, "inventory", "KeysRevealed", {"keyIds": ["k-7"], "actor": "fulfillment", "purpose": "delivery"}),
    ev(5, "fulfillment", "KeyDelivered", {"buyerId": "b-9", "keys": [{"keyId": "k-7"}], "channels": ["email"],
                                          "salesChannel": "storefront"}),
    ev(6, "fulfillment", "Redeemed", {"keyId": "k-7", "partner": "game-co"}),
    ev(7, "orders", "RefundRequested", {"amount": CNY, "actor": "admin:bob", "reason": "REFUND_REASON_OPERATOR"}),
    ev(8, "ledger", "EntriesPosted", {"entries": [
        {"seq": "5", "kind": "sale", "correlationId": "o-1", "memo": "order o-1: sold on storefront", "hash": "ab" * 32,
         "lines": [{"account": "deposits:buyers", "debitMinor": "1990", "currency": "CNY"},
                   {"account": "revenue:storefront", "creditMinor": "1990", "currency": "CNY", "skuId": "s-1"}]},
        {"seq": "6", "kind": "sale", "correlationId": "o-2", "memo": "another order", "hash": "cd" * 32, "lines": []},
    ]}, correlation=""),
]


def test_a_key_trail_names_its_import_its_reveal_identity_its_buyer_and_channel_and_its_redemption() -> None:
    t = trail("k-7", "key", EVENTS)
    rows = [(a.what, a.who) for a in t.lines]
    assert rows == [
        ("keys imported", "admin:ann"),
        ("keys reserved", "inventory"),
        ("keys revealed", "fulfillment"),
        ("keys delivered", "buyer b-9"),
        ("key redeemed", "partner game-co"),
    ]
    assert "over email (sold on storefront)" in t.lines[3].detail
    assert [j.seq for j in t.journal] == [5]  # the entries of the key's order only
    assert t.notes == []


def test_an_order_trail_lists_every_action_with_who_and_only_its_own_journal_entries() -> None:
    t = trail("o-1", "order", [e for e in EVENTS if e.correlation_id == "o-1" or e.service == "ledger"])
    whats = [a.what for a in t.lines]
    assert whats[:2] == ["order placed", "payment captured"] and "RefundRequested" in whats
    refund = next(a for a in t.lines if a.what == "RefundRequested")
    assert refund.who == "admin:bob"
    [entry] = t.journal
    assert entry.amounts == "Dr deposits:buyers 19.90 CNY; Cr revenue:storefront 19.90 CNY (sku s-1)"
    assert t.as_json()["journal"][0]["seq"] == 5
