"""An uploaded key file is on disk only encrypted while its import job runs, and gone when it ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from quanyi_gateway.application.key_files import (
    KeyFileJobs,
    KeyFileOutcome,
    KeyFileProgress,
    KeyFileRequest,
    SpooledUpload,
)
from quanyi_gateway.application.model import Money
from quanyi_platform.spool import EncryptedSpool

CODES = b"code\n" + b"".join(b"SECRET-CARD-%06d\n" % i for i in range(5_000))


class PeekingImporter:
    """Reads the upload as inventory would, and what the disk holds meanwhile."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.on_disk: list[bytes] = []
        self.read = b""

    async def run(
        self, request: KeyFileRequest, upload: SpooledUpload, on_progress: Callable[[KeyFileProgress], None]
    ) -> KeyFileOutcome:
        self.on_disk = [p.read_bytes() for p in self.directory.iterdir()]
        with upload.open() as fh:
            self.read = fh.read()
        return KeyFileOutcome("b-1", 5_000, 0, 0, 0, 5_000, "sha", False, [])


async def test_the_spool_holds_no_plaintext_while_the_job_runs_and_is_deleted_after(tmp_path: Path) -> None:
    importer = PeekingImporter(tmp_path)
    jobs = KeyFileJobs(importer)
    spool = EncryptedSpool(str(tmp_path), prefix="quanyi-upload-")
    for i in range(0, len(CODES), 4096):
        spool.write(CODES[i:i + 4096])
    spool.finish()
    job = jobs.start(KeyFileRequest("pool", "keys.csv", "", "all_or_nothing", Money(100, "CNY"), "ops"), spool,
                     spool.size)
    assert job.task is not None
    await asyncio.wait_for(job.task, 10)
    assert job.status == "done" and importer.read == CODES
    assert len(importer.on_disk) == 1 and b"SECRET-CARD" not in importer.on_disk[0]
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 (a test's temporary directory)
