"""A file spooled to local disk encrypted, for the time a job needs it: key files hold card-key plaintext.

`EncryptedSpool` seals what is written in fixed-size chunks with AES-256-GCM under a key made for this spool
alone and held only in memory, so the file on disk is unreadable to anyone who finds it (a crash, a backup
of the spool directory, another process) and useless once the process has forgotten the key; `close`
deletes it. `open()` reads it back as a seekable binary file (CSV readers stream it, openpyxl seeks in an
XLSX's zip), decrypting one chunk at a time: memory stays flat whatever the file's size.

Each chunk's nonce is its index, and its associated data the index and whether it is the last chunk, so
chunks cannot be reordered, dropped or cut off without the read failing (`SpoolDamaged`).
"""

from __future__ import annotations

import io
import secrets
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHUNK = 64 * 1024
_TAG = 16


class SpoolDamaged(Exception):
    """The spooled file does not decrypt: it was changed, cut short or reordered on disk."""


def _nonce(index: int) -> bytes:
    return b"\x00\x00\x00\x00" + struct.pack(">Q", index)


def _aad(index: int, last: bool) -> bytes:
    return struct.pack(">Q?", index, last)


class EncryptedSpool:
    """Write the file with `write`, end it with `finish`, read it with `open` (as often as needed), and
    `close` to delete it (also when never finished). `size` is the plaintext's length."""

    def __init__(self, directory: str | None = None, prefix: str = "quanyi-spool-") -> None:
        self._aead = AESGCM(secrets.token_bytes(32))
        handle = tempfile.NamedTemporaryFile(prefix=prefix, dir=directory, delete=False)
        self._fh: BinaryIO | None = handle  # type: ignore[assignment]
        self.path = Path(handle.name)
        self._pending = bytearray()
        self._chunks = 0
        self.size = 0
        self.finished = False

    def write(self, data: bytes) -> None:
        if self._fh is None or self.finished:
            raise ValueError("the spool is finished or closed")
        self._pending += data
        self.size += len(data)
        # Keep the last full chunk back until more comes: only `finish` knows which chunk is the last.
        while len(self._pending) > CHUNK:
            self._seal(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]

    def finish(self) -> None:
        """Seal what is left as the last chunk (possibly empty) and close the file for writing."""
        if self._fh is None or self.finished:
            return
        self._seal(bytes(self._pending), last=True)
        self._pending.clear()
        self._fh.close()
        self.finished = True

    def _seal(self, plain: bytes, last: bool) -> None:
        assert self._fh is not None
        self._fh.write(self._aead.encrypt(_nonce(self._chunks), plain, _aad(self._chunks, last)))
        self._chunks += 1

    def open(self) -> io.BufferedReader:
        """The plaintext, as a seekable binary file (close it when done)."""
        if not self.finished:
            raise ValueError("finish the spool before reading it")
        return io.BufferedReader(_Reader(self.path, self._aead, self._chunks, self.size), buffer_size=CHUNK)

    def close(self) -> None:
        """Forget the key and delete the file."""
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
        self._fh = None
        self._pending.clear()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> EncryptedSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Reader(io.RawIOBase):
    """Random access to the plaintext of a finished spool, one decrypted chunk held at a time."""

    def __init__(self, path: Path, aead: AESGCM, chunks: int, size: int) -> None:
        super().__init__()
        self._fh = path.open("rb")
        self._aead = aead
        self._chunks = chunks
        self._size = size
        self._pos = 0
        self._index = -1
        self._plain = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _chunk(self, index: int) -> bytes:
        if index != self._index:
            self._fh.seek(index * (CHUNK + _TAG))
            sealed = self._fh.read(CHUNK + _TAG)
            try:
                aad = _aad(index, index == self._chunks - 1)
                self._plain = self._aead.decrypt(_nonce(index), sealed, aad)
            except InvalidTag:
                raise SpoolDamaged("the spooled file does not decrypt") from None
            self._index = index
        return self._plain

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._pos >= self._size:
            return 0
        index, offset = divmod(self._pos, CHUNK)
        plain = self._chunk(index)
        n = min(len(buffer), len(plain) - offset)
        buffer[:n] = plain[offset:offset + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()

