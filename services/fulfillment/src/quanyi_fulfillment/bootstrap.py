"""The only place that picks fulfillment's concrete adapters and starts its process."""

from __future__ import annotations

from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc
from quanyi_platform import db, rpc, service
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.relay import Relay

from quanyi_fulfillment.adapters.inventory_client import GrpcInventory
from quanyi_fulfillment.adapters.smtp_mailer import SmtpMailer
from quanyi_fulfillment.config import Settings, load
from quanyi_fulfillment.domain.retry import RetryPolicy
from quanyi_fulfillment.entrypoints.consumers import handlers
from quanyi_fulfillment.entrypoints.email_retry import EmailRetrier
from quanyi_fulfillment.entrypoints.grpc_server import FulfillmentServicer

NAME = "fulfillment"


async def start(settings: Settings) -> None:
    await db.migrate(settings.database_url, NAME, ["quanyi_fulfillment.migrations"])
    pool = await db.create_pool(settings.database_url, NAME, settings.db_pool_min, settings.db_pool_max)
    store = EventStore(NAME)
    inventory_channel = rpc.channel(settings.inventory_grpc, settings.grpc_deadline_s)
    inventory = GrpcInventory(inventory_channel)
    mailer = SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_timeout_s)
    policy = RetryPolicy(settings.smtp_max_attempts, settings.smtp_retry_base_s, settings.smtp_retry_cap_s)
    server = rpc.server()
    pb_grpc.add_FulfillmentServiceServicer_to_server(FulfillmentServicer(pool, store), server)
    server.add_insecure_port(settings.fulfillment_grpc_listen)
    await server.start()
    sender = EmailRetrier(
        pool, store, inventory, mailer, policy,
        poll_s=settings.smtp_retry_poll_s, concurrency=settings.smtp_concurrency,
    )
    # A delivery queues its e-mail in the consumer's transaction; the sender is woken once that commits.
    consumer = InboxConsumer(NAME, [topic_for("inventory")], handlers(store), pool, settings, sender.wake)
    await service.run_service(
        NAME,
        server,
        [Relay(pool, settings, store.topic).run(), consumer.run(), sender.run()],
        [inventory_channel.close, pool.close],
        ready=[consumer.ready],
    )


def main() -> None:
    settings = load()
    service.main(NAME, settings, lambda: start(settings))
