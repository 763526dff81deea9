"""The Batches port on Postgres: reads of `key_batches`, `keys`, `pool_operations` and the record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quanyi_inventory.application.ports import (
    Batches,
    BatchSummary,
    KeyFilter,
    ListedKey,
    PoolOperation,
)
from quanyi_inventory.domain.batches import BatchState
from quanyi_inventory.domain.sealed import SealedKey, WrappedDataKey

_WHERE = (
    " WHERE (%(batch)s = '' OR k.batch_id = %(batch)s) AND (%(pool)s = '' OR k.pool_id = %(pool)s)"
    " AND (%(state)s = '' OR k.state = %(state)s)"
    " AND (%(before)s::timestamptz IS NULL OR k.expires_at < %(before)s::timestamptz)"
)


def _where(f: KeyFilter) -> str:
    # Keys named by id are found through the primary key, whatever the other filters.
    return _WHERE + (" AND k.key_id = ANY(%(ids)s::text[])" if f.key_ids else "")


def _params(f: KeyFilter) -> dict[str, Any]:
    return {
        "batch": f.batch_id, "pool": f.pool_id, "state": f.state, "before": f.expires_before,
        "ids": list(f.key_ids),
    }


class PgBatches(Batches):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def load(self, batch_id: str) -> BatchState | None:
        cur = await self._conn.execute(
            "SELECT b.batch_id, b.pool_id, b.sku_id, b.voided, b.version,"
            " (SELECT count(*) FROM keys k WHERE k.batch_id = b.batch_id AND k.state = 'available')"
            " AS available,"
            " (SELECT count(*) FROM keys k WHERE k.batch_id = b.batch_id AND k.state = 'void') AS void"
            " FROM key_batches b WHERE b.batch_id = %s",
            (batch_id,),
        )
        r = await cur.fetchone()
        if r is None:
            return None
        return BatchState(r["batch_id"], r["pool_id"], r["sku_id"], bool(r["voided"]), int(r["version"]),
                          int(r["available"]), int(r["void"]))

    async def page(self, pool_id: str, voided_only: bool, before: str, limit: int) -> list[BatchSummary]:
        cur = await self._conn.execute(
            "SELECT b.*, (SELECT coalesce(jsonb_object_agg(state, n), '{}'::jsonb) FROM"
            " (SELECT state, count(*) AS n FROM keys k WHERE k.batch_id = b.batch_id GROUP BY state) s)"
            " AS by_state FROM key_batches b"
            " WHERE (%s = '' OR b.pool_id = %s) AND (NOT %s OR b.voided) AND (%s = '' OR b.batch_id < %s)"
            " ORDER BY b.batch_id DESC LIMIT %s",
            (pool_id, pool_id, voided_only, before, before, limit),
        )
        return [
            BatchSummary(
                r["batch_id"], r["pool_id"], r["sku_id"], int(r["imported"]), r["actor"], r["created_at"],
                r["file_sha256"], r["file_name"], bool(r["voided"]),
                {str(k): int(v) for k, v in (r["by_state"] or {}).items()},
            )
            for r in await cur.fetchall()
        ]

    async def claim_codes(self, batch_id: str, move_id: str, sku_id: str) -> int:
        cur = await self._conn.execute(
            "SELECT count(*) AS n FROM keys k"
            " JOIN key_material m ON m.batch_id = k.batch_id AND m.key_id = k.key_id"
            " JOIN key_material x ON x.fingerprint = m.fingerprint AND x.sku_id = %s AND x.key_id <> m.key_id"
            " WHERE k.batch_id = %s AND k.state = 'available'",
            (sku_id, batch_id),
        )
        row = await cur.fetchone()
        clashes = int(row["n"]) if row else 0
        if clashes:
            return clashes
        # The record is append-only: a moved key's code gets a row of its new SKU (under a batch id of its
        # own, which no KeysImported names), whose (fingerprint, sku) uniqueness later imports run into.
        await self._conn.execute(
            "INSERT INTO key_material (batch_id, key_id, sku_id, fingerprint, nonce, ciphertext, valid_from,"
            " expires_at, face_value_minor, unit_cost_minor, supplier)"
            " SELECT 'moved:' || %s, m.key_id, %s, m.fingerprint, m.nonce, m.ciphertext, m.valid_from,"
            " m.expires_at, m.face_value_minor, m.unit_cost_minor, m.supplier FROM keys k"
            " JOIN key_material m ON m.batch_id = k.batch_id AND m.key_id = k.key_id"
            " WHERE k.batch_id = %s AND k.state = 'available' ORDER BY m.fingerprint"
            " ON CONFLICT (fingerprint, sku_id) DO NOTHING",
            (move_id, sku_id, batch_id),
        )
        return 0

    async def count(self, selected: KeyFilter) -> int:
        cur = await self._conn.execute(
            "SELECT count(*) AS n FROM keys k" + _where(selected), _params(selected)
        )
        row = await cur.fetchone()
        return int(row["n"]) if row else 0

    async def keys(self, selected: KeyFilter, after: str, limit: int, sealed: bool) -> list[ListedKey]:
        secret = (
            ", m.nonce, m.ciphertext, d.master_key_id, d.wrapped_data_key FROM keys k"
            " JOIN key_material m ON m.batch_id = k.batch_id AND m.key_id = k.key_id"
            " JOIN data_keys d ON d.batch_id = k.batch_id"
            if sealed else " FROM keys k"
        )
        cur = await self._conn.execute(
            "SELECT k.key_id, k.batch_id, k.pool_id, k.sku_id, k.state, k.valid_from, k.expires_at,"
            " coalesce(k.order_id, '') AS order_id" + secret + _where(selected) + " AND k.key_id > %(after)s"
            " ORDER BY k.key_id LIMIT %(limit)s",
            {**_params(selected), "after": after, "limit": limit},
        )
        return [
            ListedKey(
                r["key_id"], r["batch_id"], r["pool_id"], r["sku_id"], r["state"], r["valid_from"],
                r["expires_at"], r["order_id"],
                SealedKey(bytes(r["nonce"]), bytes(r["ciphertext"])) if sealed else None,
                WrappedDataKey(r["master_key_id"], bytes(r["wrapped_data_key"])) if sealed else None,
            )
            for r in await cur.fetchall()
        ]

    async def operations(
        self, pool_id: str, before: tuple[datetime, str] | None, limit: int
    ) -> list[PoolOperation]:
        at, op = before if before is not None else (None, "")
        cur = await self._conn.execute(
            "SELECT * FROM pool_operations WHERE (%(pool)s = '' OR pool_id = %(pool)s)"
            " AND (%(at)s::timestamptz IS NULL OR (at, operation_id) < (%(at)s::timestamptz, %(op)s))"
            " ORDER BY at DESC, operation_id DESC LIMIT %(limit)s",
            {"pool": pool_id, "at": at, "op": op, "limit": limit},
        )
        return [
            PoolOperation(r["operation_id"], r["at"], r["action"], r["actor"], r["pool_id"], r["sku_id"],
                          r["batch_id"], int(r["keys"]), r["detail"])
            for r in await cur.fetchall()
        ]
