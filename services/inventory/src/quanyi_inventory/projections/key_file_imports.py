"""`key_file_imports`: each key file import job as its events left it (KeyFileImportStarted,
KeyFileImportProgressed, KeyFileImportFinished). A job's events come from the one call that runs it, in
version order; a batch may hold several of one job, applied in order (an INSERT for the new jobs, then
one UPDATE per event kind, each keeping the highest version)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent

STARTED = pb.KeyFileImportStarted.DESCRIPTOR.full_name
PROGRESSED = pb.KeyFileImportProgressed.DESCRIPTOR.full_name
FINISHED = pb.KeyFileImportFinished.DESCRIPTOR.full_name


def _result(p: pb.KeyFileImportFinished) -> str | None:
    if p.failed:
        return None
    return json.dumps({
        "batch_id": p.batch_id, "imported": p.imported, "duplicates_in_file": p.duplicates_in_file,
        "duplicates_in_pool": p.duplicates_in_pool, "rejected": p.rejected, "rows": p.rows,
        "file_sha256": p.file_sha256, "aborted": p.aborted,
        "bad_rows": [[b.line, b.reason] for b in p.bad_rows],
    })


class KeyFileImportsProjection(Projection):
    name = "key_file_imports"
    tables = ("key_file_imports",)
    handles = frozenset({STARTED, PROGRESSED, FINISHED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        started = [e for e in events if e.type == STARTED]
        if started:
            await conn.execute(
                "INSERT INTO key_file_imports (job_id, pool_id, file_name, actor, status, stage, rows_read,"
                " bytes_read, bytes_total, created_at, finished_at, result, error, version)"
                " SELECT j, p, f, a, 'running', 'received', 0, 0, b, t, NULL, NULL, '', 1"
                " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[],"
                " %s::timestamptz[]) AS u(j, p, f, a, b, t)",
                tuple(list(c) for c in zip(*(
                    (e.payload.job_id, e.payload.pool_id, e.payload.file_name, e.payload.actor,
                     int(e.payload.bytes_total), e.occurred_at) for e in started
                ), strict=True)),
            )
        # The last progress of each job in the batch (its highest version), then its end.
        last: dict[str, StoredEvent] = {}
        for e in events:
            seen = last.get(e.payload.job_id)
            if e.type == PROGRESSED and (seen is None or e.aggregate_version > seen.aggregate_version):
                last[e.payload.job_id] = e
        if last:
            rows = list(last.values())
            await conn.execute(
                "UPDATE key_file_imports k SET stage = u.stage, rows_read = u.r, bytes_read = u.b,"
                " version = u.v FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::int[])"
                " AS u(job_id, stage, r, b, v) WHERE k.job_id = u.job_id AND k.version < u.v",
                ([e.payload.job_id for e in rows], [e.payload.stage for e in rows],
                 [int(e.payload.rows_read) for e in rows], [int(e.payload.bytes_read) for e in rows],
                 [e.aggregate_version for e in rows]),
            )
        finished = [e for e in events if e.type == FINISHED]
        if finished:
            await conn.execute(
                "UPDATE key_file_imports k SET status = u.status, stage = u.stage, finished_at = u.at,"
                " result = u.result::jsonb, error = u.error, version = u.v,"
                " rows_read = CASE WHEN u.status = 'done' THEN u.rows ELSE k.rows_read END,"
                " bytes_read = CASE WHEN u.status = 'done' THEN k.bytes_total ELSE k.bytes_read END"
                " FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::text[],"
                " %s::int[], %s::bigint[]) AS u(job_id, status, stage, at, result, error, v, rows)"
                " WHERE k.job_id = u.job_id",
                ([e.payload.job_id for e in finished],
                 ["failed" if e.payload.failed else "done" for e in finished],
                 ["failed" if e.payload.failed else "done" for e in finished],
                 [e.occurred_at for e in finished], [_result(e.payload) for e in finished],
                 [e.payload.error for e in finished], [e.aggregate_version for e in finished],
                 [int(e.payload.rows) for e in finished]),
            )
