"""The in-memory fake of KeyImports: staged rows in a list, the same checks and storing rule as Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from typing import TYPE_CHECKING

from quanyi_inventory.application.ports import KeyImports, StagedCheck, StagedRow
from quanyi_inventory.domain.keyfile import RejectedRow
from quanyi_inventory.domain.sealed import SealedKey, WrappedDataKey

if TYPE_CHECKING:
    from quanyi_inventory.adapters.memory import InMemoryInventoryUnitOfWork


class InMemoryKeyImports(KeyImports):
    def __init__(self, uow: InMemoryInventoryUnitOfWork) -> None:
        self._uow = uow
        self._rows: list[StagedRow] = []

    async def stage(self, sku_id: str, batch_id: str, chunks: AsyncIterable[Sequence[StagedRow]]) -> None:
        async for chunk in chunks:
            self._rows.extend(chunk)

    def _first_lines(self) -> dict[bytes, int]:
        first: dict[bytes, int] = {}
        for r in sorted(self._rows, key=lambda r: r.line):
            first.setdefault(r.fingerprint, r.line)
        return first

    async def check(self, sku_id: str, batch_id: str, limit: int) -> StagedCheck:
        first = self._first_lines()
        held = {m.fingerprint for m in self._uow.all_material().values() if m.sku_id == sku_id}
        in_file = [RejectedRow(r.line, f"duplicate of line {first[r.fingerprint]}")
                   for r in self._rows if first[r.fingerprint] != r.line]
        in_pool = [RejectedRow(r.line, "already in the pool")
                   for r in self._rows if first[r.fingerprint] == r.line and r.fingerprint in held]
        listed = sorted(in_file + in_pool, key=lambda b: b.row)[:limit]
        return StagedCheck(len(in_file), len(in_pool), listed)

    async def store(self, sku_id: str, batch_id: str, wrapped: WrappedDataKey) -> int:
        from quanyi_inventory.adapters.memory import Material

        uow = self._uow
        uow.data_keys[batch_id] = wrapped
        held = {m.fingerprint for m in uow.all_material().values() if m.sku_id == sku_id}
        first = self._first_lines()
        stored = 0
        for r in sorted(self._rows, key=lambda r: r.fingerprint):
            if first[r.fingerprint] != r.line or r.fingerprint in held:
                continue
            uow.material[r.key_id] = Material(
                batch_id, r.key_id, sku_id, r.fingerprint, SealedKey(r.nonce, r.ciphertext)
            )
            stored += 1
        return stored
