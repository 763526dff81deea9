"""Administration of card-key pools at scale: key file uploads run as jobs with progress, and master-key
rotation. Admin role only; codes never appear in any answer."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb

from quanyi_gateway.adapters.key_files import GrpcKeyFileImporter
from quanyi_gateway.api.deps import AdminUser, JsonBody, PeersDep, SettingsDep, get_current_admin
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.application.key_files import KeyFileJob, KeyFileJobs, KeyFileRequest, remove_quietly
from quanyi_gateway.application.model import Money
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
        jobs = KeyFileJobs(importer, settings.key_file_jobs_kept)
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
    spool = tempfile.NamedTemporaryFile(
        prefix="quanyi-upload-", dir=settings.key_file_dir or None, delete=False
    )
    path = FsPath(spool.name)
    size = 0
    try:
        with spool:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Problem(413, f"the file is larger than {limit} bytes", slug="too-large")
                spool.write(chunk)
        if size == 0:
            raise Problem(422, "the file is empty", slug="invalid-file")
        job = jobs.start(
            KeyFileRequest(pool_id, file_name, format, mode, Money(unit_cost_minor, currency), admin.actor),
            path, size,
        )
    except BaseException:
        remove_quietly(path)
        raise
    response.headers["Location"] = f"/v1/admin/key-files/{job.job_id}"
    return _job(job)


@router.get("/key-files", responses=responses())
async def list_key_file_jobs(jobs: KeyFileJobsDep) -> list[KeyFileJobPublic]:
    """The key file imports this gateway remembers, newest first."""
    return [_job(j) for j in jobs.list()]


@router.get("/key-files/{job_id}", responses=responses(404))
async def key_file_job(job_id: PathId, jobs: KeyFileJobsDep) -> KeyFileJobPublic:
    """A key file import: its progress while it runs, then its outcome (bad rows by line and reason)."""
    job = jobs.get(job_id)
    if job is None:
        raise Problem(404, "no such import job", slug="not-found")
    return _job(job)


@router.post("/keys/rotate-master", dependencies=[JsonBody], responses=responses(409, 415, 422))
async def rotate_master_key(body: RotateMaster, admin: AdminUser, peers: PeersDep) -> RotationPublic:
    """Re-wrap every batch's data key under a master key inventory holds; card keys are not touched."""
    reply = await peers.inventory.RotateMasterKey(
        inventory_pb.RotateMasterKeyRequest(master_key_id=body.master_key_id, actor=admin.actor), timeout=300
    )
    return RotationPublic(master_key_id=reply.master_key_id, rewrapped=reply.rewrapped)
