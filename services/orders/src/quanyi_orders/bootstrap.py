"""The only place that picks orders' concrete adapters and starts its process."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import aiohttp
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as fulfillment_grpc
from quanyi.inventory.v1 import inventory_service_pb2_grpc as inventory_grpc
from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc
from quanyi_platform import db, event_history, rpc, service
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.eventstore import EventStore
from quanyi_platform.relay import Relay

from quanyi_orders.adapters.fulfillment import GrpcDeliveries
from quanyi_orders.adapters.inventory import GrpcStockLevels
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.adapters.providers import Alipay, WechatPay
from quanyi_orders.adapters.psp_signature import NoticeVerifier, load_public_key
from quanyi_orders.application.entry import OrdersEntry
from quanyi_orders.application.holds import HoldPolicy
from quanyi_orders.application.ports import Deliveries, StockLevels
from quanyi_orders.application.providers import PaymentProvider
from quanyi_orders.application.saga_steps import SagaSettings, SagaSteps
from quanyi_orders.config import Settings, load
from quanyi_orders.domain.holds import HoldCaps
from quanyi_orders.entrypoints.consumers import CONSUMER, TOPICS, order_facts_handler
from quanyi_orders.entrypoints.grpc_server import OrdersServicer
from quanyi_orders.entrypoints.saga import SagaPollers
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


def providers(settings: Settings, http: aiohttp.ClientSession | None) -> dict[str, PaymentProvider]:
    """The payment providers orders takes notices from and asks (the simulators' protocols). Their APIs are
    under `psp_base_url`; without a provider key there are none."""
    key = load_public_key(settings.psp_public_key_pem, settings.psp_public_key_path)
    if key is None:
        return {}
    api_v3_key = settings.psp_api_v3_key.get_secret_value().encode()
    return {
        "wechatpay-sim": WechatPay(
            "wechatpay-sim", key, api_v3_key, settings.wechatpay_api, http, settings.psp_max_skew_s
        ),
        "alipay-sim": Alipay("alipay-sim", key, settings.alipay_gateway, http),
    }


def hold_policy(settings: Settings, stock: StockLevels | None) -> HoldPolicy:
    """The stock holds' caps and key; `stock` is consulted only when hold_check_stock is on."""
    return HoldPolicy(
        HoldCaps(settings.hold_max_per_buyer, settings.hold_max_per_client),
        stock if settings.hold_check_stock else None,
        settings.client_tag_key.get_secret_value().encode(),
    )


def servicer(
    pool: Any, store: EventStore, verifier: NoticeVerifier, settings: Settings | None = None,
    payment_providers: dict[str, PaymentProvider] | None = None, deliveries: Deliveries | None = None,
    stock: StockLevels | None = None,
) -> OrdersServicer:
    """The gRPC servicer; PlaceOrder and payment notices are group-committed (see application.entry),
    and every placement takes a stock hold (application.holds; availability from `stock` when given)."""
    settings = settings or Settings()

    def unit_of_work() -> PgOrdersUnitOfWork:
        return PgOrdersUnitOfWork(store, pool=pool)

    entry = OrdersEntry(
        unit_of_work, max_group=settings.group_commit_max_calls,
        max_in_flight=settings.group_commit_in_flight, pay_within=timedelta(seconds=settings.payment_ttl_s),
        holds=hold_policy(settings, stock),
    )
    return OrdersServicer(
        unit_of_work, verifier, entry, payment_providers, settings.refund_retry_s, deliveries
    )


def saga_pollers(
    pool: Any, store: EventStore, servicer: OrdersServicer, payment_providers: dict[str, PaymentProvider],
    settings: Settings,
) -> SagaPollers:
    """The pollers of due timeouts, unpaid orders and open refunds (entrypoints.saga)."""
    return SagaPollers(SagaSteps(
        lambda: PgOrdersUnitOfWork(store, pool=pool), servicer.entry.capture, payment_providers,
        SagaSettings(
            poll_interval_s=settings.saga_poll_interval_s, query_after_s=settings.payment_query_after_s,
            query_window_s=settings.payment_query_window_s,
            query_interval_s=settings.payment_query_interval_s, refund_retry_s=settings.refund_retry_s,
        ),
    ))


def consumer(pool: Any, settings: Settings, store: EventStore) -> InboxConsumer:
    """Orders' consumer of risk's, inventory's and fulfillment's topics, a batch at a time."""
    handler = order_facts_handler(lambda conn: PgOrdersUnitOfWork(store, conn=conn))
    return InboxConsumer(CONSUMER, TOPICS, handler, pool, settings)


async def start(settings: Settings) -> None:
    verifier = notice_verifier(settings)
    await db.migrate(settings.database_url, NAME, MIGRATIONS)
    pool = await db.create_pool(settings.database_url, NAME, settings.db_pool_min, settings.db_pool_max)
    store = event_store()
    credential = settings.dev_credential.get_secret_value()
    http = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.psp_api_timeout_s),
        headers={"X-Dev-Credential": credential} if credential else None,
    )
    payment_providers = providers(settings, http)
    server = rpc.server()
    fulfillment = rpc.channel(settings.fulfillment_grpc, settings.grpc_deadline_s)
    deliveries = GrpcDeliveries(fulfillment_grpc.FulfillmentServiceStub(fulfillment))
    inventory = rpc.channel(
        settings.inventory_grpc, settings.stock_level_deadline_s, tls=rpc.inventory_tls(settings)
    )
    stock = GrpcStockLevels(inventory_grpc.InventoryServiceStub(inventory), settings.stock_level_cache_s,
                            settings.stock_level_deadline_s)
    orders_servicer = servicer(pool, store, verifier, settings, payment_providers, deliveries, stock)
    pb_grpc.add_OrdersServiceServicer_to_server(orders_servicer, server)
    event_history.serve(server, NAME, pool)
    server.add_insecure_port(settings.orders_grpc_listen)
    await server.start()
    facts = consumer(pool, settings, store)
    await service.run_service(
        NAME,
        server,
        [
            Relay(pool, settings, store.topic, wakeup=store.appended).run(),
            facts.run(),
            saga_pollers(pool, store, orders_servicer, payment_providers, settings).run(),
        ],
        [pool.close, http.close, fulfillment.close, inventory.close],
        ready=[facts.ready],
    )


def main() -> None:
    settings = load()
    service.main(NAME, settings, lambda: start(settings))
