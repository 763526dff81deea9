"""Checkout: price an order at the catalogue's current prices and place it with the orders service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from quanyi_gateway.application.model import OrderItem, PlacedOrder, User
from quanyi_gateway.application.ports import Catalogue, Orders

# The channel of orders placed through the gateway's own storefront. A channel integration's orders carry
# the channel it authenticated as; no request body ever names the channel (it is the ledger's revenue
# account).
STOREFRONT_CHANNEL = "web"


class Channels:
    """Which channel an order arrives on: the one its placer authenticated as. A channel integration (a
    marketplace reselling the catalogue) signs in with the account configured for its channel; every other
    account orders on the storefront."""

    def __init__(self, accounts: Mapping[str, str] | None = None) -> None:
        """`accounts`: channel -> the e-mail address of the account it signs in with."""
        self._by_email = {email.strip().lower(): channel for channel, email in (accounts or {}).items()}

    def of(self, user: User) -> str:
        return self._by_email.get(user.email.lower(), STOREFRONT_CHANNEL)


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A line as the buyer asks for it: a SKU and how many."""

    sku_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """The command: this buyer wants these lines, once per idempotency key."""

    buyer: User
    lines: tuple[OrderLine, ...]
    idempotency_key: str
    #: The client's address as the gateway saw it ("" unknown): orders caps unpaid orders' stock holds by it.
    client_ip: str = ""
    #: A coupon code the buyer typed ("" none): orders decides it, and refuses the order if it cannot take it.
    coupon_code: str = ""


class Checkout:
    """Places orders. Prices come from the Catalogue port, which the gateway serves from its cache."""

    def __init__(self, catalogue: Catalogue, orders: Orders, channels: Channels | None = None) -> None:
        self._catalogue = catalogue
        self._orders = orders
        self._channels = channels or Channels()

    async def place(self, command: PlaceOrder) -> PlacedOrder:
        """Price every line and place the order on the buyer's channel. Raises UnknownSku before anything
        is placed."""
        sku_ids = list(dict.fromkeys(line.sku_id for line in command.lines))
        skus = await self._catalogue.prices(sku_ids)
        items = [OrderItem(line.sku_id, line.quantity, skus[line.sku_id].price) for line in command.lines]
        channel = self._channels.of(command.buyer)
        return await self._orders.place(
            command.buyer, channel, command.idempotency_key, items, client_ip=command.client_ip,
            coupon_code=command.coupon_code,
        )
