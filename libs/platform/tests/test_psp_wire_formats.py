"""The providers' wire formats: what the simulators sign opens for real, and nothing else does."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from quanyi_platform.psp import DEV_API_V3_KEY, alipay, wechatpay

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
API_V3_KEY = DEV_API_V3_KEY.encode()


def wechat_notice(payload: dict[str, object], key: rsa.RSAPrivateKey = KEY) -> tuple[bytes, dict[str, str]]:
    body = wechatpay.notice_body(API_V3_KEY, "n-1", "TRANSACTION.SUCCESS", "2026-11-30T12:00:00+08:00", payload)
    return body, wechatpay.signed_headers(key, "serial-1", body, "1764500000")


def test_a_wechat_notice_is_verified_and_its_resource_decrypted() -> None:
    body, headers = wechat_notice({"out_trade_no": "o-1", "transaction_id": "4200", "amount": {"total": 1990}})
    assert b"o-1" not in body  # sealed
    notice = wechatpay.open_notice(KEY.public_key(), API_V3_KEY, headers, body)
    assert (notice.notice_id, notice.event_type) == ("n-1", "TRANSACTION.SUCCESS")
    assert notice.resource == {"out_trade_no": "o-1", "transaction_id": "4200", "amount": {"total": 1990}}


def test_a_wechat_notice_signed_by_another_key_or_changed_is_rejected() -> None:
    body, headers = wechat_notice({"out_trade_no": "o-1"}, key=OTHER)
    with pytest.raises(wechatpay.Rejected, match="bad signature"):
        wechatpay.open_notice(KEY.public_key(), API_V3_KEY, headers, body)
    body, headers = wechat_notice({"out_trade_no": "o-1"})
    with pytest.raises(wechatpay.Rejected, match="bad signature"):
        wechatpay.open_notice(KEY.public_key(), API_V3_KEY, headers, body.replace(b"n-1", b"n-2"))
    with pytest.raises(wechatpay.Rejected, match="bad signature"):
        wechatpay.open_notice(KEY.public_key(), API_V3_KEY, {**headers, wechatpay.NONCE: "x"}, body)


def test_a_resource_sealed_with_another_api_v3_key_does_not_open() -> None:
    doc = json.loads(wechatpay.notice_body(b"k" * 32, "n", "TRANSACTION.SUCCESS", "t", {"a": 1}))
    with pytest.raises(wechatpay.Rejected, match="does not decrypt"):
        wechatpay.decrypt(API_V3_KEY, doc["resource"])
    doc["resource"]["associated_data"] = "refund"
    with pytest.raises(wechatpay.Rejected, match="does not decrypt"):
        wechatpay.decrypt(b"k" * 32, doc["resource"])


def test_alipay_signs_the_sorted_non_empty_parameters_but_sign_and_sign_type() -> None:
    assert alipay.content({"b": "2", "a": "1", "sign": "x", "sign_type": "RSA2", "c": ""}) == b"a=1&b=2"
    form = urlencode(alipay.sign_params(KEY, {"out_trade_no": "o-1", "total_amount": "19.90"}))
    params = dict(parse_qsl(form))
    alipay.verify_params(KEY.public_key(), params)
    with pytest.raises(alipay.Rejected):
        alipay.verify_params(KEY.public_key(), {**params, "total_amount": "0.01"})
    with pytest.raises(alipay.Rejected):
        alipay.verify_params(OTHER.public_key(), params)


def test_an_alipay_response_is_verified_over_its_exact_text() -> None:
    body = alipay.signed_response(KEY, "alipay.trade.query", {"code": "10000", "total_amount": "19.90"})
    assert alipay.open_response(KEY.public_key(), "alipay.trade.query", body) == {
        "code": "10000", "total_amount": "19.90"
    }
    with pytest.raises(alipay.Rejected):
        alipay.open_response(KEY.public_key(), "alipay.trade.query", body.replace(b"19.90", b"29.90"))


def test_yuan_amounts_convert_to_fen_exactly_or_not_at_all() -> None:
    assert (alipay.fen("19.90"), alipay.fen("0.01"), alipay.fen("100")) == (1990, 1, 10000)
    assert alipay.yuan(1990) == "19.90"
    for bad in ("19.999", "-1.00", "abc"):
        with pytest.raises(alipay.Rejected):
            alipay.fen(bad)
