"""gRPC clients of the services behind the gateway, made in the app's lifespan."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as fulfillment_grpc
from quanyi.inventory.v1 import inventory_service_pb2_grpc as inventory_grpc
from quanyi.ledger.v1 import ledger_service_pb2_grpc as ledger_grpc
from quanyi.orders.v1 import orders_service_pb2_grpc as orders_grpc
from quanyi_platform import rpc
from quanyi_platform.config import PlatformSettings


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
        channels = {
            "orders": rpc.channel(settings.orders_grpc, deadline),
            "inventory": rpc.channel(settings.inventory_grpc, deadline),
            "fulfillment": rpc.channel(settings.fulfillment_grpc, deadline),
            "ledger": rpc.channel(settings.ledger_grpc, deadline),
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
