"""The KeyImports port's contract, on the fake and on Postgres, through the ImportKeyFile use case: the
same rows give the same batch, the same duplicates by line and reason, and the same stock."""

from __future__ import annotations

from collections.abc import Iterator

from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.application.import_file import FileImport, import_key_file
from quanyi_inventory.domain.keyrows import ALL_OR_NOTHING, VALID_ROWS, Columns
from quanyi_inventory.domain.money import Money

from .conftest import Backend, import_codes, new_sku


class Rows:
    """A key file of code,password rows held in memory (line 1 is the header)."""

    def __init__(self, codes: list[str]) -> None:
        self._codes = codes
        self.columns = Columns.from_header(["code", "password"])

    @property
    def position(self) -> int:
        return 0

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        for line, code in enumerate(self._codes, start=2):
            yield line, [code, "pw"]


def _request(pool_id: str, mode: str) -> FileImport:
    return FileImport(pool_id, Money(300, "CNY"), "contract", mode, "csv", "k.csv", "sha", 1, 100_000)


async def test_duplicates_in_the_file_and_in_the_pool_are_reported_by_line(
    backend: Backend, keyring: Keyring
) -> None:
    sku_id, pool_id = await new_sku(backend)
    await import_codes(backend, keyring, pool_id, ["HELD"])
    codes = ["A", "B", "A", "HELD", "", "C", "B"]

    aborted = await import_key_file(backend.uow, keyring, Rows(codes), _request(pool_id, ALL_OR_NOTHING))
    assert (aborted.aborted, aborted.imported, aborted.batch_id) == (True, 0, "")
    assert [(b.row, b.reason) for b in aborted.bad_rows] == [
        (4, "duplicate of line 2"), (5, "already in the pool"), (6, "empty code"), (8, "duplicate of line 3"),
    ]

    stored = await import_key_file(backend.uow, keyring, Rows(codes), _request(pool_id, VALID_ROWS))
    assert (stored.imported, stored.duplicates_in_file, stored.duplicates_in_pool, stored.rejected) == (3, 2, 1, 1)
    async with backend.uow() as uow:
        sku = await uow.catalogue.sku(sku_id)
    assert sku is not None and sku.available == 4


async def test_a_file_of_new_codes_is_one_batch_whatever_its_chunks(backend: Backend, keyring: Keyring) -> None:
    _, pool_id = await new_sku(backend)
    codes = [f"BULK-{i}" for i in range(12_345)]
    result = await import_key_file(backend.uow, keyring, Rows(codes), _request(pool_id, ALL_OR_NOTHING))
    assert (result.imported, result.rows, result.aborted) == (12_345, 12_345, False)
    assert await backend.committed_versions(result.batch_id) == [1]
    again = await import_key_file(backend.uow, keyring, Rows(codes[:10]), _request(pool_id, VALID_ROWS))
    assert (again.imported, again.duplicates_in_pool) == (0, 10)
