"""Reading key files row by row, in flat memory: CSV and TSV (csv module over a streamed file), XLSX
(openpyxl in read-only mode, which streams the sheet's XML) and plain text (one code per line).

Each reader yields (line number, fields as text). Errors name a line, never a field's content.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Generator, Iterator
from datetime import date, datetime, time
from typing import IO, Any, BinaryIO

from quanyi_platform.spool import EncryptedSpool, SpoolDamaged

from quanyi_inventory.domain.errors import InvalidInput
from quanyi_inventory.domain.keyrows import Columns, is_blank

Record = tuple[int, list[str]]
Records = Generator[Record, None, None]


class KeyFileReader:
    """The rows of one file (`open` gives its bytes, a new seekable binary file each call); `columns` after
    the header; `position` is how far into the file (bytes) it has read (approximate, for progress; 0
    where unknown)."""

    def __init__(self, open: Callable[[], BinaryIO], fmt: str) -> None:
        self._open = open
        self._fmt = fmt
        self._fh: IO[Any] | None = None
        self.columns = Columns.code_only()

    @property
    def position(self) -> int:
        fh = self._fh
        if fh is None or fh.closed:
            return 0
        try:
            buffer = getattr(fh, "buffer", fh)
            return int(buffer.tell())
        except (OSError, ValueError):
            return 0

    def rows(self) -> Iterator[Record]:
        """The data rows, blank ones skipped; the header (if the format has one) sets `columns`."""
        records: Records
        if self._fmt == "xlsx":
            records = self._xlsx()
        elif self._fmt == "txt":
            records = self._text()
        else:
            records = self._delimited("\t" if self._fmt == "tsv" else ",")
        try:
            if self._fmt != "txt":
                for _line, header in records:
                    if is_blank(header):
                        continue
                    self.columns = Columns.from_header(header)
                    break
                else:
                    raise InvalidInput("the file is empty")
            for line, record in records:
                if not is_blank(record):
                    yield line, record
        finally:
            records.close()

    def _delimited(self, delimiter: str) -> Records:
        with io.TextIOWrapper(self._open(), encoding="utf-8-sig", newline="") as fh:
            self._fh = fh
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            try:
                for record in reader:
                    yield reader.line_num, record
            except csv.Error:
                raise InvalidInput(f"the file is not valid CSV (line {reader.line_num + 1})") from None
            except SpoolDamaged:
                raise InvalidInput("the received file was damaged on disk; upload it again") from None
            except UnicodeDecodeError:
                raise InvalidInput(f"the file is not UTF-8 text (near line {reader.line_num + 1})") from None

    def _text(self) -> Records:
        with io.TextIOWrapper(self._open(), encoding="utf-8-sig", newline=None) as fh:
            self._fh = fh
            line = 0
            try:
                for line, text in enumerate(fh, start=1):
                    yield line, [text.rstrip("\r\n")]
            except UnicodeDecodeError:
                raise InvalidInput(f"the file is not UTF-8 text (near line {line + 1})") from None
            except SpoolDamaged:
                raise InvalidInput("the received file was damaged on disk; upload it again") from None

    def _xlsx(self) -> Records:
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        with self._open() as fh:
            self._fh = fh
            try:
                book = load_workbook(fh, read_only=True, data_only=True)
            except (InvalidFileException, KeyError, OSError, ValueError):
                raise InvalidInput("the file is not an XLSX workbook") from None
            except Exception:  # zipfile.BadZipFile and XML errors of a damaged file
                raise InvalidInput("the file is not an XLSX workbook") from None
            try:
                sheet = book.worksheets[0] if book.worksheets else None
                if sheet is None:
                    raise InvalidInput("the workbook has no sheet")
                for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                    yield line, [_cell(v) for v in values]
            finally:
                book.close()


def _cell(value: object) -> str:
    """A cell as the text a CSV would hold: whole numbers without '.0', times in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


class SpooledFile:
    """A received file on local disk, with its SHA-256 and size; removed by `close`. It holds card keys, so
    it is written encrypted under a key of its own that only this process holds (EncryptedSpool)."""

    def __init__(self, directory: str | None = None) -> None:
        self._spool = EncryptedSpool(directory, prefix="quanyi-keys-")
        self._hash = hashlib.sha256()

    @property
    def size(self) -> int:
        return self._spool.size

    def write(self, chunk: bytes) -> None:
        self._spool.write(chunk)
        self._hash.update(chunk)

    def finish(self) -> None:
        self._spool.finish()

    def open(self) -> BinaryIO:
        """The file's bytes, decrypted as they are read."""
        return self._spool.open()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        self._spool.close()
