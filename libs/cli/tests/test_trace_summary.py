"""`quanyi trace` shows each event on one line a person can read."""

from __future__ import annotations

from quanyi_platform.history import money_text, summary


def test_money_reads_as_a_decimal_amount_whatever_its_sign() -> None:
    assert money_text(1990, "CNY") == "19.90 CNY"
    assert money_text(5, "CNY") == "0.05 CNY"
    assert money_text(-1990, "CNY") == "-19.90 CNY"
    assert money_text(1990, "JPY") == "1990 JPY"


def test_a_payload_leaves_out_the_order_id_and_shortens_money_and_lists() -> None:
    body = {
        "orderId": "o-1",
        "provider": "psp-sim",
        "amount": {"minorUnits": "1990", "currency": "CNY"},
        "keys": [{"keyId": "k-1"}, {"keyId": "k-2"}],
        "lines": [{"lineNo": 1}],
        "buyer": {"id": "b-1"},
    }
    assert summary(body, "o-1") == "provider=psp-sim amount=19.90 CNY keys=2 items lines=1 item buyer={…}"
