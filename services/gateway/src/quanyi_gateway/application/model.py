"""What the gateway's use cases work with: plain, immutable values, standard library only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from quanyi_gateway.application.roles import Permission, allows, is_operator
from quanyi_gateway.application.roles import Role as Role

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units and its ISO 4217 currency."""

    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class User:
    """An authenticated account."""

    user_id: uuid.UUID
    email: str
    role: Role

    @property
    def is_operator(self) -> bool:
        """An operator of any role (owner, operations, finance, support, read-only), not a buyer."""
        return is_operator(self.role)

    @property
    def is_admin(self) -> bool:
        """The same as `is_operator` (its name from before operators had roles)."""
        return is_operator(self.role)

    def can(self, permission: Permission) -> bool:
        """True when the user's role holds the permission (a buyer holds none)."""
        return allows(self.role, permission)

    @property
    def actor(self) -> str:
        """How this user is named in other services' audit trails."""
        return f"{self.role}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user with their stored password hash, for sign-in only."""

    user: User
    password_hash: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed access token and how many seconds it stays valid."""

    token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Revocation:
    """A revoked access token: its id, until when it would have been valid, and when it was revoked; or,
    with `account`, every token an account (whose id `jti` is then) held when it was revoked."""

    jti: str
    expires_at: datetime
    revoked_at: datetime
    account: bool = False


@dataclass(frozen=True, slots=True)
class Sku:
    """A SKU as the catalogue sells it: what changes only with the catalogue (never with stock)."""

    sku_id: str
    product_id: str
    name: str
    price: Money


@dataclass(frozen=True, slots=True)
class SkuStock:
    """A SKU with the number of keys available now, and the number at or below which its stock is low (0:
    never low; inventory raises StockLow once per fall to it)."""

    sku: Sku
    available: int
    low_stock_threshold: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One keyset page of a list; pass `next_cursor` back for the next one ("" on the last page)."""

    items: tuple[T, ...]
    next_cursor: str


@dataclass(frozen=True, slots=True)
class CataloguePage:
    """One page of the catalogue, oldest SKU first; `next_cursor` is None on the last page."""

    items: tuple[SkuStock, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class OrderItem:
    """An order line: a SKU, how many, and the unit price the buyer pays."""

    sku_id: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True, slots=True)
class OrderRefund:
    """One refund of an order as orders shows it to the buyer's side: REQUESTED, AWAITING_KEYS,
    UNDER_REVIEW, REFUNDED or DECLINED (no operator's note)."""

    refund_id: str
    state: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the orders service reports it."""

    order_id: str
    buyer_id: str
    status: str
    items: tuple[OrderItem, ...]
    total: Money
    risk_decision: str
    channel: str
    created_at: str
    version: int
    #: What a coupon took off the items' sum (None: none); `total` is what the buyer pays.
    discount: Money | None = None
    coupon_code: str = ""
    #: Its refunds, in the order they were requested (one an operator replaced by an override left out).
    refunds: tuple[OrderRefund, ...] = ()


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """The answer to placing an order; `replayed` when the idempotency key had placed it before."""

    order: Order
    replayed: bool


@dataclass(frozen=True, slots=True)
class Delivery:
    """A key delivered to a buyer's user centre (no plaintext)."""

    order_id: str
    key_id: str
    sku_id: str
    buyer_id: str
    delivered_at: str
    redeemed_at: str


@dataclass(frozen=True, slots=True)
class RevealedKey:
    """A key in plaintext, as inventory reveals it under audit. Never logged, never stored."""

    key_id: str
    sku_id: str
    code: str
    password: str = ""

    def __repr__(self) -> str:
        return f"RevealedKey(key_id={self.key_id!r}, sku_id={self.sku_id!r})"


@dataclass(frozen=True, slots=True)
class DeliveredKey:
    """A buyer's delivered key in plaintext, with when it was delivered and redeemed."""

    order_id: str
    key_id: str
    sku_id: str
    code: str
    password: str
    delivered_at: str
    redeemed_at: str | None

    def __repr__(self) -> str:
        return f"DeliveredKey(order_id={self.order_id!r}, key_id={self.key_id!r})"


@dataclass(frozen=True, slots=True)
class FoundKey:
    """The key a code belongs to, and the order it was delivered for."""

    key_id: str
    order_id: str
    sku_id: str


@dataclass(frozen=True, slots=True)
class Redemption:
    """A recorded redemption; `duplicate` when the key had been recorded as redeemed before."""

    key_id: str
    order_id: str
    redeemed_at: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """A buyer's request for the refund of an order; `reason` is one of a fixed list (no free text)."""

    request_id: str
    order_id: str
    buyer_id: str
    reason: str
    requested_at: datetime
    #: Where it stands, from the order (never stored): "requested" (no refund yet), "processing", "refunded"
    #: or "declined" (application.refund_requests.standing).
    state: str = "requested"


@dataclass(frozen=True, slots=True)
class ChannelStep:
    """One step of an order's delivery on a channel (e-mail, SMS, webhook, activation, app): "requested",
    "delivered" or "failed" (`final`: no more attempts), at an RFC 3339 time; who asked, for a request."""

    channel: str
    outcome: str
    at: str
    attempt: int
    final: bool
    requested_by: str


@dataclass(frozen=True, slots=True)
class KeyFacts:
    """What inventory knows of a key, without its plaintext: its state and validity window (None: no
    bound)."""

    key_id: str
    state: str
    valid_from: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class OwnedKey:
    """A buyer's delivered key for the user centre (no plaintext): delivery and redemption from
    fulfillment, state and validity from inventory (empty / None when inventory did not say)."""

    order_id: str
    key_id: str
    sku_id: str
    delivered_at: str
    redeemed_at: str
    state: str
    valid_from: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class PointsCredit:
    """Points a bundle credited to the buyer (fulfillment's PointsCredited), with the order they came from."""

    order_id: str
    line_no: int
    unit_no: int
    points: int
    credited_at: str
    debited_at: str = ""  # when the order's refund took them back (PointsDebited); "" while held


@dataclass(frozen=True, slots=True)
class MembershipGrant:
    """A membership a bundle granted (fulfillment's MembershipGranted), with the order it came from."""

    order_id: str
    line_no: int
    unit_no: int
    plan: str
    days: int
    valid_from: str
    valid_until: str
    shortened_at: str = ""  # when the order's refund took its days back (MembershipShortened); "" while held


@dataclass(frozen=True, slots=True)
class Membership:
    """A buyer's membership of a plan: valid until the end of its last grant."""

    plan: str
    valid_until: str


@dataclass(frozen=True, slots=True)
class Entitlements:
    """A buyer's points balance and memberships, with the credits and grants that make them."""

    points_balance: int
    credits: tuple[PointsCredit, ...] = ()
    memberships: tuple[Membership, ...] = ()
    grants: tuple[MembershipGrant, ...] = ()
