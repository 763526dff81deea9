"""Administration: catalogue, card-key pools and imports, the ledger, risk reviews. Admin role only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.ledger.v1 import ledger_service_pb2 as ledger_pb
from quanyi.orders.v1 import orders_service_pb2 as orders_pb

from quanyi_gateway.adapters import mappers
from quanyi_gateway.api import presenters
from quanyi_gateway.api.deps import (
    AdminUser,
    Allowed,
    JsonBody,
    LimitsDep,
    PartnerScopesDep,
    PeersDep,
    SettingsDep,
    ensure_allowed,
    get_current_admin,
)
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.api.validation import MAX_MONEY_MINOR, CursorQuery, PathId, PathName
from quanyi_gateway.application import model
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.models import (
    AccountUnlock,
    AccountUnlockPublic,
    BalancePublic,
    BalancesPublic,
    BundleComponentCreate,
    Currency,
    CursorPage,
    ImportPublic,
    JournalVerificationPublic,
    Money,
    OrderPagePublic,
    OrderPublic,
    PartnerSkusPublic,
    PartnerSkusUpdate,
    PaymentConfirmationCreate,
    PaymentConfirmationPublic,
    PoolCreate,
    PoolPublic,
    ProductCreate,
    ProductPublic,
    QueueActionCreate,
    QueueActionPublic,
    QueueEntryPublic,
    RefundCreate,
    RefundPublic,
    RejectedRow,
    ReviewCreate,
    SkuCreate,
    SkuPublic,
)

#: A re-drive waits for the channel, which retries within fulfillment's bounded time (as the resend routes).
QUEUE_DELIVER_TIMEOUT_S = 180.0

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(get_current_admin)],
    responses=responses(401, 403, 503),
)


@router.post(
    "/products",
    status_code=201,
    dependencies=[Allowed(P.CATALOGUE_WRITE), JsonBody],
    responses=responses(400, 415, 422),
)
async def create_product(body: ProductCreate, peers: PeersDep) -> ProductPublic:
    """Add a product."""
    reply = await peers.inventory.CreateProduct(
        inventory_pb.CreateProductRequest(name=body.name, kind=body.kind)
    )
    return ProductPublic(product_id=reply.product_id, name=reply.name, kind=reply.kind)


@router.post(
    "/products/{product_id}/skus",
    status_code=201,
    dependencies=[Allowed(P.CATALOGUE_WRITE), JsonBody],
    responses=responses(400, 404, 415, 422),
)
async def create_sku(product_id: PathId, body: SkuCreate, peers: PeersDep) -> SkuPublic:
    """Add a SKU to a product, priced in minor units; with components, a bundle of other SKUs' keys."""
    reply = await peers.inventory.CreateSku(
        inventory_pb.CreateSkuRequest(
            product_id=product_id,
            name=body.name,
            price=mappers.money_pb(presenters.money_in(body.price)),
            low_stock_threshold=body.low_stock_threshold,
            components=[_component(c) for c in body.components],
        )
    )
    return presenters.sku(mappers.sku_stock(reply.sku))


def _component(c: BundleComponentCreate) -> inventory_events.BundleComponent:
    """A bundle's component as inventory takes it: keys of a SKU, points, or a membership."""
    if c.points is not None:
        value = mappers.money_pb(presenters.money_in(c.points.value)) if c.points.value else None
        return inventory_events.BundleComponent(
            quantity=1, points=inventory_events.PointsComponent(points=c.points.points, value=value)
        )
    if c.membership is not None:
        m = c.membership
        cost = mappers.money_pb(presenters.money_in(m.cost)) if m.cost else None
        return inventory_events.BundleComponent(
            quantity=1, membership=inventory_events.MembershipComponent(plan=m.plan, days=m.days, cost=cost)
        )
    return inventory_events.BundleComponent(sku_id=c.sku_id, quantity=c.quantity)


@router.post(
    "/skus/{sku_id}/pools",
    status_code=201,
    dependencies=[Allowed(P.CATALOGUE_WRITE), JsonBody],
    responses=responses(400, 404, 415, 422),
)
async def create_pool(sku_id: PathId, body: PoolCreate, peers: PeersDep) -> PoolPublic:
    """Add a card-key pool that fills a SKU."""
    reply = await peers.inventory.CreatePool(inventory_pb.CreatePoolRequest(sku_id=sku_id, name=body.name))
    return PoolPublic(pool_id=reply.pool_id, sku_id=reply.sku_id, name=reply.name)


@router.post(
    "/pools/{pool_id}/imports",
    dependencies=[Allowed(P.KEYS_WRITE)],
    status_code=201,
    responses=responses(404, 413, 422),
)
async def import_keys(
    pool_id: PathId,
    file: Annotated[UploadFile, File(description="CSV, UTF-8, header row with columns code and password.")],
    unit_cost_minor: Annotated[int, Form(ge=0, le=MAX_MONEY_MINOR)],
    currency: Annotated[Currency, Form()],
    admin: AdminUser,
    peers: PeersDep,
    settings: SettingsDep,
) -> ImportPublic:
    """Import card keys from a CSV file; duplicates and malformed rows are reported, not stored."""
    data = await file.read(settings.max_import_bytes + 1)
    if len(data) > settings.max_import_bytes:
        raise Problem(413, f"the file is larger than {settings.max_import_bytes} bytes", slug="too-large")
    reply = await peers.inventory.ImportKeys(
        inventory_pb.ImportKeysRequest(
            pool_id=pool_id,
            csv=data,
            unit_cost=mappers.money_pb(model.Money(unit_cost_minor, currency)),
            actor=admin.actor,
        )
    )
    return ImportPublic(
        batch_id=reply.batch_id,
        imported=reply.imported,
        duplicates=reply.duplicates,
        rejected=[RejectedRow(row=r.row, reason=r.reason) for r in reply.rejected],
    )


@router.get("/ledger/balances", dependencies=[Allowed(P.FINANCE_READ)])
async def ledger_balances(
    peers: PeersDep,
    account_prefix: Annotated[str, Query(max_length=128, pattern=r"^[A-Za-z0-9_.:-]*$")] = "",
) -> BalancesPublic:
    """Every ledger account's balance (debits minus credits), optionally only accounts with a prefix."""
    reply = await peers.ledger.GetBalances(ledger_pb.GetBalancesRequest(account_prefix=account_prefix))
    return BalancesPublic(
        balances=[
            BalancePublic(account=b.account, balance_minor=b.balance_minor, currency=b.currency)
            for b in reply.balances
        ]
    )


@router.get("/ledger/verify", dependencies=[Allowed(P.FINANCE_READ)])
async def ledger_verify(peers: PeersDep) -> JournalVerificationPublic:
    """Check that every journal entry balances and that the hash chain is intact."""
    reply = await peers.ledger.VerifyJournal(ledger_pb.VerifyJournalRequest())
    return JournalVerificationPublic(ok=reply.ok, entries=reply.entries, problems=list(reply.problems))


@router.post(
    "/orders/{order_id}/review",
    dependencies=[Allowed(P.ORDERS_REVIEW), JsonBody],
    responses=responses(400, 404, 409, 415, 422),
)
async def review_order(
    order_id: PathId, body: ReviewCreate, admin: AdminUser, peers: PeersDep
) -> OrderPublic:
    """Release (approve) or reject and refund an order held for review."""
    reply = await peers.orders.ReviewOrder(
        orders_pb.ReviewOrderRequest(order_id=order_id, approve=body.approve, reviewer=admin.actor)
    )
    return presenters.order(mappers.order(reply.order))


@router.post(
    "/orders/{order_id}/confirm-payment", dependencies=[Allowed(P.PAYMENTS_CONFIRM), JsonBody],
    responses=responses(400, 404, 409, 415, 422),
)
async def confirm_payment(
    order_id: PathId, body: PaymentConfirmationCreate, admin: AdminUser, peers: PeersDep
) -> PaymentConfirmationPublic:
    """Ask the payment provider whether the order was paid and record it as its notice would (idempotent)."""
    reply = await peers.orders.ConfirmPayment(
        orders_pb.ConfirmPaymentRequest(order_id=order_id, provider=body.provider, actor=admin.actor)
    )
    return PaymentConfirmationPublic(
        order=presenters.order(mappers.order(reply.order)), paid=reply.paid, duplicate=reply.duplicate
    )


@router.post(
    "/orders/{order_id}/refunds", status_code=201, dependencies=[Allowed(P.REFUNDS), JsonBody],
    responses=responses(400, 404, 409, 415, 422),
)
async def refund_order(
    order_id: PathId, body: RefundCreate, admin: AdminUser, peers: PeersDep
) -> RefundPublic:
    """Refund a paid order, whole or some units; undelivered keys are released, delivered ones voided,
    redeemed ones only with `override_redeemed` (audited). The provider confirms the refund later."""
    reply = await peers.orders.RefundOrder(orders_pb.RefundOrderRequest(
        order_id=order_id, actor=admin.actor, override_redeemed=body.override_redeemed, reason=body.reason,
        lines=[orders_pb.RefundLineRequest(line_no=ln.line_no, quantity=ln.quantity) for ln in body.lines],
    ))
    return RefundPublic(
        refund_id=reply.refund_id,
        amount=Money(amount_minor=reply.amount.minor_units, currency=reply.amount.currency),
    )


@router.get("/orders", dependencies=[Allowed(P.ORDERS_READ)], responses=responses(400, 422))
async def search_orders(
    peers: PeersDep,
    channel: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")] = "",
    status: Annotated[str, Query(max_length=32, pattern=r"^[A-Z_]*$")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> OrderPagePublic:
    """Orders from every channel and buyer, newest first, by channel and status, a page at a time."""
    reply = await peers.orders.SearchOrders(orders_pb.SearchOrdersRequest(
        channel=channel, status=status, limit=limit, page_token=page_token
    ))
    return OrderPagePublic(
        orders=[presenters.order(mappers.order(o), with_payment=False) for o in reply.orders],
        next_page_token=reply.next_page_token,
    )


def _queue_entry(e: orders_pb.QueueEntry) -> QueueEntryPublic:
    return QueueEntryPublic(
        order_id=e.order_id, reason=e.reason, source=e.source, queued_at=e.queued_at, status=e.status,
        resolution=e.resolution, actor=e.actor,
    )


@router.get("/ops/queue", dependencies=[Allowed(P.QUEUE_READ)], responses=responses(400, 422))
async def exception_queue(
    peers: PeersDep,
    include_resolved: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: CursorQuery = "",
) -> CursorPage[QueueEntryPublic]:
    """The exception queue: paid orders whose delivery was given up or is overdue, refunds inventory
    refused, and keys redeemed after their refund (source redeemed_after_refund), oldest first, a page at
    a time (pass `next_cursor` as `cursor`)."""
    reply = await peers.orders.ListExceptionQueue(orders_pb.ListExceptionQueueRequest(
        include_resolved=include_resolved, limit=limit, page_token=cursor
    ))
    return CursorPage(
        items=[_queue_entry(e) for e in reply.entries], next_cursor=reply.next_page_token or None
    )


@router.post(
    "/ops/queue/{order_id}",
    dependencies=[Allowed(P.QUEUE_ACT, P.REFUNDS), JsonBody],
    responses=responses(400, 404, 409, 415, 422),
)
async def act_on_queue_entry(
    order_id: PathId, body: QueueActionCreate, admin: AdminUser, peers: PeersDep
) -> QueueActionPublic:
    """Act on an order in the exception queue: refund its remaining units (the orders:refund permission),
    resolve it, or re-drive its delivery on its channel or another (queue:act; answered once the channel
    delivered, 409 if it failed again), audited."""
    ensure_allowed(admin, P.REFUNDS if body.action in ("refund", "override", "decline") else P.QUEUE_ACT)
    reply = await peers.orders.ActOnQueueEntry(orders_pb.ActOnQueueEntryRequest(
        order_id=order_id, action=body.action, actor=admin.actor, note=body.note, channel=body.channel,
        target=body.target,  # personal data: passed through to fulfillment, kept nowhere
    ), timeout=QUEUE_DELIVER_TIMEOUT_S if body.channel else None)
    return QueueActionPublic(entry=_queue_entry(reply.entry), refund_id=reply.refund_id)


@router.post(
    "/accounts/unlock",
    dependencies=[Allowed(P.ACCOUNTS_UNLOCK), JsonBody],
    responses=responses(400, 415, 422),
)
async def unlock_account(body: AccountUnlock, limits: LimitsDep) -> AccountUnlockPublic:
    """Unlock an account locked by failed sign-ins (and reset its sign-in limit): it may sign in at once."""
    email = body.email.strip().lower()
    return AccountUnlockPublic(email=email, unlocked=await limits.unlock(email))


def _known_partner(partner: str, settings: SettingsDep) -> str:
    if settings.partner_secret(partner) is None:
        raise Problem(404, "no partner has this name", slug="not-found")
    return partner


@router.get(
    "/partners/{partner}/skus",
    dependencies=[Allowed(P.PARTNERS_READ)],
    responses=responses(404, 422),
)
async def partner_skus(
    partner: PathName, settings: SettingsDep, scopes: PartnerScopesDep
) -> PartnerSkusPublic:
    """The SKUs a partner may report redemptions of."""
    _known_partner(partner, settings)
    return PartnerSkusPublic(partner=partner, sku_ids=sorted(await scopes.skus_of(partner)))


@router.put(
    "/partners/{partner}/skus",
    dependencies=[Allowed(P.PARTNERS_WRITE), JsonBody],
    responses=responses(400, 404, 415, 422),
)
async def set_partner_skus(
    partner: PathName, body: PartnerSkusUpdate, settings: SettingsDep, scopes: PartnerScopesDep
) -> PartnerSkusPublic:
    """Make these the SKUs a partner may report redemptions of; any other code it reports is answered
    as an unknown one."""
    _known_partner(partner, settings)
    await scopes.replace(partner, body.sku_ids)
    return PartnerSkusPublic(partner=partner, sku_ids=sorted(await scopes.skus_of(partner)))


@router.post(
    "/partners/{partner}/skus",
    dependencies=[Allowed(P.PARTNERS_WRITE), JsonBody],
    responses=responses(400, 404, 415, 422),
)
async def grant_partner_skus(
    partner: PathName, body: PartnerSkusUpdate, settings: SettingsDep, scopes: PartnerScopesDep
) -> PartnerSkusPublic:
    """Add SKUs to those a partner may report redemptions of."""
    _known_partner(partner, settings)
    await scopes.grant(partner, body.sku_ids)
    return PartnerSkusPublic(partner=partner, sku_ids=sorted(await scopes.skus_of(partner)))
