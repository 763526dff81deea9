"""The only place that picks orders' concrete adapters and starts its process."""

from __future__ import annotations

import logging

from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc
from quanyi_platform import db, rpc, service
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.eventstore import EventStore
from quanyi_platform.relay import Relay

from quanyi_orders.adapters.psp_signature import NoticeVerifier, load_public_key
from quanyi_orders.config import Settings, load
from quanyi_orders.entrypoints.consumers import CONSUMER, TOPICS, handlers
from quanyi_orders.entrypoints.grpc_server import OrdersServicer

NAME = "orders"

log = logging.getLogger(__name__)


def notice_verifier(settings: Settings) -> NoticeVerifier:
    key = load_public_key(settings.psp_public_key_pem, settings.psp_public_key_path)
    if key is None:
        log.warning("no payment provider key configured: every payment notice will be refused")
    return NoticeVerifier(settings.psp_provider_name, key, settings.psp_max_skew_s)


async def start(settings: Settings) -> None:
    verifier = notice_verifier(settings)
    await db.migrate(settings.database_url, NAME, ["quanyi_orders.migrations"])
    pool = await db.create_pool(settings.database_url, NAME, settings.db_pool_min, settings.db_pool_max)
    store = EventStore(NAME)
    server = rpc.server()
    pb_grpc.add_OrdersServiceServicer_to_server(OrdersServicer(pool, store, verifier), server)
    server.add_insecure_port(settings.orders_grpc_listen)
    await server.start()
    consumer = InboxConsumer(CONSUMER, TOPICS, handlers(store), pool, settings)
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
