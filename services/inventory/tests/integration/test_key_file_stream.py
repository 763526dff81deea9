"""A "2 GB-style" key file: generated on the fly and streamed to ImportKeyFile, never whole in memory
on either side. The process's resident memory (client, server and import together) must stay flat while
the rows go through; the size is bounded so the suite stays fast, but nothing in the path holds more than
a chunk of rows, so the same holds at any size (bench/key_import.py runs a million keys)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

ROWS = 200_000
ROWS_PER_CHUNK = 2_000
# Resident memory may grow by this much at most while the file goes through (one chunk of rows is
# ~0.1 MB; gRPC, psycopg and the allocator keep some slack). A file held whole would add >100 MB.
MAX_GROWTH_MB = 48


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def generated_file(pool_id: str) -> AsyncIterator[pb.ImportKeyFileRequest]:
    yield pb.ImportKeyFileRequest(
        header=pb.ImportKeyFileHeader(
            pool_id=pool_id, file_name="stream.csv", actor="test", mode=pb.IMPORT_MODE_VALID_ROWS,
            unit_cost=money_pb2.Money(minor_units=10, currency="CNY"),
        )
    )
    yield pb.ImportKeyFileRequest(chunk=b"code,password,face_value,expires_at\n")
    for start in range(0, ROWS, ROWS_PER_CHUNK):
        rows = "".join(
            f"STREAM-{i:09d}-{'X' * (i % 40)},PW{i},{i % 500}.50,2099-12-31\n"
            for i in range(start, start + ROWS_PER_CHUNK)
        )
        yield pb.ImportKeyFileRequest(chunk=rows.encode())


async def test_a_file_generated_on_the_fly_goes_through_in_flat_memory(
    stub: pb_grpc.InventoryServiceStub,
) -> None:
    product = await stub.CreateProduct(pb.CreateProductRequest(name="Stream", kind="card_key"))
    sku = await stub.CreateSku(
        pb.CreateSkuRequest(
            product_id=product.product_id, name="Stream 1", price=money_pb2.Money(minor_units=100, currency="CNY")
        )
    )
    key_pool = await stub.CreatePool(pb.CreatePoolRequest(sku_id=sku.sku.sku_id, name="stream"))
    # Warm up every code path once, so that what is measured is growth, not first-use allocation.
    warm = [r async for r in stub.ImportKeyFile(_small(key_pool.pool_id), timeout=60)]
    assert warm[-1].result.imported == 10

    baseline = rss_mb()
    peak = baseline
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb())
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        replies = [r async for r in stub.ImportKeyFile(generated_file(key_pool.pool_id), timeout=600)]
    finally:
        done.set()
        await sampler
    result = replies[-1].result
    assert (result.imported, result.rows, result.rejected) == (ROWS, ROWS, 0)
    assert any(r.stage == "reading" for r in replies)  # progress was reported while reading
    growth = peak - baseline
    assert growth < MAX_GROWTH_MB, f"resident memory grew by {growth:.0f} MB for {ROWS:,} rows"
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku.sku.sku_id))).sku.available == ROWS + 10


async def _small(pool_id: str) -> AsyncIterator[pb.ImportKeyFileRequest]:
    yield pb.ImportKeyFileRequest(
        header=pb.ImportKeyFileHeader(
            pool_id=pool_id, file_name="warm.csv", actor="test",
            unit_cost=money_pb2.Money(minor_units=10, currency="CNY"),
        )
    )
    yield pb.ImportKeyFileRequest(
        chunk=("code,password,face_value,expires_at\n" + "".join(
            f"WARM-{i},PW,1.50,2099-12-31\n" for i in range(10)
        )).encode()
    )
