"""The only place that picks risk's concrete adapters and starts its process."""

from __future__ import annotations

from typing import Any

from quanyi.risk.v1 import risk_service_pb2_grpc as pb_grpc
from quanyi_platform import db, event_history, rpc, service
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.relay import Relay

from quanyi_risk.adapters.postgres import PgRiskUnitOfWork
from quanyi_risk.config import Settings, load
from quanyi_risk.domain.velocity import VelocityRule
from quanyi_risk.entrypoints.consumers import order_placed_handler
from quanyi_risk.entrypoints.grpc_server import RiskServicer
from quanyi_risk.projections import PROJECTIONS

NAME = "risk"
MIGRATIONS = ["quanyi_risk.migrations"]


def event_store() -> EventStore:
    """Risk's event store, which runs risk's projections inline on every append."""
    return EventStore(NAME, projections=PROJECTIONS)


def consumer(pool: Any, settings: Settings, store: EventStore) -> InboxConsumer:
    """Risk's consumer of the orders topic: OrderPlaced, a batch at a time."""
    rule = VelocityRule(
        settings.risk_max_orders_per_minute, reject_above=settings.risk_reject_orders_per_minute,
        blocked=settings.risk_blocked_buyers,
    )
    handler = order_placed_handler(lambda conn: PgRiskUnitOfWork(store, conn=conn), rule)
    return InboxConsumer("risk", [topic_for("orders")], handler, pool, settings)


async def start(settings: Settings) -> None:
    await db.migrate(settings.database_url, NAME, MIGRATIONS)
    pool = await db.create_pool(settings.database_url, NAME, settings.db_pool_min, settings.db_pool_max)
    store = event_store()
    server = rpc.server()
    servicer = RiskServicer(lambda: PgRiskUnitOfWork(store, pool=pool))
    pb_grpc.add_RiskServiceServicer_to_server(servicer, server)
    event_history.serve(server, NAME, pool)
    server.add_insecure_port(settings.risk_grpc_listen)
    await server.start()
    orders = consumer(pool, settings, store)
    await service.run_service(
        NAME,
        server,
        [
            Relay(pool, settings, store.topic, wakeup=store.appended).run(),
            orders.run(),
        ],
        [pool.close],
        ready=[orders.ready],
    )


def main() -> None:
    settings = load()
    service.main(NAME, settings, lambda: start(settings))
