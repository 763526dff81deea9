"""The gateway against real Postgres and fake peers served over real gRPC.

The fakes keep state in memory and record every call, so tests can assert what the gateway asked of its
peers, and that some requests were refused before any peer was asked.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from quanyi.common.v1 import money_pb2
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as fulfillment_grpc
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as inventory_grpc
from quanyi.ledger.v1 import ledger_service_pb2 as ledger_pb
from quanyi.ledger.v1 import ledger_service_pb2_grpc as ledger_grpc
from quanyi.orders.v1 import orders_service_pb2 as orders_pb
from quanyi.orders.v1 import orders_service_pb2_grpc as orders_grpc
from quanyi_gateway.config import Settings
from quanyi_gateway.main import create_app
from quanyi_platform import paging, rpc

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-for-tests"
DEV_CREDENTIAL = "dev-credential-for-tests"
UNREACHABLE = "127.0.0.1:1"
Ctx = grpc.aio.ServicerContext


@dataclass
class FakePeers:
    """In-memory orders, inventory, fulfillment and ledger; `calls` lists every RPC by name."""

    calls: list[str] = field(default_factory=list)
    skus: dict[str, inventory_pb.Sku] = field(default_factory=dict)
    orders: dict[str, orders_pb.Order] = field(default_factory=dict)
    by_idempotency: dict[tuple[str, str], str] = field(default_factory=dict)
    keys: dict[str, inventory_pb.RevealedKey] = field(default_factory=dict)
    key_orders: dict[str, str] = field(default_factory=dict)
    deliveries: list[fulfillment_pb.Delivery] = field(default_factory=list)
    entitlements: dict[str, fulfillment_pb.ListEntitlementsResponse] = field(default_factory=dict)  # by buyer
    channel_requests: list[fulfillment_pb.DeliverOnChannelRequest] = field(default_factory=list)
    # What GetDeliveryLatency answers, whatever the range.
    latency: list[fulfillment_pb.LatencyPercentiles] = field(default_factory=list)
    reveals: list[inventory_pb.RevealKeysRequest] = field(default_factory=list)
    notices: list[orders_pb.HandlePaymentNoticeRequest] = field(default_factory=list)
    imports: list[inventory_pb.ImportKeysRequest] = field(default_factory=list)
    batches: list[inventory_pb.KeyBatch] = field(default_factory=list)
    # What ListExceptionQueue answers (open entries; resolved ones with include_resolved).
    queue: list[orders_pb.QueueEntry] = field(default_factory=list)
    psp_public_key: RSAPublicKey | None = None
    # When set, HandlePaymentNotice aborts with this code.
    notice_error: grpc.StatusCode | None = None
    # When set, PlaceOrder aborts with this code.
    place_error: grpc.StatusCode | None = None
    slow: asyncio.Event = field(default_factory=asyncio.Event)
    get_sku_called: asyncio.Event = field(default_factory=asyncio.Event)

    def add_sku(
        self, sku_id: str, price_minor: int = 1000, available: int = 10, low_stock_threshold: int = 0
    ) -> None:
        self.skus[sku_id] = inventory_pb.Sku(
            sku_id=sku_id,
            product_id="p-1",
            name=sku_id,
            price=money_pb2.Money(minor_units=price_minor, currency="CNY"),
            available=available,
            low_stock_threshold=low_stock_threshold,
        )

    def deliver(self, order_id: str, buyer_id: str, sku_id: str, code: str, password: str = "") -> str:
        key_id = f"k-{uuid.uuid4().hex[:8]}"
        self.keys[key_id] = inventory_pb.RevealedKey(
            key_id=key_id, sku_id=sku_id, code=code, password=password
        )
        self.key_orders[key_id] = order_id
        self.orders.setdefault(order_id, orders_pb.Order(order_id=order_id, buyer_id=buyer_id, status="FULFILLED"))
        self.deliveries.append(
            fulfillment_pb.Delivery(
                order_id=order_id,
                key_id=key_id,
                sku_id=sku_id,
                buyer_id=buyer_id,
                delivered_at="2026-01-01T00:00:00+00:00",
            )
        )
        return key_id


class FakeInventory(inventory_grpc.InventoryServiceServicer):
    def __init__(self, peers: FakePeers) -> None:
        self.p = peers

    async def CreateProduct(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("CreateProduct")
        return inventory_pb.CreateProductResponse(product_id="p-1", name=request.name, kind=request.kind)

    async def CreateSku(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("CreateSku")
        sku = inventory_pb.Sku(
            sku_id="s-new", product_id=request.product_id, name=request.name, price=request.price
        )
        return inventory_pb.CreateSkuResponse(sku=sku)

    async def GetSku(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("GetSku")
        self.p.get_sku_called.set()
        if request.sku_id == "slow":
            await self.p.slow.wait()
        if request.sku_id not in self.p.skus:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such SKU")
        return inventory_pb.GetSkuResponse(sku=self.p.skus[request.sku_id])

    async def ListSkus(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("ListSkus")
        ids = sorted(self.p.skus)
        if request.page_token and request.page_token not in ids:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_token is not a page of this catalogue")
        start = ids.index(request.page_token) if request.page_token else 0
        size = request.page_size or 50
        page = ids[start : start + size]
        next_token = ids[start + size] if start + size < len(ids) else ""
        return inventory_pb.ListSkusResponse(skus=[self.p.skus[s] for s in page], next_page_token=next_token)

    async def SetLowStockThreshold(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("SetLowStockThreshold")
        if request.sku_id not in self.p.skus:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such SKU")
        self.p.skus[request.sku_id].low_stock_threshold = request.low_stock_threshold
        return inventory_pb.SetLowStockThresholdResponse(sku=self.p.skus[request.sku_id])

    async def GetStockHistory(self, request: Any, context: Ctx) -> Any:
        """Every day of the range, the SKU burning down by 3 keys a day to its stock now."""
        self.p.calls.append("GetStockHistory")
        if request.sku_id not in self.p.skus:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such SKU")
        first, last = date.fromisoformat(request.from_day), date.fromisoformat(request.to_day)
        n = (last - first).days + 1
        now = self.p.skus[request.sku_id].available
        return inventory_pb.GetStockHistoryResponse(days=[
            inventory_pb.StockDay(
                day=(first + timedelta(days=i)).isoformat(), available=now + 3 * (n - 1 - i), reserved=3
            )
            for i in range(n)
        ])

    async def CreatePool(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("CreatePool")
        return inventory_pb.CreatePoolResponse(pool_id="pool-1", sku_id=request.sku_id, name=request.name)

    async def ImportKeys(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("ImportKeys")
        self.p.imports.append(request)
        rows = request.csv.decode().strip().splitlines()[1:]
        return inventory_pb.ImportKeysResponse(
            batch_id="b-1",
            imported=len(rows) - 1,
            duplicates=0,
            rejected=[inventory_pb.RejectedRow(row=len(rows) + 1, reason="empty code")],
        )

    async def ListBatches(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("ListBatches")
        batches = [b for b in self.p.batches if not request.pool_id or b.pool_id == request.pool_id]
        return inventory_pb.ListBatchesResponse(batches=batches)

    async def RevealKeys(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("RevealKeys")
        self.p.reveals.append(request)
        keys = [
            self.p.keys[k]
            for k in request.key_ids
            if k in self.p.keys and self.p.key_orders[k] == request.order_id
        ]
        return inventory_pb.RevealKeysResponse(keys=keys)

    async def FindKey(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("FindKey")
        for key in self.p.keys.values():
            if key.code == request.code:
                return inventory_pb.FindKeyResponse(
                    key_id=key.key_id, order_id=self.p.key_orders[key.key_id], sku_id=key.sku_id
                )
        await context.abort(grpc.StatusCode.NOT_FOUND, "no key with this code")


class FakeOrders(orders_grpc.OrdersServiceServicer):
    def __init__(self, peers: FakePeers) -> None:
        self.p = peers
        self.coupons: dict[str, Any] = {}

    async def PlaceOrder(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("PlaceOrder")
        if self.p.place_error is not None:
            await context.abort(self.p.place_error, "refused by the fake")
        known = self.p.by_idempotency.get((request.buyer_id, request.idempotency_key))
        if known:
            return orders_pb.PlaceOrderResponse(order=self.p.orders[known], replayed=True)
        order_id = str(uuid.uuid4())
        total = sum(i.unit_price.minor_units * i.quantity for i in request.items)
        order = orders_pb.Order(
            order_id=order_id,
            buyer_id=request.buyer_id,
            status="PENDING_PAYMENT",
            items=request.items,
            total=money_pb2.Money(minor_units=total, currency="CNY"),
            risk_decision="PENDING",
            channel=request.channel,
            created_at="2026-01-01T00:00:00+00:00",
            version=1,
        )
        self.p.orders[order_id] = order
        self.p.by_idempotency[(request.buyer_id, request.idempotency_key)] = order_id
        return orders_pb.PlaceOrderResponse(order=order)

    async def GetOrder(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("GetOrder")
        if request.order_id not in self.p.orders:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such order")
        return orders_pb.GetOrderResponse(order=self.p.orders[request.order_id])

    async def ListOrders(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("ListOrders")
        mine = [o for o in self.p.orders.values() if o.buyer_id == request.buyer_id]
        return orders_pb.ListOrdersResponse(orders=mine[: request.limit])

    async def HandlePaymentNotice(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("HandlePaymentNotice")
        self.p.notices.append(request)
        if self.p.notice_error is not None:
            await context.abort(self.p.notice_error, "refused by the fake")
        if self.p.psp_public_key is not None:
            message = f"{request.timestamp}\n{request.nonce}\n".encode() + request.body + b"\n"
            try:
                self.p.psp_public_key.verify(
                    base64.b64decode(request.signature), message, padding.PKCS1v15(), hashes.SHA256()
                )
            except Exception:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad signature")
        try:
            notice = json.loads(request.body)
        except ValueError:
            notice = None
        if not isinstance(notice, dict):  # as the orders service answers a notice it cannot read
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the notice is not a JSON object")
        return orders_pb.HandlePaymentNoticeResponse(order_id=str(notice.get("order_id", "")))

    async def ReviewOrder(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("ReviewOrder")
        if request.order_id not in self.p.orders:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such order")
        order = self.p.orders[request.order_id]
        order.status = "PAID" if request.approve else "REFUNDED"
        return orders_pb.ReviewOrderResponse(order=order)

    async def GetOrderHistory(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("GetOrderHistory")
        if request.order_id not in self.p.orders:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such order")
        placed = orders_pb.OrderHistoryEvent(
            event_id="e-1", type="quanyi.orders.v1.OrderPlaced", occurred_at="2026-01-01T00:00:00+00:00",
            payload_json=json.dumps({"orderId": request.order_id, "total": {"minorUnits": "1990", "currency": "CNY"}}),
        )
        return orders_pb.GetOrderHistoryResponse(events=[placed])

    async def CreateCoupon(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("CreateCoupon")
        coupon = orders_pb.Coupon()
        coupon.CopyFrom(request.coupon)
        coupon.created_by = request.actor
        self.coupons[coupon.code.lower()] = coupon
        return orders_pb.CreateCouponResponse(coupon=coupon)

    async def ListCoupons(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("ListCoupons")
        return orders_pb.ListCouponsResponse(coupons=list(self.coupons.values()))

    async def DisableCoupon(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("DisableCoupon")
        coupon = self.coupons.get(request.code.lower())
        if coupon is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such coupon")
            raise AssertionError("abort raises")
        coupon.disabled = True
        return orders_pb.DisableCouponResponse(coupon=coupon)

    async def SearchOrders(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("SearchOrders")
        found = [
            o for o in self.p.orders.values()
            if (not request.channel or o.channel == request.channel) and (not request.status or o.status == request.status)
        ]
        return orders_pb.SearchOrdersResponse(orders=found[: request.limit or 50])

    async def ListExceptionQueue(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("ListExceptionQueue")
        entries = [e for e in self.p.queue if request.include_resolved or e.status == "OPEN"]
        return orders_pb.ListExceptionQueueResponse(entries=entries)


class FakeFulfillment(fulfillment_grpc.FulfillmentServiceServicer):
    def __init__(self, peers: FakePeers) -> None:
        self.p = peers

    async def ListDeliveries(self, request: Any, context: Ctx) -> Any:
        # As fulfillment: a page of delivered orders (each whole), newest first, keyset on (delivered_at,
        # order_id); a token that is not one is INVALID_ARGUMENT.
        self.p.calls.append("ListDeliveries")
        try:
            after = paging.decode(request.page_token)
        except paging.InvalidPageToken as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        wanted = {request.order_id} if request.order_id else set(request.order_ids)
        found = [
            d
            for d in self.p.deliveries
            if d.buyer_id == request.buyer_id and (not wanted or d.order_id in wanted)
        ]
        position = {d.order_id: (datetime.fromisoformat(d.delivered_at), d.order_id) for d in found}
        orders = sorted({p for p in position.values() if after is None or p < after}, reverse=True)
        kept, token = paging.page(orders, request.limit or 100, lambda p: p)
        page = {order_id for _, order_id in kept}
        return fulfillment_pb.ListDeliveriesResponse(
            deliveries=[d for d in found if d.order_id in page], next_page_token=token
        )

    async def GetDeliveryLatency(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("GetDeliveryLatency")
        return fulfillment_pb.GetDeliveryLatencyResponse(buckets=self.p.latency)

    async def RecordRedemption(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("RecordRedemption")
        for d in self.p.deliveries:
            if d.key_id == request.key_id:
                duplicate = bool(d.redeemed_at)
                if not duplicate:
                    d.redeemed_at = request.redeemed_at
                return fulfillment_pb.RecordRedemptionResponse(delivery=d, duplicate=duplicate)
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "key not delivered")

    async def ListEntitlements(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("ListEntitlements")
        return self.p.entitlements.get(request.buyer_id, fulfillment_pb.ListEntitlementsResponse())

    async def DeliverOnChannel(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("DeliverOnChannel")
        self.p.channel_requests.append(request)
        if not any(d.order_id == request.order_id for d in self.p.deliveries):
            await context.abort(grpc.StatusCode.NOT_FOUND, "no delivered order with this id")
        return fulfillment_pb.DeliverOnChannelResponse(delivered=True, attempts=1)


class FakeLedger(ledger_grpc.LedgerServiceServicer):
    def __init__(self, peers: FakePeers) -> None:
        self.p = peers

    async def GetBalances(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("GetBalances")
        return ledger_pb.GetBalancesResponse(
            balances=[ledger_pb.Balance(account="revenue:web", balance_minor=-2000, currency="CNY")]
        )

    async def VerifyJournal(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("VerifyJournal")
        return ledger_pb.VerifyJournalResponse(ok=True, entries=3)

    async def ListEntries(self, request: Any, context: Ctx) -> Any:
        self.p.calls.append("ListEntries")
        return ledger_pb.ListEntriesResponse(entries=[])


@pytest.fixture
async def peers() -> AsyncIterator[tuple[FakePeers, str]]:
    """Fake peers on one real gRPC server; yields them and the server's address."""
    fake = FakePeers()
    server = rpc.server()
    inventory_grpc.add_InventoryServiceServicer_to_server(FakeInventory(fake), server)
    orders_grpc.add_OrdersServiceServicer_to_server(FakeOrders(fake), server)
    fulfillment_grpc.add_FulfillmentServiceServicer_to_server(FakeFulfillment(fake), server)
    ledger_grpc.add_LedgerServiceServicer_to_server(FakeLedger(fake), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await rpc.set_ready(server, True)
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        fake.slow.set()
        await server.stop(grace=None)


@pytest.fixture
def fake(peers: tuple[FakePeers, str]) -> FakePeers:
    return peers[0]


MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(database_url: str, peers: tuple[FakePeers, str]) -> MakeSettings:
    """Settings for a gateway on this test's database, its peers at the fakes unless overridden."""

    def make(**overrides: Any) -> Settings:
        peer = overrides.pop("peer", peers[1])
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "db_pool_min": 1,
            "db_pool_max": 4,
            "password_hash_n": 2**10,
            "admin_email": ADMIN_EMAIL,
            "admin_password": ADMIN_PASSWORD,
            "partner_secrets": {"acme": "acme-secret"},
            "partner_skus": {"acme": ["sku-a"]},
            "orders_grpc": peer,
            "inventory_grpc": peer,
            "fulfillment_grpc": peer,
            "ledger_grpc": peer,
            # The gateway's own gRPC (buyers' contacts) on any free port: app.state.contacts_port.
            "gateway_grpc_listen": "127.0.0.1:0",
            # No broker: the catalogue cache stays off and every lookup reaches the fake inventory.
            "risk_flags_enabled": False,
            "simulators_enabled": True,
            "dev_credential": DEV_CREDENTIAL,
            "kafka_bootstrap": UNREACHABLE,
            "grpc_deadline_s": 3.0,
            "readyz_timeout_s": 0.5,
            "log_json": False,
        }
        values.update(overrides)
        return Settings(**values)

    return make


class Gateway:
    """A started gateway app and an HTTP client on it."""

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    async def register(self, email: str, password: str = "correct-horse") -> dict[str, Any]:
        r = await self.client.post("/v1/auth/register", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    async def token(self, email: str, password: str = "correct-horse") -> str:
        r = await self.client.post("/v1/auth/token", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token

    async def buyer(self, email: str) -> tuple[str, dict[str, str]]:
        """Register a buyer; returns their user id and Authorization header."""
        user = await self.register(email)
        return user["user_id"], {"Authorization": f"Bearer {await self.token(email)}"}

    async def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(ADMIN_EMAIL, ADMIN_PASSWORD)}"}


StartGateway = Callable[[Settings], Any]


@pytest.fixture
async def start_gateway() -> AsyncIterator[Callable[[Settings], Any]]:
    """Start gateways (lifespan run) for settings; all are shut down after the test."""
    stacks: list[Any] = []

    async def start(settings: Settings) -> Gateway:
        app = create_app(settings)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway",
            headers={"X-Dev-Credential": DEV_CREDENTIAL},
        )
        stacks.append((lifespan, client))
        return Gateway(app, client)

    yield start
    for lifespan, client in reversed(stacks):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def gw(start_gateway: Any, make_settings: MakeSettings) -> Gateway:
    gateway: Gateway = await start_gateway(make_settings())
    return gateway
