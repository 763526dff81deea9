"""The loads a benchmark offers, and how an order's way through the services is timed.

Two entries:
- through the public gateway (HTTP, aiohttp): a buyer places an order and a signed PSP notice pays it;
  by default the benchmark client signs the notice and posts it to the gateway's webhook as a provider
  would (``pay="webhook"``), or it asks the gateway's built-in PSP simulator to pay (``pay="psp-sim"``,
  which puts the provider's signing and a second HTTP request inside the gateway process);
- the event backbone (gRPC to orders): orders placed with PlaceOrder and notices signed before the timed
  phase, which then only calls HandlePaymentNotice.

Either runs closed loop (N workers, as fast as answers come) or open loop (order i starts at i / rate
seconds, whatever the answers take). Paid→delivered is taken from the services' own event stores:
orders' PaymentCaptured to fulfillment's KeyDelivered, matched by order id (the event's aggregate id or
correlation id).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import httpx
from psycopg import AsyncConnection, sql
from quanyi.common.v1 import money_pb2
from quanyi.orders.v1 import orders_service_pb2 as orders_pb
from quanyi.orders.v1 import orders_service_pb2_grpc as orders_grpc
from quanyi_gateway.psp_sim import PROVIDER, load_private_key, signed_notice

from tests.integration.harness import admin, new_buyer

PSP_SERIAL = "psp-sim-dev"
CURRENCY = "CNY"
PRICE_MINOR = 1990
COST_MINOR = 1200
KEYS_PER_IMPORT = 20_000  # a CSV of this many keys stays under the gateway's 3 MB upload limit

T_CAPTURED = "quanyi.orders.v1.PaymentCaptured"
T_PAID = "quanyi.orders.v1.OrderPaid"
T_RISK = "quanyi.risk.v1.RiskDecided"
T_RESERVED = "quanyi.inventory.v1.KeyReserved"
T_SHORT = "quanyi.inventory.v1.StockShort"
T_DELIVERED = "quanyi.fulfillment.v1.KeyDelivered"
T_FAILED = "quanyi.fulfillment.v1.DeliveryFailed"
T_REFUNDED = "quanyi.orders.v1.OrderRefunded"
T_HELD = "quanyi.orders.v1.OrderHeld"
CHAIN = {
    "orders": (T_CAPTURED, T_PAID, T_REFUNDED, T_HELD),
    "risk": (T_RISK,),
    "inventory": (T_RESERVED, T_SHORT),
    "fulfillment": (T_DELIVERED, T_FAILED),
}


def pct(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def r1(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass
class Outcome:
    """What a load driver did: the orders it got accepted and how the entry went."""

    order_ids: list[str] = field(default_factory=list)
    started: float = 0.0  # wall clock (time.time()) of the first order's start
    entry_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    place_ms: list[float] = field(default_factory=list)
    pay_ms: list[float] = field(default_factory=list)
    late_ms: list[float] = field(default_factory=list)  # open loop: how late the client started an order

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


# --------------------------------------------------------------------------------------------------
# Catalogue and buyers, through the gateway
# --------------------------------------------------------------------------------------------------


@dataclass
class Shop:
    sku_id: str
    buyer_tokens: list[str]


def new_keys(n: int) -> list[tuple[str, str]]:
    return [(f"BENCH-{uuid.uuid4().hex}", f"PASS-{uuid.uuid4().hex}") for _ in range(n)]


async def setup_shop(gateway_url: str, keys: int, buyers: int) -> Shop:
    """One SKU with ``keys`` keys (imported in several files) and ``buyers`` registered buyers."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=300) as http:
        adm = await admin(http)
        r = await adm.post("/v1/admin/products", json={"name": "Bench", "kind": "card_key"})
        r.raise_for_status()
        r = await adm.post(f"/v1/admin/products/{r.json()['product_id']}/skus", json={
            "name": "Bench month", "price": {"amount_minor": PRICE_MINOR, "currency": CURRENCY}})
        r.raise_for_status()
        sku_id = r.json()["sku_id"]
        r = await adm.post(f"/v1/admin/skus/{sku_id}/pools", json={"name": "main"})
        r.raise_for_status()
        pool_id = r.json()["pool_id"]
        left = keys
        while left > 0:
            chunk = new_keys(min(left, KEYS_PER_IMPORT))
            csv_text = "code,password\n" + "".join(f"{c},{p}\n" for c, p in chunk)
            r = await adm.post(f"/v1/admin/pools/{pool_id}/imports",
                               files={"file": ("keys.csv", csv_text.encode(), "text/csv")},
                               data={"unit_cost_minor": str(COST_MINOR), "currency": CURRENCY})
            if r.status_code not in (200, 201) or r.json().get("imported") != len(chunk):
                raise RuntimeError(f"key import: {r.status_code} {r.text[:300]}")
            left -= len(chunk)
        tokens: list[str] = []
        for start in range(0, buyers, 20):
            clients = await asyncio.gather(*(new_buyer(http) for _ in range(min(20, buyers - start))))
            tokens.extend(c.token for c in clients)
        return Shop(sku_id, tokens)


# --------------------------------------------------------------------------------------------------
# Pacing
# --------------------------------------------------------------------------------------------------


async def closed_loop(one: Callable[[int], Awaitable[None]], concurrency: int, seconds: float,
                      max_orders: int) -> None:
    """``concurrency`` workers, each starting its next order when its last one answered."""
    deadline = time.perf_counter() + seconds
    counter = iter(range(max_orders))

    async def worker() -> None:
        for i in counter:
            if time.perf_counter() >= deadline:
                return
            await one(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def open_loop(one: Callable[[int], Coroutine[Any, Any, None]], rate: float, count: int, outcome: Outcome,
                    give_up_s: float) -> None:
    """Order i starts at i / rate s whatever the answers take; after ``give_up_s`` the rest is abandoned."""
    start = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        outcome.late_ms.append(max(0.0, (time.perf_counter() - due) * 1000))
        tasks.append(asyncio.create_task(one(i)))
    _done, pending = await asyncio.wait(tasks, timeout=max(1.0, start + give_up_s - time.perf_counter()))
    for task in pending:
        task.cancel()
        outcome.error("abandoned (no answer in time)")
    await asyncio.gather(*pending, return_exceptions=True)


# --------------------------------------------------------------------------------------------------
# Through the gateway
# --------------------------------------------------------------------------------------------------


class GatewayLoad:
    """Places and pays orders over HTTP as buyers and a payment provider would."""

    def __init__(self, gateway_url: str, shop: Shop, private_key: Path, pay: str = "webhook",
                 connections: int = 1024, dev_credential: str = "") -> None:
        self.url = gateway_url
        # pay="psp-sim": the simulator answers only the development credential.
        self.headers = {"X-Dev-Credential": dev_credential} if dev_credential else {}
        self.shop = shop
        self.pay = pay
        self.key = load_private_key(private_key)
        self.connections = connections

    async def run(self, *, rate: float = 0.0, seconds: float, concurrency: int = 32,
                  max_orders: int = 1_000_000, give_up_s: float = 120.0) -> Outcome:
        outcome = Outcome()
        # aiohttp rather than httpx: several times less client CPU per request on this machine.
        session = aiohttp.ClientSession(base_url=self.url, timeout=aiohttp.ClientTimeout(total=give_up_s),
                                        headers=self.headers,
                                        connector=aiohttp.TCPConnector(limit=self.connections))

        async def one(i: int) -> None:
            token = self.shop.buyer_tokens[i % len(self.shop.buyer_tokens)]
            t0 = time.perf_counter()
            try:
                async with session.post(
                    "/v1/orders", json={"items": [{"sku_id": self.shop.sku_id, "quantity": 1}]},
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
                ) as r:
                    if r.status != 201:
                        outcome.error(f"place {r.status}")
                        return
                    order = await r.json(content_type=None)
                t1 = time.perf_counter()
                amount = order["total"]["amount_minor"]
                if self.pay == "webhook":
                    notice = signed_notice(self.key, PSP_SERIAL, order["order_id"], amount, CURRENCY)
                    async with session.post(f"/v1/payments/{PROVIDER}/notify", data=notice.body,
                                            headers=notice.headers) as p:
                        if p.status != 200:
                            outcome.error(f"pay {p.status}")
                            return
                        await p.read()
                else:
                    async with session.post("/psp-sim/v1/pay", json={"order_id": order["order_id"], "amount": {
                            "amount_minor": amount, "currency": CURRENCY}}) as p:
                        paid = await p.json(content_type=None)
                        if p.status != 200 or paid.get("webhook_status") != 200:
                            outcome.error(f"pay {p.status}")
                            return
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome.error(type(exc).__name__)
                return
            t2 = time.perf_counter()
            outcome.place_ms.append((t1 - t0) * 1000)
            outcome.pay_ms.append((t2 - t1) * 1000)
            outcome.order_ids.append(order["order_id"])

        outcome.started = time.time()
        t = time.perf_counter()
        try:
            if rate > 0:
                await open_loop(one, rate, max(1, round(rate * seconds)), outcome, give_up_s + seconds)
            else:
                await closed_loop(one, concurrency, seconds, max_orders)
        finally:
            await session.close()
        outcome.entry_s = time.perf_counter() - t
        return outcome


# --------------------------------------------------------------------------------------------------
# The event backbone: orders' gRPC API
# --------------------------------------------------------------------------------------------------


class BackboneLoad:
    """Orders placed through gRPC ahead of time; the timed phase only hands orders the signed notices."""

    def __init__(self, orders_addr: str, sku_id: str, private_key: Path) -> None:
        self.addr = orders_addr
        self.sku_id = sku_id
        self.key = load_private_key(private_key)

    async def place(self, n: int, concurrency: int = 32) -> list[tuple[str, int]]:
        """Place ``n`` one-key orders for many buyers; returns (order id, amount) of each."""
        placed: list[tuple[str, int]] = []
        async with grpc.aio.insecure_channel(self.addr) as channel:
            stub = orders_grpc.OrdersServiceStub(channel)
            counter = iter(range(n))
            buyers = [str(uuid.uuid4()) for _ in range(min(n, 5000))]

            async def worker() -> None:
                for i in counter:
                    buyer = buyers[i % len(buyers)]
                    reply = await stub.PlaceOrder(orders_pb.PlaceOrderRequest(
                        buyer_id=buyer, buyer_email=f"{buyer[:8]}@buyer.test", channel="web",
                        idempotency_key=uuid.uuid4().hex,
                        items=[orders_pb.OrderItem(sku_id=self.sku_id, quantity=1, unit_price=money_pb2.Money(
                            minor_units=PRICE_MINOR, currency=CURRENCY))]), timeout=60)
                    placed.append((reply.order.order_id, reply.order.total.minor_units))

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return placed

    def sign(self, orders: Sequence[tuple[str, int]]) -> list[orders_pb.HandlePaymentNoticeRequest]:
        """Signed notices, timestamped now: orders accepts them for five minutes."""
        requests = []
        for order_id, amount in orders:
            notice = signed_notice(self.key, PSP_SERIAL, order_id, amount, CURRENCY)
            h = notice.headers
            requests.append(orders_pb.HandlePaymentNoticeRequest(
                provider=PROVIDER, body=notice.body, signature=h["X-Psp-Signature"],
                timestamp=h["X-Psp-Timestamp"], nonce=h["X-Psp-Nonce"], serial=h["X-Psp-Serial"]))
        return requests

    async def run(self, notices: Sequence[orders_pb.HandlePaymentNoticeRequest], *, rate: float = 0.0,
                  concurrency: int = 64, give_up_s: float = 120.0) -> Outcome:
        outcome = Outcome()
        async with grpc.aio.insecure_channel(self.addr) as channel:
            stub = orders_grpc.OrdersServiceStub(channel)

            async def one(i: int) -> None:
                t0 = time.perf_counter()
                try:
                    reply = await stub.HandlePaymentNotice(notices[i], timeout=give_up_s)
                except grpc.aio.AioRpcError as exc:
                    outcome.error(f"notice {exc.code().name}")
                    return
                outcome.pay_ms.append((time.perf_counter() - t0) * 1000)
                outcome.order_ids.append(reply.order_id)

            outcome.started = time.time()
            t = time.perf_counter()
            if rate > 0:
                await open_loop(one, rate, len(notices), outcome, give_up_s + len(notices) / rate)
            else:
                await closed_loop(one, concurrency, 1e9, len(notices))
            outcome.entry_s = time.perf_counter() - t
        return outcome


# --------------------------------------------------------------------------------------------------
# Following orders through the event stores
# --------------------------------------------------------------------------------------------------


async def _rows(conn: AsyncConnection[Any], schema: str, mark: int, types: Sequence[str]
                ) -> list[tuple[str, str, str, Any]]:
    cur = await conn.execute(
        sql.SQL("SELECT event_type, aggregate_id, correlation_id, occurred_at FROM {}.events"
                " WHERE seq > %s AND event_type = ANY(%s)").format(sql.Identifier(schema)),
        (mark, list(types)))
    return [(str(a), str(b), str(c), d) for a, b, c, d in await cur.fetchall()]


def _order_of(ids: set[str], aggregate_id: str, correlation_id: str) -> str | None:
    if aggregate_id in ids:
        return aggregate_id
    if correlation_id in ids:
        return correlation_id
    return None


async def wait_delivered(conn: AsyncConnection[Any], mark: int, order_ids: Sequence[str],
                         stall_s: float, progress: Callable[[int, int], None],
                         check: Callable[[], None] = lambda: None) -> int:
    """Wait until every order has its KeyDelivered, or nothing new was delivered for ``stall_s``."""
    ids = set(order_ids)
    delivered: set[str] = set()
    last = mark
    last_progress = time.monotonic()
    last_report = 0.0
    while len(delivered) < len(ids):
        cur = await conn.execute(
            "SELECT seq, aggregate_id, correlation_id FROM fulfillment.events"
            " WHERE seq > %s AND event_type = %s ORDER BY seq", (last, T_DELIVERED))
        rows = await cur.fetchall()
        for seq, aggregate_id, correlation_id in rows:
            last = max(last, int(seq))
            order = _order_of(ids, str(aggregate_id), str(correlation_id))
            if order is not None:
                delivered.add(order)
        check()
        now = time.monotonic()
        if rows:
            last_progress = now
        elif now - last_progress > stall_s:
            break
        if now - last_report > 5:
            progress(len(delivered), len(ids))
            last_report = now
        await asyncio.sleep(0.2)
    return len(delivered)


async def chain(conn: AsyncConnection[Any], marks: dict[str, int], order_ids: Sequence[str]) -> dict[str, Any]:
    """Per order, when each step of its way happened (first occurrence), from the services' event stores;
    then paid→delivered percentiles, the per-hop medians and how many orders ended otherwise."""
    ids = set(order_ids)
    at: dict[str, dict[str, float]] = {t: {} for types in CHAIN.values() for t in types}
    for schema, types in CHAIN.items():
        for event_type, aggregate_id, correlation_id, occurred_at in await _rows(conn, schema, marks[schema], types):
            order = _order_of(ids, aggregate_id, correlation_id)
            if order is not None:
                at[event_type].setdefault(order, occurred_at.timestamp())
    delivered = at[T_DELIVERED]
    captured = at[T_CAPTURED]
    latencies = [(delivered[o] - captured[o]) * 1000 for o in delivered if o in captured]

    def hop(a: str, b: str) -> float | None:
        return r1(pct([(at[b][o] - at[a][o]) * 1000 for o in at[b] if o in at[a]], 50))

    return {
        "delivered": len(delivered),
        "first_delivered_at": min(delivered.values()) if delivered else None,
        "last_delivered_at": max(delivered.values()) if delivered else None,
        "p50": r1(pct(latencies, 50)), "p95": r1(pct(latencies, 95)), "p99": r1(pct(latencies, 99)),
        "max": r1(max(latencies)) if latencies else None,
        "hops_p50_ms": {
            "captured→paid": hop(T_CAPTURED, T_PAID),
            "paid→reserved": hop(T_PAID, T_RESERVED),
            "reserved→delivered": hop(T_RESERVED, T_DELIVERED),
        },
        "ended_otherwise": {name: len(at[t]) for name, t in (
            ("stock_short", T_SHORT), ("refunded", T_REFUNDED), ("held_for_review", T_HELD),
            ("delivery_failed", T_FAILED)) if at[t]},
    }
