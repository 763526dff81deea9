"""The signed outbound webhook: what quanyi posts to a buyer's or reseller's URL, and how it is signed.

The body is JSON: the order, its keys (in line and unit order) and each SKU's usage instructions. The
signature header is `t=<unix seconds>,v1=<hex HMAC-SHA256>` over `<t>.` followed by the body's bytes, keyed
with the shared signing secret (the scheme Stripe and GitHub use): the receiver recomputes it, compares in
constant time and refuses a timestamp outside its tolerance, so a captured request cannot be replayed
later. Each attempt is signed afresh. `Quanyi-Delivery` carries the delivery's id (the same on every
attempt and resend of one order's webhook), so a receiver can drop a repeat.

Pure: stdlib only. The body holds plaintext keys, so it exists only in memory while it is posted; it is
never logged, stored or put in a reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence

from quanyi_fulfillment.domain.delivery import KeyToSend

SIGNATURE_HEADER = "Quanyi-Signature"
DELIVERY_HEADER = "Quanyi-Delivery"
SCHEME = "v1"


def webhook_body(
    order_id: str, keys: Sequence[KeyToSend], instructions: Mapping[str, str] | None = None
) -> bytes:
    """The JSON body posted for an order's keys; `instructions` maps a SKU to its usage instructions."""
    instructions = instructions or {}
    document = {
        "type": "quanyi.delivery",
        "order_id": order_id,
        "keys": [
            {
                "key_id": k.secret.key_id,
                "sku_id": k.secret.sku_id,
                "line_no": k.line_no,
                "unit_no": k.unit_no,
                "code": k.secret.code,
                "password": k.secret.password,
                "instructions": instructions.get(k.secret.sku_id, ""),
            }
            for k in keys
        ],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds)."""
    if not secret:
        raise ValueError("a webhook signing secret is required")
    return f"t={timestamp},{SCHEME}={_mac(secret, timestamp, body)}"


def verify(secret: bytes, header: str, body: bytes, now: int, tolerance_s: int = 300) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within `tolerance_s` of `now`.

    What a receiver does; quanyi's tests use it against what it sent."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(name, []).append(value)
    try:
        [timestamp_text] = parts.get("t", [])
        timestamp = int(timestamp_text)
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in parts.get(SCHEME, []))


def delivery_id(order_id: str, channel: str = "webhook") -> str:
    """The id a receiver sees on every attempt and resend of one order's webhook."""
    return f"{order_id}:{channel}"
