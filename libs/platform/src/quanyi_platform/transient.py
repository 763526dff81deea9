"""What counts as a passing failure: worth a retry, never a caller's mistake nor a bug.

A consumer retries its batch on one; a gRPC server answers UNAVAILABLE (and the gateway 503 + Retry-After)
instead of INTERNAL, so an overloaded database pool or a peer that is restarting is never reported as a
500 to a buyer.
"""

from __future__ import annotations

import asyncio

import grpc
from psycopg import OperationalError

from quanyi_platform.eventstore import ConcurrencyConflict


class TransientError(Exception):
    """A handler could not finish for a passing reason (a peer down); the batch is retried later."""


_TRANSIENT_RPC = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)


def is_transient(exc: BaseException) -> bool:
    """True for a failure that a retry may cure: a lost or exhausted database connection (psycopg's
    OperationalError, which psycopg_pool's PoolTimeout is), a socket error, a timeout, a concurrent writer
    who appended first (deciding again from the new state is the retry) or a peer's transient status."""
    transient = TransientError | ConcurrencyConflict | OperationalError | OSError | asyncio.TimeoutError
    if isinstance(exc, transient):
        return True
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code() in _TRANSIENT_RPC
    return False
