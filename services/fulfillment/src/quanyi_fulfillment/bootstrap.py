"""The only place that picks fulfillment's concrete adapters and starts its process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc
from quanyi_platform import db, event_history, rpc, service
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.relay import Relay

from quanyi_fulfillment.adapters.gateway_client import GrpcContacts
from quanyi_fulfillment.adapters.http_retry import RetryPolicy as HttpRetryPolicy
from quanyi_fulfillment.adapters.inventory_client import GrpcInventory
from quanyi_fulfillment.adapters.partner_channels import AppPushClient, PartnerTopUpClient, SmsProviderClient
from quanyi_fulfillment.adapters.postgres import PgFulfillmentUnitOfWork
from quanyi_fulfillment.adapters.redemption_feed import PartnerRedemptionFeed
from quanyi_fulfillment.adapters.smtp_mailer import SmtpMailer
from quanyi_fulfillment.adapters.webhook_client import WebhookClient
from quanyi_fulfillment.application.channels import EmailOnDemand
from quanyi_fulfillment.application.ports import (
    ChannelSender,
    ContactBook,
    KeyRevealer,
    Mailer,
    UnitOfWorkFactory,
)
from quanyi_fulfillment.config import Settings, load
from quanyi_fulfillment.domain.delivery import ACTIVATION, APP, EMAIL, SMS, WEBHOOK
from quanyi_fulfillment.domain.retry import RetryPolicy
from quanyi_fulfillment.entrypoints.consumers import key_reserved
from quanyi_fulfillment.entrypoints.email_sender import EmailSender
from quanyi_fulfillment.entrypoints.grpc_server import FulfillmentServicer
from quanyi_fulfillment.entrypoints.kept_channel_sender import KeptChannelSender
from quanyi_fulfillment.entrypoints.redemption_poller import RedemptionPoller
from quanyi_fulfillment.entrypoints.simulators import SimulatorState, start_simulators
from quanyi_fulfillment.projections import PROJECTIONS

NAME = "fulfillment"


def event_store(topic: str | None = None) -> EventStore:
    """Fulfillment's event store, with its projections applied inline on every append."""
    return EventStore(NAME, topic=topic, projections=PROJECTIONS)


def unit_of_work(store: EventStore, pool: AsyncConnectionPool) -> UnitOfWorkFactory:
    return lambda: PgFulfillmentUnitOfWork(store, pool=pool)


def consumer(
    store: EventStore, pool: AsyncConnectionPool, settings: Settings, sender: EmailSender
) -> InboxConsumer:
    """The KeyReserved (inventory) and OrderRefunded (orders) consumer; a delivery's e-mail is queued in its
    transaction, and the sender is woken once that commits."""

    def bound(conn: Any) -> PgFulfillmentUnitOfWork:
        return PgFulfillmentUnitOfWork(store, conn=conn)

    return InboxConsumer(
        NAME, [topic_for("inventory"), topic_for("orders")], key_reserved(bound), pool, settings, sender.wake
    )


def email_sender(
    uow: UnitOfWorkFactory,
    inventory: KeyRevealer,
    mailer: Mailer,
    settings: Settings,
    contacts: ContactBook,
    on_kept: Callable[[], None] | None = None,
) -> EmailSender:
    policy = RetryPolicy(settings.smtp_max_attempts, settings.smtp_retry_base_s, settings.smtp_retry_cap_s)
    return EmailSender(
        uow, inventory, mailer, policy,
        contacts=contacts,
        on_kept=on_kept,
        lease_s=settings.email_lease_s,
        batch_size=settings.email_batch_size,
        concurrency=settings.smtp_concurrency,
        idle_recheck_s=settings.email_idle_recheck_s,
        gather_s=settings.email_gather_ms / 1000,
        instructions=settings.sku_instructions,
    )


def kept_channel_sender(
    uow: UnitOfWorkFactory,
    inventory: KeyRevealer,
    contacts: ContactBook,
    senders: Mapping[str, ChannelSender],
    settings: Settings,
) -> KeptChannelSender:
    """Delivers on the channels buyers keep targets for (the configured ones among `senders`)."""
    return KeptChannelSender(
        uow, inventory, contacts, senders,
        lease_s=settings.kept_channel_lease_s,
        batch_size=settings.kept_channel_batch_size,
        concurrency=settings.smtp_concurrency,
        idle_recheck_s=settings.kept_channel_idle_recheck_s,
        instructions=settings.sku_instructions,
    )


def smtp_mailer(settings: Settings) -> SmtpMailer:
    return SmtpMailer(
        settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_timeout_s,
        connections=settings.smtp_concurrency, idle_close_s=settings.smtp_idle_close_s,
        starttls=settings.smtp_starttls, username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(), validate_certs=settings.smtp_validate_certs,
        cert_bundle=settings.smtp_ca_file,
    )


def channel_senders(settings: Settings, http: httpx.AsyncClient) -> dict[str, ChannelSender]:
    """The on-demand channels that are configured (a channel without its settings is off)."""
    policy = HttpRetryPolicy(
        settings.channel_max_attempts, settings.channel_retry_base_s, settings.channel_retry_cap_s,
        settings.channel_timeout_s, settings.channel_total_s,
    )
    senders: dict[str, ChannelSender] = {}
    secret = settings.webhook_signing_secret.get_secret_value().encode()
    if secret:
        senders[WEBHOOK] = WebhookClient(http, secret, policy=policy)
    if settings.partner_api_url:
        senders[ACTIVATION] = PartnerTopUpClient(
            http, settings.partner_api_url, settings.partner_api_key.get_secret_value(), policy
        )
    if settings.sms_api_url:
        senders[SMS] = SmsProviderClient(
            http, settings.sms_api_url, settings.sms_api_key.get_secret_value(), policy
        )
    if settings.push_api_url:
        senders[APP] = AppPushClient(
            http, settings.push_api_url, settings.push_api_key.get_secret_value(), policy
        )
    return senders


async def start(settings: Settings) -> None:
    await db.migrate(settings.database_url, NAME, ["quanyi_fulfillment.migrations"])
    pool = await db.create_pool(settings.database_url, NAME, settings.db_pool_min, settings.db_pool_max)
    store = event_store()
    uow = unit_of_work(store, pool)
    inventory_channel = rpc.channel(
        settings.inventory_grpc, settings.grpc_deadline_s, tls=rpc.inventory_tls(settings)
    )
    mailer = smtp_mailer(settings)
    gateway_channel = rpc.channel(settings.gateway_grpc, settings.grpc_deadline_s)
    http = httpx.AsyncClient()
    senders = channel_senders(settings, http)
    kept = kept_channel_sender(
        uow, GrpcInventory(inventory_channel), GrpcContacts(gateway_channel), senders, settings
    )
    sender = email_sender(
        uow, GrpcInventory(inventory_channel), mailer, settings, GrpcContacts(gateway_channel), kept.wake
    )
    closers: list[Callable[[], Awaitable[object]]] = [http.aclose]
    if settings.simulators_active:
        host, _, port = settings.fulfillment_simulators_listen.rpartition(":")
        state = SimulatorState(
            settings.partner_api_key.get_secret_value(), set(settings.fulfillment_simulator_accounts),
            timeout_s=settings.channel_timeout_s * 2,
            dev_credential=settings.dev_credential.get_secret_value(),
        )
        closers.append((await start_simulators(state, host, int(port))).cleanup)
    background: list[service.Component] = []
    if settings.redemption_poll_s > 0 and settings.partner_api_url:
        feed = PartnerRedemptionFeed(
            http, settings.partner_api_url, settings.partner_api_key.get_secret_value(),
            settings.channel_timeout_s,
        )
        poller = RedemptionPoller(
            uow, feed, settings.partner_name, settings.partner_skus, settings.redemption_poll_s
        )
        background.append(poller.run())
    server = rpc.server()
    servicer = FulfillmentServicer(
        uow, inventory=GrpcInventory(inventory_channel),
        senders={**senders, EMAIL: EmailOnDemand(mailer)},
        instructions=settings.sku_instructions, contacts=GrpcContacts(gateway_channel),
    )
    pb_grpc.add_FulfillmentServiceServicer_to_server(servicer, server)
    event_history.serve(server, NAME, pool)
    server.add_insecure_port(settings.fulfillment_grpc_listen)
    await server.start()
    reserved = consumer(store, pool, settings, sender)
    await service.run_service(
        NAME,
        server,
        [
            Relay(pool, settings, store.topic, wakeup=store.appended).run(), reserved.run(), sender.run(),
            kept.run(), *background,
        ],
        [mailer.aclose, inventory_channel.close, gateway_channel.close, *closers, pool.close],
        ready=[reserved.ready],
    )


def main() -> None:
    settings = load()
    service.main(NAME, settings, lambda: start(settings))
