"""Importing a key file of any size (the ImportKeyFile use case).

The file is read row by row; each chunk of rows is validated, fingerprinted and sealed off the event loop
while the previous chunk is staged (COPY), so Python holds two chunks at most, whatever the file's size.
Duplicates, within the file and against the SKU's keys, are found by fingerprint (HMAC) in the store.
An all-or-nothing import with any bad row stores nothing; otherwise the valid rows become one batch, one
KeysImported recording who, the file's SHA-256 and the counts, in one unit of work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from quanyi_platform.envelope import new_event_id

from quanyi_inventory.application.ports import Context, InventoryUnitOfWork, Keys, Sealer, StagedRow
from quanyi_inventory.domain import stock as stock_rules
from quanyi_inventory.domain.errors import InvalidInput, NotFound
from quanyi_inventory.domain.events import ImportSource, KeysImported
from quanyi_inventory.domain.keyfile import RejectedRow
from quanyi_inventory.domain.keyrows import ALL_OR_NOTHING, Columns, ImportRow, RowChecker
from quanyi_inventory.domain.money import Money

log = logging.getLogger(__name__)

CHUNK_ROWS = 20_000
# Bad rows listed in a result (all are counted).
MAX_LISTED = 1_000


class RowSource(Protocol):
    """A key file's data rows: (line, fields); `columns` is known once the first row is out."""

    columns: Columns

    @property
    def position(self) -> int: ...

    def rows(self) -> Iterator[tuple[int, list[str]]]: ...


@dataclass(frozen=True)
class FileImport:
    """What to import and how; `file_sha256` and `file_bytes` describe the file as received."""

    pool_id: str
    unit_cost: Money
    actor: str
    mode: str
    format: str
    file_name: str
    file_sha256: str
    file_bytes: int
    max_rows: int


@dataclass(frozen=True)
class Progress:
    rows_read: int
    bytes_read: int
    stage: str


@dataclass(frozen=True)
class FileImportResult:
    batch_id: str
    imported: int
    duplicates_in_file: int
    duplicates_in_pool: int
    rejected: int
    rows: int
    file_sha256: str
    aborted: bool
    bad_rows: list[RejectedRow] = field(default_factory=list)


class _Reader:
    """Reads, validates and seals chunks of rows (CPU work, run in a thread), counting as it goes."""

    def __init__(self, source: RowSource, keys: Keys, sealer: Sealer, request: FileImport) -> None:
        self._source = source
        self._rows = source.rows()
        self._keys = keys
        self._sealer = sealer
        self._request = request
        self.read = 0
        self.rejected = 0
        self.listed: list[RejectedRow] = []
        self._check: RowChecker | None = None

    def next_chunk(self) -> list[StagedRow]:
        chunk: list[StagedRow] = []
        for line, record in self._rows:
            self.read += 1
            if self.read > self._request.max_rows:
                raise InvalidInput(f"the file has more than {self._request.max_rows} rows")
            if self._check is None:
                # The header has been read by now.
                self._check = RowChecker(self._source.columns, self._request.unit_cost.currency)
            checked = self._check(line, record)
            if isinstance(checked, ImportRow):
                chunk.append(self._seal(checked))
            else:
                self.rejected += 1
                if len(self.listed) < MAX_LISTED:
                    self.listed.append(checked)
            if len(chunk) >= CHUNK_ROWS:
                break
        return chunk

    def _seal(self, row: ImportRow) -> StagedRow:
        key_id = new_event_id()
        sealed = self._sealer.seal(key_id, row.code, row.password)
        return StagedRow(
            row.line, key_id, self._keys.fingerprint(row.code), sealed.nonce, sealed.ciphertext,
            row.face_value_minor, row.unit_cost_minor, row.valid_from, row.expires_at, row.supplier,
        )


async def import_key_file(
    uow: Callable[[], InventoryUnitOfWork],
    keys: Keys,
    source: RowSource,
    request: FileImport,
    progress: Callable[[Progress], None] = lambda _: None,
) -> FileImportResult:
    """Import the file `source` reads into `request.pool_id`'s SKU. NotFound for an unknown pool;
    InvalidInput when the file as a whole is unusable (nothing is stored then)."""
    batch_id = new_event_id()
    sealer, wrapped = keys.new_data_key(batch_id)
    reader = _Reader(source, keys, sealer, request)

    async def chunks() -> AsyncIterator[list[StagedRow]]:
        pending = asyncio.ensure_future(asyncio.to_thread(reader.next_chunk))
        try:
            while True:
                chunk = await pending
                if not chunk:
                    return
                # Read and seal the next chunk while this one is staged.
                pending = asyncio.ensure_future(asyncio.to_thread(reader.next_chunk))
                progress(Progress(reader.read, source.position, "reading"))
                yield chunk
        finally:
            if not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)

    async with uow() as work:
        pool = await work.catalogue.pool(request.pool_id)
        if pool is None:
            raise NotFound("no such pool")
        await work.imports.stage(pool.sku_id, batch_id, chunks())
        progress(Progress(reader.read, request.file_bytes, "checking"))
        check = await work.imports.check(pool.sku_id, batch_id, MAX_LISTED)
        bad = sorted(reader.listed + check.listed, key=lambda r: r.row)[:MAX_LISTED]
        valid = reader.read - reader.rejected
        any_bad = reader.rejected + check.duplicates_in_file + check.duplicates_in_pool > 0
        if (request.mode == ALL_OR_NOTHING and any_bad) or valid == 0:
            # Nothing is stored: the unit of work ends without a commit.
            result = FileImportResult(
                "", 0, check.duplicates_in_file, check.duplicates_in_pool, reader.rejected, reader.read,
                request.file_sha256, aborted=any_bad, bad_rows=bad,
            )
            progress(Progress(reader.read, request.file_bytes, "done"))
            return result
        progress(Progress(reader.read, request.file_bytes, "storing"))
        imported = await work.imports.store(pool.sku_id, batch_id, wrapped)
        # A code another import stored meanwhile is a duplicate of the pool too.
        in_pool = valid - check.duplicates_in_file - imported
        recorded = stock_rules.keys_imported(
            pool.sku_id, batch_id=batch_id, pool_id=request.pool_id, imported=imported,
            duplicates=check.duplicates_in_file + in_pool, rejected=reader.rejected,
            unit_cost=request.unit_cost, actor=request.actor.strip() or "unknown",
            master_key_id=wrapped.master_key_id,
        )
        source_record = ImportSource(
            request.file_sha256, request.file_name, request.format, request.mode, reader.read,
            request.file_bytes,
        )
        assert isinstance(recorded.event, KeysImported)
        recorded = replace(recorded, event=replace(recorded.event, source=source_record))
        context = Context(correlation_id=batch_id)
        await work.record([recorded], context)
        stock = (await work.stock.lock([pool.sku_id])).get(pool.sku_id)
        if stock is None:
            raise NotFound("no such SKU")
        _, cleared = stock_rules.clear_if_restocked(stock)
        await work.record(cleared, context)
        await work.commit()
    log.info(
        "key file imported",
        extra={"batch_id": batch_id, "pool_id": request.pool_id, "imported": imported, "rows": reader.read,
               "rejected": reader.rejected, "file_sha256": request.file_sha256, "actor": request.actor},
    )
    progress(Progress(reader.read, request.file_bytes, "done"))
    return FileImportResult(
        batch_id, imported, check.duplicates_in_file, in_pool, reader.rejected, reader.read,
        request.file_sha256, aborted=False, bad_rows=bad,
    )
