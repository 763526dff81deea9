"""ImportKeyFile on the wire: a header, the file in chunks; progress back, then the result.

The file is spooled to local disk as it arrives (hashed on the way, and encrypted under a key of its own
that only this call holds: it is full of card keys), so neither the client's pace nor the file's size
changes what the service holds in memory; the import then reads it back row by row and deletes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.inventory.v1 import inventory_service_pb2 as pb

from quanyi_inventory.adapters.keyfiles import KeyFileReader, SpooledFile
from quanyi_inventory.application import import_file
from quanyi_inventory.application.import_jobs import JobRecord, job_id_of
from quanyi_inventory.application.ports import ImportJob, InventoryUnitOfWork, Keys
from quanyi_inventory.domain import catalogue as rules
from quanyi_inventory.domain.errors import AlreadyExists, InvalidInput, NotFound
from quanyi_inventory.domain.keyrows import ALL_OR_NOTHING, VALID_ROWS, format_of

PROGRESS_EVERY_S = 0.25
_MODES = {pb.IMPORT_MODE_UNSPECIFIED: ALL_OR_NOTHING, pb.IMPORT_MODE_ALL_OR_NOTHING: ALL_OR_NOTHING,
          pb.IMPORT_MODE_VALID_ROWS: VALID_ROWS}


def _ts(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def job_to_proto(job: ImportJob) -> pb.KeyFileImport:
    """A recorded job as GetKeyFileImport and ListKeyFileImports answer it."""
    o = job.outcome
    result = None
    if o is not None and not o.failed:
        result = pb.ImportKeyFileResult(
            batch_id=o.batch_id, imported=o.imported, duplicates_in_file=o.duplicates_in_file,
            duplicates_in_pool=o.duplicates_in_pool, rejected=o.rejected, rows=o.rows,
            file_sha256=o.file_sha256, aborted=o.aborted,
            bad_rows=[pb.BadRow(line=b.line, reason=b.reason) for b in o.bad_rows],
        )
    return pb.KeyFileImport(
        job_id=job.job_id, pool_id=job.pool_id, file_name=job.file_name, actor=job.actor, status=job.status,
        stage=job.stage, rows_read=job.rows_read, bytes_read=job.bytes_read, bytes_total=job.bytes_total,
        created_at=_ts(job.created_at), finished_at=_ts(job.finished_at), result=result, error=job.error,
    )


def _result(r: import_file.FileImportResult) -> pb.ImportKeyFileResult:
    return pb.ImportKeyFileResult(
        batch_id=r.batch_id, imported=r.imported, duplicates_in_file=r.duplicates_in_file,
        duplicates_in_pool=r.duplicates_in_pool, rejected=r.rejected, rows=r.rows,
        file_sha256=r.file_sha256, aborted=r.aborted,
        bad_rows=[pb.BadRow(line=b.row, reason=b.reason) for b in r.bad_rows],
    )


async def serve(
    uow: Callable[[], InventoryUnitOfWork],
    keys: Keys,
    requests: AsyncIterator[pb.ImportKeyFileRequest],
    context: grpc.aio.ServicerContext,
    *,
    max_rows: int,
    spool_dir: str | None = None,
) -> AsyncIterator[pb.ImportKeyFileResponse]:
    first = await anext(requests, None)
    if first is None or not first.HasField("header"):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be the header")
        raise AssertionError("unreachable")
    header = first.header
    try:
        fmt = format_of(header.file_name, header.format)
        unit_cost = rules.money(header.unit_cost.minor_units, header.unit_cost.currency, "unit cost")
    except InvalidInput as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    if not header.pool_id:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "pool_id is required")
    try:
        job = JobRecord(uow, job_id_of(header.job_id))
    except InvalidInput as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    spooled = SpooledFile(spool_dir)
    try:
        async for message in requests:
            if message.HasField("header"):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "only the first message is a header")
            spooled.write(message.chunk)
        spooled.finish()
        try:
            await job.start(header.pool_id, header.file_name, header.actor, spooled.size)
        except AlreadyExists as exc:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
        yield pb.ImportKeyFileResponse(bytes_total=spooled.size, stage="received", job_id=job.job_id)
        request = import_file.FileImport(
            pool_id=header.pool_id, unit_cost=unit_cost, actor=header.actor,
            mode=_MODES.get(header.mode, ALL_OR_NOTHING), format=fmt, file_name=header.file_name,
            file_sha256=spooled.sha256, file_bytes=spooled.size, max_rows=max_rows,
        )
        updates: asyncio.Queue[import_file.Progress] = asyncio.Queue()
        last = 0.0

        def progress(p: import_file.Progress) -> None:
            nonlocal last
            now = time.monotonic()
            if p.stage == "reading" and now - last < PROGRESS_EVERY_S:
                return
            last = now
            updates.put_nowait(p)

        reader = KeyFileReader(spooled.open, fmt)
        task = asyncio.ensure_future(import_file.import_key_file(uow, keys, reader, request, progress))
        try:
            while not task.done():
                getter = asyncio.ensure_future(updates.get())
                await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    p = getter.result()
                    await job.progress(p.stage, p.rows_read, p.bytes_read)
                    yield pb.ImportKeyFileResponse(
                        rows_read=p.rows_read, bytes_read=p.bytes_read, bytes_total=spooled.size,
                        stage=p.stage,
                    )
                else:
                    getter.cancel()
            try:
                result = task.result()
            except InvalidInput as exc:
                await job.fail(str(exc))
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except NotFound as exc:
                await job.fail(str(exc))
                await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            await job.finish(result)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        yield pb.ImportKeyFileResponse(
            rows_read=result.rows, bytes_read=spooled.size, bytes_total=spooled.size, stage="done",
            result=_result(result), job_id=job.job_id,
        )
    finally:
        spooled.close()
        if not job.finished:
            # The caller went away, or the import broke: the job's record says so (even while this call
            # is being cancelled).
            with contextlib.suppress(Exception):
                await asyncio.shield(job.fail("the import was interrupted"))
