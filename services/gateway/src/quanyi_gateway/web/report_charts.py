"""The back office's report charts, drawn from the admin API's data (api/routes/admin_stock.py): a SKU's
stock burn-down with its low-stock threshold, and the delivery latency's p50/p95/p99 per hour."""

from __future__ import annotations

from datetime import datetime

import grpc
from markupsafe import Markup

from quanyi_gateway.adapters.peers import Peers
from quanyi_gateway.api.routes.admin_stock import StockHistoryPublic, delivery_latency
from quanyi_gateway.web import charts, i18n

#: The home page's latency chart covers this many hours, per hour.
LATENCY_HOURS = 24


def burn_down_chart(tr: i18n.Translate, history: StockHistoryPublic) -> Markup:
    """Available keys per day, and the threshold as a second (dashed) line when the SKU has one."""
    days = [(d.day[5:], float(d.available)) for d in history.days]
    series = [charts.Series(tr("admin.sku.available_series"), days)]
    if history.low_stock_threshold:
        threshold = float(history.low_stock_threshold)
        series.append(charts.Series(tr("admin.sku.threshold_series"), [(x, threshold) for x, _ in days]))
    return charts.line_chart(tr("admin.sku.burn_down"), series, lambda v: f"{v:,.0f}")


async def latency_chart(peers: Peers, tr: i18n.Translate) -> Markup | None:
    """p50, p95 and p99 of paid -> first key delivered per hour of the last day; None without deliveries
    (or when fulfillment does not answer: the rest of the page still shows)."""
    try:
        report = await delivery_latency(peers, LATENCY_HOURS, "hour")
    except grpc.aio.AioRpcError:
        return None
    if not report.buckets:
        return None
    hours = [datetime.fromisoformat(b.start).strftime("%H:00") for b in report.buckets]
    series = [
        charts.Series(tr(f"admin.latency.{p}"), [(h, getattr(b, f"{p}_ms") / 1000) for h, b in zip(
            hours, report.buckets, strict=True
        )])
        for p in ("p50", "p95", "p99")
    ]
    return charts.line_chart(tr("admin.latency.title"), series, lambda v: f"{v:.2f} s")
