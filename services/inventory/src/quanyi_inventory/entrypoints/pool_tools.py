"""The operator tools on the wire (a mixin of InventoryServicer): VoidBatch, RestoreBatch, MoveBatch,
ListBatches, ExportKeys, ListPoolOperations. Translation and error mapping only; codes appear only in
ExportKeys' answer when asked for, and never in an error or a log line."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.inventory.v1 import inventory_service_pb2 as pb

from quanyi_inventory.application import batches
from quanyi_inventory.application.ports import InventoryUnitOfWork, KeyFilter, Keys
from quanyi_inventory.domain.batches import BatchStateConflict
from quanyi_inventory.domain.errors import InvalidInput, NotFound

MAX_PAGE = 200
# An export of named keys names at most this many.
MAX_KEY_IDS = 1000


def _ts(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    t = Timestamp()
    t.FromDatetime(at.astimezone(UTC))
    return t


def _page_size(n: int) -> int:
    return 50 if n <= 0 else min(n, MAX_PAGE)


async def _abort(context: grpc.aio.ServicerContext, exc: Exception) -> None:
    if isinstance(exc, NotFound):
        await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
    if isinstance(exc, BatchStateConflict):
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))


class PoolTools:
    _uow: Callable[[], InventoryUnitOfWork]
    _keyring: Keys

    async def VoidBatch(
        self, request: pb.VoidBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.VoidBatchResponse:
        try:
            n = await batches.void_batch(self._uow(), request.batch_id, request.actor, request.reason)
        except (NotFound, BatchStateConflict, InvalidInput) as exc:
            await _abort(context, exc)
            raise
        return pb.VoidBatchResponse(keys=n)

    async def RestoreBatch(
        self, request: pb.RestoreBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.RestoreBatchResponse:
        try:
            n = await batches.restore_batch(self._uow(), request.batch_id, request.actor)
        except (NotFound, BatchStateConflict, InvalidInput) as exc:
            await _abort(context, exc)
            raise
        return pb.RestoreBatchResponse(keys=n)

    async def MoveBatch(
        self, request: pb.MoveBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.MoveBatchResponse:
        try:
            n = await batches.move_batch(self._uow(), request.batch_id, request.to_pool_id, request.actor)
        except (NotFound, BatchStateConflict, InvalidInput) as exc:
            await _abort(context, exc)
            raise
        return pb.MoveBatchResponse(keys=n)

    async def ListBatches(
        self, request: pb.ListBatchesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBatchesResponse:
        size = _page_size(request.page_size)
        page = await batches.list_batches(
            self._uow(), request.pool_id, request.voided_only, request.page_token, size + 1
        )
        more = len(page) > size
        page = page[:size]
        return pb.ListBatchesResponse(
            batches=[
                pb.KeyBatch(
                    batch_id=b.batch_id, pool_id=b.pool_id, sku_id=b.sku_id, imported=b.imported,
                    actor=b.actor,
                    imported_at=_ts(b.imported_at), file_sha256=b.file_sha256, file_name=b.file_name,
                    voided=b.voided, keys_by_state=b.keys_by_state,
                )
                for b in page
            ],
            next_page_token=page[-1].batch_id if more and page else "",
        )

    async def ExportKeys(
        self, request: pb.ExportKeysRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ExportKeysResponse]:
        if len(request.key_ids) > MAX_KEY_IDS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_KEY_IDS} key_ids")
        selected = KeyFilter(
            request.batch_id, request.pool_id, request.state,
            request.expires_before.ToDatetime(tzinfo=UTC) if request.HasField("expires_before") else None,
            tuple(request.key_ids),
        )
        try:
            async for page in batches.export_keys(
                self._uow, self._keyring, selected, with_codes=request.with_codes, actor=request.actor
            ):
                yield pb.ExportKeysResponse(
                    keys=[
                        pb.ExportedKey(
                            key_id=k.key.key_id, batch_id=k.key.batch_id, pool_id=k.key.pool_id,
                            sku_id=k.key.sku_id, state=k.key.state, valid_from=_ts(k.key.valid_from),
                            expires_at=_ts(k.key.expires_at), order_id=k.key.order_id, code=k.code,
                            password=k.password,
                        )
                        for k in page
                    ]
                )
        except InvalidInput as exc:
            await _abort(context, exc)

    async def ListPoolOperations(
        self, request: pb.ListPoolOperationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPoolOperationsResponse:
        size = _page_size(request.page_size)
        before = _cursor(request.page_token)
        if request.page_token and before is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad page_token")
        page = await batches.operations(self._uow(), request.pool_id, before, size + 1)
        more = len(page) > size
        page = page[:size]
        token = ""
        if more and page:
            last = page[-1]
            token = base64.urlsafe_b64encode(f"{last.at.isoformat()}|{last.operation_id}".encode()).decode()
        return pb.ListPoolOperationsResponse(
            operations=[
                pb.PoolOperation(
                    operation_id=o.operation_id, at=_ts(o.at), action=o.action, actor=o.actor,
                    pool_id=o.pool_id,
                    sku_id=o.sku_id, batch_id=o.batch_id, keys=o.keys, detail=o.detail,
                )
                for o in page
            ],
            next_page_token=token,
        )


def _cursor(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        at, op = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), op
    except (ValueError, UnicodeDecodeError):
        return None
