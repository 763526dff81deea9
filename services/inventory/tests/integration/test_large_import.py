"""An import file larger than gRPC's default 4 MB message limit: 100,000 keys, stored once.

How fast such an import runs is measured by `bench/inventory.py`, not here.
"""

from __future__ import annotations

from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

KEYS = 100_000


async def test_an_import_larger_than_grpcs_default_message_limit_is_stored_whole_and_once(
    stub: pb_grpc.InventoryServiceStub,
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
    request = pb.ImportKeysRequest(
        pool_id=key_pool.pool_id, csv=csv.encode(), actor="admin",
        unit_cost=money_pb2.Money(minor_units=50, currency="CNY"),
    )

    response = await stub.ImportKeys(request, timeout=60)
    assert (response.imported, response.duplicates, len(response.rejected)) == (KEYS, 0, 0)

    again = await stub.ImportKeys(request, timeout=60)
    assert (again.imported, again.duplicates, len(again.rejected)) == (0, KEYS, 0)
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku.sku.sku_id))).sku.available == KEYS
