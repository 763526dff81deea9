"""Ledger's gRPC API: reads of the journal, reports, reconciliation and signed heads; translates and
calls, nothing more."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.ledger.v1 import events_pb2 as ev
from quanyi.ledger.v1 import ledger_service_pb2 as pb
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from quanyi_platform.paging import InvalidPageToken

from quanyi_ledger.adapters import exports
from quanyi_ledger.adapters.proto import entries_posted_to_proto, money_to_proto, timestamp_of
from quanyi_ledger.application import queries, reconciling, reporting
from quanyi_ledger.application.ports import Catalogue, LedgerUnitOfWork, MismatchRecord, Signer
from quanyi_ledger.application.signing import sign_head
from quanyi_ledger.application.verification import verify_journal
from quanyi_ledger.domain.journal import Money
from quanyi_ledger.domain.ledger import EntriesPosted
from quanyi_ledger.domain.reconciliation import MismatchKind, StatementError
from quanyi_ledger.domain.reports import Period, ReportQuery

_PERIODS = {
    pb.REPORT_PERIOD_UNSPECIFIED: Period.NONE,
    pb.REPORT_PERIOD_DAY: Period.DAY,
    pb.REPORT_PERIOD_WEEK: Period.WEEK,
    pb.REPORT_PERIOD_MONTH: Period.MONTH,
}


def _instant(ts: Timestamp, present: bool) -> datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if present else None


def mismatch_to_proto(m: MismatchRecord) -> pb.Mismatch:
    found = ev.ReconciliationMismatch(
        provider=m.provider,
        provider_txn_id=m.key,
        detail=m.detail,
        statement_id=m.statement_id,
        mismatch_id=m.mismatch_id,
        kind=m.kind,  # type: ignore[arg-type]
        order_id=m.order_id,
        ledger_amount=money_to_proto(Money(m.ledger_minor, m.currency)),
        statement_amount=money_to_proto(Money(m.statement_minor, m.currency)),
        txn_kind=m.txn_kind.value,
    )
    out = pb.Mismatch(mismatch=found, resolved=m.resolved, found_at=timestamp_of(m.found_at))
    if m.resolved:
        out.resolution.CopyFrom(ev.MismatchResolved(
            mismatch_id=m.mismatch_id, actor=m.resolved_by, note=m.note, provider=m.provider,
            adjustment=money_to_proto(Money(m.adjustment_minor, m.currency)),
        ))
    return out


class LedgerServicer(pb_grpc.LedgerServiceServicer):
    """`unit_of_work()` opens a new unit of work (its own transaction) per call."""

    def __init__(
        self,
        unit_of_work: Callable[[], LedgerUnitOfWork],
        signer: Signer,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._signer = signer
        self._catalogue = catalogue

    async def GetBalances(
        self, request: pb.GetBalancesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBalancesResponse:
        if request.HasField("as_of"):
            as_of = request.as_of.ToDatetime(tzinfo=UTC)
            rows = await reporting.balances_as_of(self._uow(), as_of, request.account_prefix)
        else:
            rows = await queries.balances(self._uow(), request.account_prefix)
        return pb.GetBalancesResponse(
            balances=[
                pb.Balance(account=b.account, balance_minor=b.balance_minor, currency=b.currency)
                for b in rows
            ]
        )

    async def GetTrialBalance(
        self, request: pb.GetTrialBalanceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTrialBalanceResponse:
        tb = await reporting.trial_balance(self._uow(), _instant(request.as_of, request.HasField("as_of")))
        return pb.GetTrialBalanceResponse(
            rows=[
                pb.TrialBalanceRow(
                    account=r.account,
                    currency=r.currency,
                    debit_minor=r.debit_total,
                    credit_minor=r.credit_total,
                )
                for r in tb.rows
            ],
            balanced=tb.balanced,
            head_seq=tb.head_seq,
        )

    async def VerifyJournal(
        self, request: pb.VerifyJournalRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyJournalResponse:
        head = (request.head_seq, request.head_hash) if request.head_seq else None
        result = await verify_journal(self._uow(), head)
        return pb.VerifyJournalResponse(ok=result.ok, entries=result.entries, problems=list(result.problems))

    async def SignChainHead(
        self, request: pb.SignChainHeadRequest, context: grpc.aio.ServicerContext
    ) -> pb.SignChainHeadResponse:
        head = await sign_head(self._uow(), self._signer, request.actor or "unknown")
        return pb.SignChainHeadResponse(
            head=ev.ChainHeadSigned(
                seq=head.seq, hash=head.hash, signed_at=timestamp_of(head.signed_at),
                public_key=head.public_key, signature=head.signature, actor=head.actor,
            ),
            statement=head.statement,
        )

    async def GetReport(
        self, request: pb.GetReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetReportResponse:
        try:
            query = ReportQuery(
                start=_instant(request.from_time, request.HasField("from_time")),
                end=_instant(request.to_time, request.HasField("to_time")),
                period=_PERIODS.get(request.period, Period.NONE),
                group_by=frozenset(request.group_by),
            )
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        fmt = {pb.REPORT_FORMAT_CSV: "csv", pb.REPORT_FORMAT_XLSX: "xlsx"}.get(request.format, "")
        rows = await reporting.report(self._uow(), query, fmt, request.actor, self._catalogue)
        out = pb.GetReportResponse(
            rows=[
                pb.ReportRow(
                    period=r.period, channel=r.channel, sku_id=r.sku_id, currency=r.currency,
                    sales_minor=r.sales_minor, refunds_minor=r.refunds_minor, cost_minor=r.cost_minor,
                    margin_minor=r.margin_minor,
                    product_id=r.product_id, discounts_minor=r.discounts_minor,
                )
                for r in rows
            ]
        )
        if fmt == "csv":
            out.content, out.content_type, out.filename = exports.to_csv(rows), exports.CSV_TYPE, "report.csv"
        elif fmt == "xlsx":
            out.content = exports.to_xlsx(rows, query.describe())
            out.content_type, out.filename = exports.XLSX_TYPE, "report.xlsx"
        return out

    async def ReconcileStatement(
        self, request: pb.ReconcileStatementRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReconcileStatementResponse:
        try:
            done = await reconciling.reconcile_statement(
                self._uow(), request.provider, request.content, request.actor or "unknown",
                request.ledger_provider,
            )
        except StatementError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        r = done.result
        currency = r.currency
        return pb.ReconcileStatementResponse(
            statement=ev.StatementReconciled(
                statement_id=r.statement_id, provider=done.provider,
                bill_date=done.statement.bill_date.isoformat(), file_sha256=done.file_sha256,
                matched=r.matched,
                missing_in_ledger=r.count(MismatchKind.MISSING_IN_LEDGER),
                missing_in_statement=r.count(MismatchKind.MISSING_IN_STATEMENT),
                amount_mismatches=r.count(MismatchKind.AMOUNT),
                fee_total=money_to_proto(Money(r.fee_minor, currency)),
                payment_total=money_to_proto(Money(r.payments_minor, currency)),
                refund_total=money_to_proto(Money(r.refunds_minor, currency)),
                actor=request.actor,
            ),
            mismatches=[
                ev.ReconciliationMismatch(
                    provider=done.provider, provider_txn_id=m.key, detail=m.detail,
                    statement_id=r.statement_id, mismatch_id=m.mismatch_id,
                    kind=m.kind.value,  # type: ignore[arg-type]
                    order_id=m.order_id, txn_kind=m.txn_kind.value,
                    ledger_amount=money_to_proto(Money(m.ledger_minor, m.currency)),
                    statement_amount=money_to_proto(Money(m.statement_minor, m.currency)),
                )
                for m in r.mismatches
            ],
            already_reconciled=done.already_reconciled,
        )

    async def ListMismatches(
        self, request: pb.ListMismatchesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMismatchesResponse:
        try:
            found, token = await reconciling.list_mismatches(
                self._uow(), request.include_resolved, request.limit, request.page_token
            )
        except InvalidPageToken as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.ListMismatchesResponse(
            mismatches=[mismatch_to_proto(m) for m in found], next_page_token=token
        )

    async def ResolveMismatch(
        self, request: pb.ResolveMismatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveMismatchResponse:
        adjustment = (
            Money(request.adjustment.minor_units, request.adjustment.currency)
            if request.HasField("adjustment") and request.adjustment.minor_units
            else None
        )
        try:
            m = await reconciling.resolve_mismatch(
                self._uow(), request.mismatch_id, request.actor, request.note, adjustment
            )
        except reconciling.MismatchNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such mismatch")
        except reconciling.AlreadyResolved:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the mismatch is resolved already")
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.ResolveMismatchResponse(mismatch=mismatch_to_proto(m))

    async def ListEntries(
        self, request: pb.ListEntriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListEntriesResponse:
        if not request.correlation_id and not request.reference:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "give a correlation id or a reference")
        found = await queries.entries(self._uow(), request.correlation_id, request.reference)
        if not found:
            return pb.ListEntriesResponse()
        posted = entries_posted_to_proto(EntriesPosted(tuple(found)))
        return pb.ListEntriesResponse(entries=list(posted.entries))
