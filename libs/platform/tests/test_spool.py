"""The encrypted spool: what a job writes comes back byte for byte, seekable, and nothing readable is on disk."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from quanyi_platform.spool import CHUNK, EncryptedSpool, SpoolDamaged


def spooled(tmp_path: Path, data: bytes, piece: int = 7_001) -> EncryptedSpool:
    spool = EncryptedSpool(str(tmp_path))
    for i in range(0, len(data), piece):
        spool.write(data[i:i + piece])
    spool.finish()
    return spool


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_what_is_written_reads_back_exactly_and_seeks_anywhere(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    spool = spooled(tmp_path, data)
    with spool.open() as fh:
        assert fh.read() == data
        for at in {0, size // 2, max(0, size - 3), CHUNK - 2}:
            fh.seek(at)
            assert fh.read(5) == data[at:at + 5]
        fh.seek(-2, io.SEEK_END)
        assert (fh.tell(), fh.read()) == (max(0, size - 2), data[max(0, size - 2):])
    assert spool.size == size
    spool.close()
    assert not spool.path.exists()


def test_the_file_on_disk_holds_no_plaintext(tmp_path: Path) -> None:
    data = b"code,password\n" + b"".join(b"CARD-%08d,PW-%08d\n" % (i, i) for i in range(20_000))
    spool = spooled(tmp_path, data)
    on_disk = spool.path.read_bytes()
    assert b"CARD-" not in on_disk and b"code,password" not in on_disk
    spool.close()


def test_a_changed_or_cut_short_file_does_not_read(tmp_path: Path) -> None:
    data = os.urandom(2 * CHUNK + 100)
    spool = spooled(tmp_path, data)
    raw = bytearray(spool.path.read_bytes())
    raw[10] ^= 1
    spool.path.write_bytes(bytes(raw))
    with spool.open() as fh, pytest.raises(SpoolDamaged):
        fh.read()
    spool.close()
    cut = spooled(tmp_path, data)
    whole = cut.path.read_bytes()
    cut.path.write_bytes(whole[: 2 * (CHUNK + 16)])  # the last chunk dropped: the new last one says it is not
    with cut.open() as fh, pytest.raises(SpoolDamaged):
        fh.read()
    cut.close()


def test_a_zip_is_read_through_seeks(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("a.txt", "x" * 300_000)
        z.writestr("b.txt", "y")
    spool = spooled(tmp_path, buffer.getvalue())
    with spool.open() as fh, zipfile.ZipFile(fh) as z:
        assert z.read("b.txt") == b"y" and len(z.read("a.txt")) == 300_000
    spool.close()


def test_closing_an_unfinished_spool_deletes_it(tmp_path: Path) -> None:
    spool = EncryptedSpool(str(tmp_path))
    spool.write(b"half")
    spool.close()
    assert list(tmp_path.iterdir()) == []
