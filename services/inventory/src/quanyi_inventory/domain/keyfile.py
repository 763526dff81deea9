"""Reading an import file of card keys: a UTF-8 CSV with a header naming a `code` and an optional
`password` column. Rows are validated here; nothing in this module ever puts a key into a message."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from quanyi_inventory.domain.errors import InvalidInput

MAX_ROWS = 1_000_000
MAX_CODE_LENGTH = 256
MAX_PASSWORD_LENGTH = 256

EMPTY_CODE = "empty code"
CODE_TOO_LONG = f"code longer than {MAX_CODE_LENGTH} characters"
PASSWORD_TOO_LONG = f"password longer than {MAX_PASSWORD_LENGTH} characters"


def normalize_code(code: str) -> str:
    """The form of a code that is stored, fingerprinted and looked up: surrounding blanks removed,
    case kept (codes are case-sensitive)."""
    return code.strip()


@dataclass(frozen=True)
class KeyRow:
    """A valid row: a normalized code and its password ("" when none). Never log or show it."""

    row: int
    code: str = field(repr=False)
    password: str = field(repr=False)


@dataclass(frozen=True)
class RejectedRow:
    """A row that is not stored, and why (the reason never contains the key)."""

    row: int
    reason: str


@dataclass(frozen=True)
class KeyFile:
    """The rows of a file worth storing, each code once; the rest counted or explained."""

    rows: list[KeyRow]
    rejected: list[RejectedRow]
    duplicates: int


def validate_row(row: int, code: str, password: str) -> KeyRow | RejectedRow:
    """Check one row; `row` is its number in the file (the header is row 1)."""
    normalized = normalize_code(code)
    if not normalized:
        return RejectedRow(row, EMPTY_CODE)
    if len(normalized) > MAX_CODE_LENGTH:
        return RejectedRow(row, CODE_TOO_LONG)
    secret = password.strip()
    if len(secret) > MAX_PASSWORD_LENGTH:
        return RejectedRow(row, PASSWORD_TOO_LONG)
    return KeyRow(row, normalized, secret)


def parse_key_file(data: bytes, max_rows: int = MAX_ROWS) -> KeyFile:
    """Read a whole import file.

    Raises InvalidInput when the file as a whole is unusable: not UTF-8, not CSV, no `code` column, or
    more than `max_rows` data rows. Otherwise every data row is either kept, rejected with a reason, or
    counted as a duplicate of an earlier row of the same file (the first occurrence is kept). Rows that
    are entirely blank are skipped silently.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[KeyRow] = []
    rejected: list[RejectedRow] = []
    seen: set[str] = set()
    duplicates = 0
    code_at = password_at = -1
    data_rows = 0
    row_no = 0
    try:
        for record in reader:
            row_no += 1
            if row_no == 1:
                columns = [c.strip().lower() for c in record]
                if "code" not in columns:
                    raise InvalidInput("the file needs a header row with a 'code' column")
                code_at = columns.index("code")
                password_at = columns.index("password") if "password" in columns else -1
                continue
            if not any(f.strip() for f in record):
                continue
            data_rows += 1
            if data_rows > max_rows:
                raise InvalidInput(f"the file has more than {max_rows} rows")
            code = record[code_at] if code_at < len(record) else ""
            password = record[password_at] if 0 <= password_at < len(record) else ""
            checked = validate_row(row_no, code, password)
            if isinstance(checked, RejectedRow):
                rejected.append(checked)
            elif checked.code in seen:
                duplicates += 1
            else:
                seen.add(checked.code)
                rows.append(checked)
    except csv.Error:
        # csv's messages do not quote the data, but say only where reading stopped.
        raise InvalidInput(f"the file is not valid CSV (row {row_no + 1})") from None
    if row_no == 0:
        raise InvalidInput("the file is empty")
    return KeyFile(rows, rejected, duplicates)
