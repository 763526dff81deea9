"""Ledger's gRPC API: reads of the journal."""

from __future__ import annotations

import grpc
from psycopg_pool import AsyncConnectionPool
from quanyi.ledger.v1 import ledger_service_pb2 as pb
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc

from quanyi_ledger.adapters import journal_store
from quanyi_ledger.application.verification import verify_journal


class LedgerServicer(pb_grpc.LedgerServiceServicer):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def GetBalances(
        self, request: pb.GetBalancesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBalancesResponse:
        async with self._pool.connection() as conn:
            rows = await journal_store.balances(conn, request.account_prefix)
        return pb.GetBalancesResponse(
            balances=[
                pb.Balance(account=b.account, balance_minor=b.balance_minor, currency=b.currency)
                for b in rows
            ]
        )

    async def VerifyJournal(
        self, request: pb.VerifyJournalRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyJournalResponse:
        async with self._pool.connection() as conn:
            result = await verify_journal(conn)
        return pb.VerifyJournalResponse(ok=result.ok, entries=result.entries, problems=list(result.problems))
