"""The providers' simulator: it remembers payments, refunds each out_refund_no once and never more than
was paid, and signs what it says so that the providers' verifiers accept it."""

from __future__ import annotations

import json

import pytest
from quanyi_gateway import psp_sim
from quanyi_platform.psp import DEV_API_V3_KEY, alipay, wechatpay

KEY = psp_sim.new_private_key()


def simulator() -> psp_sim.ProviderSimulator:
    return psp_sim.ProviderSimulator(KEY, "serial-1", DEV_API_V3_KEY.encode())


def test_a_refund_is_taken_once_per_refund_number_and_never_beyond_the_payment() -> None:
    sim = simulator()
    trade = sim.pay(psp_sim.WECHATPAY, "o-1", 1990, "CNY")
    first = sim.refund("r-1", trade.txn_id, "o-1", 990)
    assert sim.refund("r-1", trade.txn_id, "o-1", 990) is first  # a retried call refunds once
    assert trade.refunded_minor == 990
    with pytest.raises(psp_sim.RefundRefused, match="NOT_ENOUGH"):
        sim.refund("r-2", trade.txn_id, "o-1", 1001)
    with pytest.raises(psp_sim.RefundRefused, match="RESOURCE_NOT_EXISTS"):
        sim.refund("r-3", trade.txn_id, "o-2", 1)


def test_its_wechat_notices_and_responses_open_with_the_platform_key() -> None:
    sim = simulator()
    trade = sim.pay(psp_sim.WECHATPAY, "o-1", 1990, "CNY")
    body, headers = sim.wechat_notice("TRANSACTION.SUCCESS", sim.wechat_transaction(trade))
    notice = wechatpay.open_notice(KEY.public_key(), DEV_API_V3_KEY.encode(), headers, body)
    assert notice.resource["transaction_id"] == trade.txn_id
    assert notice.resource["amount"] == {"total": 1990, "currency": "CNY", "payer_total": 1990,
                                         "payer_currency": "CNY"}
    body, headers = sim.wechat_signed({"trade_state": "SUCCESS"})
    wechatpay.verify(KEY.public_key(), headers[wechatpay.TIMESTAMP], headers[wechatpay.NONCE], body,
                     headers[wechatpay.SIGNATURE])


def test_its_alipay_query_and_refund_answers_are_signed_and_refund_at_once() -> None:
    sim = simulator()
    trade = sim.pay(psp_sim.ALIPAY, "o-1", 1990, "CNY")
    doc = alipay.open_response(KEY.public_key(), "alipay.trade.query",
                               sim.alipay_call("alipay.trade.query", {"out_trade_no": "o-1"}))
    assert (doc["trade_status"], doc["total_amount"], doc["trade_no"]) == ("TRADE_SUCCESS", "19.90", trade.txn_id)
    refund = {"out_trade_no": "o-1", "trade_no": trade.txn_id, "out_request_no": "r-1", "refund_amount": "19.90"}
    doc = alipay.open_response(KEY.public_key(), "alipay.trade.refund", sim.alipay_call("alipay.trade.refund", refund))
    assert (doc["code"], doc["fund_change"]) == ("10000", "Y")
    missing = sim.alipay_call("alipay.trade.query", {"out_trade_no": "nope"})
    assert json.loads(missing)["alipay_trade_query_response"]["sub_code"] == "ACQ.TRADE_NOT_EXIST"
