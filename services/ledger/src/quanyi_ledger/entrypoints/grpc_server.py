"""Ledger's gRPC API: reads of the journal and its balances; translates and calls, nothing more."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from quanyi.ledger.v1 import ledger_service_pb2 as pb
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc

from quanyi_ledger.application import queries
from quanyi_ledger.application.ports import LedgerUnitOfWork
from quanyi_ledger.application.verification import verify_journal


class LedgerServicer(pb_grpc.LedgerServiceServicer):
    """`unit_of_work()` opens a new unit of work (its own transaction) per call."""

    def __init__(self, unit_of_work: Callable[[], LedgerUnitOfWork]) -> None:
        self._uow = unit_of_work

    async def GetBalances(
        self, request: pb.GetBalancesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBalancesResponse:
        rows = await queries.balances(self._uow(), request.account_prefix)
        return pb.GetBalancesResponse(
            balances=[
                pb.Balance(account=b.account, balance_minor=b.balance_minor, currency=b.currency)
                for b in rows
            ]
        )

    async def VerifyJournal(
        self, request: pb.VerifyJournalRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyJournalResponse:
        result = await verify_journal(self._uow())
        return pb.VerifyJournalResponse(ok=result.ok, entries=result.entries, problems=list(result.problems))
