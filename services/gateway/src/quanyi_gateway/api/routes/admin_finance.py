"""Finance administration over the ledger: balances as of an instant, the trial balance, sales reports
(JSON, CSV, XLSX), reconciliation of payment providers' trade bills, the operations list of mismatches and
their audited resolution, the signed chain head and verification. Admin role only; every write and export
names the admin as its actor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Response, UploadFile
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, Field
from quanyi.common.v1.money_pb2 import Money
from quanyi.ledger.v1 import ledger_service_pb2 as pb

from quanyi_gateway.api.deps import AdminUser, Allowed, JsonBody, PeersDep, SettingsDep, get_current_admin
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.api.validation import MAX_MONEY_MINOR, CursorQuery
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.models import Currency

router = APIRouter(
    prefix="/admin/finance",
    tags=["admin", "finance"],
    dependencies=[Depends(get_current_admin)],
    responses=responses(401, 403, 503),
)

PERIODS = {
    "none": pb.REPORT_PERIOD_UNSPECIFIED,
    "day": pb.REPORT_PERIOD_DAY,
    "week": pb.REPORT_PERIOD_WEEK,
    "month": pb.REPORT_PERIOD_MONTH,
}
FORMATS = {"json": pb.REPORT_FORMAT_UNSPECIFIED, "csv": pb.REPORT_FORMAT_CSV, "xlsx": pb.REPORT_FORMAT_XLSX}
AccountPrefix = Annotated[str, Query(max_length=128, pattern=r"^[A-Za-z0-9_.:-]*$")]
Instant = Annotated[datetime | None, Query(description="ISO 8601; UTC when it has no offset.")]


class TrialBalanceRowPublic(BaseModel):
    account: str
    currency: str
    debit_minor: int
    credit_minor: int


class TrialBalancePublic(BaseModel):
    rows: list[TrialBalanceRowPublic]
    balanced: bool
    head_seq: int


class ReportRowPublic(BaseModel):
    period: str
    channel: str
    product_id: str
    sku_id: str
    currency: str
    sales_minor: int
    refunds_minor: int
    cost_minor: int
    margin_minor: int
    discounts_minor: int = 0


class ReportPublic(BaseModel):
    rows: list[ReportRowPublic]


class MismatchResolve(BaseModel):
    """An operator's resolution of a reconciliation mismatch."""

    note: str = Field(min_length=1, max_length=500)
    adjustment_minor: int = Field(default=0, ge=-MAX_MONEY_MINOR, le=MAX_MONEY_MINOR)
    currency: Currency = "CNY"


def _ts(t: datetime | None) -> Timestamp | None:
    if t is None:
        return None
    out = Timestamp()
    out.FromDatetime(t if t.tzinfo else t.replace(tzinfo=UTC))
    return out


def _dict(message: object) -> dict[str, object]:
    # Every field, zero ones too (int64 as JSON strings, as protobuf's JSON mapping has them).
    out: dict[str, object] = MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    return out


@router.get("/balances", dependencies=[Allowed(P.FINANCE_READ)])
async def balances(
    peers: PeersDep, account_prefix: AccountPrefix = "", as_of: Instant = None
) -> dict[str, object]:
    """Every account's balance (debits − credits), now or as of an instant (the facts until then)."""
    request = pb.GetBalancesRequest(account_prefix=account_prefix)
    if (ts := _ts(as_of)) is not None:
        request.as_of.CopyFrom(ts)
    reply = await peers.ledger.GetBalances(request)
    return {"balances": [_dict(b) for b in reply.balances]}


@router.get("/trial-balance", dependencies=[Allowed(P.FINANCE_READ)])
async def trial_balance(peers: PeersDep, as_of: Instant = None) -> TrialBalancePublic:
    """Debit and credit totals of every account, as of an instant, and whether they balance."""
    request = pb.GetTrialBalanceRequest()
    if (ts := _ts(as_of)) is not None:
        request.as_of.CopyFrom(ts)
    reply = await peers.ledger.GetTrialBalance(request)
    return TrialBalancePublic(
        rows=[
            TrialBalanceRowPublic(
                account=r.account, currency=r.currency, debit_minor=r.debit_minor, credit_minor=r.credit_minor
            )
            for r in reply.rows
        ],
        balanced=reply.balanced,
        head_seq=reply.head_seq,
    )


@router.get(
    "/reports/sales",
    dependencies=[Allowed(P.FINANCE_READ)],
    response_model=ReportPublic,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        },
        **responses(422),
    },
)
async def sales_report(
    admin: AdminUser,
    peers: PeersDep,
    by: Annotated[
        str,
        Query(max_length=32, pattern=r"^[a-z,]*$", description="any of product, sku, channel, or none"),
    ] = "sku,channel",
    period: Literal["none", "day", "week", "month"] = "day",
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Response | ReportPublic:
    """Sales, refunds, cost and gross margin by SKU, channel and day, week or month; as JSON, or as a CSV
    or XLSX file (a file export is recorded in the ledger with the admin as its actor)."""
    groups = [g for g in by.split(",") if g and g != "none"]
    request = pb.GetReportRequest(
        period=PERIODS[period], group_by=groups, format=FORMATS[format], actor=admin.actor
    )
    if (ts := _ts(start)) is not None:
        request.from_time.CopyFrom(ts)
    if (ts := _ts(end)) is not None:
        request.to_time.CopyFrom(ts)
    reply = await peers.ledger.GetReport(request)
    if format != "json":
        return Response(
            content=reply.content,
            media_type=reply.content_type,
            headers={"Content-Disposition": f'attachment; filename="{reply.filename}"'},
        )
    return ReportPublic(
        rows=[
            ReportRowPublic(
                period=r.period,
                channel=r.channel,
                product_id=r.product_id,
                sku_id=r.sku_id,
                currency=r.currency,
                sales_minor=r.sales_minor,
                refunds_minor=r.refunds_minor,
                cost_minor=r.cost_minor,
                margin_minor=r.margin_minor,
                discounts_minor=r.discounts_minor,
            )
            for r in reply.rows
        ]
    )


@router.post(
    "/reconciliations",
    dependencies=[Allowed(P.FINANCE_WRITE)],
    status_code=201,
    responses=responses(400, 413, 422),
)
async def reconcile(
    provider: Annotated[Literal["wechatpay", "alipay"], Form(description="The bill's layout.")],
    file: Annotated[UploadFile, File(description="The provider's daily trade bill, as downloaded.")],
    admin: AdminUser,
    peers: PeersDep,
    settings: SettingsDep,
    ledger_provider: Annotated[str, Form(max_length=64, pattern=r"^[a-z0-9_-]*$")] = "",
) -> dict[str, object]:
    """Reconcile a WeChat Pay or Alipay trade bill against the ledger by transaction id: matched, missing
    in the ledger, missing in the statement, amount mismatches and fee totals; mismatches join the
    operations list."""
    data = await file.read(settings.max_import_bytes + 1)
    if len(data) > settings.max_import_bytes:
        raise Problem(413, f"the file is larger than {settings.max_import_bytes} bytes", slug="too-large")
    reply = await peers.ledger.ReconcileStatement(
        pb.ReconcileStatementRequest(
            provider=provider, content=data, actor=admin.actor, ledger_provider=ledger_provider
        ),
        timeout=120,
    )
    return _dict(reply)


@router.get("/mismatches", dependencies=[Allowed(P.FINANCE_READ)], responses=responses(422))
async def mismatches(
    peers: PeersDep,
    include_resolved: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: CursorQuery = "",
) -> dict[str, object]:
    """The operations list: reconciliation mismatches, open until resolved, oldest first, a page at a time
    (pass `next_cursor` as `cursor`; null on the last page)."""
    reply = await peers.ledger.ListMismatches(
        pb.ListMismatchesRequest(include_resolved=include_resolved, limit=limit, page_token=cursor)
    )
    return {"mismatches": [_dict(m) for m in reply.mismatches], "next_cursor": reply.next_page_token or None}


@router.post(
    "/mismatches/{mismatch_id}/resolution",
    dependencies=[Allowed(P.FINANCE_WRITE), JsonBody],
    responses=responses(404, 409, 415, 422),
)
async def resolve(
    mismatch_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f-]+$")],
    body: MismatchResolve,
    admin: AdminUser,
    peers: PeersDep,
) -> dict[str, object]:
    """Resolve a mismatch: an audited record (who, why) and, with an adjustment, a journal entry."""
    request = pb.ResolveMismatchRequest(mismatch_id=mismatch_id, actor=admin.actor, note=body.note)
    if body.adjustment_minor:
        request.adjustment.CopyFrom(Money(minor_units=body.adjustment_minor, currency=body.currency))
    reply = await peers.ledger.ResolveMismatch(request)
    return _dict(reply.mismatch)


@router.post("/chain-head", dependencies=[Allowed(P.FINANCE_WRITE)], status_code=201)
async def sign_chain_head(admin: AdminUser, peers: PeersDep) -> dict[str, object]:
    """Sign the journal's head (its last entry's seq and hash) with the ledger's Ed25519 key and export it;
    keep it to check the journal against later (`verify?head_seq=&head_hash=`)."""
    reply = await peers.ledger.SignChainHead(pb.SignChainHeadRequest(actor=admin.actor))
    return {**_dict(reply.head), "statement": reply.statement.decode()}


@router.get("/verify", dependencies=[Allowed(P.FINANCE_READ)])
async def verify(
    peers: PeersDep,
    head_seq: Annotated[int, Query(ge=0)] = 0,
    head_hash: Annotated[str, Query(pattern=r"^([0-9a-f]{64})?$")] = "",
) -> dict[str, object]:
    """Walk the hash chain (the first problem names the first broken link); with a signed head, check the
    journal still has that hash at that entry."""
    reply = await peers.ledger.VerifyJournal(
        pb.VerifyJournalRequest(head_seq=head_seq, head_hash=head_hash), timeout=600
    )
    return {"ok": reply.ok, "entries": reply.entries, "problems": list(reply.problems)}


@router.get("/entries", dependencies=[Allowed(P.FINANCE_READ)], responses=responses(422))
async def entries(
    peers: PeersDep,
    order_id: Annotated[str, Query(max_length=64)] = "",
    reference: Annotated[str, Query(max_length=128)] = "",
) -> dict[str, object]:
    """The journal entries of an order, or with an outside reference (a payment, a refund, a mismatch)."""
    if not order_id and not reference:
        raise Problem(422, "give order_id or reference", slug="invalid-argument")
    reply = await peers.ledger.ListEntries(
        pb.ListEntriesRequest(correlation_id=order_id, reference=reference)
    )
    return {"entries": [_dict(e) for e in reply.entries]}
