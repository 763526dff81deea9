"""Stock holds: what an unpaid order keeps of a SKU's stock, and who may take another.

An order holds, from its placement until it is paid (the hold becomes inventory's claim of keys), cancelled,
expired or refunded, a count of units per SKU: never a key. A placement is refused when a SKU it asks
for has fewer units available than are held already plus what it asks, or when its buyer, or the client
address it comes from, already has the most open holds allowed: bots cannot lock a SKU's stock by placing
orders they never pay. Pure: the counts come in, a verdict goes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from quanyi_orders.domain.errors import OrderError
from quanyi_orders.domain.events import OrderLine


class HoldRefused(OrderError):
    """A placement that would hold more than there is, or more holds than its buyer or address may have.
    The message is safe to show to the buyer."""


@dataclass(frozen=True)
class HoldCaps:
    """At most this many open holds (unpaid orders) per buyer and per client address; 0: no cap."""

    per_buyer: int = 10
    per_client: int = 50


@dataclass
class Holds:
    """The open holds that matter to some placements: units held per SKU, open holds per buyer and per
    client address. `take` adds a placement's, so placements decided one after the other each see the
    ones before them."""

    by_sku: dict[str, int] = field(default_factory=dict)
    by_buyer: dict[str, int] = field(default_factory=dict)
    by_client: dict[str, int] = field(default_factory=dict)

    def take(self, buyer_id: str, client_tag: str, lines: Iterable[OrderLine]) -> None:
        for sku_id, quantity in units(lines).items():
            self.by_sku[sku_id] = self.by_sku.get(sku_id, 0) + quantity
        self.by_buyer[buyer_id] = self.by_buyer.get(buyer_id, 0) + 1
        if client_tag:
            self.by_client[client_tag] = self.by_client.get(client_tag, 0) + 1


def units(lines: Iterable[OrderLine]) -> dict[str, int]:
    """Units asked for per SKU (several lines of one SKU add up)."""
    asked: dict[str, int] = {}
    for line in lines:
        asked[line.sku_id] = asked.get(line.sku_id, 0) + line.quantity
    return asked


def check(
    holds: Holds, available: Mapping[str, int], caps: HoldCaps, buyer_id: str, client_tag: str,
    lines: Iterable[OrderLine],
) -> None:
    """Raise HoldRefused unless the placement may take its hold. `available` is each SKU's unclaimed units
    as inventory last told them; a SKU missing from it is not checked (inventory could not be asked: the
    saga's StockShort still refunds a paid order that finds no key)."""
    if caps.per_buyer and holds.by_buyer.get(buyer_id, 0) >= caps.per_buyer:
        raise HoldRefused(
            f"too many unpaid orders: at most {caps.per_buyer} per buyer; pay or cancel one first"
        )
    if caps.per_client and client_tag and holds.by_client.get(client_tag, 0) >= caps.per_client:
        raise HoldRefused(f"too many unpaid orders from this address: at most {caps.per_client}")
    for sku_id, quantity in sorted(units(lines).items()):
        if sku_id not in available:
            continue
        free = available[sku_id] - holds.by_sku.get(sku_id, 0)
        if quantity > free:
            raise HoldRefused(
                f"SKU {sku_id}: {max(free, 0)} available, {quantity} asked"
                " (units held by unpaid orders are not available)"
            )
