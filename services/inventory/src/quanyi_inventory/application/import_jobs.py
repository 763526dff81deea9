"""Key file import jobs, recorded by inventory so that their progress and outcome outlive the caller: each
job is its own KeyFileImport stream, written by the one call that runs the import."""

from __future__ import annotations

import time
from collections.abc import Callable

from quanyi_platform.envelope import new_event_id
from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_inventory.application.import_file import FileImportResult
from quanyi_inventory.application.ports import Context, ImportJob, InventoryUnitOfWork
from quanyi_inventory.domain.errors import AlreadyExists, InvalidInput, NotFound
from quanyi_inventory.domain.events import (
    KEY_FILE_IMPORT,
    Event,
    ImportBadRow,
    KeyFileImportFinished,
    KeyFileImportProgressed,
    KeyFileImportStarted,
    Recorded,
)

MAX_ERROR = 500
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def job_id_of(asked: str) -> str:
    """The caller's job id (at most 64 of [A-Za-z0-9_-]), or a new one when it gives none."""
    if not asked:
        return new_event_id()
    if len(asked) > 64 or not set(asked) <= _ALLOWED:
        raise InvalidInput("a job id is at most 64 letters, digits, '_' or '-'")
    return asked


class JobRecord:
    """The record of one job: started once, progress at most every `every_s` seconds, finished once.
    Each is its own short unit of work, apart from the import's (its progress is visible while it runs)."""

    def __init__(
        self,
        uow: Callable[[], InventoryUnitOfWork],
        job_id: str,
        every_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = job_id
        self._uow = uow
        self._every_s = every_s
        self._clock = clock
        self._version = 0
        self._last = 0.0
        self.finished = False

    async def _record(self, event: Event) -> None:
        async with self._uow() as uow:
            await uow.record([Recorded(KEY_FILE_IMPORT, self.job_id, self._version + 1, event)],
                             Context(self.job_id))
            await uow.commit()
        self._version += 1

    async def start(self, pool_id: str, file_name: str, actor: str, bytes_total: int) -> None:
        """KeyFileImportStarted; AlreadyExists when the job id was used before."""
        try:
            await self._record(KeyFileImportStarted(self.job_id, pool_id, file_name, actor, bytes_total))
        except ConcurrencyConflict:
            raise AlreadyExists("an import job with this id exists already") from None
        self._last = self._clock()

    async def progress(self, stage: str, rows_read: int, bytes_read: int) -> None:
        """KeyFileImportProgressed, unless one was recorded less than `every_s` ago."""
        if self._version == 0 or self.finished or self._clock() - self._last < self._every_s:
            return
        self._last = self._clock()
        await self._record(KeyFileImportProgressed(self.job_id, stage, rows_read, bytes_read))

    async def finish(self, result: FileImportResult) -> None:
        if self._version == 0 or self.finished:
            return
        self.finished = True
        await self._record(KeyFileImportFinished(
            self.job_id, False, "", result.batch_id, result.imported, result.duplicates_in_file,
            result.duplicates_in_pool, result.rejected, result.rows, result.file_sha256, result.aborted,
            tuple(ImportBadRow(b.row, b.reason) for b in result.bad_rows),
        ))

    async def fail(self, error: str) -> None:
        """KeyFileImportFinished as failed (`error` must be safe to show: never a key)."""
        if self._version == 0 or self.finished:
            return
        self.finished = True
        await self._record(KeyFileImportFinished(self.job_id, True, error[:MAX_ERROR]))


async def get_job(uow: InventoryUnitOfWork, job_id: str) -> ImportJob:
    async with uow:
        job = await uow.import_jobs.get(job_id)
    if job is None:
        raise NotFound("no such import job")
    return job


async def recent_jobs(uow: InventoryUnitOfWork, limit: int) -> list[ImportJob]:
    async with uow:
        return await uow.import_jobs.recent(max(1, min(limit or 50, 500)))
