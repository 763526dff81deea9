"""The SMS's caller id: one per order and number, the same however often it is sent, never the number."""

from __future__ import annotations

from quanyi_fulfillment.domain.sms import sms_out_id


def test_an_orders_sms_to_one_number_always_carries_the_same_out_id_and_never_the_number() -> None:
    first = sms_out_id("o-1", "+8613800138000")
    assert first == sms_out_id("o-1", "+8613800138000")
    assert first != sms_out_id("o-1", "+8613900139000")  # another number: another message
    assert first != sms_out_id("o-2", "+8613800138000")  # another order: another message
    assert "13800138000" not in first and len(first) <= 64  # within the providers' limits (Aliyun: 256)
