"""An uploaded key file is on disk only encrypted while its import job runs, and gone when it ends; a job
this gateway does not remember (it restarted) is answered from inventory's record."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from quanyi_gateway.application.key_files import (
    KeyFileJob,
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
        self, request: KeyFileRequest, upload: SpooledUpload, on_progress: Callable[[KeyFileProgress], None],
        job_id: str,
    ) -> KeyFileOutcome:
        self.job_id = job_id
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
    assert job.status == "done" and importer.read == CODES and importer.job_id == job.job_id
    assert len(importer.on_disk) == 1 and b"SECRET-CARD" not in importer.on_disk[0]
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 (a test's temporary directory)


class Recorded:
    """Inventory's record of jobs, as a restarted gateway finds it."""

    def __init__(self, *jobs: KeyFileJob) -> None:
        self.jobs = {j.job_id: j for j in jobs}

    async def get(self, job_id: str) -> KeyFileJob | None:
        return self.jobs.get(job_id)

    async def recent(self, limit: int) -> list[KeyFileJob]:
        return sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)[:limit]


async def test_a_job_this_gateway_does_not_remember_is_answered_from_inventorys_record(tmp_path: Path) -> None:
    earlier = KeyFileJob("j-old", "pool", "keys.csv", "ops", 10, datetime(2026, 11, 30, tzinfo=UTC),
                         status="done", stage="done", rows_read=3)
    jobs = KeyFileJobs(PeekingImporter(tmp_path), history=Recorded(earlier))
    assert await jobs.find("j-old") == earlier
    assert await jobs.find("j-unknown") is None
    spool = EncryptedSpool(str(tmp_path))
    spool.write(b"code\nA\n")
    spool.finish()
    running = jobs.start(KeyFileRequest("pool", "k.csv", "", "all_or_nothing", Money(1, "CNY"), "ops"), spool, 8)
    assert [j.job_id for j in await jobs.everything()] == [running.job_id, "j-old"]
    assert running.task is not None
    await asyncio.wait_for(running.task, 10)
