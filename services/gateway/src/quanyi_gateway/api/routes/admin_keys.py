"""Administration of card-key pools at scale: key file uploads run as jobs with progress, master-key
rotation, and the operator tools (the recycle bin of voided batches, exports, the operation log). Admin
role only; codes appear only in an export that asks for them, which inventory audits first."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi_platform.spool import EncryptedSpool

from quanyi_gateway.adapters.key_files import GrpcKeyFileImporter
from quanyi_gateway.api.deps import (
    AdminUser,
    Allowed,
    JsonBody,
    PeersDep,
    SettingsDep,
    ensure_allowed,
    get_current_admin,
)
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.application.key_files import KeyFileJob, KeyFileJobs, KeyFileRequest
from quanyi_gateway.application.model import Money
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.models import Currency

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(get_current_admin)],
    responses=responses(401, 403, 503),
)
PathId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
KEY_FILES_PATH = r"^/v1/admin/pools/[^/]+/key-files$"
_WRITE_BYTES = 1024 * 1024


async def get_key_file_jobs(request: Request) -> KeyFileJobs:
    """The gateway's job registry, made on first use from its inventory client."""
    jobs: KeyFileJobs | None = getattr(request.app.state, "key_file_jobs", None)
    if jobs is None:
        settings = request.app.state.settings
        importer = GrpcKeyFileImporter(
            request.app.state.resources.peers.inventory, settings.key_file_import_timeout_s
        )
        jobs = KeyFileJobs(importer, settings.key_file_jobs_kept, history=importer)
        request.app.state.key_file_jobs = jobs
    return jobs


KeyFileJobsDep = Annotated[KeyFileJobs, Depends(get_key_file_jobs)]


class BadRowPublic(BaseModel):
    line: int
    reason: str


class KeyFileResultPublic(BaseModel):
    batch_id: str = Field(description="Empty when nothing was stored.")
    imported: int
    duplicates_in_file: int
    duplicates_in_pool: int
    rejected: int
    rows: int
    file_sha256: str
    aborted: bool = Field(description="True when bad rows made an all-or-nothing import store nothing.")
    bad_rows: list[BadRowPublic] = Field(description="At most 1,000, in line order; all are counted.")


class KeyFileJobPublic(BaseModel):
    job_id: str
    pool_id: str
    file_name: str
    actor: str
    status: Literal["running", "done", "failed"]
    stage: str = Field(description="queued, received, reading, checking, storing or done.")
    rows_read: int
    bytes_read: int
    bytes_total: int
    created_at: datetime
    finished_at: datetime | None
    result: KeyFileResultPublic | None
    error: str = ""


class RotateMaster(BaseModel):
    master_key_id: str = Field(default="", max_length=64, description="Empty: inventory's active key.")


class RotationPublic(BaseModel):
    master_key_id: str
    rewrapped: int


def _job(job: KeyFileJob) -> KeyFileJobPublic:
    outcome = job.outcome
    result = None
    if outcome is not None:
        result = KeyFileResultPublic(
            batch_id=outcome.batch_id, imported=outcome.imported,
            duplicates_in_file=outcome.duplicates_in_file, duplicates_in_pool=outcome.duplicates_in_pool,
            rejected=outcome.rejected, rows=outcome.rows, file_sha256=outcome.file_sha256,
            aborted=outcome.aborted,
            bad_rows=[BadRowPublic(line=b.line, reason=b.reason) for b in outcome.bad_rows],
        )
    return KeyFileJobPublic(
        job_id=job.job_id, pool_id=job.pool_id, file_name=job.file_name, actor=job.actor,
        status=job.status, stage=job.stage, rows_read=job.rows_read, bytes_read=job.bytes_read,
        bytes_total=job.bytes_total, created_at=job.created_at, finished_at=job.finished_at,
        result=result, error=job.error,
    )


@router.post(
    "/pools/{pool_id}/key-files",
    dependencies=[Allowed(P.KEYS_WRITE)],
    status_code=202,
    responses=responses(404, 413, 422),
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}, "required": True}},
)
async def upload_key_file(
    pool_id: PathId,
    request: Request,
    response: Response,
    admin: AdminUser,
    settings: SettingsDep,
    jobs: KeyFileJobsDep,
    unit_cost_minor: Annotated[int, Query(ge=0, le=10**12)],
    currency: Annotated[Currency, Query()] = "CNY",
    file_name: Annotated[str, Query(max_length=200, pattern=r"^[^\x00-\x1f/\\]*$")] = "keys.csv",
    format: Annotated[Literal["", "csv", "tsv", "xlsx", "txt"], Query()] = "",
    mode: Annotated[Literal["all_or_nothing", "valid_rows"], Query()] = "all_or_nothing",
) -> KeyFileJobPublic:
    """Upload a key file (the request body: CSV, TSV, XLSX or one code per line) and import it as a job.

    Columns: code; optional password, face_value, unit_cost, valid_from, expires_at, supplier. The
    answer is the job; follow it at /v1/admin/key-files/{job_id}."""
    limit = settings.max_key_file_bytes
    # Encrypted under a key of its own, held only in memory, until the job ends: the file is card keys.
    spool = EncryptedSpool(settings.key_file_dir or None, prefix="quanyi-upload-")
    try:
        async for chunk in request.stream():
            if spool.size + len(chunk) > limit:
                raise Problem(413, f"the file is larger than {limit} bytes", slug="too-large")
            spool.write(chunk)
        spool.finish()
        if spool.size == 0:
            raise Problem(422, "the file is empty", slug="invalid-file")
        job = jobs.start(
            KeyFileRequest(pool_id, file_name, format, mode, Money(unit_cost_minor, currency), admin.actor),
            spool, spool.size,
        )
    except BaseException:
        spool.close()
        raise
    response.headers["Location"] = f"/v1/admin/key-files/{job.job_id}"
    return _job(job)


@router.get("/key-files", dependencies=[Allowed(P.KEYS_READ)], responses=responses())
async def list_key_file_jobs(jobs: KeyFileJobsDep) -> list[KeyFileJobPublic]:
    """The key file imports, newest first: those this gateway runs and those inventory recorded."""
    return [_job(j) for j in await jobs.everything()]


@router.get("/key-files/{job_id}", dependencies=[Allowed(P.KEYS_READ)], responses=responses(404))
async def key_file_job(job_id: PathId, jobs: KeyFileJobsDep) -> KeyFileJobPublic:
    """A key file import: its progress while it runs, then its outcome (bad rows by line and reason)."""
    job = await jobs.find(job_id)
    if job is None:
        raise Problem(404, "no such import job", slug="not-found")
    return _job(job)


@router.post(
    "/keys/rotate-master",
    dependencies=[Allowed(P.MASTER_KEY), JsonBody],
    responses=responses(409, 415, 422),
)
async def rotate_master_key(body: RotateMaster, admin: AdminUser, peers: PeersDep) -> RotationPublic:
    """Re-wrap every batch's data key under a master key inventory holds; card keys are not touched."""
    reply = await peers.inventory.RotateMasterKey(
        inventory_pb.RotateMasterKeyRequest(master_key_id=body.master_key_id, actor=admin.actor), timeout=300
    )
    return RotationPublic(master_key_id=reply.master_key_id, rewrapped=reply.rewrapped)


# -- operator tools: the recycle bin, exports, the operation log ---------------------------------------

KeyState = Literal["", "available", "reserved", "delivered", "redeemed", "expired", "void", "recycled"]
EXPORT_COLUMNS = ("key_id", "batch_id", "pool_id", "sku_id", "state", "valid_from", "expires_at", "order_id")


class BatchVoid(BaseModel):
    reason: str = Field(default="", max_length=500)


class BatchKeysPublic(BaseModel):
    batch_id: str
    keys: int = Field(description="Keys voided, or made available again.")


class KeyBatchPublic(BaseModel):
    batch_id: str
    pool_id: str
    sku_id: str
    imported: int
    actor: str
    imported_at: datetime
    file_sha256: str
    file_name: str
    voided: bool = Field(description="True while the batch is in the recycle bin.")
    keys_by_state: dict[str, int]


class KeyBatchesPublic(BaseModel):
    batches: list[KeyBatchPublic]
    next_page_token: str


class PoolOperationPublic(BaseModel):
    operation_id: str
    at: datetime
    action: str
    actor: str
    pool_id: str
    sku_id: str
    batch_id: str
    keys: int
    detail: str


class PoolOperationsPublic(BaseModel):
    operations: list[PoolOperationPublic]
    next_page_token: str


def _when(ts: Any) -> str:
    return ts.ToDatetime(tzinfo=UTC).isoformat() if ts.seconds or ts.nanos else ""


@router.post(
    "/batches/{batch_id}/void",
    dependencies=[Allowed(P.KEYS_WRITE), JsonBody],
    responses=responses(404, 409, 415, 422),
)
async def void_batch(batch_id: PathId, body: BatchVoid, admin: AdminUser, peers: PeersDep) -> BatchKeysPublic:
    """Void an import batch: its available keys leave sale and wait in the recycle bin."""
    reply = await peers.inventory.VoidBatch(
        inventory_pb.VoidBatchRequest(batch_id=batch_id, actor=admin.actor, reason=body.reason)
    )
    return BatchKeysPublic(batch_id=batch_id, keys=reply.keys)


@router.post(
    "/batches/{batch_id}/restore",
    dependencies=[Allowed(P.KEYS_WRITE)],
    responses=responses(404, 409),
)
async def restore_batch(batch_id: PathId, admin: AdminUser, peers: PeersDep) -> BatchKeysPublic:
    """Take a voided batch out of the recycle bin: its voided keys are available again."""
    reply = await peers.inventory.RestoreBatch(
        inventory_pb.RestoreBatchRequest(batch_id=batch_id, actor=admin.actor)
    )
    return BatchKeysPublic(batch_id=batch_id, keys=reply.keys)


class BatchMove(BaseModel):
    to_pool_id: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


@router.post(
    "/batches/{batch_id}/move",
    dependencies=[Allowed(P.KEYS_WRITE), JsonBody],
    responses=responses(404, 409, 415, 422),
)
async def move_batch(batch_id: PathId, body: BatchMove, admin: AdminUser, peers: PeersDep) -> BatchKeysPublic:
    """Move a batch's unsold keys to another pool, of the same SKU or another (refused when that SKU holds
    one of their codes already)."""
    reply = await peers.inventory.MoveBatch(
        inventory_pb.MoveBatchRequest(batch_id=batch_id, to_pool_id=body.to_pool_id, actor=admin.actor)
    )
    return BatchKeysPublic(batch_id=batch_id, keys=reply.keys)


@router.get("/batches", dependencies=[Allowed(P.KEYS_READ)], responses=responses(422))
async def list_batches(
    peers: PeersDep,
    pool_id: Annotated[str, Query(max_length=64)] = "",
    voided_only: bool = False,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=64)] = "",
) -> KeyBatchesPublic:
    """Import batches, newest first: file, counts by state, and whether in the recycle bin (voided_only)."""
    reply = await peers.inventory.ListBatches(
        inventory_pb.ListBatchesRequest(
            pool_id=pool_id, voided_only=voided_only, page_size=page_size, page_token=page_token
        )
    )
    return KeyBatchesPublic(
        batches=[
            KeyBatchPublic(
                batch_id=b.batch_id, pool_id=b.pool_id, sku_id=b.sku_id, imported=b.imported, actor=b.actor,
                imported_at=b.imported_at.ToDatetime(tzinfo=UTC), file_sha256=b.file_sha256,
                file_name=b.file_name, voided=b.voided, keys_by_state=dict(b.keys_by_state),
            )
            for b in reply.batches
        ],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/keys/export",
    dependencies=[Allowed(P.KEYS_READ)],
    responses=responses(422),
    response_class=StreamingResponse,
    openapi_extra={"responses": {"200": {"content": {"text/csv": {}}}}},
)
async def export_keys(
    admin: AdminUser,
    peers: PeersDep,
    batch_id: Annotated[str, Query(max_length=64)] = "",
    pool_id: Annotated[str, Query(max_length=64)] = "",
    state: Annotated[KeyState, Query()] = "",
    expires_before: datetime | None = None,
    with_codes: bool = False,
) -> StreamingResponse:
    """Keys by batch, pool, state and expiry, as CSV in key id order. No codes unless with_codes=true; an
    export with codes is audited (who, which filter, how many) before its first key is sent; it needs the
    keys:codes permission."""
    if with_codes:
        ensure_allowed(admin, P.KEY_CODES)
    request = inventory_pb.ExportKeysRequest(
        batch_id=batch_id, pool_id=pool_id, state=state, with_codes=with_codes, actor=admin.actor
    )
    if expires_before is not None:
        if expires_before.tzinfo is None:
            expires_before = expires_before.replace(tzinfo=UTC)
        request.expires_before.FromDatetime(expires_before.astimezone(UTC))
    call = peers.inventory.ExportKeys(request, timeout=600)
    # The first page is awaited here, so a refused export is a problem document, not a broken stream.
    first = await anext(aiter(call), None)
    columns = (*EXPORT_COLUMNS, "code", "password") if with_codes else EXPORT_COLUMNS

    def lines(page: inventory_pb.ExportKeysResponse) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        for k in page.keys:
            row = [k.key_id, k.batch_id, k.pool_id, k.sku_id, k.state, _when(k.valid_from),
                   _when(k.expires_at), k.order_id]
            writer.writerow([*row, k.code, k.password] if with_codes else row)
        return out.getvalue()

    async def body() -> AsyncIterator[str]:
        yield ",".join(columns) + "\r\n"
        if first is not None:
            yield lines(first)
            async for page in call:
                yield lines(page)

    return StreamingResponse(
        body(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="keys.csv"'}
    )


@router.get("/pool-operations", dependencies=[Allowed(P.KEYS_READ)], responses=responses(422))
async def pool_operations(
    peers: PeersDep,
    pool_id: Annotated[str, Query(max_length=64)] = "",
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> PoolOperationsPublic:
    """The operation log of the card-key pools, newest first."""
    reply = await peers.inventory.ListPoolOperations(
        inventory_pb.ListPoolOperationsRequest(pool_id=pool_id, page_size=page_size, page_token=page_token)
    )
    return PoolOperationsPublic(
        operations=[
            PoolOperationPublic(
                operation_id=o.operation_id, at=o.at.ToDatetime(tzinfo=UTC), action=o.action, actor=o.actor,
                pool_id=o.pool_id, sku_id=o.sku_id, batch_id=o.batch_id, keys=o.keys, detail=o.detail,
            )
            for o in reply.operations
        ],
        next_page_token=reply.next_page_token,
    )
