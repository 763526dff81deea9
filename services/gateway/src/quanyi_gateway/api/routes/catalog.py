"""The public catalogue, served from the gateway's cache while inventory's events keep it current."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from quanyi_gateway.api import presenters
from quanyi_gateway.api.deps import CatalogueDep
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.api.validation import ID_PATTERN, PathId
from quanyi_gateway.application.errors import UnknownSku
from quanyi_gateway.models import SkuPage, SkuPublic

router = APIRouter(tags=["catalogue"])


@router.get("/skus", responses=responses(422, 503))
async def list_skus(
    catalogue: CatalogueDep,
    limit: Annotated[int, Query(ge=1, le=200, description="SKUs per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=64, pattern=ID_PATTERN, description="The `next_cursor` of the previous page."),
    ] = None,
) -> SkuPage:
    """The catalogue, oldest SKU first, a page at a time, with each SKU's price and keys available now."""
    page = await catalogue.page(limit, cursor)
    return SkuPage(items=[presenters.sku(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/skus/{sku_id}", responses=responses(404, 422, 503))
async def get_sku(sku_id: PathId, catalogue: CatalogueDep) -> SkuPublic:
    """A SKU's price and the number of keys available now."""
    try:
        return presenters.sku(await catalogue.sku(sku_id))
    except UnknownSku:
        raise Problem(404, "no such SKU", slug="not-found") from None
