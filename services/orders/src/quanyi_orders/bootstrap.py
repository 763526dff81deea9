"""The only place that picks orders' concrete adapters and starts its process."""

from __future__ import annotations

import logging
from typing import Any

from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc
from quanyi_platform import db, rpc, service
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.eventstore import EventStore
from quanyi_platform.relay import Relay

from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.adapters.psp_signature import NoticeVerifier, load_public_key
from quanyi_orders.application.entry import OrdersEntry
from quanyi_orders.config import Settings, load
from quanyi_orders.entrypoints.consumers import CONSUMER, TOPICS, order_facts_handler
from quanyi_orders.entrypoints.grpc_server import OrdersServicer
from quanyi_orders.projections import PROJECTIONS

NAME = "orders"
MIGRATIONS = ["quanyi_orders.migrations"]

log = logging.getLogger(__name__)


def event_store() -> EventStore:
    """Orders' event store, which runs orders' projections inline on every append."""
    return EventStore(NAME, projections=PROJECTIONS)


def notice_verifier(settings: Settings) -> NoticeVerifier:
    key = load_public_key(settings.psp_public_key_pem, settings.psp_public_key_path)
    if key is None:
        log.warning("no payment provider key configured: every payment notice will be refused")
    return NoticeVerifier(settings.psp_provider_name, key, settings.psp_max_skew_s)


def servicer(
    pool: Any, store: EventStore, verifier: NoticeVerifier, settings: Settings | None = None
) -> OrdersServicer:
    """The gRPC servicer; PlaceOrder and payment notices are group-committed (see application.entry)."""
    settings = settings or Settings()

    def unit_of_work() -> PgOrdersUnitOfWork:
        return PgOrdersUnitOfWork(store, pool=pool)

    entry = OrdersEntry(
        unit_of_work, max_group=settings.group_commit_max_calls,
        max_in_flight=settings.group_commit_in_flight,
    )
    return OrdersServicer(unit_of_work, verifier, entry)


def consumer(pool: Any, settings: Settings, store: EventStore) -> InboxConsumer:
    """Orders' consumer of risk's, inventory's and fulfillment's topics, a batch at a time."""
    handler = order_facts_handler(lambda conn: PgOrdersUnitOfWork(store, conn=conn))
    return InboxConsumer(CONSUMER, TOPICS, handler, pool, settings)


async def start(settings: Settings) -> None:
    verifier = notice_verifier(settings)
    await db.migrate(settings.database_url, NAME, MIGRATIONS)
    pool = await db.create_pool(settings.database_url, NAME, settings.db_pool_min, settings.db_pool_max)
    store = event_store()
    server = rpc.server()
    pb_grpc.add_OrdersServiceServicer_to_server(servicer(pool, store, verifier, settings), server)
    server.add_insecure_port(settings.orders_grpc_listen)
    await server.start()
    facts = consumer(pool, settings, store)
    await service.run_service(
        NAME,
        server,
        [
            Relay(pool, settings, store.topic, wakeup=store.appended).run(),
            facts.run(),
        ],
        [pool.close],
        ready=[facts.ready],
    )


def main() -> None:
    settings = load()
    service.main(NAME, settings, lambda: start(settings))
