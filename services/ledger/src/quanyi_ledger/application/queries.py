"""Reads of the ledger's read models."""

from __future__ import annotations

from quanyi_ledger.application.ports import LedgerUnitOfWork
from quanyi_ledger.domain.ledger import AccountBalance, PostedEntry


async def balances(uow: LedgerUnitOfWork, account_prefix: str = "") -> list[AccountBalance]:
    """Every account's totals per currency (only accounts starting with `account_prefix`, if given)."""
    async with uow:
        return await uow.balances.list(account_prefix)


async def entries(uow: LedgerUnitOfWork, correlation_id: str = "", reference: str = "") -> list[PostedEntry]:
    """The journal entries of an order (correlation) or with an outside reference, in seq order."""
    async with uow:
        return await uow.journal.find(correlation_id, reference)
