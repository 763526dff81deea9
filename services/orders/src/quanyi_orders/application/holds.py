"""Stock holds at placement: how placements are screened against what is held and what inventory has.

Inventory is asked for availability before the unit of work (over gRPC, a moment's cache), the holds are
counted under their locks inside it, and each placement is decided in arrival order against the ones
before it (domain.holds). Orders never reads inventory's tables: availability rules (validity windows,
channels, expiry, voids, bundles) stay inventory's, which a projection in orders would have to copy.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from quanyi_orders.application.ports import OrdersUnitOfWork, StockLevels
from quanyi_orders.domain.events import OrderPlaced
from quanyi_orders.domain.holds import HoldCaps, HoldRefused, check


@dataclass(frozen=True)
class HoldPolicy:
    """The caps, where availability comes from (None: only the caps apply), and the key of client tags."""

    caps: HoldCaps = field(default_factory=HoldCaps)
    stock: StockLevels | None = None
    client_key: bytes = b""


def client_tag(client_ip: str, key: bytes) -> str:
    """A keyed digest of a client address: equal for one address, never the address ("" for none)."""
    if not client_ip or not key:
        return ""
    return hmac.new(key, client_ip.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


async def available(policy: HoldPolicy, placed: Sequence[OrderPlaced]) -> dict[str, int]:
    """Inventory's available units of the SKUs the placements ask for (those it could tell)."""
    if policy.stock is None:
        return {}
    skus = sorted({line.sku_id for p in placed for line in p.lines})
    return await policy.stock.available(skus) if skus else {}


async def screen(
    uow: OrdersUnitOfWork, policy: HoldPolicy, placed: Sequence[OrderPlaced], stock: dict[str, int]
) -> dict[str, HoldRefused]:
    """Lock and count the holds the placements meet, and decide them in the order given: the refusals, by
    order id. Call inside the unit of work that appends the accepted ones."""
    if not placed:
        return {}
    holds = await uow.holds.lock_and_count(
        sorted({line.sku_id for p in placed for line in p.lines}),
        sorted({p.buyer_id for p in placed}),
        sorted({p.client_tag for p in placed if p.client_tag}),
    )
    refused: dict[str, HoldRefused] = {}
    for p in placed:
        try:
            check(holds, stock, policy.caps, p.buyer_id, p.client_tag, p.lines)
        except HoldRefused as exc:
            refused[p.order_id] = exc
            continue
        holds.take(p.buyer_id, p.client_tag, p.lines)
    return refused
