"""The key file import jobs' events <-> protobuf."""

from __future__ import annotations

from google.protobuf.message import Message
from quanyi.inventory.v1 import events_pb2 as pb

from quanyi_inventory.domain.events import (
    ImportBadRow,
    KeyFileImportFinished,
    KeyFileImportProgressed,
    KeyFileImportStarted,
)

JobEvent = KeyFileImportStarted | KeyFileImportProgressed | KeyFileImportFinished
PROTOS = (pb.KeyFileImportStarted, pb.KeyFileImportProgressed, pb.KeyFileImportFinished)


def job_event_to_proto(event: JobEvent) -> Message:
    if isinstance(event, KeyFileImportStarted):
        return pb.KeyFileImportStarted(
            job_id=event.job_id, pool_id=event.pool_id, file_name=event.file_name, actor=event.actor,
            bytes_total=event.bytes_total,
        )
    if isinstance(event, KeyFileImportProgressed):
        return pb.KeyFileImportProgressed(
            job_id=event.job_id, stage=event.stage, rows_read=event.rows_read, bytes_read=event.bytes_read
        )
    return pb.KeyFileImportFinished(
        job_id=event.job_id, failed=event.failed, error=event.error, batch_id=event.batch_id,
        imported=event.imported, duplicates_in_file=event.duplicates_in_file,
        duplicates_in_pool=event.duplicates_in_pool, rejected=event.rejected, rows=event.rows,
        file_sha256=event.file_sha256, aborted=event.aborted,
        bad_rows=[pb.ImportBadRow(line=b.line, reason=b.reason) for b in event.bad_rows],
    )


def job_event_from_proto(m: Message) -> JobEvent:
    if isinstance(m, pb.KeyFileImportStarted):
        return KeyFileImportStarted(m.job_id, m.pool_id, m.file_name, m.actor, int(m.bytes_total))
    if isinstance(m, pb.KeyFileImportProgressed):
        return KeyFileImportProgressed(m.job_id, m.stage, int(m.rows_read), int(m.bytes_read))
    if isinstance(m, pb.KeyFileImportFinished):
        return KeyFileImportFinished(
            m.job_id, m.failed, m.error, m.batch_id, int(m.imported), int(m.duplicates_in_file),
            int(m.duplicates_in_pool), int(m.rejected), int(m.rows), m.file_sha256, m.aborted,
            tuple(ImportBadRow(int(b.line), b.reason) for b in m.bad_rows),
        )
    raise TypeError(f"not a key file import event: {type(m).__name__}")
