"""A file import's rows on Postgres: COPY into a temporary table, duplicates found by fingerprint in SQL,
then one INSERT into the record. Python never holds more than a chunk of rows, whatever the file's size.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from typing import Any

from quanyi_inventory.application.ports import KeyImports, StagedCheck, StagedRow
from quanyi_inventory.domain.keyfile import RejectedRow
from quanyi_inventory.domain.sealed import WrappedDataKey

_COLUMNS = (
    "line", "key_id", "fingerprint", "nonce", "ciphertext", "face_value_minor", "unit_cost_minor",
    "valid_from", "expires_at", "supplier",
)
_TYPES = ["int8", "text", "bytea", "bytea", "bytea", "int8", "int8", "timestamptz", "timestamptz", "text"]

# Every bad line once: a later line of a fingerprint is a duplicate within the file; a first line whose
# fingerprint the SKU holds is a duplicate of the pool. The counts ride on every listed row.
_CHECK = """
WITH d AS MATERIALIZED (
    SELECT line, fingerprint, min(line) OVER (PARTITION BY fingerprint) AS first FROM import_rows
), bad AS (
    SELECT line, first, false AS held FROM d WHERE line <> first
    UNION ALL
    SELECT d.line, d.first, true FROM d
    JOIN key_material m ON m.fingerprint = d.fingerprint AND m.sku_id = %(sku)s
    WHERE d.line = d.first
)
SELECT line, first, held,
       count(*) FILTER (WHERE held) OVER () AS in_pool,
       count(*) FILTER (WHERE NOT held) OVER () AS in_file
FROM bad ORDER BY line LIMIT %(limit)s
"""


class PgKeyImports(KeyImports):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def stage(self, chunks: AsyncIterable[Sequence[StagedRow]]) -> None:
        conn = self._conn
        # Sorting a million fingerprints fits in memory with this; the default (4 MB) spills to disk.
        await conn.execute("SET LOCAL work_mem = '128MB'")
        await conn.execute(
            "CREATE TEMP TABLE import_rows (line int8, key_id text, fingerprint bytea, nonce bytea,"
            " ciphertext bytea, face_value_minor int8, unit_cost_minor int8, valid_from timestamptz,"
            " expires_at timestamptz, supplier text) ON COMMIT DROP"
        )
        async with conn.cursor() as cur:
            async with cur.copy(
                f"COPY import_rows ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(_TYPES)
                async for chunk in chunks:
                    for row in chunk:
                        await copy.write_row(row)
        await conn.execute("ANALYZE import_rows")

    async def check(self, sku_id: str, limit: int) -> StagedCheck:
        cur = await self._conn.execute(_CHECK, {"sku": sku_id, "limit": limit})
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
        conn = self._conn
        await conn.execute(
            "INSERT INTO data_keys (batch_id, master_key_id, wrapped_data_key) VALUES (%s, %s, %s)",
            (batch_id, wrapped.master_key_id, wrapped.blob),
        )
        # In fingerprint order: overlapping imports into one SKU wait for each other in the same order.
        async with conn.cursor() as cur:
            await cur.execute(
                "INSERT INTO key_material (batch_id, key_id, sku_id, fingerprint, nonce, ciphertext,"
                " valid_from, expires_at, face_value_minor, unit_cost_minor, supplier)"
                " SELECT DISTINCT ON (fingerprint) %s, key_id, %s, fingerprint, nonce, ciphertext,"
                " valid_from, expires_at, face_value_minor, unit_cost_minor, nullif(supplier, '')"
                " FROM import_rows ORDER BY fingerprint, line"
                " ON CONFLICT (fingerprint, sku_id) DO NOTHING",
                (batch_id, sku_id),
            )
            return max(int(cur.rowcount), 0)
