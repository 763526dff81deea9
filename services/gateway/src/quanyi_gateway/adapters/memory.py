"""In-memory implementations of the gateway's ports, for tests and single-process use.

The storage ports' fakes give the same guarantees as the Postgres adapters (tests/contracts runs one suite
against both); the peers' fakes answer like the services behind the gateway and count their calls.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from quanyi_gateway.application.errors import UnknownSku
from quanyi_gateway.application.model import (
    CataloguePage,
    ChannelStep,
    Credentials,
    Delivery,
    Entitlements,
    FoundKey,
    KeyFacts,
    Money,
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


class InMemoryUserRepository:
    """A UserRepository in a dict keyed by lower-case e-mail."""

    def __init__(self) -> None:
        self._by_email: dict[str, tuple[User, str]] = {}

    async def add(self, email: str, password_hash: str, role: Role = "buyer") -> User | None:
        key = email.lower()
        if key in self._by_email:
            return None
        user = User(uuid.uuid4(), key, role)
        self._by_email[key] = (user, password_hash)
        return user

    async def upsert_admin(self, email: str, password_hash: str) -> User:
        key = email.lower()
        known = self._by_email.get(key)
        user = User(known[0].user_id if known else uuid.uuid4(), key, "admin")
        self._by_email[key] = (user, password_hash)
        return user

    async def credentials(self, email: str) -> Credentials | None:
        known = self._by_email.get(email.lower())
        return Credentials(known[0], known[1]) if known else None

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        for key, (user, _) in self._by_email.items():
            if user.user_id == user_id:
                self._by_email[key] = (user, password_hash)

    async def operators(self) -> list[User]:
        return sorted((u for u, _ in self._by_email.values() if u.role != "buyer"), key=lambda u: u.email)

    async def set_operator_role(self, user_id: uuid.UUID, role: Role) -> User | None:
        for key, (user, password_hash) in self._by_email.items():
            if user.user_id == user_id and user.role not in ("buyer", "admin"):
                changed = User(user.user_id, user.email, role)
                self._by_email[key] = (changed, password_hash)
                return changed
        return None

    async def remove_operator(self, user_id: uuid.UUID) -> bool:
        for key, (user, _) in list(self._by_email.items()):
            if user.user_id == user_id and user.role not in ("buyer", "admin"):
                del self._by_email[key]
                return True
        return False


class InMemoryRevocationStore:
    """A RevocationStore in a dict keyed by token id."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self._rows: dict[str, Revocation] = {}

    async def revoke(self, jti: str, user_id: uuid.UUID, expires_at: datetime) -> None:
        self._rows.setdefault(jti, Revocation(jti, expires_at, self._now()))

    async def revoke_account(self, user_id: uuid.UUID, revoked_at: datetime, expires_at: datetime) -> None:
        known = self._rows.get(str(user_id))
        if known is not None:
            revoked_at, expires_at = max(revoked_at, known.revoked_at), max(expires_at, known.expires_at)
        self._rows[str(user_id)] = Revocation(str(user_id), expires_at, revoked_at, account=True)

    async def revoked_since(self, since: datetime | None) -> list[Revocation]:
        now = self._now()
        return [
            r for r in self._rows.values() if r.expires_at > now and (since is None or r.revoked_at >= since)
        ]

    async def purge_expired(self) -> int:
        now = self._now()
        expired = [jti for jti, r in self._rows.items() if r.expires_at <= now]
        for jti in expired:
            del self._rows[jti]
        return len(expired)


class InMemoryPartnerScopes:
    """A PartnerScopes in memory."""

    def __init__(self, scopes: dict[str, set[str]] | None = None) -> None:
        self.scopes = {p: set(s) for p, s in (scopes or {}).items()}

    async def skus_of(self, partner: str) -> frozenset[str]:
        return frozenset(self.scopes.get(partner, ()))

    async def replace(self, partner: str, sku_ids: Sequence[str]) -> None:
        self.scopes[partner] = set(sku_ids)

    async def grant(self, partner: str, sku_ids: Sequence[str]) -> None:
        self.scopes.setdefault(partner, set()).update(sku_ids)


class InMemoryNonceStore:
    """A NonceStore that forgets a nonce `retention` after it was first seen."""

    def __init__(self, retention: timedelta, clock: Callable[[], float] = time.monotonic) -> None:
        self._retention = retention.total_seconds()
        self._clock = clock
        self._seen: dict[tuple[str, str], float] = {}

    async def remember(self, partner: str, nonce: str) -> bool:
        now = self._clock()
        for key in [k for k, t in self._seen.items() if t < now - self._retention]:
            del self._seen[key]
        if (partner, nonce) in self._seen:
            return False
        self._seen[(partner, nonce)] = now
        return True


class InMemoryCatalogue:
    """A Catalogue of SKUs in a dict; `calls` counts the lookups that reached it."""

    def __init__(self) -> None:
        self.skus: dict[str, SkuStock] = {}
        self.calls: Counter[str] = Counter()

    def put(self, sku_id: str, price_minor: int, available: int = 10, currency: str = "CNY") -> None:
        self.skus[sku_id] = SkuStock(Sku(sku_id, "p-1", sku_id, Money(price_minor, currency)), available)

    async def prices(self, sku_ids: Sequence[str]) -> dict[str, Sku]:
        self.calls["prices"] += 1
        for sku_id in sku_ids:
            if sku_id not in self.skus:
                raise UnknownSku(sku_id)
        return {s: self.skus[s].sku for s in sku_ids}

    async def sku(self, sku_id: str) -> SkuStock:
        self.calls["sku"] += 1
        if sku_id not in self.skus:
            raise UnknownSku(sku_id)
        return self.skus[sku_id]

    async def page(self, limit: int, cursor: str | None) -> CataloguePage:
        self.calls["page"] += 1
        ids = sorted(self.skus)
        start = ids.index(cursor) + 1 if cursor in self.skus else 0
        chosen = ids[start : start + limit]
        more = start + limit < len(ids)
        return CataloguePage(tuple(self.skus[s] for s in chosen), chosen[-1] if more and chosen else None)


class InMemoryOrders:
    """An Orders port keeping orders in a dict, idempotent per (buyer, idempotency key)."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self._by_key: dict[tuple[str, str], str] = {}

    async def place(
        self, buyer: User, channel: str, idempotency_key: str, items: Sequence[OrderItem], *,
        client_ip: str = "", coupon_code: str = "",
    ) -> PlacedOrder:
        key = (str(buyer.user_id), idempotency_key)
        if key in self._by_key:
            return PlacedOrder(self.orders[self._by_key[key]], replayed=True)
        currency = items[0].unit_price.currency if items else "CNY"
        total = Money(sum(i.unit_price.amount_minor * i.quantity for i in items), currency)
        order = Order(
            str(uuid.uuid4()), str(buyer.user_id), "PENDING_PAYMENT", tuple(items), total, "PENDING",
            channel, datetime.now(UTC).isoformat(), 1,
        )
        self.orders[order.order_id] = order
        self._by_key[key] = order.order_id
        return PlacedOrder(order, replayed=False)

    async def get(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    async def of_buyer(self, buyer_id: str, limit: int, cursor: str = "") -> Page[Order]:
        mine = [o for o in reversed(self.orders.values()) if o.buyer_id == buyer_id]
        start = next((n + 1 for n, o in enumerate(mine) if o.order_id == cursor), 0) if cursor else 0
        found = mine[start:start + limit]
        more = start + limit < len(mine)
        return Page(tuple(found), found[-1].order_id if more and found else "")


class InMemoryDeliveries:
    """A Deliveries port over a list of deliveries."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.steps: list[tuple[str, ChannelStep]] = []  # (order id, step)
        self.entitled: dict[str, Entitlements] = {}  # by buyer

    async def entitlements(self, buyer_id: str) -> Entitlements:
        return self.entitled.get(buyer_id, Entitlements(0))

    async def of_buyer(
        self, buyer_id: str, order_ids: Sequence[str] = (), limit: int = 0, cursor: str = ""
    ) -> Page[Delivery]:
        """Like fulfillment: `limit` delivered orders a page (0: 100), newest delivered first, each with
        all its keys; the cursor is the page's last order id."""
        mine = [
            d for d in self.deliveries
            if d.buyer_id == buyer_id and (not order_ids or d.order_id in order_ids)
        ]
        newest: dict[str, str] = {}
        for d in mine:
            newest[d.order_id] = max(newest.get(d.order_id, ""), d.delivered_at)
        orders = sorted(newest, key=lambda o: (newest[o], o), reverse=True)
        start = orders.index(cursor) + 1 if cursor in newest else 0
        size = limit or 100
        page = orders[start:start + size]
        more = start + size < len(orders)
        return Page(
            tuple(d for o in page for d in mine if d.order_id == o), page[-1] if more and page else ""
        )

    async def record_redemption(self, key_id: str, partner: str, redeemed_at: str) -> Redemption:
        for i, d in enumerate(self.deliveries):
            if d.key_id == key_id:
                if d.redeemed_at:
                    return Redemption(key_id, d.order_id, d.redeemed_at, duplicate=True)
                self.deliveries[i] = replace(d, redeemed_at=redeemed_at)
                return Redemption(key_id, d.order_id, redeemed_at, duplicate=False)
        raise LookupError("key not delivered")

    async def channel_steps(self, order_ids: Sequence[str]) -> dict[str, list[ChannelStep]]:
        found: dict[str, list[ChannelStep]] = {}
        for o, s in self.steps:
            if o in order_ids:
                found.setdefault(o, []).append(s)
        return found


class InMemoryKeyVault:
    """A KeyVault over keys in a dict; `reveals` records every reveal as (order, keys, actor, purpose)."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[RevealedKey, str]] = {}  # key_id -> (key, order_id)
        self.reveals: list[tuple[str, tuple[str, ...], str, str]] = []
        self.facts: dict[str, KeyFacts] = {}  # a key's state and validity, when not the default

    async def reveal(
        self, order_id: str, key_ids: Sequence[str], actor: str, purpose: str
    ) -> list[RevealedKey]:
        self.reveals.append((order_id, tuple(key_ids), actor, purpose))
        return [self.keys[k][0] for k in key_ids if k in self.keys and self.keys[k][1] == order_id]

    async def find(self, code: str) -> FoundKey | None:
        for key, order_id in self.keys.values():
            if key.code == code:
                return FoundKey(key.key_id, order_id, key.sku_id)
        return None

    async def describe(self, key_ids: Sequence[str]) -> list[KeyFacts]:
        return [self.facts.get(k, KeyFacts(k, "delivered", None, None)) for k in key_ids if k in self.keys]


class InMemoryRefundRequestStore:
    """A RefundRequestStore in a dict by order id."""

    def __init__(self) -> None:
        self.requests: dict[str, RefundRequest] = {}

    async def add(self, request: RefundRequest) -> RefundRequest:
        return self.requests.setdefault(request.order_id, request)

    async def of_order(self, order_id: str) -> RefundRequest | None:
        return self.requests.get(order_id)

    async def of_orders(self, order_ids: Sequence[str]) -> list[RefundRequest]:
        return [self.requests[o] for o in dict.fromkeys(order_ids) if o in self.requests]

    async def of_buyer(
        self, buyer_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[RefundRequest]:
        return self._newest([r for r in self.requests.values() if r.buyer_id == buyer_id], limit, before)

    async def latest(self, limit: int, before: tuple[datetime, str] | None = None) -> list[RefundRequest]:
        return self._newest(list(self.requests.values()), limit, before)

    @staticmethod
    def _newest(
        found: list[RefundRequest], limit: int, before: tuple[datetime, str] | None
    ) -> list[RefundRequest]:
        kept = [r for r in found if before is None or (r.requested_at, r.request_id) < before]
        return sorted(kept, key=lambda r: (r.requested_at, r.request_id), reverse=True)[:limit]
