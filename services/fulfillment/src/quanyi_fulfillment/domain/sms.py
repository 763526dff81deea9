"""The delivery SMS: the order's keys, in line and unit order, each with its SKU's usage instructions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from quanyi_fulfillment.domain.delivery import KeyToSend


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
