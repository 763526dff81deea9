"""The only place that picks inventory's concrete adapters and starts its process."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi_platform import db, event_history, rpc, service
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.identity import ServiceTokens
from quanyi_platform.relay import Relay

from quanyi_inventory.adapters.alerts import EmailChannel, WebhookChannel
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.adapters.history_scope import InventoryHistoryScope
from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.application.alerts import AlertChannel
from quanyi_inventory.application.expire import run_sweeper
from quanyi_inventory.config import DEV_MASTER_KEYS, Settings, load
from quanyi_inventory.domain.custody import RevealPolicy
from quanyi_inventory.entrypoints.consumers import (
    fulfillment_handler,
    order_paid_handler,
    stock_low_handler,
)
from quanyi_inventory.entrypoints.grpc_server import InventoryServicer
from quanyi_inventory.projections import PROJECTIONS

NAME = "inventory"


def keyring(settings: Settings) -> Keyring:
    """The master keys from the settings; in production the development key is refused."""
    forbidden = frozenset(DEV_MASTER_KEYS) if settings.is_production else frozenset()
    return Keyring.from_config(
        settings.master_keys.get_secret_value(),
        settings.active_master_key_id,
        settings.fingerprint_master_key_id,
        forbidden=forbidden,
    )


def reveal_policy(settings: Settings) -> RevealPolicy:
    """Who may reveal keys, for which purposes (settings.inventory_reveal_policy)."""
    raw = json.loads(settings.inventory_reveal_policy)
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise ValueError("inventory_reveal_policy must be a JSON object of identity -> [purposes]")
    return RevealPolicy({str(identity): frozenset(map(str, purposes)) for identity, purposes in raw.items()})


def service_tokens(settings: Settings) -> ServiceTokens:
    """The development identities' tokens (settings.inventory_service_tokens)."""
    return ServiceTokens.from_json(settings.inventory_service_tokens.get_secret_value())


def add_port(server: grpc.aio.Server, settings: Settings) -> int:
    """The gRPC port: mutual TLS when a certificate is configured (the client's certificate, signed by
    inventory_grpc_tls_client_ca, names the caller's identity in its common name), else plaintext."""
    if not settings.inventory_grpc_tls_cert:
        return int(server.add_insecure_port(settings.inventory_grpc_listen))
    key, cert = Path(settings.inventory_grpc_tls_key), Path(settings.inventory_grpc_tls_cert)
    credentials = grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())],
        root_certificates=Path(settings.inventory_grpc_tls_client_ca).read_bytes(),
        require_client_auth=True,
    )
    return int(server.add_secure_port(settings.inventory_grpc_listen, credentials))


def alert_channels(settings: Settings) -> list[AlertChannel]:
    """The configured ways of telling the operator of low stock (none: no alert consumer runs)."""
    channels: list[AlertChannel] = []
    if settings.inventory_alert_webhook_url:
        secret = settings.inventory_alert_webhook_secret.get_secret_value().encode()
        if len(secret) < 16:
            raise ValueError("inventory_alert_webhook_secret must have at least 16 characters")
        channels.append(WebhookChannel(settings.inventory_alert_webhook_url, secret))
    if settings.inventory_alert_email_to:
        channels.append(EmailChannel(
            settings.smtp_host, settings.smtp_port, settings.inventory_alert_email_from,
            settings.inventory_alert_email_to,
        ))
    return channels


def event_store() -> EventStore:
    """Inventory's event store, which runs every projection inline on each append."""
    return EventStore(NAME, projections=PROJECTIONS)


def grpc_server(settings: Settings) -> grpc.aio.Server:
    """The platform's server plumbing (trace context, INTERNAL for unexpected errors), with message
    limits large enough for an import file of the maximum size."""
    limit = settings.inventory_grpc_max_message_bytes
    return rpc.server(max_message_bytes=limit)


async def start(settings: Settings) -> None:
    keys = keyring(settings)
    await db.migrate(settings.database_url, NAME, ["quanyi_inventory.migrations"])
    pool = await db.create_pool(settings.database_url, NAME, settings.db_pool_min, settings.db_pool_max)
    store = event_store()
    server = grpc_server(settings)
    pb_grpc.add_InventoryServiceServicer_to_server(
        InventoryServicer(
            lambda: PgInventoryUnitOfWork(store, pool=pool),
            keys,
            import_max_rows=settings.inventory_import_max_rows,
            service_tokens=service_tokens(settings),
            reveal_policy=reveal_policy(settings),
        ),
        server,
    )
    event_history.serve(server, NAME, pool, InventoryHistoryScope())
    add_port(server, settings)
    await server.start()
    consumer = InboxConsumer(NAME, [topic_for("orders")], order_paid_handler(store), pool, settings)
    # Fulfillment's reports get a consumer of their own: its topic's partitions are keyed otherwise
    # (a Redeemed by key), and deliveries must not wait behind a backlog of payments. Not a background
    # consumer: a refund (heard on the orders topic, promptly) takes a key as delivered, and voids it,
    # until this consumer has heard of its redemption, so a slow idle fetch here widens that race. The
    # stock alerts are off an order's way: idle, they fetch seldom (background).
    deliveries = InboxConsumer(
        f"{NAME}-fulfillment", [topic_for("fulfillment")], fulfillment_handler(store), pool, settings
    )
    components = [
        Relay(pool, settings, store.topic, wakeup=store.appended).run(),
        consumer.run(),
        deliveries.run(),
    ]
    channels = alert_channels(settings)
    if channels:
        alerts = InboxConsumer(
            f"{NAME}-alerts", [store.topic], stock_low_handler(channels), pool, settings, background=True
        )
        components.append(alerts.run())
    if settings.inventory_expiry_sweep_s > 0:
        components.append(
            run_sweeper(
                lambda: PgInventoryUnitOfWork(store, pool=pool),
                every_s=settings.inventory_expiry_sweep_s,
                limit=settings.inventory_expiry_sweep_batch,
            )
        )
    await service.run_service(
        NAME,
        server,
        components,
        [pool.close],
        ready=[consumer.ready, deliveries.ready],
    )


def main() -> None:
    settings = load()
    service.main(NAME, settings, lambda: start(settings))
