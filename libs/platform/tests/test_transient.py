"""A passing failure is never reported as a bug: a gRPC server answers UNAVAILABLE (callers retry it), and
only an unexpected error is INTERNAL. The pool is a real one, exhausted on a real Postgres."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.risk.v1 import risk_service_pb2 as pb
from quanyi.risk.v1 import risk_service_pb2_grpc as pb_grpc
from quanyi_platform import rpc
from quanyi_platform.eventstore import ConcurrencyConflict
from quanyi_platform.transient import TransientError, is_transient


class _NeedsTheDatabase(pb_grpc.RiskServiceServicer):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def GetDecision(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if request.order_id == "bug":
            raise RuntimeError("secret internals")
        async with self.pool.connection(timeout=0.2) as conn:
            await conn.execute("SELECT 1")
        return pb.GetDecisionResponse(order_id=request.order_id)


async def test_an_exhausted_pool_is_unavailable_and_a_bug_is_internal_without_its_message(
    database_url: str,
) -> None:
    pool = AsyncConnectionPool(database_url, min_size=1, max_size=1, open=False)
    await pool.open(wait=True)
    server = rpc.server()
    pb_grpc.add_RiskServiceServicer_to_server(_NeedsTheDatabase(pool), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with rpc.channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.RiskServiceStub(channel)
            assert (await stub.GetDecision(pb.GetDecisionRequest(order_id="o"))).order_id == "o"
            async with pool.connection():  # the only connection is taken: the call's wait times out
                with pytest.raises(grpc.aio.AioRpcError) as busy:
                    await stub.GetDecision(pb.GetDecisionRequest(order_id="o"))
            with pytest.raises(grpc.aio.AioRpcError) as bug:
                await stub.GetDecision(pb.GetDecisionRequest(order_id="bug"))
    finally:
        await server.stop(0)
        await pool.close()
    assert busy.value.code() == grpc.StatusCode.UNAVAILABLE
    assert bug.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (bug.value.details() or "")


def test_what_counts_as_transient() -> None:
    assert is_transient(TransientError("peer down"))
    assert is_transient(ConcurrencyConflict("appended first"))
    assert is_transient(TimeoutError())
    assert is_transient(ConnectionResetError())
    assert not is_transient(ValueError("bad input"))
    assert not is_transient(RuntimeError("bug"))
