"""The only place that picks ledger's concrete adapters and starts its process."""

from __future__ import annotations

import logging
from typing import Any

from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from quanyi_platform import db, rpc, service
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.relay import Relay

from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.application.upgrade import announce_unannounced
from quanyi_ledger.config import Settings, load
from quanyi_ledger.entrypoints.consumers import batch_handler
from quanyi_ledger.entrypoints.grpc_server import LedgerServicer
from quanyi_ledger.projections import PROJECTIONS

NAME = "ledger"

log = logging.getLogger(__name__)


async def start(settings: Settings) -> None:
    await db.migrate(settings.database_url, NAME, ["quanyi_ledger.migrations"])
    pool = await db.create_pool(settings.database_url, NAME, settings.db_pool_min, settings.db_pool_max)
    store = EventStore(NAME, projections=PROJECTIONS)

    def pooled() -> PgLedgerUnitOfWork:
        return PgLedgerUnitOfWork(store, pool=pool)

    def bound(conn: Any) -> PgLedgerUnitOfWork:
        return PgLedgerUnitOfWork(store, conn=conn)

    announced = await announce_unannounced(pooled())
    if announced:
        log.info("entries posted before EntriesPosted existed announced", extra={"entries": announced})
    server = rpc.server()
    pb_grpc.add_LedgerServiceServicer_to_server(LedgerServicer(pooled), server)
    server.add_insecure_port(settings.ledger_grpc_listen)
    await server.start()
    topics = [topic_for("orders"), topic_for("fulfillment")]
    consumer = InboxConsumer(NAME, topics, batch_handler(bound), pool, settings)
    await service.run_service(
        NAME,
        server,
        [
            Relay(pool, settings, store.topic, wakeup=store.appended).run(),
            consumer.run(),
        ],
        [pool.close],
        ready=[consumer.ready],
    )


def main() -> None:
    settings = load()
    service.main(NAME, settings, lambda: start(settings))
