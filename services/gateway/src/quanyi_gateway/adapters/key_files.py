"""The KeyFileImporter port on inventory's ImportKeyFile stream: the file goes in chunks read from its
encrypted spool (flat memory), progress and the outcome come back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from quanyi_gateway.adapters.mappers import money_pb
from quanyi_gateway.application.key_files import (
    BadRow,
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
        self, request: KeyFileRequest, upload: SpooledUpload, on_progress: Callable[[KeyFileProgress], None]
    ) -> KeyFileOutcome:
        async def messages() -> AsyncIterator[pb.ImportKeyFileRequest]:
            yield pb.ImportKeyFileRequest(
                header=pb.ImportKeyFileHeader(
                    pool_id=request.pool_id, format=request.format, file_name=request.file_name,
                    unit_cost=money_pb(request.unit_cost), actor=request.actor,
                    mode=_MODES.get(request.mode, pb.IMPORT_MODE_ALL_OR_NOTHING),
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
        return KeyFileOutcome(
            result.batch_id, result.imported, result.duplicates_in_file, result.duplicates_in_pool,
            result.rejected, result.rows, result.file_sha256, result.aborted,
            [BadRow(b.line, b.reason) for b in result.bad_rows],
        )
