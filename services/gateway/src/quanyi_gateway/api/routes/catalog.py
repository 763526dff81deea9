"""The public catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb

from quanyi_gateway.adapters import mappers
from quanyi_gateway.api.deps import PeersDep
from quanyi_gateway.api.problems import responses
from quanyi_gateway.models import SkuPage, SkuPublic

router = APIRouter(tags=["catalogue"])


@router.get("/skus", responses=responses(422, 503))
async def list_skus(
    peers: PeersDep,
    limit: Annotated[int, Query(ge=1, le=200, description="SKUs per page.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=64, description="The `next_cursor` of the previous page.")
    ] = None,
) -> SkuPage:
    """The catalogue, oldest SKU first, a page at a time, with each SKU's price and keys available now."""
    request = inventory_pb.ListSkusRequest(page_size=limit, page_token=cursor or "")
    reply: inventory_pb.ListSkusResponse = await peers.inventory.ListSkus(request)
    return SkuPage(items=[mappers.sku(s) for s in reply.skus], next_cursor=reply.next_page_token or None)


@router.get("/skus/{sku_id}", responses=responses(404, 422, 503))
async def get_sku(sku_id: Annotated[str, Path(max_length=64)], peers: PeersDep) -> SkuPublic:
    """A SKU's price and the number of keys available now."""
    reply = await peers.inventory.GetSku(inventory_pb.GetSkuRequest(sku_id=sku_id))
    return mappers.sku(reply.sku)
