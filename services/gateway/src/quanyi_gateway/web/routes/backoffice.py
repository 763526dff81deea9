"""The back office: operators' pages over the admin use cases, each checked against the operator's role.

Every page and form names the permission it needs (`allowed(P.X)`), as the JSON admin routes do; the
navigation shows only what the role may use, and the server refuses the rest (403 page). Pages pass
requests through to the same peers' calls the admin API makes and render their answers; they decide
nothing. Charts are server-side SVG (web/charts.py).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import grpc
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from google.protobuf.json_format import MessageToDict
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.ledger.v1 import ledger_service_pb2 as ledger_pb
from quanyi.orders.v1 import orders_service_pb2 as orders_pb
from quanyi_platform.spool import EncryptedSpool

from quanyi_gateway.adapters import mappers
from quanyi_gateway.api.deps import Resources
from quanyi_gateway.api.routes import admin_keys
from quanyi_gateway.api.routes.admin_keys import get_key_file_jobs
from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.errors import OrderNotFound
from quanyi_gateway.application.history import CrossServiceHistory, Histories
from quanyi_gateway.application.key_files import KeyFileRequest
from quanyi_gateway.application.model import Money, User
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.web import charts, i18n, paging, report_charts
from quanyi_gateway.web.render import money, page
from quanyi_gateway.web.session import CsrfProtected, WebError, require_user

router = APIRouter(prefix="/admin", include_in_schema=False)

SKU_PAGE = 200
ORDERS_PAGE = 50
BATCHES_PAGE = 50
QUEUE_PAGE = 50
MISMATCH_PAGE = 50
# The keys page sums the pools' stock over at most this many pages of 200 batches.
BATCH_PAGES = 10
CHANNELS = ("webhook", "sms", "activation")
ORDER_STATUSES = (
    "PENDING_PAYMENT",
    "CAPTURED",
    "PAID",
    "UNDER_REVIEW",
    "FULFILLED",
    "REFUNDED",
    "CANCELLED",
    "EXPIRED",
)


def allowed(permission: P) -> Any:
    """A page's dependency: a signed-in operator whose role holds `permission` (else /login, or 403)."""

    async def check(request: Request) -> User:
        user = await require_user(request)
        if not user.can(permission):
            raise WebError(403, "error.forbidden")
        return user

    return Depends(check)


def _resources(request: Request) -> Resources:
    found: Resources = request.app.state.resources
    return found


def _rpc_error(exc: grpc.aio.AioRpcError) -> WebError:
    code = exc.code()
    if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS):
        return WebError(409, "error.refused")
    if code == grpc.StatusCode.NOT_FOUND:
        return WebError(404, "error.not_found")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return WebError(400, "error.refused")
    return WebError(503, "error.unavailable", 2)


def _admin_page(request: Request, template: str, user: User, **context: Any) -> HTMLResponse:
    """A back-office page: `can(permission)` and `P` for the template, the section for the navigation."""
    parts = request.url.path.split("/")
    context.setdefault("done", "")
    context.setdefault("created", "")
    return page(
        request, template, user, can=user.can, P=P, section=parts[2] if len(parts) > 2 else "home", **context
    )


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# Home: stock per SKU with low-stock marks, the queue's size.


@router.get("")
async def home(request: Request, user: Annotated[User, allowed(P.CATALOGUE_READ)]) -> HTMLResponse:
    """Stock per SKU (low stock marked) and what waits in the exception queue."""
    peers = _resources(request).peers
    try:
        skus = (await peers.inventory.ListSkus(inventory_pb.ListSkusRequest(page_size=SKU_PAGE))).skus
        open_entries = None
        if user.can(P.QUEUE_READ):
            reply = await peers.orders.ListExceptionQueue(orders_pb.ListExceptionQueueRequest(limit=500))
            open_entries = len(reply.entries)
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    stock = [mappers.sku_stock(s) for s in skus]
    tr = i18n.translator(i18n.language(request))
    stock_chart = charts.bar_chart(
        tr("admin.stock.title"), [(s.sku.name[:12], float(s.available)) for s in stock], lambda v: f"{v:,.0f}"
    )
    # Paid -> first key delivered, p50/p95/p99 per hour (fulfillment's delivery_latency projection).
    latency_chart = await report_charts.latency_chart(peers, tr) if user.can(P.ORDERS_READ) else None
    return _admin_page(
        request,
        "admin/home.html",
        user,
        stock=stock,
        open_entries=open_entries,
        stock_chart=stock_chart,
        latency_chart=latency_chart,
    )


# Catalogue: products, SKUs (bundles are SKUs of other SKUs' keys) and pools.


@router.get("/catalogue")
async def catalogue(request: Request, user: Annotated[User, allowed(P.CATALOGUE_READ)]) -> HTMLResponse:
    try:
        skus = (
            await _resources(request).peers.inventory.ListSkus(
                inventory_pb.ListSkusRequest(page_size=SKU_PAGE)
            )
        ).skus
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    done = request.query_params.get("done", "")
    return _admin_page(
        request,
        "admin/catalogue.html",
        user,
        stock=[mappers.sku_stock(s) for s in skus],
        done=done,
        created=request.query_params.get("id", ""),
    )


@router.post("/catalogue/products", dependencies=[CsrfProtected])
async def create_product(
    request: Request,
    user: Annotated[User, allowed(P.CATALOGUE_WRITE)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    kind: Annotated[str, Form(min_length=1, max_length=64)] = "card_key",
) -> Response:
    try:
        reply = await _resources(request).peers.inventory.CreateProduct(
            inventory_pb.CreateProductRequest(name=name.strip(), kind=kind.strip())
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    return _back(f"/admin/catalogue?done=product&id={reply.product_id}")


@router.post("/catalogue/skus", dependencies=[CsrfProtected])
async def create_sku(
    request: Request,
    user: Annotated[User, allowed(P.CATALOGUE_WRITE)],
    product_id: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    price_minor: Annotated[int, Form(ge=0, le=10**12)],
    currency: Annotated[str, Form(pattern=r"^[A-Z]{3}$")] = "CNY",
    low_stock_threshold: Annotated[int, Form(ge=0, le=10**9)] = 0,
    components: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A SKU; with components ("sku-a:1, sku-b:2": each SKU and its keys per unit; "points:500:250": 500
    points worth 250 minor units; "membership:vip:30": 30 days of vip), a bundle of them."""
    try:
        parts = [_component(c, currency) for c in components.replace("\n", ",").split(",") if c.strip()]
        reply = await _resources(request).peers.inventory.CreateSku(
            inventory_pb.CreateSkuRequest(
                product_id=product_id,
                name=name.strip(),
                price=mappers.money_pb(Money(price_minor, currency)),
                low_stock_threshold=low_stock_threshold,
                components=parts,
            )
        )
    except ValueError:
        raise WebError(400, "admin.catalogue.bad_components") from None
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    return _back(f"/admin/catalogue?done=sku&id={reply.sku.sku_id}")


def _component(text: str, currency: str = "CNY") -> inventory_events.BundleComponent:
    """ "sku-a:2" (or "sku-a" for one), "points:N[:VALUE]" (N points per unit worth VALUE minor units of
    `currency`) or "membership:PLAN:DAYS[:COST]" as a bundle's component; ValueError when it is not one."""
    kind, _, rest = text.strip().partition(":")
    if kind in ("points", "membership"):
        fields = [f.strip() for f in rest.split(":")]
        if kind == "points" and 1 <= len(fields) <= 2:
            value = Money(int(fields[1]) if len(fields) == 2 else 0, currency)
            return inventory_events.BundleComponent(quantity=1, points=inventory_events.PointsComponent(
                points=int(fields[0]), value=mappers.money_pb(value)
            ))
        if kind == "membership" and 2 <= len(fields) <= 3 and fields[0]:
            cost = Money(int(fields[2]) if len(fields) == 3 else 0, currency)
            membership = inventory_events.MembershipComponent(
                plan=fields[0], days=int(fields[1]), cost=mappers.money_pb(cost)
            )
            return inventory_events.BundleComponent(quantity=1, membership=membership)
        raise ValueError(text)
    sku_id, _, quantity = text.strip().partition(":")
    count = int(quantity) if quantity.strip() else 1
    if not sku_id.strip() or count < 1 or len(sku_id) > 64:
        raise ValueError(text)
    return inventory_events.BundleComponent(sku_id=sku_id.strip(), quantity=count)


@router.post("/catalogue/pools", dependencies=[CsrfProtected])
async def create_pool(
    request: Request,
    user: Annotated[User, allowed(P.CATALOGUE_WRITE)],
    sku_id: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    name: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    try:
        reply = await _resources(request).peers.inventory.CreatePool(
            inventory_pb.CreatePoolRequest(sku_id=sku_id, name=name.strip())
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    return _back(f"/admin/catalogue?done=pool&id={reply.pool_id}")


# Keys: import a key file as a job with live progress and the per-row error report; batches; export.


@router.get("/keys")
async def keys(
    request: Request,
    user: Annotated[User, allowed(P.KEYS_READ)],
    pool_id: Annotated[str, Query(max_length=64)] = "",
    page_token: paging.PageToken = "",
    back: paging.Back = None,
) -> HTMLResponse:
    jobs = await (await get_key_file_jobs(request)).everything()
    batches: list[Any] = []
    token = ""
    try:
        # The batches listed, a page at a time (next and previous links over inventory's keyset pages).
        listed = await _resources(request).peers.inventory.ListBatches(
            inventory_pb.ListBatchesRequest(pool_id=pool_id, page_size=BATCHES_PAGE, page_token=page_token)
        )
        for _ in range(BATCH_PAGES):
            page = await _resources(request).peers.inventory.ListBatches(
                inventory_pb.ListBatchesRequest(pool_id=pool_id, page_size=200, page_token=token)
            )
            batches.extend(page.batches)
            token = page.next_page_token
            if not token:
                break
        # A pool is marked low by its SKU's own threshold (0: never).
        skus = await _resources(request).peers.inventory.ListSkus(
            inventory_pb.ListSkusRequest(page_size=SKU_PAGE)
        )
        thresholds = {s.sku_id: s.low_stock_threshold for s in skus.skus}
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    pools: dict[str, dict[str, Any]] = {}
    for b in batches:
        pool = pools.setdefault(b.pool_id, {"sku_id": b.sku_id, "batches": 0, "imported": 0, "states": {}})
        pool["batches"] += 1
        pool["imported"] += b.imported
        for state, n in b.keys_by_state.items():
            pool["states"][state] = pool["states"].get(state, 0) + n
    return _admin_page(
        request,
        "admin/keys.html",
        user,
        max_mb=_resources(request).settings.max_body_bytes // 2**20,
        jobs=jobs,
        pool_id=pool_id,
        batches=list(listed.batches),
        batches_pager=paging.pager(
            "/admin/keys", {"pool_id": pool_id}, page_token, back or [], listed.next_page_token
        ),
        pools=dict(sorted(pools.items())),
        thresholds=thresholds,
        partial=bool(token),
    )


@router.post("/keys/import", dependencies=[CsrfProtected])
async def import_keys(
    request: Request,
    user: Annotated[User, allowed(P.KEYS_WRITE)],
    pool_id: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    file: Annotated[UploadFile, File()],
    unit_cost_minor: Annotated[int, Form(ge=0, le=10**12)] = 0,
    currency: Annotated[str, Form(pattern=r"^[A-Z]{3}$")] = "CNY",
    mode: Annotated[Literal["all_or_nothing", "valid_rows"], Form()] = "all_or_nothing",
) -> Response:
    """Start a key file import job (the same job the admin API runs) and follow it on its page."""
    settings = _resources(request).settings
    # Encrypted under a key of its own, held only in memory, until the job ends: the file is card keys.
    spool = EncryptedSpool(settings.key_file_dir or None, prefix="quanyi-upload-")
    try:
        while chunk := await file.read(1024 * 1024):
            if spool.size + len(chunk) > settings.max_key_file_bytes:
                raise WebError(413, "admin.keys.too_large")
            spool.write(chunk)
        spool.finish()
        if spool.size == 0:
            raise WebError(422, "admin.keys.empty")
        name = Path(file.filename or "keys.csv").name[:200]
        job = (await get_key_file_jobs(request)).start(
            KeyFileRequest(pool_id, name, "", mode, Money(unit_cost_minor, currency), user.actor),
            spool,
            spool.size,
        )
    except BaseException:
        spool.close()
        raise
    return _back(f"/admin/keys/jobs/{job.job_id}")


@router.get("/keys/jobs/{job_id}")
async def key_job(
    request: Request, job_id: PathId, user: Annotated[User, allowed(P.KEYS_READ)]
) -> HTMLResponse:
    job = await (await get_key_file_jobs(request)).find(job_id)
    if job is None:
        raise WebError(404, "error.not_found")
    return _admin_page(request, "admin/key_job.html", user, job=job)


@router.get("/keys/jobs/{job_id}/live")
async def key_job_live(
    request: Request, job_id: PathId, user: Annotated[User, allowed(P.KEYS_READ)]
) -> HTMLResponse:
    """The job's progress and, once done, its outcome: the fragment the job page polls."""
    job = await (await get_key_file_jobs(request)).find(job_id)
    if job is None:
        raise WebError(404, "error.not_found")
    return _admin_page(request, "admin/_key_job_live.html", user, job=job)


async def _export(
    request: Request, user: User, pool_id: str, batch_id: str, state: admin_keys.KeyState, codes: bool
) -> Response:
    try:
        return await admin_keys.export_keys(
            user, _resources(request).peers, batch_id, pool_id, state, None, codes
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None


@router.get("/keys/export.csv")
async def export_keys(
    request: Request,
    user: Annotated[User, allowed(P.KEYS_READ)],
    pool_id: Annotated[str, Query(max_length=64)] = "",
    batch_id: Annotated[str, Query(max_length=64)] = "",
    state: Annotated[admin_keys.KeyState, Query()] = "",
) -> Response:
    """Keys by pool, batch and state as CSV, without their codes (as the admin API's export)."""
    return await _export(request, user, pool_id, batch_id, state, False)


@router.post("/keys/export.csv", dependencies=[CsrfProtected])
async def export_keys_with_codes(
    request: Request,
    user: Annotated[User, allowed(P.KEY_CODES)],
    pool_id: Annotated[str, Form(max_length=64)] = "",
    batch_id: Annotated[str, Form(max_length=64)] = "",
    state: Annotated[admin_keys.KeyState, Form()] = "",
) -> Response:
    """The same with the keys' codes (keys:codes; audited by inventory before the first key is sent): a
    form post, so no other site can start one."""
    return await _export(request, user, pool_id, batch_id, state, True)


# Orders: look one up, its facts, its journal entries; refund, review, re-drive.


@router.get("/orders")
async def orders(
    request: Request,
    user: Annotated[User, allowed(P.ORDERS_READ)],
    order_id: Annotated[str, Query(max_length=64)] = "",
    channel: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")] = "",
    status: Annotated[str, Query(max_length=32, pattern=r"^[A-Z_]*$")] = "",
    page_token: paging.PageToken = "",
    back: paging.Back = None,
    limit: Annotated[int, Query(ge=1, le=200)] = ORDERS_PAGE,
) -> Response:
    """Orders from every channel, newest first, filtered by channel and status, a page at a time (next and
    previous links over orders' keyset pages); or one by its number."""
    if order_id.strip():
        return _back(f"/admin/orders/{order_id.strip()}")
    try:
        reply = await _resources(request).peers.orders.SearchOrders(
            orders_pb.SearchOrdersRequest(channel=channel, status=status, limit=limit, page_token=page_token)
        )
    except grpc.aio.AioRpcError as exc:
        raise paging.token_refused(exc) or _rpc_error(exc) from None
    return _admin_page(
        request,
        "admin/orders.html",
        user,
        orders=[mappers.order(o) for o in reply.orders],
        pager=paging.pager(
            "/admin/orders",
            {"channel": channel, "status": status, "limit": "" if limit == ORDERS_PAGE else str(limit)},
            page_token,
            back or [],
            reply.next_page_token,
        ),
        channel=channel,
        status=status,
        statuses=ORDER_STATUSES,
    )


@router.get("/orders/{order_id}")
async def order(
    request: Request,
    order_id: PathId,
    user: Annotated[User, allowed(P.ORDERS_READ)],
    as_of: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """One order: its facts, the actions the role may take, and (audit:read) its whole history across
    the services as of an instant (`quanyi history`'s fold), each event under the one that caused it."""
    resources = _resources(request)
    instant, bad_as_of = _instant(as_of)
    try:
        found = await resources.orders.own_order(user, order_id)
        entries: list[dict[str, Any]] = []
        if user.can(P.AUDIT_READ) or user.can(P.FINANCE_READ):
            reply = await resources.peers.ledger.ListEntries(
                ledger_pb.ListEntriesRequest(correlation_id=order_id)
            )
            entries = [MessageToDict(e, preserving_proto_field_name=True) for e in reply.entries]
        deliveries: list[Any] = []
        history: CrossServiceHistory | None = None
        if user.can(P.AUDIT_READ):
            histories: Histories = request.app.state.histories
            delivered, history = await asyncio.gather(
                resources.peers.fulfillment.ListDeliveries(
                    fulfillment_pb.ListDeliveriesRequest(buyer_id=found.buyer_id, order_id=order_id)
                ),
                histories.of_order(order_id, instant),
            )
            deliveries = [d for d in delivered.deliveries if d.order_id == order_id]
    except OrderNotFound:
        raise WebError(404, "error.order_not_found") from None
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    return _admin_page(
        request,
        "admin/order.html",
        user,
        order=found,
        entries=entries,
        deliveries=deliveries,
        history=history,
        as_of=instant.strftime("%Y-%m-%dT%H:%M:%S") if instant else "",
        bad_as_of=bad_as_of,
        channels=CHANNELS,
        done=request.query_params.get("done", ""),
    )


def _instant(text: str) -> tuple[datetime | None, bool]:
    """The page's "as of" field (ISO 8601, UTC when it names no offset: the field is labelled UTC); an
    unreadable one is ignored and said so, never an error."""
    if not text.strip():
        return None, False
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        return None, True
    return (instant if instant.tzinfo else instant.replace(tzinfo=UTC)), False


@router.post("/orders/{order_id}/refund", dependencies=[CsrfProtected])
async def refund(
    request: Request,
    order_id: PathId,
    user: Annotated[User, allowed(P.REFUNDS)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        await _resources(request).peers.orders.RefundOrder(
            orders_pb.RefundOrderRequest(order_id=order_id, actor=user.actor, reason=reason.strip())
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    return _back(f"/admin/orders/{order_id}?done=refund")


@router.post("/orders/{order_id}/review", dependencies=[CsrfProtected])
async def review(
    request: Request,
    order_id: PathId,
    user: Annotated[User, allowed(P.ORDERS_REVIEW)],
    decision: Annotated[Literal["approve", "reject"], Form()],
) -> Response:
    try:
        await _resources(request).peers.orders.ReviewOrder(
            orders_pb.ReviewOrderRequest(
                order_id=order_id, approve=decision == "approve", reviewer=user.actor
            )
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    return _back(f"/admin/orders/{order_id}?done={decision}")


@router.post("/orders/{order_id}/deliver", dependencies=[CsrfProtected])
async def deliver(
    request: Request,
    order_id: PathId,
    user: Annotated[User, allowed(P.DELIVERIES)],
    channel: Annotated[Literal["webhook", "sms", "activation"], Form()],
    target: Annotated[str, Form(min_length=1, max_length=500)],
    back: Annotated[Literal["order", "queue"], Form()] = "order",
) -> Response:
    """Deliver the order's keys on a channel now: a re-drive, a switch of channel or a manual delivery."""
    try:
        reply = await _resources(request).peers.fulfillment.DeliverOnChannel(
            fulfillment_pb.DeliverOnChannelRequest(order_id=order_id, channel=channel, target=target.strip()),
            timeout=180,
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    done = "delivered" if reply.delivered else "not_delivered"
    return _back(
        f"/admin/queue?done={done}&order={order_id}"
        if back == "queue"
        else f"/admin/orders/{order_id}?done={done}"
    )


# The audit lookup: an order by its number, a key by its code (posted, so a code never sits in a URL).


@router.get("/audit")
async def audit(request: Request, user: Annotated[User, allowed(P.AUDIT_READ)]) -> HTMLResponse:
    return _admin_page(
        request, "admin/audit.html", user, not_found=request.query_params.get("missing") == "1"
    )


@router.post("/audit", dependencies=[CsrfProtected])
async def audit_lookup(
    request: Request,
    user: Annotated[User, allowed(P.AUDIT_READ)],
    order_id: Annotated[str, Form(max_length=64)] = "",
    code: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    """An order's page (its facts, deliveries and journal entries), found by its number or by a key's code."""
    if order_id.strip():
        return _back(f"/admin/orders/{order_id.strip()}")
    if not code.strip():
        return _back("/admin/audit")
    try:
        found = await _resources(request).peers.inventory.FindKey(
            inventory_pb.FindKeyRequest(code=code.strip())
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return _back("/admin/audit?missing=1")
        raise _rpc_error(exc) from None
    if not found.order_id:
        return _back(f"/admin/audit?missing=1&key={found.key_id}")
    return _back(f"/admin/orders/{found.order_id}#key-{found.key_id}")


# The exception queue and its actions.


@router.get("/queue")
async def queue(
    request: Request,
    user: Annotated[User, allowed(P.QUEUE_READ)],
    all: bool = False,
    page_token: paging.PageToken = "",
    back: paging.Back = None,
) -> HTMLResponse:
    """The exception queue, oldest first, a page at a time (next and previous links over its keyset
    pages), with each open entry's actions."""
    try:
        reply = await _resources(request).peers.orders.ListExceptionQueue(
            orders_pb.ListExceptionQueueRequest(include_resolved=all, limit=QUEUE_PAGE, page_token=page_token)
        )
    except grpc.aio.AioRpcError as exc:
        raise paging.token_refused(exc) or _rpc_error(exc) from None
    return _admin_page(
        request,
        "admin/queue.html",
        user,
        entries=list(reply.entries),
        pager=paging.pager(
            "/admin/queue", {"all": "true" if all else ""}, page_token, back or [], reply.next_page_token
        ),
        include_resolved=all,
        channels=("email", *CHANNELS),
        done=request.query_params.get("done", ""),
        done_order=request.query_params.get("order", ""),
    )


@router.post("/queue/{order_id}", dependencies=[CsrfProtected])
async def act_on_queue_entry(
    request: Request,
    order_id: PathId,
    user: Annotated[User, allowed(P.QUEUE_READ)],
    action: Annotated[Literal["refund", "resolve", "redrive", "switch", "override", "decline"], Form()],
    note: Annotated[str, Form(max_length=500)] = "",
    channel: Annotated[Literal["", "email", "webhook", "sms", "activation"], Form()] = "",
    target: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Refund the entry's remaining units (orders:refund), mark it settled by hand (queue:act), or deliver
    it again on its channel or another one (orders:deliver; resolved once that channel delivered)."""
    needs = {"refund": P.REFUNDS, "override": P.REFUNDS, "decline": P.REFUNDS, "resolve": P.QUEUE_ACT}.get(
        action, P.DELIVERIES
    )
    if not user.can(needs):
        raise WebError(403, "error.forbidden")
    try:
        reply = await _resources(request).peers.orders.ActOnQueueEntry(
            orders_pb.ActOnQueueEntryRequest(
                order_id=order_id,
                action=action,
                actor=user.actor,
                note=note.strip(),
                channel=channel,
                target=target.strip(),
            ),
            timeout=180,
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    done: str = action
    if action in ("redrive", "switch"):
        done = "delivered" if reply.entry.status != "OPEN" else "not_delivered"
    return _back(f"/admin/queue?done={done}&order={order_id}")


# Finance: charts of sales, refunds and margin, the trial balance, reconciliation results, exports.


def _report(rows: Any, key: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"sales": 0, "refunds": 0, "margin": 0, "cost": 0})
    for r in rows:
        at = out[getattr(r, key) or "—"]
        at["sales"] += r.sales_minor
        at["refunds"] += r.refunds_minor
        at["margin"] += r.margin_minor
        at["cost"] += r.cost_minor
    return dict(sorted(out.items()))


@router.get("/finance")
async def finance(
    request: Request,
    user: Annotated[User, allowed(P.FINANCE_READ)],
    page_token: paging.PageToken = "",
    back: paging.Back = None,
) -> HTMLResponse:
    """Sales, refunds and margin by day, channel and product, the trial balance, and the reconciliation
    mismatches a page at a time (oldest first, next and previous links over the ledger's keyset pages)."""
    ledger = _resources(request).peers.ledger
    try:
        by_day = (await ledger.GetReport(ledger_pb.GetReportRequest(period=ledger_pb.REPORT_PERIOD_DAY))).rows
        by_channel = (await ledger.GetReport(ledger_pb.GetReportRequest(group_by=["channel"]))).rows
        by_product = (await ledger.GetReport(ledger_pb.GetReportRequest(group_by=["product"]))).rows
        trial = await ledger.GetTrialBalance(ledger_pb.GetTrialBalanceRequest())
        listed = await ledger.ListMismatches(
            ledger_pb.ListMismatchesRequest(include_resolved=True, limit=MISMATCH_PAGE, page_token=page_token)
        )
    except grpc.aio.AioRpcError as exc:
        raise paging.token_refused(exc) or _rpc_error(exc) from None
    days = _report(by_day, "period")
    channels = _report(by_channel, "channel")
    products = _report(by_product, "product_id")
    currency = next((r.currency for r in by_day), "CNY")

    def label(v: float) -> str:
        return money(Money(int(v), currency))

    tr = i18n.translator(i18n.language(request))
    sales_chart = charts.line_chart(
        tr("admin.finance.sales_over_time"),
        [
            charts.Series(tr("admin.finance.sales"), [(d, v["sales"]) for d, v in days.items()]),
            charts.Series(tr("admin.finance.refunds"), [(d, v["refunds"]) for d, v in days.items()]),
            charts.Series(tr("admin.finance.margin"), [(d, max(v["margin"], 0)) for d, v in days.items()]),
        ],
        label,
    )
    channel_chart = charts.bar_chart(
        tr("admin.finance.sales_by_channel"), [(c, v["sales"]) for c, v in channels.items()], label
    )
    product_chart = charts.bar_chart(
        tr("admin.finance.sales_by_product"), [(p[:8], v["sales"]) for p, v in products.items()], label
    )
    return _admin_page(
        request,
        "admin/finance.html",
        user,
        days=days,
        channels=channels,
        products=products,
        currency=currency,
        sales_chart=sales_chart,
        channel_chart=channel_chart,
        product_chart=product_chart,
        trial=trial,
        mismatches=[MessageToDict(m, preserving_proto_field_name=True) for m in listed.mismatches],
        pager=paging.pager("/admin/finance", {}, page_token, back or [], listed.next_page_token),
    )


@router.get("/finance/report.{fmt}")
async def finance_export(
    request: Request, fmt: Literal["csv", "xlsx"], user: Annotated[User, allowed(P.FINANCE_READ)]
) -> Response:
    """The sales report by day, SKU and channel as a CSV or XLSX file (the export is recorded in the
    ledger with the operator as its actor)."""
    formats = {"csv": ledger_pb.REPORT_FORMAT_CSV, "xlsx": ledger_pb.REPORT_FORMAT_XLSX}
    try:
        reply = await _resources(request).peers.ledger.GetReport(
            ledger_pb.GetReportRequest(
                period=ledger_pb.REPORT_PERIOD_DAY,
                group_by=["sku", "channel"],
                format=formats[fmt],
                actor=user.actor,
            )
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    return Response(
        content=reply.content,
        media_type=reply.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{reply.filename}"',
            "Cache-Control": "no-store",
        },
    )
