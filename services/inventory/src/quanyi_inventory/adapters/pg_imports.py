"""A file import's rows on Postgres, in flat memory: each chunk is COPYed into a temporary table and
inserted into the record at once (so Postgres stores one chunk while the next is being sealed), skipping
codes the SKU holds already; duplicates are then found by fingerprint in SQL. Nothing is visible to anyone
else before the unit of work commits, and an import that is not committed leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from typing import Any

from psycopg import errors

from quanyi_inventory.application.ports import KeyImports, StagedCheck, StagedRow
from quanyi_inventory.domain.keyfile import RejectedRow
from quanyi_inventory.domain.sealed import WrappedDataKey

_COLUMNS = (
    "line", "key_id", "fingerprint", "nonce", "ciphertext", "face_value_minor", "unit_cost_minor",
    "valid_from", "expires_at", "supplier",
)
_TYPES = ["int8", "text", "bytea", "bytea", "bytea", "int8", "int8", "timestamptz", "timestamptz", "text"]

# The later lines of each fingerprint (duplicates within the file). The window sorts (line, fingerprint)
# pairs only.
_LATER = """
CREATE TEMP TABLE import_later ON COMMIT DROP AS
SELECT line, first FROM (
    SELECT line, min(line) OVER (PARTITION BY fingerprint) AS first FROM import_lines
) d WHERE line <> first
"""

# Every bad line once: a later line of a fingerprint is a duplicate within the file; a first line whose
# fingerprint the SKU held before this batch is a duplicate of the pool. The counts ride on every row.
_CHECK = """
WITH bad AS (
    SELECT line, first, false AS held FROM import_later
    UNION ALL
    SELECT r.line, r.line, true FROM import_lines r
    JOIN key_material m ON m.fingerprint = r.fingerprint AND m.sku_id = %(sku)s AND m.batch_id <> %(batch)s
    WHERE NOT EXISTS (SELECT 1 FROM import_later l WHERE l.line = r.line)
)
SELECT line, first, held,
       count(*) FILTER (WHERE held) OVER () AS in_pool,
       count(*) FILTER (WHERE NOT held) OVER () AS in_file
FROM bad ORDER BY line LIMIT %(limit)s
"""

_INSERT = (
    "INSERT INTO key_material (batch_id, key_id, sku_id, fingerprint, nonce, ciphertext, valid_from,"
    " expires_at, face_value_minor, unit_cost_minor, supplier)"
    " SELECT %s, key_id, %s, fingerprint, nonce, ciphertext, valid_from, expires_at, face_value_minor,"
    " unit_cost_minor, nullif(supplier, '') FROM import_chunk ORDER BY line"
)
# A chunk holding a code the SKU has (or an earlier row had) goes in again skipping those: the plain insert
# is tried first because ON CONFLICT's speculative insertion costs a WAL record and a probe more per row.
_INSERT_SKIPPING = _INSERT + " ON CONFLICT (fingerprint, sku_id) DO NOTHING"


class PgKeyImports(KeyImports):
    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._staged = 0
        self._stored = 0

    async def stage(self, sku_id: str, batch_id: str, chunks: AsyncIterable[Sequence[StagedRow]]) -> None:
        conn = self._conn
        # Imports into one SKU take turns (two holding overlapping codes would wait for each other's rows);
        # allocations never wait on this lock.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('quanyi.key-import:' || %s, 0))", (sku_id,)
        )
        # Sorting a million (line, fingerprint) pairs fits in memory with this; 4 MB would spill to disk.
        await conn.execute("SET LOCAL work_mem = '128MB'")
        await conn.execute(
            "CREATE TEMP TABLE import_chunk (line int8, key_id text, fingerprint bytea, nonce bytea,"
            " ciphertext bytea, face_value_minor int8, unit_cost_minor int8, valid_from timestamptz,"
            " expires_at timestamptz, supplier text) ON COMMIT DROP"
        )
        await conn.execute("CREATE TEMP TABLE import_lines (line int8, fingerprint bytea) ON COMMIT DROP")
        async for chunk in chunks:
            async with conn.cursor() as cur:
                async with cur.copy(
                    f"COPY import_chunk ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(_TYPES)
                    for row in chunk:
                        await copy.write_row(row)
                try:
                    async with conn.transaction():
                        await cur.execute(_INSERT, (batch_id, sku_id))
                except errors.UniqueViolation:
                    await cur.execute(_INSERT_SKIPPING, (batch_id, sku_id))
                self._stored += max(int(cur.rowcount), 0)
            self._staged += len(chunk)
            await conn.execute("INSERT INTO import_lines SELECT line, fingerprint FROM import_chunk")
            await conn.execute("TRUNCATE import_chunk")

    async def check(self, sku_id: str, batch_id: str, limit: int) -> StagedCheck:
        if self._stored == self._staged:
            # Every row was stored: no code repeats within the file or one the SKU held (the unique
            # index said so), so the file's million (line, fingerprint) pairs need no sorting or probing.
            return StagedCheck(0, 0, [])
        await self._conn.execute("ANALYZE import_lines")
        await self._conn.execute(_LATER)
        cur = await self._conn.execute(_CHECK, {"sku": sku_id, "batch": batch_id, "limit": limit})
        rows = await cur.fetchall()
        if not rows:
            return StagedCheck(0, 0, [])
        listed = [
            RejectedRow(
                int(r["line"]), "already in the pool" if r["held"] else f"duplicate of line {r['first']}"
            )
            for r in rows
        ]
        return StagedCheck(int(rows[0]["in_file"]), int(rows[0]["in_pool"]), listed)

    async def store(self, sku_id: str, batch_id: str, wrapped: WrappedDataKey) -> int:
        await self._conn.execute(
            "INSERT INTO data_keys (batch_id, master_key_id, wrapped_data_key) VALUES (%s, %s, %s)",
            (batch_id, wrapped.master_key_id, wrapped.blob),
        )
        return self._stored
