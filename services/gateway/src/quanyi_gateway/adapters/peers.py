"""gRPC clients of the services behind the gateway, made in the app's lifespan, and the ports on them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

import grpc
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as fulfillment_grpc
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as inventory_grpc
from quanyi.ledger.v1 import ledger_service_pb2_grpc as ledger_grpc
from quanyi.orders.v1 import orders_service_pb2 as orders_pb
from quanyi.orders.v1 import orders_service_pb2_grpc as orders_grpc
from quanyi_platform import rpc
from quanyi_platform.config import PlatformSettings

from quanyi_gateway.adapters import mappers
from quanyi_gateway.application.errors import UnknownSku
from quanyi_gateway.application.model import (
    CataloguePage,
    ChannelStep,
    Delivery,
    Entitlements,
    FoundKey,
    KeyFacts,
    Membership,
    MembershipGrant,
    Order,
    OrderItem,
    Page,
    PlacedOrder,
    PointsCredit,
    Redemption,
    RevealedKey,
    Sku,
    SkuStock,
    User,
)

# Inventory answers an export of named keys for at most 1000 at a time; fulfillment the channel history of
# at most 500 orders.
DESCRIBE_CHUNK = 1000
HISTORY_CHUNK = 500


@dataclass
class Peers:
    """One channel and stub per peer; every call carries trace context and a deadline (see rpc.channel)."""

    orders: orders_grpc.OrdersServiceStub
    inventory: inventory_grpc.InventoryServiceStub
    fulfillment: fulfillment_grpc.FulfillmentServiceStub
    ledger: ledger_grpc.LedgerServiceStub
    channels: dict[str, grpc.aio.Channel]

    @classmethod
    def connect(cls, settings: PlatformSettings) -> Peers:
        """Channels connect lazily: making them never fails, the first call (or readiness probe) connects."""
        deadline = settings.grpc_deadline_s
        # The gateway's service identity (quanyi_platform.identity) rides on every call.
        token = settings.service_token.get_secret_value()
        channels = {
            "orders": rpc.channel(settings.orders_grpc, deadline, token=token),
            "inventory": rpc.channel(
                settings.inventory_grpc, deadline, token=token, tls=rpc.inventory_tls(settings)
            ),
            "fulfillment": rpc.channel(settings.fulfillment_grpc, deadline, token=token),
            "ledger": rpc.channel(settings.ledger_grpc, deadline, token=token),
        }
        return cls(
            orders=orders_grpc.OrdersServiceStub(channels["orders"]),
            inventory=inventory_grpc.InventoryServiceStub(channels["inventory"]),
            fulfillment=fulfillment_grpc.FulfillmentServiceStub(channels["fulfillment"]),
            ledger=ledger_grpc.LedgerServiceStub(channels["ledger"]),
            channels=channels,
        )

    async def readiness(self, timeout_s: float) -> dict[str, bool]:
        """Whether each peer answers within `timeout_s` that it is ready (its consumers have joined)."""
        names = list(self.channels)
        states = await asyncio.gather(*(rpc.is_ready(self.channels[n], timeout_s) for n in names))
        return dict(zip(names, states, strict=True))

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.channels.values()))


def _is(exc: grpc.aio.AioRpcError, *codes: grpc.StatusCode) -> bool:
    return exc.code() in codes


class GrpcCatalogue:
    """The Catalogue port (application.ports) on inventory's GetSku and ListSkus."""

    def __init__(self, inventory: inventory_grpc.InventoryServiceStub) -> None:
        self._inventory = inventory

    async def _get(self, sku_id: str) -> inventory_pb.Sku:
        try:
            reply: inventory_pb.GetSkuResponse = await self._inventory.GetSku(
                inventory_pb.GetSkuRequest(sku_id=sku_id)
            )
        except grpc.aio.AioRpcError as exc:
            if _is(exc, grpc.StatusCode.NOT_FOUND):
                raise UnknownSku(sku_id) from None
            raise
        return reply.sku

    async def prices(self, sku_ids: Sequence[str]) -> dict[str, Sku]:
        found = await asyncio.gather(*(self._get(s) for s in sku_ids))
        return {s: mappers.sku(p) for s, p in zip(sku_ids, found, strict=True)}

    async def sku(self, sku_id: str) -> SkuStock:
        return mappers.sku_stock(await self._get(sku_id))

    async def page(self, limit: int, cursor: str | None) -> CataloguePage:
        request = inventory_pb.ListSkusRequest(page_size=limit, page_token=cursor or "")
        reply: inventory_pb.ListSkusResponse = await self._inventory.ListSkus(request)
        return CataloguePage(
            tuple(mappers.sku_stock(s) for s in reply.skus), reply.next_page_token or None
        )


class GrpcOrders:
    """The Orders port (application.ports) on the orders service."""

    def __init__(self, orders: orders_grpc.OrdersServiceStub) -> None:
        self._orders = orders

    async def place(
        self, buyer: User, channel: str, idempotency_key: str, items: Sequence[OrderItem], *,
        client_ip: str = "", coupon_code: str = "",
    ) -> PlacedOrder:
        reply: orders_pb.PlaceOrderResponse = await self._orders.PlaceOrder(
            orders_pb.PlaceOrderRequest(
                # The buyer's id only: orders, and every event, keep no personal data (of the client's
                # address, orders keeps a keyed digest, to cap the stock held per address).
                buyer_id=str(buyer.user_id),
                client_ip=client_ip,
                channel=channel,
                idempotency_key=idempotency_key,
                items=[mappers.order_item_pb(i) for i in items],
                coupon_code=coupon_code,
            )
        )
        return PlacedOrder(mappers.order(reply.order), reply.replayed)

    async def get(self, order_id: str) -> Order | None:
        try:
            reply: orders_pb.GetOrderResponse = await self._orders.GetOrder(
                orders_pb.GetOrderRequest(order_id=order_id)
            )
        except grpc.aio.AioRpcError as exc:
            if _is(exc, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise
        return mappers.order(reply.order)

    async def of_buyer(self, buyer_id: str, limit: int, cursor: str = "") -> Page[Order]:
        reply: orders_pb.ListOrdersResponse = await self._orders.ListOrders(
            orders_pb.ListOrdersRequest(buyer_id=buyer_id, limit=limit, page_token=cursor)
        )
        return Page(tuple(mappers.order(o) for o in reply.orders), reply.next_page_token)


class GrpcDeliveries:
    """The Deliveries port (application.ports) on the fulfillment service."""

    def __init__(self, fulfillment: fulfillment_grpc.FulfillmentServiceStub) -> None:
        self._fulfillment = fulfillment

    async def of_buyer(
        self, buyer_id: str, order_ids: Sequence[str] = (), limit: int = 0, cursor: str = ""
    ) -> Page[Delivery]:
        reply: fulfillment_pb.ListDeliveriesResponse = await self._fulfillment.ListDeliveries(
            fulfillment_pb.ListDeliveriesRequest(
                buyer_id=buyer_id, order_ids=list(order_ids), limit=limit or len(order_ids), page_token=cursor
            )
        )
        return Page(tuple(mappers.delivery(d) for d in reply.deliveries), reply.next_page_token)

    async def record_redemption(self, key_id: str, partner: str, redeemed_at: str) -> Redemption:
        reply: fulfillment_pb.RecordRedemptionResponse = await self._fulfillment.RecordRedemption(
            fulfillment_pb.RecordRedemptionRequest(key_id=key_id, partner=partner, redeemed_at=redeemed_at)
        )
        d = reply.delivery
        return Redemption(d.key_id or key_id, d.order_id, d.redeemed_at, reply.duplicate)

    async def channel_steps(self, order_ids: Sequence[str]) -> dict[str, list[ChannelStep]]:
        steps: dict[str, list[ChannelStep]] = {}
        for start in range(0, len(order_ids), HISTORY_CHUNK):
            chunk = list(order_ids[start:start + HISTORY_CHUNK])
            reply: fulfillment_pb.ListChannelEventsResponse = await self._fulfillment.ListChannelEvents(
                fulfillment_pb.ListChannelEventsRequest(order_ids=chunk)
            )
            for e in reply.events:
                steps.setdefault(e.order_id, []).append(
                    ChannelStep(e.channel, e.outcome, e.at, e.attempt, e.final, e.requested_by)
                )
        return steps


    async def entitlements(self, buyer_id: str) -> Entitlements:
        reply: fulfillment_pb.ListEntitlementsResponse = await self._fulfillment.ListEntitlements(
            fulfillment_pb.ListEntitlementsRequest(buyer_id=buyer_id)
        )
        return Entitlements(
            int(reply.points_balance),
            tuple(
                PointsCredit(c.order_id, c.line_no, c.unit_no, int(c.points), c.credited_at, c.debited_at)
                for c in reply.credits
            ),
            tuple(Membership(m.plan, m.valid_until) for m in reply.memberships),
            tuple(
                MembershipGrant(
                    g.order_id, g.line_no, g.unit_no, g.plan, g.days, g.valid_from, g.valid_until,
                    g.shortened_at,
                )
                for g in reply.grants
            ),
        )


class GrpcKeyVault:
    """The KeyVault port (application.ports) on inventory's RevealKeys and FindKey."""

    def __init__(self, inventory: inventory_grpc.InventoryServiceStub) -> None:
        self._inventory = inventory

    async def reveal(
        self, order_id: str, key_ids: Sequence[str], actor: str, purpose: str
    ) -> list[RevealedKey]:
        reply: inventory_pb.RevealKeysResponse = await self._inventory.RevealKeys(
            inventory_pb.RevealKeysRequest(
                order_id=order_id, key_ids=list(key_ids), actor=actor, purpose=purpose
            )
        )
        return [mappers.revealed_key(k) for k in reply.keys]

    async def find(self, code: str) -> FoundKey | None:
        try:
            reply: inventory_pb.FindKeyResponse = await self._inventory.FindKey(
                inventory_pb.FindKeyRequest(code=code)
            )
        except grpc.aio.AioRpcError as exc:
            if _is(exc, grpc.StatusCode.NOT_FOUND):
                return None
            raise
        return FoundKey(reply.key_id, reply.order_id, reply.sku_id)

    async def describe(self, key_ids: Sequence[str]) -> list[KeyFacts]:
        # ExportKeys without codes, by key id: state and validity, no plaintext, nothing audited.
        facts: list[KeyFacts] = []
        for start in range(0, len(key_ids), DESCRIBE_CHUNK):
            request = inventory_pb.ExportKeysRequest(key_ids=list(key_ids[start:start + DESCRIBE_CHUNK]))
            async for page in self._inventory.ExportKeys(request):
                facts.extend(
                    KeyFacts(
                        k.key_id, k.state,
                        k.valid_from.ToDatetime(tzinfo=UTC) if k.HasField("valid_from") else None,
                        k.expires_at.ToDatetime(tzinfo=UTC) if k.HasField("expires_at") else None,
                    )
                    for k in page.keys
                )
        return facts
