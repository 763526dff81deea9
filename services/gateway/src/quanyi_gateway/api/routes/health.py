"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter

from quanyi_gateway.api.deps import ResourcesDep
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.models import HealthPublic

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model_exclude_none=True)
async def healthz() -> HealthPublic:
    """The process is up."""
    return HealthPublic(status="ok")


@router.get("/readyz", responses=responses(503), response_model_exclude_none=True)
async def readyz(resources: ResourcesDep) -> HealthPublic:
    """The database answers and every peer reports itself ready (gRPC health `quanyi.ready`)."""
    timeout = resources.settings.readyz_timeout_s

    async def database() -> bool:
        try:
            async with asyncio.timeout(timeout), resources.pool.connection(timeout=timeout) as conn:
                await conn.execute("SELECT 1")
        except Exception:
            log.warning("readiness: database unreachable", exc_info=True)
            return False
        return True

    db_ok, peers = await asyncio.gather(database(), resources.peers.readiness(timeout))
    checks = {"database": db_ok, **peers}
    if not all(checks.values()):
        failing = ", ".join(name for name, ok in checks.items() if not ok)
        raise Problem(
            503,
            f"not ready: {failing}",
            slug="not-ready",
            headers={"Retry-After": str(resources.settings.retry_after_s)},
            checks=checks,
        )
    return HealthPublic(status="ready", checks=checks)
