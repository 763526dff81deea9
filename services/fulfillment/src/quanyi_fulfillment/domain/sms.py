"""The delivery SMS: the order's keys, in line and unit order, each with its SKU's usage instructions."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from quanyi_fulfillment.domain.delivery import KeyToSend


def sms_out_id(order_id: str, target: str) -> str:
    """The caller's id of the order's SMS to `target` (Aliyun's OutId, Tencent's SessionContext): the same
    for every send of one order's keys to one number, so a provider that remembers it sends the text once
    however often it is asked (a retry after a lost answer, a sender that died before it recorded the
    send). The number enters only as a digest, and the id goes nowhere but to the provider, which has the
    number anyway."""
    digest = hashlib.sha256(f"sms\n{order_id}\n{target}".encode()).hexdigest()[:32]
    return f"qy-{digest}"


def sms_text(order_id: str, keys: Sequence[KeyToSend], instructions: Mapping[str, str]) -> str:
    """One text; a SKU's instructions follow its first key (once per SKU)."""
    lines = [f"quanyi order {order_id}:"]
    explained: set[str] = set()
    for k in keys:
        secret = f"{k.secret.code} / {k.secret.password}" if k.secret.password else k.secret.code
        lines.append(secret)
        how = instructions.get(k.secret.sku_id, "")
        if how and k.secret.sku_id not in explained:
            explained.add(k.secret.sku_id)
            lines.append(how)
    return "\n".join(lines)
