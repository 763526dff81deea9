"""The gateway's ASGI application: `create_app(settings)` wires routes, error handling and the lifespan."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import aiohttp
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from quanyi_platform import db

from quanyi_gateway import contacts_grpc, psp_sim
from quanyi_gateway.adapters.catalogue_cache import CachedCatalogue
from quanyi_gateway.adapters.delivery_targets import PostgresDeliveryTargetStore
from quanyi_gateway.adapters.event_history import EventSources
from quanyi_gateway.adapters.idempotency import PostgresIdempotencyStore
from quanyi_gateway.adapters.inventory_feed import InventoryFeed
from quanyi_gateway.adapters.limits import PostgresLimitStore
from quanyi_gateway.adapters.nonces import PostgresNonceStore
from quanyi_gateway.adapters.partner_scopes import PostgresPartnerScopes
from quanyi_gateway.adapters.peers import GrpcCatalogue, GrpcDeliveries, GrpcKeyVault, GrpcOrders, Peers
from quanyi_gateway.adapters.privacy import PostgresPrivacyStore
from quanyi_gateway.adapters.refund_requests import PostgresRefundRequestStore
from quanyi_gateway.adapters.risk_flags import risk_flags_consumer
from quanyi_gateway.adapters.users import PostgresRevocationStore, PostgresUserRepository
from quanyi_gateway.api import problems
from quanyi_gateway.api.deps import DevCredential, Resources
from quanyi_gateway.api.middleware import (
    AdmissionControl,
    BodyLimit,
    RefuseControlCharacters,
    Tracing,
    UnhandledErrors,
)
from quanyi_gateway.api.routes import (
    admin,
    admin_coupons,
    admin_finance,
    admin_history,
    admin_keys,
    admin_stock,
    auth,
    catalog,
    deliveries,
    delivery_targets,
    health,
    me,
    operators,
    orders,
    partners,
    payments,
    privacy,
    refund_requests,
)
from quanyi_gateway.api.routes import psp_sim as psp_sim_routes
from quanyi_gateway.application.accounts import Accounts, TokenRevocations
from quanyi_gateway.application.checkout import Channels, Checkout
from quanyi_gateway.application.delivery_targets import DeliveryTargets
from quanyi_gateway.application.history import Histories
from quanyi_gateway.application.idempotency import Idempotency
from quanyi_gateway.application.keys import MyKeys
from quanyi_gateway.application.limits import Backoff, Limits, Rule
from quanyi_gateway.application.orders import OrderQueries
from quanyi_gateway.application.privacy import Privacy
from quanyi_gateway.application.redemptions import Redemptions
from quanyi_gateway.application.refund_requests import RefundRequests
from quanyi_gateway.config import Settings
from quanyi_gateway.web import install as install_web
from quanyi_gateway.web.headers import SecurityHeaders

log = logging.getLogger(__name__)

NAME = "gateway"
# How long the server keeps an idle client connection open (uvicorn's timeout_keep_alive).
HTTP_KEEP_ALIVE_S = 5.0
PROBES = frozenset({"/healthz", "/readyz"})
# The cyclic collector's thresholds once started (see settle_heap; Python's default is (700, 10, 10)).
GC_THRESHOLD = (20_000, 10, 10)


async def _cancel(task: asyncio.Task[None], timeout_s: float = 5.0) -> None:
    """Cancel a background task and wait (a bounded time) for it to end."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        log.warning("a background task did not stop in time", extra={"task": task.get_name()})
    elif not task.cancelled() and task.exception() is not None:
        log.warning("a background task failed", extra={"error": repr(task.exception())})


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Migrate, open the pool, make sure the admin exists, connect to peers, start the revocation refresh
    and the catalogue cache's feed; stop and close all at shutdown."""
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        await db.migrate(settings.database_url, NAME, ["quanyi_gateway.migrations"])
        pool = await db.create_pool(settings.database_url, NAME, settings.db_pool_min, settings.db_pool_max)
        stack.push_async_callback(pool.close)
        revocations = TokenRevocations(PostgresRevocationStore(pool))
        await revocations.refresh()
        refresher = asyncio.create_task(revocations.run(settings.token_revocation_refresh_s))
        stack.push_async_callback(_cancel, refresher)
        limits = Limits(
            PostgresLimitStore(pool),
            {name: Rule(r.limit, r.per_s) for name, r in settings.rate_limits.items()},
            Backoff(
                settings.login_free_failures, settings.login_backoff_base_s, settings.login_backoff_max_s
            ),
        )
        accounts = Accounts(
            PostgresUserRepository(pool),
            revocations,
            settings.token_secret.get_secret_value(),
            settings.password_hash_n,
            settings.token_ttl_s,
            limits=limits,
        )
        admin_user = await accounts.ensure_admin(
            settings.admin_email, settings.admin_password.get_secret_value()
        )
        peers = Peers.connect(settings)
        stack.push_async_callback(peers.close)
        catalogue = CachedCatalogue(
            GrpcCatalogue(peers.inventory), settings.catalogue_price_ttl_s, settings.catalogue_stock_ttl_s
        )
        feed = InventoryFeed(settings, catalogue, settings.catalogue_feed_wait_ms)
        if settings.catalogue_cache_enabled:
            stack.push_async_callback(_cancel, asyncio.create_task(feed.run()))
        if settings.risk_flags_enabled:
            flags = risk_flags_consumer(
                pool, settings, settings.risk_tighten_factor, timedelta(seconds=settings.risk_tighten_for_s)
            )
            stack.push_async_callback(_cancel, asyncio.create_task(flags.run()))
        orders = GrpcOrders(peers.orders)
        order_queries = OrderQueries(orders)
        vault = GrpcKeyVault(peers.inventory)
        deliveries = GrpcDeliveries(peers.fulfillment)
        partner_scopes = PostgresPartnerScopes(pool)
        for partner, skus in settings.partner_skus.items():
            await partner_scopes.grant(partner, skus)
        nonces = PostgresNonceStore(pool, retention=timedelta(seconds=2 * settings.partner_signature_skew_s))
        resources = Resources(
            settings=settings,
            pool=pool,
            peers=peers,
            accounts=accounts,
            catalogue=catalogue,
            feed=feed,
            checkout=Checkout(catalogue, orders, Channels(settings.channel_accounts)),
            orders=order_queries,
            keys=MyKeys(order_queries, deliveries, vault),
            redemptions=Redemptions(
                {p: s.get_secret_value() for p, s in settings.partner_secrets.items()},
                settings.partner_signature_skew_s,
                nonces,
                vault,
                deliveries,
                partner_scopes,
            ),
            partner_scopes=partner_scopes,
            idempotency=Idempotency(
                PostgresIdempotencyStore(pool),
                ttl=timedelta(seconds=settings.idempotency_ttl_s),
                lease=timedelta(seconds=settings.idempotency_lease_s),
            ),
            limits=limits,
        )
        if settings.psp_sim_active:
            if settings.psp_sim_private_key_path:
                resources.psp_key = psp_sim.load_private_key(settings.psp_sim_private_key_path)
            else:
                log.warning("psp-sim: no key file configured; using a throw-away key orders cannot verify")
                resources.psp_key = await asyncio.to_thread(psp_sim.new_private_key)
            # aiohttp, not httpx: the simulator's webhook call is on every simulated payment's path, and
            # httpx costs several times more CPU per request.
            # Idle connections are dropped well before the server's keep-alive timeout ends them
            # (HTTP_KEEP_ALIVE_S), so a reused connection is rarely one the server is closing.
            resources.psp_http = await stack.enter_async_context(
                aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=settings.psp_sim_webhook_timeout_s),
                    connector=aiohttp.TCPConnector(keepalive_timeout=HTTP_KEEP_ALIVE_S / 2),
                )
            )
        app.state.resources = resources
        # Buyers' addresses for the services that write to them (gRPC), and erasure (routes/privacy.py).
        app.state.privacy = Privacy(PostgresPrivacyStore(pool))
        # The delivery targets a buyer keeps (routes/delivery_targets.py), answered with the contacts.
        app.state.delivery_targets = DeliveryTargets(PostgresDeliveryTargetStore(pool))
        # Buyers' refund requests (routes/refund_requests.py and the web's user centre).
        app.state.refund_requests = RefundRequests(order_queries, PostgresRefundRequestStore(pool))
        # An order's or a key's history across the services (routes/admin_history.py, the order page).
        sources = EventSources(peers, settings)
        stack.push_async_callback(sources.close)
        app.state.histories = Histories(sources.sources)
        contacts_server, app.state.contacts_port = await contacts_grpc.start_server(
            app.state.privacy, settings.gateway_grpc_listen
        )
        stack.push_async_callback(contacts_server.stop, 1.0)
        if app.state.settle_heap:
            settle_heap()
        log.info(
            "gateway started", extra={"admin": str(admin_user.user_id), "psp_sim": settings.psp_sim_active}
        )
        yield
        # Key file imports still running end with the gateway (inventory rolls them back).
        key_file_jobs = getattr(app.state, "key_file_jobs", None)
        if key_file_jobs is not None:
            await key_file_jobs.close()


def settle_heap() -> None:
    """Once started: freeze what start-up made and widen the cyclic collector's first generation.

    The app, its routes, models, templates and clients are some 175,000 objects that live as long as the
    process; unfrozen, every full collection walked them all (~50-150 ms each), and at Python's default of a
    collection every 700 container allocations a request paid several young collections (py-spy shows their
    time as self time of whatever frame allocated: route matching, asyncio's locks). The other services
    freeze in `service.run_service`, which the gateway (served by uvicorn) does not run; the ledger widens
    the first generation the same way (its bootstrap.GC_THRESHOLD). Only garbage in reference cycles waits
    longer for the collector; reference counting frees the rest at once."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def create_app(settings: Settings, *, settle_heap_once_started: bool = False) -> FastAPI:
    """The gateway application; nothing connects until the lifespan starts. The process that serves it
    (`python -m quanyi_gateway`) settles the heap once started (settle_heap); tests, which start many
    gateways in one process, do not freeze one gateway's garbage for the next."""
    # /docs and /redoc serve Swagger UI and ReDoc from the fastapi-offline package, not from a CDN: the
    # API's documentation works offline.
    app = FastAPIOffline(
        title="quanyi gateway",
        version="1.0.0",
        summary="Buy virtual goods, receive keys, manage the catalogue and card-key stock.",
        description="Errors are RFC 9457 problem documents (`application/problem+json`).",
        lifespan=lifespan,
        # The Tracing middleware below makes the request's span and continues the caller's trace; FastAPI's
        # own spans, metrics and per-dependency spans would double that work on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.settle_heap = settle_heap_once_started
    problems.install(app, settings.retry_after_s)
    problems.document_problems(app)

    # Routers are matched in order: those on every order's path come first.
    # The simulators exist only when a development setting enables them, and answer only the holder of
    # the development credential; otherwise they are not routed and absent from the OpenAPI.
    if settings.simulators_active:
        app.include_router(psp_sim_routes.router, dependencies=[DevCredential])
    for module in (
        orders, payments, auth, catalog, me, partners, admin, admin_finance, admin_keys, privacy, deliveries,
        operators,
    ):
        app.include_router(module.router, prefix="/v1")
    app.include_router(refund_requests.router, prefix="/v1")
    app.include_router(delivery_targets.router, prefix="/v1")
    app.include_router(admin_coupons.router, prefix="/v1")
    app.include_router(admin_stock.router, prefix="/v1")
    app.include_router(admin_history.router, prefix="/v1")
    app.include_router(health.router)
    # The web pages (storefront, user centre, back office) and their static files, outside /v1.
    install_web(app, settings)

    # Added innermost first: Tracing wraps UnhandledErrors wraps AdmissionControl wraps BodyLimit wraps
    # RefuseControlCharacters wraps SecurityHeaders (the web's CSP and companions).
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RefuseControlCharacters)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, unlimited=admin_keys.KEY_FILES_PATH)
    app.add_middleware(
        AdmissionControl,
        max_in_flight=settings.max_in_flight,
        retry_after_s=settings.retry_after_s,
        exempt=PROBES,
        routes={("POST", "/v1/orders"): settings.max_in_flight_placements},
        route_wait_s=settings.placement_wait_s,
    )
    app.add_middleware(UnhandledErrors, retry_after_s=settings.retry_after_s)
    app.add_middleware(Tracing)
    return app
