"""The rows of a key file: columns by name, each optional value checked, reasons that never hold a key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from quanyi_inventory.domain.errors import InvalidInput
from quanyi_inventory.domain.keyfile import RejectedRow
from quanyi_inventory.domain.keyrows import (
    ALL_OR_NOTHING,
    VALID_ROWS,
    Columns,
    ImportRow,
    RowChecker,
    check_row,
    format_of,
    mode_of,
)

HEADER = ["Code", "password", "Face Value", "unit_cost", "valid_from", "expires_at", "supplier"]


def test_the_format_comes_from_the_extension_unless_asked() -> None:
    assert [format_of(n) for n in ("a.CSV", "a.tsv", "a.tab", "a.xlsx", "a.txt", "a")] == [
        "csv", "tsv", "tsv", "xlsx", "txt", "csv"
    ]
    assert format_of("a.csv", "TXT") == "txt"
    with pytest.raises(InvalidInput):
        format_of("a.csv", "pdf")


def test_modes_default_to_all_or_nothing() -> None:
    assert (mode_of(""), mode_of("valid_rows")) == (ALL_OR_NOTHING, VALID_ROWS)
    with pytest.raises(InvalidInput):
        mode_of("some")


def test_a_header_without_code_is_refused() -> None:
    with pytest.raises(InvalidInput, match="'code' column"):
        Columns.from_header(["password"])


def test_every_column_is_read_by_name() -> None:
    row = check_row(
        7, [" K-1 ", "pw", "100.5", "80", "2026-01-01", "2026-06-01T08:00:00+08:00", "Acme"],
        Columns.from_header(HEADER), "CNY",
    )
    assert isinstance(row, ImportRow)
    assert (row.line, row.code, row.password, row.face_value_minor, row.unit_cost_minor, row.supplier) == (
        7, "K-1", "pw", 10050, 8000, "Acme"
    )
    assert row.valid_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert row.expires_at == datetime(2026, 6, 1, tzinfo=UTC)
    assert "K-1" not in repr(row) and "pw" not in repr(row)


def test_minor_unit_columns_and_currencies_without_decimals() -> None:
    columns = Columns.from_header(["code", "face_value_minor", "unit_cost"])
    row = check_row(2, ["K", "990", "12"], columns, "JPY")
    assert isinstance(row, ImportRow) and (row.face_value_minor, row.unit_cost_minor) == (990, 12)
    assert check_row(2, ["K", "", "1.5"], columns, "JPY") == RejectedRow(2, "unit_cost has more decimals than JPY allows")


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (["", "p", "", "", "", "", ""], "empty code"),
        (["K" * 257, "", "", "", "", "", ""], "code longer than 256 characters"),
        (["K", "p" * 257, "", "", "", "", ""], "password longer than 256 characters"),
        (["K", "", "ten", "", "", "", ""], "face_value is not a number"),
        (["K", "", "", "-1", "", "", ""], "unit_cost is negative"),
        (["K", "", "", "NaN", "", "", ""], "unit_cost is not a number"),
        (["K", "", "", "", "soon", "", ""], "valid_from is not an ISO 8601 date or time"),
        (["K", "", "", "", "2026-02-01", "2026-01-01", ""], "expires_at is not after valid_from"),
        (["K", "", "", "", "", "", "s" * 201], "supplier longer than 200 characters"),
    ],
)
def test_a_bad_value_rejects_its_row_with_a_reason_that_does_not_hold_the_key(
    record: list[str], reason: str
) -> None:
    rejected = check_row(9, record, Columns.from_header(HEADER), "CNY")
    assert rejected == RejectedRow(9, reason)
    assert "K" * 5 not in reason


def test_the_fast_checker_of_code_and_password_files_agrees_with_the_full_one() -> None:
    columns = Columns.from_header(["password", "code"])
    check = RowChecker(columns, "CNY")
    for record in (["p", " K "], ["p", ""], ["", "K"], ["p"], ["p" * 300, "K"], ["p", "K" * 300]):
        assert check(3, record) == check_row(3, record, columns, "CNY")
