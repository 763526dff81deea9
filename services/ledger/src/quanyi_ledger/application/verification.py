"""Verifying the journal: chain, balance of every entry, its events, and the read model against it."""

from __future__ import annotations

from quanyi_ledger.application.ports import LedgerUnitOfWork
from quanyi_ledger.domain.chain import ChainVerifier, Verification


async def verify_journal(uow: LedgerUnitOfWork, head: tuple[int, str] | None = None) -> Verification:
    """Recompute the hash chain and every entry's balance, from one consistent snapshot.

    With `head` (the seq and hash of a signed, exported chain head), the journal must still have that
    hash at that seq: a journal changed and then re-chained from the change on verifies by itself, but
    not against a head exported before the change.

    Also reports a journal that ends before or after the last entry its EntriesPosted events announced
    (entries removed from the end, which the chain alone cannot show, or posted without their event), and
    balances in the read model that differ from the journal's sums.
    """
    verifier = ChainVerifier()
    async with uow:
        await uow.read_consistently()
        async for page in uow.journal.chain_pages():
            for link in page:
                verifier.add_link(link)
        if head is not None:
            recorded = await uow.journal.hash_at(head[0])
            if recorded is None:
                verifier.problem(f"entry {head[0]} of the signed head is not in the journal")
            elif recorded != head[1]:
                verifier.problem(
                    f"entry {head[0]} differs from the signed head: the journal was rewritten up to it"
                )
        announced = await uow.journal.announced_seq()
        if announced > verifier.last_seq:
            verifier.problem(
                f"the journal ends at entry {verifier.last_seq} but entry {announced} was posted"
            )
        elif announced < verifier.last_seq:
            verifier.problem(
                f"entries {announced + 1}..{verifier.last_seq} are in the journal but no event announced them"
            )
        journal = {(b.account, b.currency): b for b in await uow.journal.totals()}
        model = {(b.account, b.currency): b for b in await uow.balances.list()}
        for account, currency in sorted(journal.keys() | model.keys()):
            j, m = journal.get((account, currency)), model.get((account, currency))
            j_totals = (j.debit_total, j.credit_total) if j else (0, 0)
            m_totals = (m.debit_total, m.credit_total) if m else (0, 0)
            if j_totals != m_totals:
                verifier.problem(f"balances read model differs from the journal for {account} in {currency}")
    return verifier.result()
