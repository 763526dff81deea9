"""Key file import jobs recorded by inventory: the job's progress and outcome are read back by its id
(GetKeyFileImport, ListKeyFileImports) after the call that ran it has ended, whether it stored a batch,
was refused, or was cut off; a job id is used once; a replay equals live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi_platform.testing.replay import assert_replay_matches_live


async def a_pool(stub: pb_grpc.InventoryServiceStub) -> str:
    product = await stub.CreateProduct(pb.CreateProductRequest(name="Jobs", kind="card_key"))
    sku = await stub.CreateSku(pb.CreateSkuRequest(
        product_id=product.product_id, name="Jobs 1", price=money_pb2.Money(minor_units=100, currency="CNY")))
    return (await stub.CreatePool(pb.CreatePoolRequest(sku_id=sku.sku.sku_id, name="jobs"))).pool_id


async def key_file(
    pool_id: str, job_id: str, body: bytes, stop: asyncio.Event | None = None
) -> AsyncIterator[pb.ImportKeyFileRequest]:
    yield pb.ImportKeyFileRequest(header=pb.ImportKeyFileHeader(
        pool_id=pool_id, file_name="keys.csv", actor="ops", mode=pb.IMPORT_MODE_VALID_ROWS, job_id=job_id,
        unit_cost=money_pb2.Money(minor_units=10, currency="CNY"),
    ))
    yield pb.ImportKeyFileRequest(chunk=body)
    if stop is not None:
        await stop.wait()  # the caller goes away before the file is whole


async def test_a_jobs_outcome_and_bad_rows_are_read_back_by_its_id(
    stub: pb_grpc.InventoryServiceStub, database_url: str
) -> None:
    pool_id = await a_pool(stub)
    body = b"code\nJOB-A\nJOB-B\nJOB-A\n\n" + b"X" * 300 + b"\n"
    replies = [r async for r in stub.ImportKeyFile(key_file(pool_id, "job-1", body), timeout=60)]
    assert {r.job_id for r in replies if r.job_id} == {"job-1"}
    job = (await stub.GetKeyFileImport(pb.GetKeyFileImportRequest(job_id="job-1"))).job
    assert (job.status, job.stage, job.pool_id, job.actor, job.bytes_total) == (
        "done", "done", pool_id, "ops", len(body))
    assert (job.result.imported, job.result.duplicates_in_file, job.result.rejected) == (2, 1, 1)
    assert [r.line for r in job.result.bad_rows] == [4, 6] and job.HasField("finished_at")

    # A job id is used once.
    with pytest.raises(grpc.aio.AioRpcError) as again:
        [r async for r in stub.ImportKeyFile(key_file(pool_id, "job-1", b"code\nJOB-C\n"), timeout=60)]
    assert again.value.code() == grpc.StatusCode.ALREADY_EXISTS

    # Refused as a whole: the job says why.
    with pytest.raises(grpc.aio.AioRpcError):
        [r async for r in stub.ImportKeyFile(key_file("no-such-pool", "job-2", b"code\nJOB-D\n"), timeout=60)]
    failed = (await stub.GetKeyFileImport(pb.GetKeyFileImportRequest(job_id="job-2"))).job
    assert failed.status == "failed" and failed.error

    listed = (await stub.ListKeyFileImports(pb.ListKeyFileImportsRequest(limit=10))).jobs
    assert [j.job_id for j in listed] == ["job-2", "job-1"] and not listed[1].result.bad_rows
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.GetKeyFileImport(pb.GetKeyFileImportRequest(job_id="job-9"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    await assert_replay_matches_live(database_url, "inventory")


async def test_a_job_whose_caller_went_away_mid_import_is_recorded_as_interrupted(
    stub: pb_grpc.InventoryServiceStub,
) -> None:
    pool_id = await a_pool(stub)
    body = b"code\n" + b"".join(b"CUT-%07d\n" % i for i in range(300_000))
    call = stub.ImportKeyFile(key_file(pool_id, "job-cut", body), timeout=60)
    async for reply in call:
        if reply.stage == "received":
            break  # the file is in, the import starts: the caller goes away now
    call.cancel()

    async def ended() -> pb.KeyFileImport | None:
        job = (await stub.GetKeyFileImport(pb.GetKeyFileImportRequest(job_id="job-cut"))).job
        return job if job.status != "running" else None

    deadline = asyncio.get_running_loop().time() + 30
    while (job := await ended()) is None:
        assert asyncio.get_running_loop().time() < deadline, "the job never ended"
        await asyncio.sleep(0.1)
    assert (job.status, job.error) == ("failed", "the import was interrupted")


async def test_an_upload_cut_off_before_its_file_arrived_whole_leaves_no_job(
    stub: pb_grpc.InventoryServiceStub,
) -> None:
    pool_id = await a_pool(stub)
    stop = asyncio.Event()
    call = stub.ImportKeyFile(key_file(pool_id, "job-half", b"code\nHALF-1\n", stop), timeout=60)
    call.cancel()
    stop.set()
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await stub.GetKeyFileImport(pb.GetKeyFileImportRequest(job_id="job-half"))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
