"""The only place that picks ledger's concrete adapters and starts its process."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quanyi.inventory.v1 import inventory_service_pb2_grpc as inventory_grpc
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from quanyi_platform import db, event_history, rpc, service
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.relay import Relay

from quanyi_ledger.adapters.catalogue import GrpcCatalogue
from quanyi_ledger.adapters.history_scope import LedgerHistoryScope
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.adapters.signing import Ed25519Signer
from quanyi_ledger.application.signing import sign_head
from quanyi_ledger.application.upgrade import announce_unannounced
from quanyi_ledger.config import Settings, load
from quanyi_ledger.domain.posting import ChannelTerms
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
    if settings.ledger_signing_key_file:
        signer = Ed25519Signer.from_file(Path(settings.ledger_signing_key_file))
    else:
        signer = Ed25519Signer.generate()
        log.warning("no ledger_signing_key_file: chain heads are signed with a key of this process only")
    server = rpc.server()
    inventory = rpc.channel(
        settings.inventory_grpc, settings.grpc_deadline_s, tls=rpc.inventory_tls(settings)
    )
    catalogue = GrpcCatalogue(inventory_grpc.InventoryServiceStub(inventory))
    pb_grpc.add_LedgerServiceServicer_to_server(LedgerServicer(pooled, signer, catalogue), server)
    event_history.serve(server, NAME, pool, LedgerHistoryScope())
    server.add_insecure_port(settings.ledger_grpc_listen)
    await server.start()
    topics = [topic_for("orders"), topic_for("fulfillment"), topic_for("inventory")]
    terms = ChannelTerms(dict(settings.ledger_commission_bps))
    # Postings are off an order's way to delivery: idle, the consumer fetches seldom (background).
    consumer = InboxConsumer(NAME, topics, batch_handler(bound, terms), pool, settings, background=True)
    settle_heap()
    await service.run_service(
        NAME,
        server,
        [
            Relay(pool, settings, store.topic, wakeup=store.appended).run(),
            consumer.run(),
            sign_periodically(pooled, signer, settings.ledger_sign_every_s),
        ],
        [pool.close, inventory.close],
        ready=[consumer.ready],
    )


# The cyclic collector's first generation, in container objects allocated between two of its runs (Python's
# default is 700). Posting allocates some 30 objects an entry that live until their batch commits: at 700 the
# collector ran ~40 times a batch of 1,000 records, promoted them all, and the older generations walked them
# again, 16% of posting's client CPU (gc.callbacks around bench.ledger, 30,000 entries: 0.75 of 4.5 s); at
# 20,000 it runs a few times a batch, 0.15 s. Only garbage in reference cycles waits longer for it (reference
# counting frees the rest at once), a few MB at most. At 100,000 (above what a batch of 1,000 records keeps
# alive at once, ~30,000) it runs about once per 7,500 entries instead of once per 2,000: 0.11 -> 0.06 s of
# collections over 30,000 entries posted and verified (gc.callbacks, bench.ledger).
GC_THRESHOLD = (100_000, 10, 10)


def settle_heap() -> None:
    """Once started: freeze what start-up made (modules, clients, pools live as long as the process, and the
    cyclic collector stops walking them on every full collection, ~10% of posting's client CPU) and widen
    the collector's first generation (GC_THRESHOLD). bench.ledger does the same."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


async def sign_periodically(
    unit_of_work: Callable[[], PgLedgerUnitOfWork], signer: Ed25519Signer, every_s: float
) -> None:
    """Sign the chain head every `every_s` seconds (nightly by default), as "schedule"."""
    if every_s <= 0:
        return
    while True:
        await asyncio.sleep(every_s)
        try:
            head = await sign_head(unit_of_work(), signer, "schedule")
            log.info("chain head signed", extra={"seq": head.seq})
        except Exception:  # the next round tries again; the service keeps posting meanwhile
            log.exception("signing the chain head failed")


def main() -> None:
    settings = load()
    service.main(NAME, settings, lambda: start(settings))
