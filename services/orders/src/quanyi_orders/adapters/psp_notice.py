"""The body of a payment-provider notice.

`{"notice_id": str, "order_id": str, "txn_id": str, "status": "SUCCESS",
  "amount": {"minor_units": int, "currency": str}}`
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from quanyi_orders.domain.money import Money


class MalformedNotice(Exception):
    """The body is not a notice this service understands."""


@dataclass(frozen=True)
class PaymentNotice:
    notice_id: str
    order_id: str
    txn_id: str
    amount: Money


def _text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedNotice(f"notice field {name} must be a non-empty string")
    return value


def parse_notice(body: bytes) -> PaymentNotice:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise MalformedNotice("notice body is not JSON") from None
    if not isinstance(doc, dict):
        raise MalformedNotice("notice body must be a JSON object")
    if doc.get("status") != "SUCCESS":
        raise MalformedNotice("only SUCCESS notices are accepted")
    amount = doc.get("amount")
    if not isinstance(amount, dict):
        raise MalformedNotice("notice field amount must be an object")
    minor = amount.get("minor_units")
    if not isinstance(minor, int) or isinstance(minor, bool) or minor < 0:
        raise MalformedNotice("notice field amount.minor_units must be a non-negative integer")
    return PaymentNotice(
        notice_id=_text(doc, "notice_id"),
        order_id=_text(doc, "order_id"),
        txn_id=_text(doc, "txn_id"),
        amount=Money(minor, _text(amount, "currency")),
    )
