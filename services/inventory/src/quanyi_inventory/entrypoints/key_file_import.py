"""ImportKeyFile on the wire: a header, the file in chunks; progress back, then the result.

The file is spooled to local disk as it arrives (hashed on the way, and encrypted under a key of its own
that only this call holds: it is full of card keys), so neither the client's pace nor the file's size
changes what the service holds in memory; the import then reads it back row by row and deletes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import grpc
from quanyi.inventory.v1 import inventory_service_pb2 as pb

from quanyi_inventory.adapters.keyfiles import KeyFileReader, SpooledFile
from quanyi_inventory.application import import_file
from quanyi_inventory.application.ports import InventoryUnitOfWork, Keys
from quanyi_inventory.domain import catalogue as rules
from quanyi_inventory.domain.errors import InvalidInput, NotFound
from quanyi_inventory.domain.keyrows import ALL_OR_NOTHING, VALID_ROWS, format_of

PROGRESS_EVERY_S = 0.25
_MODES = {pb.IMPORT_MODE_UNSPECIFIED: ALL_OR_NOTHING, pb.IMPORT_MODE_ALL_OR_NOTHING: ALL_OR_NOTHING,
          pb.IMPORT_MODE_VALID_ROWS: VALID_ROWS}


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
    spooled = SpooledFile(spool_dir)
    try:
        async for message in requests:
            if message.HasField("header"):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "only the first message is a header")
            spooled.write(message.chunk)
        spooled.finish()
        yield pb.ImportKeyFileResponse(bytes_total=spooled.size, stage="received")
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
                    yield pb.ImportKeyFileResponse(
                        rows_read=p.rows_read, bytes_read=p.bytes_read, bytes_total=spooled.size,
                        stage=p.stage,
                    )
                else:
                    getter.cancel()
            try:
                result = task.result()
            except InvalidInput as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except NotFound as exc:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        yield pb.ImportKeyFileResponse(
            rows_read=result.rows, bytes_read=spooled.size, bytes_total=spooled.size, stage="done",
            result=_result(result),
        )
    finally:
        spooled.close()
