"""A large import stays fast: parsing, sealing and storing 100,000 keys."""

from __future__ import annotations

import time

from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

KEYS = 100_000


async def test_importing_100k_keys_through_grpc_takes_well_under_a_minute(
    stub: pb_grpc.InventoryServiceStub, pool: AsyncConnectionPool
) -> None:
    product = await stub.CreateProduct(pb.CreateProductRequest(name="Bulk", kind="card_key"))
    sku = await stub.CreateSku(
        pb.CreateSkuRequest(
            product_id=product.product_id, name="Bulk 1", price=money_pb2.Money(minor_units=100, currency="CNY")
        )
    )
    key_pool = await stub.CreatePool(pb.CreatePoolRequest(sku_id=sku.sku.sku_id, name="bulk"))
    csv = "code,password\n" + "".join(f"BULK-{i:08d}-XXXXXXXXXXXXXXXXXXXXXXXX,PW{i:08d}\n" for i in range(KEYS))
    assert len(csv) > 4 * 1024 * 1024  # larger than gRPC's default message limit

    started = time.perf_counter()
    response = await stub.ImportKeys(
        pb.ImportKeysRequest(
            pool_id=key_pool.pool_id, csv=csv.encode(), actor="admin",
            unit_cost=money_pb2.Money(minor_units=50, currency="CNY"),
        ),
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    print(f"\nimport of {KEYS} keys: {elapsed:.2f}s ({KEYS / elapsed:.0f} keys/s)")
    assert (response.imported, response.duplicates) == (KEYS, 0)
    assert elapsed < 30

    started = time.perf_counter()
    again = await stub.ImportKeys(
        pb.ImportKeysRequest(
            pool_id=key_pool.pool_id, csv=csv.encode(), actor="admin",
            unit_cost=money_pb2.Money(minor_units=50, currency="CNY"),
        ),
        timeout=60,
    )
    print(f"re-import of the same {KEYS} keys (all duplicates): {time.perf_counter() - started:.2f}s")
    assert (again.imported, again.duplicates) == (0, KEYS)
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku.sku.sku_id))).sku.available == KEYS
