"""The rows of a key file at scale: which column is which, and whether a row is a key worth storing.

A key file is CSV, TSV, XLSX (a header row naming the columns) or plain text (one code per line, no
header). Columns, case and surrounding blanks ignored: `code` (required); optional `password`,
`face_value` and `unit_cost` (amounts in the batch's currency, e.g. `12.50`, or `face_value_minor` and
`unit_cost_minor` in minor units), `valid_from` and `expires_at` (ISO 8601; a date is midnight UTC; a time
without an offset is UTC) and `supplier`. Standard library only; no reason ever contains a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from quanyi_inventory.domain.errors import InvalidInput
from quanyi_inventory.domain.keyfile import (
    CODE_TOO_LONG,
    EMPTY_CODE,
    MAX_CODE_LENGTH,
    MAX_PASSWORD_LENGTH,
    PASSWORD_TOO_LONG,
    RejectedRow,
    normalize_code,
)

FORMATS = ("csv", "tsv", "xlsx", "txt")
ALL_OR_NOTHING = "all_or_nothing"
VALID_ROWS = "valid_rows"
MODES = (ALL_OR_NOTHING, VALID_ROWS)
MAX_SUPPLIER_LENGTH = 200
# Minor units per major unit, for amounts written as decimals; other currencies have two decimals.
_EXPONENT = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3}

_KNOWN = ("code", "password", "face_value", "face_value_minor", "unit_cost", "unit_cost_minor",
          "valid_from", "expires_at", "supplier")


def format_of(file_name: str, asked: str = "") -> str:
    """The file's format: `asked` when given, else from the name's extension (`.txt` plain text,
    `.tsv`/`.tab` TSV, `.xlsx` XLSX, anything else CSV)."""
    fmt = asked.strip().lower()
    if fmt:
        if fmt not in FORMATS:
            raise InvalidInput(f"the format must be one of {', '.join(FORMATS)}")
        return fmt
    name = file_name.lower()
    for ext, found in ((".txt", "txt"), (".tsv", "tsv"), (".tab", "tsv"), (".xlsx", "xlsx")):
        if name.endswith(ext):
            return found
    return "csv"


def mode_of(asked: str) -> str:
    mode = asked.strip().lower() or ALL_OR_NOTHING
    if mode not in MODES:
        raise InvalidInput(f"the mode must be one of {', '.join(MODES)}")
    return mode


@dataclass(frozen=True)
class Columns:
    """Where each known column is in a row (-1: absent)."""

    at: dict[str, int]

    @property
    def code_at(self) -> int:
        return self.at["code"]

    @property
    def password_at(self) -> int:
        return self.at["password"]

    @property
    def only_code_and_password(self) -> bool:
        return all(i < 0 for name, i in self.at.items() if name not in ("code", "password"))

    @classmethod
    def from_header(cls, header: Sequence[str]) -> Columns:
        names = [h.strip().lower().replace(" ", "_") for h in header]
        if "code" not in names:
            raise InvalidInput("the file needs a header row with a 'code' column")
        return cls({name: (names.index(name) if name in names else -1) for name in _KNOWN})

    @classmethod
    def code_only(cls) -> Columns:
        return cls({name: (0 if name == "code" else -1) for name in _KNOWN})

    def get(self, record: Sequence[str], name: str) -> str:
        i = self.at[name]
        return record[i] if 0 <= i < len(record) else ""


@dataclass(slots=True)
class ImportRow:
    """A valid row. `code` and `password` are secrets: never log or show them."""

    line: int
    code: str = field(repr=False)
    password: str = field(repr=False)
    face_value_minor: int | None = None
    unit_cost_minor: int | None = None
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    supplier: str = ""


def _amount(text: str, minor: str, currency: str, what: str) -> int | None:
    if minor.strip():
        try:
            value = int(minor.strip())
        except ValueError:
            raise ValueError(f"{what}_minor is not a whole number") from None
    elif text.strip():
        try:
            amount = Decimal(text.strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{what} is not a number") from None
        if not amount.is_finite():
            raise ValueError(f"{what} is not a number")
        scaled = amount.scaleb(_EXPONENT.get(currency, 2))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{what} has more decimals than {currency} allows")
        value = int(scaled)
    else:
        return None
    if value < 0:
        raise ValueError(f"{what} is negative")
    if value > 10**15:
        raise ValueError(f"{what} is too large")
    return value


def parse_time(text: str, what: str) -> datetime | None:
    """An ISO 8601 date or time as UTC; None for blank; ValueError (safe message) when unreadable."""
    value = text.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"{what} is not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class RowChecker:
    """`check_row` for the rows of one file, with the columns' positions looked up once."""

    def __init__(self, columns: Columns, currency: str) -> None:
        self._columns = columns
        self._currency = currency
        self._code_at = columns.code_at
        self._password_at = columns.password_at
        self._simple = columns.only_code_and_password

    def __call__(self, line: int, record: Sequence[str]) -> ImportRow | RejectedRow:
        if not self._simple:
            return check_row(line, record, self._columns, self._currency)
        n = len(record)
        code = record[self._code_at].strip() if self._code_at < n else ""
        if not code:
            return RejectedRow(line, EMPTY_CODE)
        if len(code) > MAX_CODE_LENGTH:
            return RejectedRow(line, CODE_TOO_LONG)
        password = record[self._password_at].strip() if 0 <= self._password_at < n else ""
        if len(password) > MAX_PASSWORD_LENGTH:
            return RejectedRow(line, PASSWORD_TOO_LONG)
        return ImportRow(line, code, password)


def check_row(line: int, record: Sequence[str], columns: Columns, currency: str) -> ImportRow | RejectedRow:
    """Validate one data row of the file (`line`: its line number)."""
    code = normalize_code(columns.get(record, "code"))
    if not code:
        return RejectedRow(line, EMPTY_CODE)
    if len(code) > MAX_CODE_LENGTH:
        return RejectedRow(line, CODE_TOO_LONG)
    password = columns.get(record, "password").strip()
    if len(password) > MAX_PASSWORD_LENGTH:
        return RejectedRow(line, PASSWORD_TOO_LONG)
    supplier = columns.get(record, "supplier").strip()
    if len(supplier) > MAX_SUPPLIER_LENGTH:
        return RejectedRow(line, f"supplier longer than {MAX_SUPPLIER_LENGTH} characters")
    try:
        face = _amount(columns.get(record, "face_value"), columns.get(record, "face_value_minor"),
                       currency, "face_value")
        cost = _amount(columns.get(record, "unit_cost"), columns.get(record, "unit_cost_minor"),
                       currency, "unit_cost")
        valid_from = parse_time(columns.get(record, "valid_from"), "valid_from")
        expires_at = parse_time(columns.get(record, "expires_at"), "expires_at")
    except ValueError as exc:
        return RejectedRow(line, str(exc))
    if valid_from is not None and expires_at is not None and expires_at <= valid_from:
        return RejectedRow(line, "expires_at is not after valid_from")
    return ImportRow(line, code, password, face, cost, valid_from, expires_at, supplier)


def is_blank(record: Sequence[str]) -> bool:
    if record and record[0] and not record[0].isspace():
        return False
    return not any(str(f).strip() for f in record)
