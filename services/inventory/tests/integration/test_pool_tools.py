"""Operator tools through the real gRPC server on real Postgres: void a batch into the recycle bin and
restore it, list batches, export keys (codes only when asked, then audited), and the operation log."""

from __future__ import annotations

import grpc
import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi_platform.testing.replay import assert_replay_matches_live

from .test_key_files import _assert_no_plaintext, _import, _pool, _rows


async def _export(stub: pb_grpc.InventoryServiceStub, **kw: object) -> list[pb.ExportedKey]:
    return [k async for page in stub.ExportKeys(pb.ExportKeysRequest(**kw)) for k in page.keys]  # type: ignore[arg-type]


async def test_a_voided_batch_leaves_sale_waits_in_the_recycle_bin_and_comes_back_whole(
    stub: pb_grpc.InventoryServiceStub, pool: AsyncConnectionPool, database_url: str
) -> None:
    pool_id, sku_id = await _pool(stub)
    first, _ = await _import(stub, pool_id, b"code\nBIN-1\nBIN-2\nBIN-3\n")
    await _import(stub, pool_id, b"code\nKEEP-1\n", name="more.csv")

    voided = await stub.VoidBatch(pb.VoidBatchRequest(batch_id=first.batch_id, actor="ops:bo", reason="leaked"))
    assert voided.keys == 3
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku.available == 1
    stock = await _rows(pool, "SELECT available, void FROM pool_stock WHERE pool_id = %s", pool_id)
    assert (stock[0]["available"], stock[0]["void"]) == (1, 3)
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await stub.VoidBatch(pb.VoidBatchRequest(batch_id=first.batch_id, actor="ops:bo"))
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.VoidBatch(pb.VoidBatchRequest(batch_id="nope", actor="ops:bo"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

    binned = await stub.ListBatches(pb.ListBatchesRequest(voided_only=True))
    assert [(b.batch_id, b.voided, dict(b.keys_by_state)) for b in binned.batches] == [
        (first.batch_id, True, {"void": 3})
    ]
    assert {k.state for k in await _export(stub, batch_id=first.batch_id)} == {"void"}

    restored = await stub.RestoreBatch(pb.RestoreBatchRequest(batch_id=first.batch_id, actor="ops:bo"))
    assert restored.keys == 3
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku.available == 4
    with pytest.raises(grpc.aio.AioRpcError) as not_binned:
        await stub.RestoreBatch(pb.RestoreBatchRequest(batch_id=first.batch_id, actor="ops:bo"))
    assert not_binned.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await assert_replay_matches_live(database_url, "inventory")


async def test_an_export_has_no_codes_unless_asked_and_then_it_is_audited_first(
    stub: pb_grpc.InventoryServiceStub, pool: AsyncConnectionPool, database_url: str
) -> None:
    pool_id, _ = await _pool(stub)
    await _import(stub, pool_id, b"code,password,expires_at\nEXP-1,pw1,2030-01-01\nEXP-2,pw2,2040-01-01\nEXP-3,,\n")

    plain = await _export(stub, pool_id=pool_id, actor="ops:cy")
    assert len(plain) == 3 and all(k.code == "" and k.password == "" for k in plain)
    assert [k.key_id for k in plain] == sorted(k.key_id for k in plain)
    soon = await _export(stub, pool_id=pool_id, expires_before={"seconds": 2_000_000_000})
    assert len(soon) == 1 and soon[0].expires_at.seconds < 2_000_000_000
    assert await _export(stub, pool_id=pool_id, state="reserved") == []
    named = await _export(stub, key_ids=[plain[2].key_id, plain[0].key_id, "no-such-key"])
    assert [(k.key_id, k.state, k.code) for k in named] == [(plain[0].key_id, "available", ""), (plain[2].key_id, "available", "")]
    assert [k.expires_at for k in named] == [plain[0].expires_at, plain[2].expires_at]
    with pytest.raises(grpc.aio.AioRpcError) as too_many:
        await _export(stub, key_ids=[f"k{i}" for i in range(1001)])
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await _rows(pool, "SELECT * FROM pool_operations WHERE action = 'keys_exported'") == []

    with pytest.raises(grpc.aio.AioRpcError) as bad_state:
        await _export(stub, state="sold")
    assert bad_state.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await _export(stub, pool_id=pool_id, with_codes=True)
    assert anonymous.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    coded = await _export(stub, pool_id=pool_id, with_codes=True, actor="ops:cy")
    assert sorted((k.code, k.password) for k in coded) == [("EXP-1", "pw1"), ("EXP-2", "pw2"), ("EXP-3", "")]
    audit = await _rows(pool, "SELECT actor, pool_id, keys FROM pool_operations WHERE action = 'keys_exported'")
    assert [(a["actor"], a["pool_id"], a["keys"]) for a in audit] == [("ops:cy", pool_id, 3)]
    await _assert_no_plaintext(pool, ["EXP-1", "EXP-2", "EXP-3"])
    await assert_replay_matches_live(database_url, "inventory")


async def test_the_operation_log_lists_every_pool_action_newest_first_in_pages(
    stub: pb_grpc.InventoryServiceStub,
) -> None:
    pool_id, _ = await _pool(stub)
    batch, _ = await _import(stub, pool_id, b"code\nLOG-1\nLOG-2\n")
    await stub.VoidBatch(pb.VoidBatchRequest(batch_id=batch.batch_id, actor="ops:dee", reason="test"))
    await stub.RestoreBatch(pb.RestoreBatchRequest(batch_id=batch.batch_id, actor="ops:dee"))

    seen: list[pb.PoolOperation] = []
    token = ""
    while True:
        page = await stub.ListPoolOperations(
            pb.ListPoolOperationsRequest(pool_id=pool_id, page_size=2, page_token=token)
        )
        seen.extend(page.operations)
        token = page.next_page_token
        if not token:
            break
    assert [(o.action, o.actor, o.keys) for o in seen] == [
        ("batch_restored", "ops:dee", 2),
        ("batch_voided", "ops:dee", 2),
        ("keys_imported", "admin:tester", 2),
        ("pool_created", "", 0),
    ]
    assert "sha256=" in seen[2].detail and seen[1].detail == "test"


async def test_unsold_keys_move_to_another_pool_or_sku_and_the_target_sku_then_refuses_their_codes(
    stub: pb_grpc.InventoryServiceStub, pool: AsyncConnectionPool, database_url: str
) -> None:
    pool_a, sku_a = await _pool(stub)
    other = await stub.CreatePool(pb.CreatePoolRequest(sku_id=sku_a, name="second"))
    pool_c, sku_c = await _pool(stub)
    batch, _ = await _import(stub, pool_a, b"code\nMOVE-1\nMOVE-2\nMOVE-3\n")

    moved = await stub.MoveBatch(pb.MoveBatchRequest(batch_id=batch.batch_id, to_pool_id=other.pool_id, actor="ops"))
    assert moved.keys == 3
    stock = {r["pool_id"]: r["available"] for r in await _rows(pool, "SELECT pool_id, available FROM pool_stock")}
    assert (stock[pool_a], stock[other.pool_id]) == (0, 3)

    moved = await stub.MoveBatch(pb.MoveBatchRequest(batch_id=batch.batch_id, to_pool_id=pool_c, actor="ops"))
    assert moved.keys == 3
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_a))).sku.available == 0
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_c))).sku.available == 3
    # The moved codes are the target SKU's now: a file holding one of them finds it in the pool.
    again, _ = await _import(stub, pool_c, b"code\nMOVE-2\nNEW-1\n", mode=pb.IMPORT_MODE_VALID_ROWS)
    assert (again.imported, again.duplicates_in_pool) == (1, 1)

    with pytest.raises(grpc.aio.AioRpcError) as same:
        await stub.MoveBatch(pb.MoveBatchRequest(batch_id=batch.batch_id, to_pool_id=pool_c, actor="ops"))
    assert same.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Into a SKU that holds one of the codes as another key: refused, nothing moves.
    pool_d, _ = await _pool(stub)
    await _import(stub, pool_d, b"code\nMOVE-3\n")
    with pytest.raises(grpc.aio.AioRpcError) as clash:
        await stub.MoveBatch(pb.MoveBatchRequest(batch_id=batch.batch_id, to_pool_id=pool_d, actor="ops"))
    assert clash.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku_c))).sku.available == 4
    log = await stub.ListPoolOperations(pb.ListPoolOperationsRequest(pool_id=pool_a))
    assert [o.action for o in log.operations][:2] == ["keys_moved", "keys_imported"]
    await assert_replay_matches_live(database_url, "inventory")
