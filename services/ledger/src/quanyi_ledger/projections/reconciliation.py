"""The reconciliation read models: statements reconciled, the operations list of mismatches, signed heads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from quanyi.ledger.v1 import events_pb2 as ev
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_ledger.adapters.proto import (
    CHAIN_HEAD_SIGNED,
    MISMATCH_RESOLVED,
    RECONCILIATION_MISMATCH,
    STATEMENT_RECONCILED,
)


class StatementsProjection(Projection):
    """`reconciliation_statements`: one row per run (its first event wins; a run is recorded once)."""

    name = "reconciliation_statements"
    tables = ("reconciliation_statements",)
    handles = frozenset({STATEMENT_RECONCILED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows = [
            (e.payload, e.occurred_at) for e in events if isinstance(e.payload, ev.StatementReconciled)
        ]
        if not rows:
            return
        await conn.execute(
            "INSERT INTO reconciliation_statements (statement_id, provider, bill_date, file_sha256, matched,"
            " missing_in_ledger, missing_in_statement, amount_mismatches, fee_minor, payment_minor,"
            " refund_minor, currency, actor, reconciled_at)"
            " SELECT * FROM unnest(%s::uuid[], %s::text[], %s::date[], %s::text[], %s::bigint[],"
            " %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[],"
            " %s::text[],"
            " %s::timestamptz[]) ON CONFLICT (statement_id) DO NOTHING",
            (
                [p.statement_id for p, _ in rows],
                [p.provider for p, _ in rows],
                [p.bill_date for p, _ in rows],
                [p.file_sha256 for p, _ in rows],
                [p.matched for p, _ in rows],
                [p.missing_in_ledger for p, _ in rows],
                [p.missing_in_statement for p, _ in rows],
                [p.amount_mismatches for p, _ in rows],
                [p.fee_total.minor_units for p, _ in rows],
                [p.payment_total.minor_units for p, _ in rows],
                [p.refund_total.minor_units for p, _ in rows],
                [p.fee_total.currency for p, _ in rows],
                [p.actor for p, _ in rows],
                [at for _, at in rows],
            ),
        )


class MismatchesProjection(Projection):
    """`reconciliation_mismatches`: a row per mismatch (version 1 of its aggregate), resolved by its
    MismatchResolved (version 2). Both are of one aggregate, so they reach it in that order, live and in a
    replay; found ones are inserted before the batch's resolutions are applied."""

    name = "reconciliation_mismatches"
    tables = ("reconciliation_mismatches",)
    handles = frozenset({RECONCILIATION_MISMATCH, MISMATCH_RESOLVED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        found = [
            (e.payload, e.occurred_at) for e in events if isinstance(e.payload, ev.ReconciliationMismatch)
        ]
        resolved = [
            (e.payload, e.occurred_at) for e in events if isinstance(e.payload, ev.MismatchResolved)
        ]
        if found:
            await conn.execute(
                "INSERT INTO reconciliation_mismatches (mismatch_id, statement_id, provider, kind, txn_kind,"
                " txn_key, order_id, ledger_minor, statement_minor, currency, detail, found_at)"
                " SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::smallint[], %s::text[],"
                " %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::text[],"
                " %s::timestamptz[]) ON CONFLICT (mismatch_id) DO NOTHING",
                (
                    [p.mismatch_id for p, _ in found],
                    [p.statement_id for p, _ in found],
                    [p.provider for p, _ in found],
                    [int(p.kind) for p, _ in found],
                    [p.txn_kind for p, _ in found],
                    [p.provider_txn_id for p, _ in found],
                    [p.order_id for p, _ in found],
                    [p.ledger_amount.minor_units for p, _ in found],
                    [p.statement_amount.minor_units for p, _ in found],
                    [p.ledger_amount.currency or p.statement_amount.currency for p, _ in found],
                    [p.detail for p, _ in found],
                    [at for _, at in found],
                ),
            )
        if resolved:
            await conn.execute(
                "UPDATE reconciliation_mismatches m SET resolved_by = u.actor, resolved_at = u.at,"
                " note = u.note, adjustment_minor = u.adjustment"
                " FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[], %s::text[], %s::bigint[])"
                " AS u(mismatch_id, actor, at, note, adjustment)"
                " WHERE m.mismatch_id = u.mismatch_id AND m.resolved_at IS NULL",
                (
                    [p.mismatch_id for p, _ in resolved],
                    [p.actor for p, _ in resolved],
                    [at for _, at in resolved],
                    [p.note for p, _ in resolved],
                    [p.adjustment.minor_units for p, _ in resolved],
                ),
            )


class ChainHeadsProjection(Projection):
    """`chain_heads`: every signed head, by the id of its ChainHeadSigned aggregate."""

    name = "chain_heads"
    tables = ("chain_heads",)
    handles = frozenset({CHAIN_HEAD_SIGNED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows = [
            (e.envelope.aggregate_id, e.payload)
            for e in events
            if isinstance(e.payload, ev.ChainHeadSigned)
        ]
        if not rows:
            return
        await conn.execute(
            "INSERT INTO chain_heads (head_id, seq, hash, signed_at, public_key, signature, actor)"
            " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::timestamptz[], %s::text[],"
            " %s::text[], %s::text[]) ON CONFLICT (head_id) DO NOTHING",
            (
                [h for h, _ in rows],
                [p.seq for _, p in rows],
                [p.hash for _, p in rows],
                [p.signed_at.ToDatetime(tzinfo=UTC) for _, p in rows],
                [p.public_key for _, p in rows],
                [p.signature for _, p in rows],
                [p.actor for _, p in rows],
            ),
        )
