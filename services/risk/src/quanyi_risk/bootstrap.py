"""The only place that picks risk's concrete adapters and starts its process."""

from __future__ import annotations

from quanyi.risk.v1 import risk_service_pb2_grpc as pb_grpc
from quanyi_platform import db, rpc, service
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.relay import Relay

from quanyi_risk.config import Settings, load
from quanyi_risk.domain.velocity import VelocityRule
from quanyi_risk.entrypoints.consumers import handlers
from quanyi_risk.entrypoints.grpc_server import RiskServicer

NAME = "risk"


async def start(settings: Settings) -> None:
    await db.migrate(settings.database_url, NAME, ["quanyi_risk.migrations"])
    pool = await db.create_pool(settings.database_url, NAME, settings.db_pool_min, settings.db_pool_max)
    store = EventStore(NAME)
    rule = VelocityRule(settings.risk_max_orders_per_minute)
    server = rpc.server()
    pb_grpc.add_RiskServiceServicer_to_server(RiskServicer(pool), server)
    server.add_insecure_port(settings.risk_grpc_listen)
    await server.start()
    consumer = InboxConsumer("risk", [topic_for("orders")], handlers(store, rule), pool, settings)
    await service.run_service(
        NAME,
        server,
        [
            Relay(pool, settings, store.topic).run(),
            consumer.run(),
        ],
        [pool.close],
        ready=[consumer.ready],
    )


def main() -> None:
    settings = load()
    service.main(NAME, settings, lambda: start(settings))
