"""The delivery e-mail's text. The body carries the keys in plaintext; it lives in memory only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from quanyi_fulfillment.domain.delivery import KeyToSend


@dataclass(frozen=True)
class MailContent:
    """Subject and plain-text body; repr hides the body, which holds the keys."""

    subject: str
    body: str = field(repr=False)


def render_delivery(
    order_id: str, keys: Sequence[KeyToSend], instructions: Mapping[str, str] | None = None
) -> MailContent:
    """One e-mail per order listing each key's SKU, code and password (when it has one), then how to use
    each SKU that has usage instructions (`instructions`: SKU -> text), once per SKU."""
    lines = [
        "Thank you for your order.",
        "",
        f"Order: {order_id}",
        "",
        "Your keys:",
    ]
    for n, k in enumerate(keys, start=1):
        lines.append(f"{n}. SKU {k.secret.sku_id}")
        lines.append(f"   Code: {k.secret.code}")
        if k.secret.password:
            lines.append(f"   Password: {k.secret.password}")
    how = [(sku, instructions[sku]) for sku in dict.fromkeys(k.secret.sku_id for k in keys)
           if instructions and instructions.get(sku)]
    for sku, text in how:
        lines += ["", f"How to use SKU {sku}:", *(f"   {line}" for line in text.splitlines())]
    lines += ["", "You can also find these keys in your user centre.", ""]
    return MailContent(subject=f"Your order {order_id}", body="\n".join(lines))


def scrub(text: str, keys: Sequence[KeyToSend]) -> str:
    """`text` with every code and password of `keys` masked: for error reasons that quote a server."""
    for k in keys:
        for secret in (k.secret.code, k.secret.password):
            if secret:
                text = text.replace(secret, "***")
    return text
