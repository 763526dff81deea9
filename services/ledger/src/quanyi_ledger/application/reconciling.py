"""Reconciling providers' daily trade bills against the journal, and resolving what differs."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from quanyi_platform import paging
from quanyi_platform.envelope import new_event_id

from quanyi_ledger.adapters.proto import mismatch_resolved_event, reconciliation_events
from quanyi_ledger.application.ports import LedgerUnitOfWork, MismatchRecord
from quanyi_ledger.application.posting import post
from quanyi_ledger.domain import posting, reconciliation
from quanyi_ledger.domain.journal import Money
from quanyi_ledger.domain.ledger import Post

MISMATCH_PAGE = 100
MAX_MISMATCH_PAGE = 500


class MismatchNotFound(LookupError):
    """No mismatch has that id."""


class AlreadyResolved(ValueError):
    """The mismatch was resolved before; a resolution is recorded once."""


@dataclass(frozen=True)
class ReconcileResult:
    statement: reconciliation.Statement
    result: reconciliation.Reconciliation
    file_sha256: str
    provider: str
    already_reconciled: bool


async def reconcile_statement(
    uow: LedgerUnitOfWork, layout: str, content: bytes, actor: str, provider: str = ""
) -> ReconcileResult:
    """Parse the bill (`layout`: wechatpay or alipay), match it against the provider's transactions in
    the journal, and record StatementReconciled and a ReconciliationMismatch per difference; the bill's
    fees are posted (Dr fees:psp / Cr clearing:psp) as one entry whose source is the run. The same file
    reconciled again records nothing new. Raises StatementError for a file that is not such a bill."""
    statement = reconciliation.parse(layout, content)
    provider = provider or layout
    sha = hashlib.sha256(content).hexdigest()
    run_id = reconciliation.statement_id(provider, sha)
    start, end = statement.day()
    async with uow:
        already = await uow.reconciliations.reconciled(run_id)
        keys = sorted({r.key for r in statement.rows if r.key})
        by_key, of_day = await uow.journal.txns(provider, keys, start, end)
        result = reconciliation.reconcile(statement, run_id, by_key, of_day)
        if already:
            return ReconcileResult(statement, result, sha, provider, True)
        event_id = str(uuid.uuid5(uuid.UUID(run_id), "reconciled"))
        run, found = reconciliation_events(result, statement, provider, sha, actor, event_id)
        fees = posting.fees_charged(
            posting.FeesCharged(provider, run_id, Money(result.fee_minor, result.currency)),
            posting.Source(event_id, end.astimezone(UTC)),
        )
        if fees is not None:
            await post(uow, [Post(fees, run_id)])
        await uow.events.append([run, *found])
        await uow.commit()
    return ReconcileResult(statement, result, sha, provider, False)


async def list_mismatches(
    uow: LedgerUnitOfWork, include_resolved: bool = False, limit: int = 0, page_token: str = ""
) -> tuple[list[MismatchRecord], str]:
    """A page of the operations list: open mismatches (and resolved ones when asked), oldest first (0: 100,
    at most 500), and the next page's token ("" on the last). Raises InvalidPageToken for a token that is
    not one."""
    limit = MISMATCH_PAGE if limit <= 0 else min(limit, MAX_MISMATCH_PAGE)
    after = paging.decode(page_token)
    async with uow:
        found = await uow.reconciliations.mismatches(include_resolved, limit + 1, after)
    return paging.page(found, limit, lambda m: (m.found_at, m.mismatch_id))


async def resolve_mismatch(
    uow: LedgerUnitOfWork,
    mismatch_id: str,
    actor: str,
    note: str,
    adjustment: Money | None = None,
    now: datetime | None = None,
) -> MismatchRecord:
    """Record the operator's resolution (MismatchResolved: who, why). A non-zero `adjustment` (what the
    provider holds more, or less when negative) is posted as a reconciliation_adjustment entry whose
    reference is the mismatch, so the audit record and the journal point at each other."""
    if not actor:
        raise ValueError("a resolution needs the operator who made it")
    async with uow:
        found = await uow.reconciliations.mismatch(mismatch_id)
        if found is None:
            raise MismatchNotFound(mismatch_id)
        if found.resolved:
            raise AlreadyResolved(mismatch_id)
        amount = adjustment or Money(0, found.currency)
        event_id = new_event_id()
        at = now or datetime.now(UTC)
        entry = posting.adjustment(
            posting.Adjustment(mismatch_id, found.provider, amount, actor, note),
            posting.Source(event_id, at),
        )
        if entry is not None:
            await post(uow, [Post(entry, found.order_id or mismatch_id)])
        await uow.events.append([
            mismatch_resolved_event(
                mismatch_id, found.provider, actor, note, amount, found.order_id, event_id
            )
        ])
        resolved = await uow.reconciliations.mismatch(mismatch_id)
        await uow.commit()
    assert resolved is not None
    return resolved
