"""Reports as files: CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese headers right) and
XLSX (XlsxWriter: a small, pure-Python, write-only library). Amounts are integer minor units in both, as
everywhere in quanyi (the sheet's cells are integers, so its sums are exact)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import xlsxwriter

from quanyi_ledger.domain.reports import ReportRow

HEADER = [
    "period", "channel", "product", "sku", "currency", "sales_minor", "refunds_minor", "cost_minor",
    "margin_minor", "discounts_minor",
]
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cells(r: ReportRow) -> list[str | int]:
    return [r.period, r.channel, r.product_id, r.sku_id, r.currency, r.sales_minor, r.refunds_minor,
            r.cost_minor, r.margin_minor, r.discounts_minor]


def to_csv(rows: Sequence[ReportRow]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(_cells(r) for r in rows)
    return ("\ufeff" + buf.getvalue()).encode()


def to_xlsx(rows: Sequence[ReportRow], title: str = "") -> bytes:
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet("report")
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0"})
    start = 0
    if title:
        sheet.write(0, 0, title, bold)
        start = 2
    for col, name in enumerate(HEADER):
        sheet.write(start, col, name, bold)
    for i, r in enumerate(rows, start=start + 1):
        for col, value in enumerate([r.period, r.channel, r.product_id, r.sku_id, r.currency]):
            sheet.write_string(i, col, value)
        minors = [r.sales_minor, r.refunds_minor, r.cost_minor, r.margin_minor, r.discounts_minor]
        for col, minor in enumerate(minors, start=5):
            sheet.write_number(i, col, minor, money)
    sheet.set_column(0, 9, 14)
    book.close()
    return buf.getvalue()
