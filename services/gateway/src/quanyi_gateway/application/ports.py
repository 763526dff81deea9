"""The ports the use cases talk to. Adapters implement them: Postgres, peers over gRPC, in-memory fakes.

Each docstring states the guarantee an implementation gives; `tests/contracts` holds one test suite per
storage port that runs against the Postgres adapter and the in-memory fake alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from quanyi_gateway.application.model import (
    CataloguePage,
    ChannelStep,
    Credentials,
    Delivery,
    Entitlements,
    FoundKey,
    KeyFacts,
    Order,
    OrderItem,
    Page,
    PlacedOrder,
    Redemption,
    RefundRequest,
    RevealedKey,
    Revocation,
    Role,
    Sku,
    SkuStock,
    User,
)
from quanyi_gateway.security import NonceStore as NonceStore


class UserRepository(Protocol):
    """Accounts. E-mail addresses are stored lower-case and are unique."""

    async def add(self, email: str, password_hash: str, role: Role = "buyer") -> User | None:
        """Create an account; None when the e-mail address is taken (in any case)."""
        ...

    async def upsert_admin(self, email: str, password_hash: str) -> User:
        """Create the administrator, or make the existing account an administrator with this password."""
        ...

    async def credentials(self, email: str) -> Credentials | None:
        """The account and its password hash for an e-mail address in any case, or None."""
        ...

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        """Replace the account's password hash."""
        ...

    async def operators(self) -> list[User]:
        """Every account whose role is not a buyer's, by e-mail address."""
        ...

    async def set_operator_role(self, user_id: uuid.UUID, role: Role) -> User | None:
        """Give an operator (not the configured `admin`) another role; None when no such operator."""
        ...

    async def remove_operator(self, user_id: uuid.UUID) -> bool:
        """Delete an operator's account (not the configured `admin`); False when no such operator."""
        ...


class RevocationStore(Protocol):
    """Revoked access tokens, shared by every gateway replica."""

    async def revoke(self, jti: str, user_id: uuid.UUID, expires_at: datetime) -> None:
        """Record the token as revoked; revoking it again changes nothing."""
        ...

    async def revoke_account(self, user_id: uuid.UUID, revoked_at: datetime, expires_at: datetime) -> None:
        """Record that every token the account held at `revoked_at` is revoked, until `expires_at`; a later
        call moves both forward (never back). Listed by `revoked_since` with `account` set, `jti` the id."""
        ...

    async def revoked_since(self, since: datetime | None) -> list[Revocation]:
        """Every revocation recorded at or after `since` (all when None) that has not expired yet."""
        ...

    async def purge_expired(self) -> int:
        """Forget revocations of tokens that have expired anyway; returns how many."""
        ...


class Catalogue(Protocol):
    """The SKUs on sale: prices for checkout, stock for display."""

    async def prices(self, sku_ids: Sequence[str]) -> dict[str, Sku]:
        """Each SKU by id. Raises UnknownSku for the first id the catalogue does not have."""
        ...

    async def sku(self, sku_id: str) -> SkuStock:
        """A SKU with its keys available now. Raises UnknownSku."""
        ...

    async def page(self, limit: int, cursor: str | None) -> CataloguePage:
        """One page of the catalogue, oldest SKU first."""
        ...


class Orders(Protocol):
    """The orders service."""

    async def place(
        self,
        buyer: User,
        channel: str,
        idempotency_key: str,
        items: Sequence[OrderItem],
        *,
        client_ip: str = "",
        coupon_code: str = "",
    ) -> PlacedOrder:
        """Place an order at these unit prices; the same (buyer, idempotency key) returns the same order.
        A coupon code the order cannot take refuses it (FAILED_PRECONDITION, with the reason)."""
        ...

    async def get(self, order_id: str) -> Order | None:
        """The order, or None when there is none with this id."""
        ...

    async def of_buyer(self, buyer_id: str, limit: int, cursor: str = "") -> Page[Order]:
        """A page of the buyer's orders, newest first: at most `limit`, after the page `cursor` ended
        (the previous page's next_cursor; "" for the first). A cursor that is not one raises the peer's
        INVALID_ARGUMENT."""
        ...


class Deliveries(Protocol):
    """The fulfillment service: what was delivered, and redemptions."""

    async def of_buyer(
        self, buyer_id: str, order_ids: Sequence[str] = (), limit: int = 0, cursor: str = ""
    ) -> Page[Delivery]:
        """A page of the buyer's delivered keys: `limit` delivered orders with all their keys (0: the
        service's default page, at most 500), newest delivered first, after the page `cursor` ended ("" for
        the first); only `order_ids`' when given (at most 500)."""
        ...

    async def record_redemption(self, key_id: str, partner: str, redeemed_at: str) -> Redemption:
        """Record that a delivered key was redeemed; a second report is a duplicate, not an error."""
        ...

    async def channel_steps(self, order_ids: Sequence[str]) -> dict[str, list[ChannelStep]]:
        """Each order's deliveries on its channels, oldest first: requests, deliveries and failures (an
        order with none is left out)."""
        ...

    async def entitlements(self, buyer_id: str) -> Entitlements:
        """The buyer's points balance and memberships from bundles, with their credits and grants."""
        ...


class KeyVault(Protocol):
    """Inventory's card keys: audited reveals and lookups by code."""

    async def reveal(
        self, order_id: str, key_ids: Sequence[str], actor: str, purpose: str
    ) -> list[RevealedKey]:
        """The plaintext of those of `key_ids` delivered for `order_id`; the reveal is audited."""
        ...

    async def find(self, code: str) -> FoundKey | None:
        """The key with this code, or None."""
        ...

    async def describe(self, key_ids: Sequence[str]) -> list[KeyFacts]:
        """The state and validity of those of `key_ids` that exist (nothing is revealed or audited)."""
        ...


class PartnerScopes(Protocol):
    """The SKUs each partner may report redemptions of, shared by every gateway replica."""

    async def skus_of(self, partner: str) -> frozenset[str]:
        """The partner's SKUs (empty when it has none)."""
        ...

    async def replace(self, partner: str, sku_ids: Sequence[str]) -> None:
        """Make these the partner's SKUs, and only these."""
        ...

    async def grant(self, partner: str, sku_ids: Sequence[str]) -> None:
        """Add these SKUs to the partner's (those it has stay)."""
        ...


class RefundRequestStore(Protocol):
    """Buyers' refund requests, at most one per order, shared by every gateway replica."""

    async def add(self, request: RefundRequest) -> RefundRequest:
        """Keep the request; when the order has one already (a concurrent request too), that one is
        returned and this one is not kept."""
        ...

    async def of_order(self, order_id: str) -> RefundRequest | None:
        """The order's request, or None."""
        ...

    async def of_orders(self, order_ids: Sequence[str]) -> list[RefundRequest]:
        """The requests of these orders (those that have one), in one read."""
        ...

    async def of_buyer(
        self, buyer_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[RefundRequest]:
        """At most `limit` of the buyer's requests, newest first (then by request id, descending), asked
        before `before` (requested_at, request_id) when given."""
        ...

    async def latest(self, limit: int, before: tuple[datetime, str] | None = None) -> list[RefundRequest]:
        """At most `limit` requests of every buyer, newest first (then by request id, descending), asked
        before `before` (requested_at, request_id) when given."""
        ...
