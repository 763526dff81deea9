"""Key file imports as jobs: an upload is spooled to local disk (encrypted: it holds card keys), then
imported by inventory in the background while its progress can be asked for.

A job runs in this gateway process, under an id it gives inventory, which records the job's progress and
outcome (KeyFileImportStarted ... Finished) once the file has reached it: a job this process does not know
(it restarted, or another gateway started it) is asked of inventory (`KeyFileHistory`). At most `kept`
finished jobs are remembered here.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO, Literal, Protocol

from quanyi_platform.envelope import new_event_id

from quanyi_gateway.application.model import Money

log = logging.getLogger(__name__)

JobStatus = Literal["running", "done", "failed"]


@dataclass(frozen=True)
class KeyFileRequest:
    pool_id: str
    file_name: str
    format: str
    mode: str
    unit_cost: Money
    actor: str


@dataclass(frozen=True)
class KeyFileProgress:
    stage: str
    rows_read: int
    bytes_read: int
    bytes_total: int


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass(frozen=True)
class KeyFileOutcome:
    batch_id: str
    imported: int
    duplicates_in_file: int
    duplicates_in_pool: int
    rejected: int
    rows: int
    file_sha256: str
    aborted: bool
    bad_rows: list[BadRow]


class KeyFileRefused(Exception):
    """Inventory refused the file as a whole (unknown pool, unreadable file); the message is safe to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SpooledUpload(Protocol):
    """An upload on local disk (quanyi_platform.spool.EncryptedSpool): read by `open`, deleted by `close`."""

    def open(self) -> BinaryIO: ...

    def close(self) -> None: ...


class KeyFileImporter(Protocol):
    """Inventory's ImportKeyFile: streams the spooled file as job `job_id` and reports progress as
    inventory reads it."""

    async def run(
        self, request: KeyFileRequest, upload: SpooledUpload, on_progress: Callable[[KeyFileProgress], None],
        job_id: str,
    ) -> KeyFileOutcome:
        """The outcome; KeyFileRefused when inventory refuses the file as a whole."""
        ...


class KeyFileHistory(Protocol):
    """The jobs inventory recorded (GetKeyFileImport, ListKeyFileImports)."""

    async def get(self, job_id: str) -> KeyFileJob | None:
        """The job; None when inventory has no record of it."""
        ...

    async def recent(self, limit: int) -> list[KeyFileJob]:
        """Up to `limit` jobs, newest first, without their bad rows."""
        ...


@dataclass
class KeyFileJob:
    job_id: str
    pool_id: str
    file_name: str
    actor: str
    bytes_total: int
    created_at: datetime
    status: JobStatus = "running"
    stage: str = "queued"
    rows_read: int = 0
    bytes_read: int = 0
    finished_at: datetime | None = None
    outcome: KeyFileOutcome | None = None
    error: str = ""
    error_status: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class KeyFileJobs:
    def __init__(
        self, importer: KeyFileImporter, kept: int = 200, history: KeyFileHistory | None = None
    ) -> None:
        self._importer = importer
        self._kept = kept
        self._history = history
        self._jobs: OrderedDict[str, KeyFileJob] = OrderedDict()

    def get(self, job_id: str) -> KeyFileJob | None:
        return self._jobs.get(job_id)

    def list(self) -> list[KeyFileJob]:
        """The jobs remembered, newest first."""
        return list(reversed(self._jobs.values()))

    async def find(self, job_id: str) -> KeyFileJob | None:
        """The job, from this process while it remembers it, else as inventory recorded it."""
        job = self._jobs.get(job_id)
        if job is None and self._history is not None:
            job = await self._history.get(job_id)
        return job

    async def everything(self) -> builtins.list[KeyFileJob]:
        """The jobs this process remembers and those inventory recorded, newest first."""
        mine = self.list()
        if self._history is None:
            return mine
        known = {j.job_id for j in mine}
        try:
            recent = await self._history.recent(self._kept)
        except Exception:  # the list still shows this process's jobs while inventory cannot answer
            log.warning("inventory's record of import jobs is unavailable", exc_info=True)
            recent = []
        recorded = [j for j in recent if j.job_id not in known]
        return sorted([*mine, *recorded], key=lambda j: j.created_at, reverse=True)

    def start(self, request: KeyFileRequest, upload: SpooledUpload, size: int) -> KeyFileJob:
        """Run the import of the spooled `upload` (deleted when the job ends) in the background."""
        job = KeyFileJob(new_event_id(), request.pool_id, request.file_name, request.actor, size,
                         datetime.now(UTC))
        self._jobs[job.job_id] = job
        self._forget_old()
        job.task = asyncio.create_task(self._run(job, request, upload), name=f"key-file-{job.job_id}")
        return job

    async def _run(self, job: KeyFileJob, request: KeyFileRequest, upload: SpooledUpload) -> None:
        def progress(p: KeyFileProgress) -> None:
            job.stage, job.rows_read, job.bytes_read = p.stage, p.rows_read, p.bytes_read
            job.bytes_total = p.bytes_total or job.bytes_total

        try:
            job.outcome = await self._importer.run(request, upload, progress, job.job_id)
            job.status, job.stage = "done", "done"
            job.rows_read = job.outcome.rows
        except KeyFileRefused as exc:
            job.status, job.error, job.error_status = "failed", str(exc), exc.status
        except asyncio.CancelledError:
            job.status, job.error, job.error_status = "failed", "the gateway stopped during the import", 503
            raise
        except Exception:
            log.exception("key file import failed", extra={"job_id": job.job_id})
            job.status, job.error, job.error_status = "failed", "the import failed; try again", 503
        finally:
            job.finished_at = datetime.now(UTC)
            upload.close()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.status != "running"]
        for job in finished[: max(0, len(finished) - self._kept)]:
            del self._jobs[job.job_id]

    async def close(self) -> None:
        """Cancel the running jobs and wait for them."""
        tasks = [j.task for j in self._jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
