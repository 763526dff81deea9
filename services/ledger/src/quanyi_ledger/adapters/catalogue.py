"""The catalogue the ledger's reports map SKUs to products with: inventory's ListSkus (gRPC), a fake."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as inventory_grpc

from quanyi_ledger.application.ports import Catalogue


class GrpcCatalogue(Catalogue):
    """Pages through inventory's catalogue (200 SKUs a call) until every SKU asked for is found."""

    def __init__(self, stub: inventory_grpc.InventoryServiceStub) -> None:
        self._stub = stub

    async def products_of(self, sku_ids: Sequence[str]) -> dict[str, str]:
        wanted = set(sku_ids)
        found: dict[str, str] = {}
        token = ""
        while wanted - found.keys():
            page = await self._stub.ListSkus(inventory_pb.ListSkusRequest(page_size=200, page_token=token))
            found.update({s.sku_id: s.product_id for s in page.skus if s.sku_id in wanted})
            token = page.next_page_token
            if not token:
                break
        return found


class FixedCatalogue(Catalogue):
    def __init__(self, products: Mapping[str, str]) -> None:
        self._products = dict(products)

    async def products_of(self, sku_ids: Sequence[str]) -> dict[str, str]:
        return {s: self._products[s] for s in sku_ids if s in self._products}
