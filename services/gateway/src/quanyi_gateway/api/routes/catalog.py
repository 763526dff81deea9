"""The public catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb

from quanyi_gateway.adapters import mappers
from quanyi_gateway.api.deps import PeersDep
from quanyi_gateway.api.problems import responses
from quanyi_gateway.models import SkuPublic

router = APIRouter(tags=["catalogue"])


@router.get("/skus/{sku_id}", responses=responses(404, 422, 503))
async def get_sku(sku_id: Annotated[str, Path(max_length=64)], peers: PeersDep) -> SkuPublic:
    """A SKU's price and the number of keys available now."""
    reply = await peers.inventory.GetSku(inventory_pb.GetSkuRequest(sku_id=sku_id))
    return mappers.sku(reply.sku)
