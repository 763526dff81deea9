"""ImportKeyFile through the real gRPC server on real Postgres: formats, bad rows, duplicates, modes,
the batch's record, rotation of the master key, and no plaintext anywhere."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import AsyncIterator, Iterable

import pytest
from openpyxl import Workbook
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi_inventory import bootstrap
from quanyi_inventory.adapters.crypto import Keyring, SealedKey, WrappedDataKey
from quanyi_inventory.config import DEV_MASTER_KEYS, Settings
from quanyi_inventory.entrypoints.grpc_server import InventoryServicer
from quanyi_platform import rpc
from quanyi_platform.testing.replay import assert_replay_matches_live

from .conftest import UowFactory

CHUNK = 64 * 1024


async def _pool(stub: pb_grpc.InventoryServiceStub) -> tuple[str, str]:
    product = await stub.CreateProduct(pb.CreateProductRequest(name="Cards", kind="card_key"))
    sku = await stub.CreateSku(
        pb.CreateSkuRequest(
            product_id=product.product_id, name="Card 100", price=money_pb2.Money(minor_units=10000, currency="CNY")
        )
    )
    pool = await stub.CreatePool(pb.CreatePoolRequest(sku_id=sku.sku.sku_id, name="main"))
    return pool.pool_id, sku.sku.sku_id


def _requests(header: pb.ImportKeyFileHeader, data: bytes) -> Iterable[pb.ImportKeyFileRequest]:
    yield pb.ImportKeyFileRequest(header=header)
    for start in range(0, len(data), CHUNK):
        yield pb.ImportKeyFileRequest(chunk=data[start : start + CHUNK])


async def _import(
    stub: pb_grpc.InventoryServiceStub, pool_id: str, data: bytes, *, name: str = "keys.csv",
    mode: int = pb.IMPORT_MODE_ALL_OR_NOTHING, cost: int = 50,
) -> tuple[pb.ImportKeyFileResult, list[pb.ImportKeyFileResponse]]:
    header = pb.ImportKeyFileHeader(
        pool_id=pool_id, file_name=name, actor="admin:tester", mode=mode,
        unit_cost=money_pb2.Money(minor_units=cost, currency="CNY"),
    )
    responses = [r async for r in stub.ImportKeyFile(_requests(header, data), timeout=60)]
    assert responses[-1].stage == "done" and responses[-1].HasField("result")
    return responses[-1].result, responses


async def _rows(pool: AsyncConnectionPool, sql: str, *args: object) -> list[dict[str, object]]:
    async with pool.connection() as conn:
        cur = await conn.execute(sql, args)
        return list(await cur.fetchall())


async def test_a_csv_with_every_column_is_stored_with_its_values_and_its_file_is_recorded(
    stub: pb_grpc.InventoryServiceStub, pool: AsyncConnectionPool, database_url: str
) -> None:
    pool_id, sku_id = await _pool(stub)
    data = (
        b"Code,Password,Face Value,Unit Cost,valid_from,expires_at,Supplier\n"
        b"CARD-0001,pw1,100.00,80.50,2026-01-01,2027-01-01T00:00:00+08:00,Acme\n"
        b"CARD-0002,,100,,,,\n"
    )
    result, responses = await _import(stub, pool_id, data)

    assert (result.imported, result.rows, result.rejected, result.aborted) == (2, 2, 0, False)
    assert result.file_sha256 == hashlib.sha256(data).hexdigest()
    assert responses[0].stage == "received" and responses[0].bytes_total == len(data)
    material = await _rows(
        pool, "SELECT face_value_minor, unit_cost_minor, supplier, valid_from, expires_at FROM key_material"
        " ORDER BY face_value_minor, unit_cost_minor NULLS LAST"
    )
    assert [(m["face_value_minor"], m["unit_cost_minor"], m["supplier"]) for m in material] == [
        (10000, 8050, "Acme"), (10000, None, None)
    ]
    assert str(material[0]["expires_at"]).startswith("2026-12-31 16:00:00")
    keys = await _rows(pool, "SELECT unit_cost_minor FROM keys WHERE sku_id = %s ORDER BY 1", sku_id)
    assert [k["unit_cost_minor"] for k in keys] == [50, 8050]
    batch = (await _rows(pool, "SELECT * FROM key_batches WHERE batch_id = %s", result.batch_id))[0]
    assert (batch["file_sha256"], batch["file_name"], batch["format"], batch["mode"], batch["file_rows"],
            batch["file_bytes"], batch["actor"], batch["imported"]) == (
        result.file_sha256, "keys.csv", "csv", "all_or_nothing", 2, len(data), "admin:tester", 2)
    await assert_replay_matches_live(database_url, "inventory")


async def test_bad_rows_are_reported_by_line_and_reason_and_all_or_nothing_stores_nothing(
    stub: pb_grpc.InventoryServiceStub, pool: AsyncConnectionPool
) -> None:
    pool_id, sku_id = await _pool(stub)
    await _import(stub, pool_id, b"code\nHELD-1\n")
    data = (
        b"code,password,unit_cost,expires_at\n"
        b"GOOD-1,p,,\n"          # line 2
        b",p,,\n"                # line 3: empty code
        b"GOOD-2,p,abc,\n"       # line 4: bad amount
        b"GOOD-1,q,,\n"          # line 5: duplicate of line 2
        b"HELD-1,,,\n"           # line 6: already in the pool
        b"GOOD-3,,,not-a-date\n"  # line 7: bad time
        b"GOOD-4,,1.5,\n"        # line 8: good
    )
    aborted, _ = await _import(stub, pool_id, data)
    assert aborted.aborted and aborted.imported == 0 and aborted.batch_id == ""
    assert [(b.line, b.reason) for b in aborted.bad_rows] == [
        (3, "empty code"),
        (4, "unit_cost is not a number"),
        (5, "duplicate of line 2"),
        (6, "already in the pool"),
        (7, "expires_at is not an ISO 8601 date or time"),
    ]
    assert (aborted.rejected, aborted.duplicates_in_file, aborted.duplicates_in_pool) == (3, 1, 1)
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku.available == 1

    stored, _ = await _import(stub, pool_id, data, mode=pb.IMPORT_MODE_VALID_ROWS)
    assert (stored.imported, stored.aborted, len(stored.bad_rows)) == (2, False, 5)
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku.available == 3
    batches = await _rows(pool, "SELECT imported, duplicates, rejected FROM key_batches ORDER BY created_at")
    assert [(b["imported"], b["duplicates"], b["rejected"]) for b in batches] == [(1, 0, 0), (2, 2, 3)]


async def test_tsv_plain_text_and_xlsx_files_are_read(
    stub: pb_grpc.InventoryServiceStub, pool: AsyncConnectionPool
) -> None:
    pool_id, sku_id = await _pool(stub)
    tsv, _ = await _import(stub, pool_id, b"code\tpassword\nT-1\tx\nT-2\ty\n", name="k.tsv")
    txt, _ = await _import(stub, pool_id, b"P-1\r\nP-2\r\n\r\nP-3\n", name="k.txt")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["code", "password", "face_value", "expires_at"])
    sheet.append(["X-1", "pw", 100, "2030-01-01"])
    sheet.append([123456789, None, 50.5, None])  # a numeric code is its digits
    sheet.append([None, None, None, None])
    sheet.append(["", "pw", None, None])
    buf = io.BytesIO()
    book.save(buf)
    xlsx, _ = await _import(stub, pool_id, buf.getvalue(), name="keys.xlsx", mode=pb.IMPORT_MODE_VALID_ROWS)

    assert (tsv.imported, txt.imported, txt.rows) == (2, 3, 3)
    assert (xlsx.imported, xlsx.rejected) == (2, 1)
    assert [(b.line, b.reason) for b in xlsx.bad_rows] == [(5, "empty code")]
    faces = await _rows(pool, "SELECT face_value_minor FROM key_material WHERE face_value_minor IS NOT NULL"
                        " ORDER BY 1")
    assert [f["face_value_minor"] for f in faces] == [5050, 10000]
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku.available == 7


async def test_a_file_that_is_not_what_it_claims_is_refused_whole(stub: pb_grpc.InventoryServiceStub) -> None:
    import grpc

    pool_id, _ = await _pool(stub)
    for data, name in ((b"\xff\xfe garbage", "k.xlsx"), (b"password\nx\n", "k.csv"), (b"\xff\xfe\n", "k.csv")):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _import(stub, pool_id, data, name=name)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await _import(stub, "no-such-pool", b"code\nA\n")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_no_imported_code_or_password_is_in_any_table(
    stub: pb_grpc.InventoryServiceStub, pool: AsyncConnectionPool
) -> None:
    pool_id, _ = await _pool(stub)
    await _import(stub, pool_id, b"code,password\nSECRETCODE-77,SECRETPASS-77\n")
    await _assert_no_plaintext(pool, ["SECRETCODE", "SECRETPASS"])


NEW_MASTER = os.urandom(32)


@pytest.fixture
async def rotating_stub(settings: Settings, uow: UowFactory) -> AsyncIterator[pb_grpc.InventoryServiceStub]:
    """Inventory holding its development master key (active) and a new one, "prod-2"."""
    keyring = Keyring({"dev-1": DEV_MASTER_KEYS[0], "prod-2": NEW_MASTER}, "dev-1")
    server = bootstrap.grpc_server(settings)
    pb_grpc.add_InventoryServiceServicer_to_server(InventoryServicer(uow, keyring, import_max_rows=1000), server)
    port = server.add_insecure_port(settings.inventory_grpc_listen)
    await server.start()
    channel = rpc.channel(f"127.0.0.1:{port}", deadline_s=60)
    try:
        yield pb_grpc.InventoryServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(None)


async def test_rotate_master_rewraps_every_data_key_and_leaves_the_key_rows_as_they_were(
    rotating_stub: pb_grpc.InventoryServiceStub, pool: AsyncConnectionPool, database_url: str
) -> None:
    import grpc

    stub = rotating_stub
    pool_id, _ = await _pool(stub)
    codes = [f"ROTATE-SECRET-{i}" for i in range(5)]
    await _import(stub, pool_id, ("code,password\n" + "".join(f"{c},PW-{c}\n" for c in codes[:3])).encode())
    await _import(stub, pool_id, ("\n".join(codes[3:]) + "\n").encode(), name="more.txt")
    material_sql = "SELECT key_id, batch_id, fingerprint, nonce, ciphertext FROM key_material ORDER BY key_id"
    before = await _rows(pool, material_sql)

    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.RotateMasterKey(pb.RotateMasterKeyRequest(master_key_id="nobody", actor="ops"))
    assert unknown.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    rotated = await stub.RotateMasterKey(pb.RotateMasterKeyRequest(master_key_id="prod-2", actor="ops:alice"))
    assert (rotated.master_key_id, rotated.rewrapped) == ("prod-2", 2)
    again = await stub.RotateMasterKey(pb.RotateMasterKeyRequest(master_key_id="prod-2", actor="ops:alice"))
    assert again.rewrapped == 0

    assert await _rows(pool, material_sql) == before
    wrapped = {
        r["batch_id"]: WrappedDataKey(str(r["master_key_id"]), bytes(r["wrapped_data_key"]))  # type: ignore[arg-type]
        for r in await _rows(pool, "SELECT batch_id, master_key_id, wrapped_data_key FROM data_keys")
    }
    assert {w.master_key_id for w in wrapped.values()} == {"prod-2"}
    # Every key still decrypts, with the new master key alone.
    only_new = Keyring({"prod-2": NEW_MASTER}, "prod-2")
    opened = sorted(
        only_new.unwrap(wrapped[str(m["batch_id"])], str(m["batch_id"])).open(
            str(m["key_id"]), SealedKey(bytes(m["nonce"]), bytes(m["ciphertext"]))  # type: ignore[arg-type]
        )[0]
        for m in before
    )
    assert opened == sorted(codes)
    batches = await _rows(pool, "SELECT DISTINCT master_key_id FROM key_batches")
    assert [b["master_key_id"] for b in batches] == ["prod-2"]
    await _assert_no_plaintext(pool, ["ROTATE-SECRET", "PW-ROTATE"])
    await assert_replay_matches_live(database_url, "inventory")


async def _assert_no_plaintext(pool: AsyncConnectionPool, secrets: list[str]) -> None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'inventory'"
        )
        tables = [r["table_name"] for r in await cur.fetchall()]
        for table in tables:
            cur = await conn.execute(f'SELECT t::text AS row FROM "{table}" t')
            for r in await cur.fetchall():
                for secret in secrets:
                    # As text, and as the hex a bytea column (an event's payload) shows.
                    assert secret not in r["row"] and secret.encode().hex() not in r["row"], table


async def test_concurrent_file_imports_of_overlapping_codes_store_each_code_once(
    stub: pb_grpc.InventoryServiceStub,
) -> None:
    import asyncio

    pool_id, sku_id = await _pool(stub)
    files = [("code\n" + "".join(f"OVER-{i}\n" for i in range(start, start + 300))).encode()
             for start in (0, 100, 200, 50)]
    results = await asyncio.gather(
        *(_import(stub, pool_id, data, mode=pb.IMPORT_MODE_VALID_ROWS) for data in files)
    )
    assert sum(r.imported for r, _ in results) == 500
    assert sum(r.duplicates_in_pool for r, _ in results) == 4 * 300 - 500
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku.available == 500
