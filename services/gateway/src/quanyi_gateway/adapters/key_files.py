"""The KeyFileImporter port on inventory's ImportKeyFile stream: the file goes in chunks read from its
encrypted spool (flat memory), progress and the outcome come back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC

import grpc
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from quanyi_gateway.adapters.mappers import money_pb
from quanyi_gateway.application.key_files import (
    BadRow,
    KeyFileJob,
    KeyFileOutcome,
    KeyFileProgress,
    KeyFileRefused,
    KeyFileRequest,
    SpooledUpload,
)

CHUNK_BYTES = 1024 * 1024
_MODES = {"all_or_nothing": pb.IMPORT_MODE_ALL_OR_NOTHING, "valid_rows": pb.IMPORT_MODE_VALID_ROWS}
# A refusal of the file as a whole, as the HTTP status the route answers with.
_REFUSALS = {grpc.StatusCode.INVALID_ARGUMENT: 422, grpc.StatusCode.NOT_FOUND: 404,
             grpc.StatusCode.FAILED_PRECONDITION: 409}


class GrpcKeyFileImporter:
    def __init__(self, stub: pb_grpc.InventoryServiceStub, timeout_s: float) -> None:
        self._stub = stub
        self._timeout_s = timeout_s

    async def run(
        self, request: KeyFileRequest, upload: SpooledUpload, on_progress: Callable[[KeyFileProgress], None],
        job_id: str,
    ) -> KeyFileOutcome:
        async def messages() -> AsyncIterator[pb.ImportKeyFileRequest]:
            yield pb.ImportKeyFileRequest(
                header=pb.ImportKeyFileHeader(
                    pool_id=request.pool_id, format=request.format, file_name=request.file_name,
                    unit_cost=money_pb(request.unit_cost), actor=request.actor,
                    mode=_MODES.get(request.mode, pb.IMPORT_MODE_ALL_OR_NOTHING), job_id=job_id,
                )
            )
            with upload.open() as fh:
                while chunk := fh.read(CHUNK_BYTES):
                    yield pb.ImportKeyFileRequest(chunk=chunk)

        result: pb.ImportKeyFileResult | None = None
        try:
            call = self._stub.ImportKeyFile(messages(), timeout=self._timeout_s)
            async for reply in call:
                on_progress(
                    KeyFileProgress(reply.stage, reply.rows_read, reply.bytes_read, reply.bytes_total)
                )
                if reply.HasField("result"):
                    result = reply.result
        except grpc.aio.AioRpcError as exc:
            status = _REFUSALS.get(exc.code())
            if status is None:
                raise
            raise KeyFileRefused(status, exc.details() or "the file was refused") from None
        if result is None:
            raise RuntimeError("inventory ended the import without a result")
        return _outcome(result)

    async def get(self, job_id: str) -> KeyFileJob | None:
        """The job as inventory recorded it (KeyFileHistory)."""
        try:
            reply = await self._stub.GetKeyFileImport(pb.GetKeyFileImportRequest(job_id=job_id), timeout=10)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT,
                              grpc.StatusCode.UNIMPLEMENTED):  # UNIMPLEMENTED: an inventory without jobs
                return None
            raise
        return _job(reply.job)

    async def recent(self, limit: int) -> list[KeyFileJob]:
        reply = await self._stub.ListKeyFileImports(pb.ListKeyFileImportsRequest(limit=limit), timeout=10)
        return [_job(j) for j in reply.jobs]


def _outcome(result: pb.ImportKeyFileResult) -> KeyFileOutcome:
    return KeyFileOutcome(
        result.batch_id, result.imported, result.duplicates_in_file, result.duplicates_in_pool,
        result.rejected, result.rows, result.file_sha256, result.aborted,
        [BadRow(b.line, b.reason) for b in result.bad_rows],
    )


def _job(j: pb.KeyFileImport) -> KeyFileJob:
    status = j.status if j.status in ("running", "done", "failed") else "failed"
    return KeyFileJob(
        j.job_id, j.pool_id, j.file_name, j.actor, int(j.bytes_total), j.created_at.ToDatetime(tzinfo=UTC),
        status=status,  # type: ignore[arg-type]
        stage=j.stage, rows_read=int(j.rows_read), bytes_read=int(j.bytes_read),
        finished_at=j.finished_at.ToDatetime(tzinfo=UTC) if j.HasField("finished_at") else None,
        outcome=_outcome(j.result) if j.HasField("result") else None,
        error=j.error, error_status=422 if status == "failed" else 0,
    )
