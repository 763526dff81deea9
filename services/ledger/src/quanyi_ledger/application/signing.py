"""Signing the chain head: the last entry's seq and hash, signed with the ledger's key and recorded.

The signed statement is canonical JSON, so anyone holding the public key can check an exported head
without the ledger: {"hash": ..., "ledger": "quanyi", "seq": ..., "signed_at": ...}. A journal rewritten
and re-chained after the export no longer has that hash at that seq (`verify_journal(head=...)`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from quanyi_platform.envelope import new_event_id

from quanyi_ledger.adapters.proto import chain_head_signed_event
from quanyi_ledger.application.ports import LedgerUnitOfWork, Signer


@dataclass(frozen=True)
class SignedHead:
    seq: int
    hash: str
    signed_at: datetime
    public_key: str
    signature: str
    actor: str

    @property
    def statement(self) -> bytes:
        return head_statement(self.seq, self.hash, self.signed_at)


def head_statement(seq: int, hash_hex: str, signed_at: datetime) -> bytes:
    """The exact bytes signed for a head."""
    body = {
        "ledger": "quanyi",
        "seq": seq,
        "hash": hash_hex,
        "signed_at": signed_at.astimezone(UTC).isoformat(),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


async def sign_head(
    uow: LedgerUnitOfWork, signer: Signer, actor: str, now: datetime | None = None
) -> SignedHead:
    """Sign where the chain ends now and record it as ChainHeadSigned."""
    signed_at = (now or datetime.now(UTC)).replace(microsecond=0)
    async with uow:
        seq, hash_hex = await uow.journal.head()
        signature = signer.sign(head_statement(seq, hash_hex, signed_at)).hex()
        head = SignedHead(seq, hash_hex, signed_at, signer.public_key_hex, signature, actor)
        await uow.events.append([
            chain_head_signed_event(
                seq, hash_hex, signed_at, head.public_key, signature, actor, new_event_id()
            )
        ])
        await uow.commit()
    return head
