"""The back office's SKU page: the SKU's stock burn-down (available keys at the end of each UTC day, with
its low-stock threshold drawn as a line) and the form that sets the threshold.

The page reads what the admin API's `GET /v1/admin/skus/{id}/stock-history` returns (`catalogue:read`);
the form is `PUT .../low-stock-threshold`'s (`catalogue:write`). Inventory decides both.
"""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRouter
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb

from quanyi_gateway.adapters import mappers
from quanyi_gateway.api.routes.admin_stock import MAX_THRESHOLD, stock_history
from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.model import User
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.web import i18n
from quanyi_gateway.web.report_charts import burn_down_chart
from quanyi_gateway.web.routes.backoffice import _admin_page, _back, _resources, _rpc_error, allowed
from quanyi_gateway.web.session import CsrfProtected

router = APIRouter(prefix="/admin", include_in_schema=False)

#: The ranges the page offers, in days.
RANGES = (7, 30, 90)


@router.get("/catalogue/skus/{sku_id}")
async def sku_page(
    request: Request,
    user: Annotated[User, allowed(P.CATALOGUE_READ)],
    sku_id: PathId,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> HTMLResponse:
    """One SKU: its stock now, its burn-down over `days` days, and (catalogue:write) its threshold's form."""
    peers = _resources(request).peers
    try:
        sku = (await peers.inventory.GetSku(inventory_pb.GetSkuRequest(sku_id=sku_id))).sku
        history = await stock_history(peers, sku_id, days)
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    tr = i18n.translator(i18n.language(request))
    return _admin_page(
        request,
        "admin/sku.html",
        user,
        s=mappers.sku_stock(sku),
        history=history,
        days=days,
        ranges=RANGES,
        chart=burn_down_chart(tr, history),
        max_threshold=MAX_THRESHOLD,
        done=request.query_params.get("done", ""),
    )


@router.post("/catalogue/skus/{sku_id}/threshold", dependencies=[CsrfProtected])
async def set_threshold(
    request: Request,
    user: Annotated[User, allowed(P.CATALOGUE_WRITE)],
    sku_id: PathId,
    low_stock_threshold: Annotated[int, Form(ge=0, le=MAX_THRESHOLD)],
) -> Response:
    """Set the SKU's low-stock threshold; back to its page, whose chart and stock marks follow it."""
    try:
        await _resources(request).peers.inventory.SetLowStockThreshold(
            inventory_pb.SetLowStockThresholdRequest(sku_id=sku_id, low_stock_threshold=low_stock_threshold)
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    return _back(f"/admin/catalogue/skus/{sku_id}?done=threshold")
