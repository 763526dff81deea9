"""Buyers' personal data: who may read a buyer's address, and the buyer's erasure (the right China's PIPL
gives, art. 47).

The gateway is the only holder of a buyer's personal data (the account: e-mail address, password hash, and
the sign-in throttling rows keyed by the address). Events and every other service's tables name the buyer
by id. A service that must write to a buyer asks `contacts` when it writes; an erasure deletes the account
and those rows and keeps a record that says only which buyer id was erased, when and at whose request, so
that the ledger, the orders and the key history stay intact under that id and later look-ups answer
"erased".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Protocol

MAX_CONTACTS = 500


class ContactStatus(Enum):
    ACTIVE = "active"
    UNKNOWN = "unknown"
    ERASED = "erased"


@dataclass(frozen=True)
class BuyerContact:
    """Where a buyer can be reached; `email` is empty and `targets` none unless ACTIVE. `targets` are the
    delivery targets the buyer keeps, as (channel, target) pairs by channel name."""

    buyer_id: str
    email: str
    status: ContactStatus
    targets: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class KnownBuyers:
    """What one look-up found: the e-mail address and kept delivery targets of each buyer with an account,
    and the ids whose buyer was erased."""

    emails: dict[uuid.UUID, str]
    erased: set[uuid.UUID]
    targets: dict[uuid.UUID, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Erasure:
    """The record of an erasure: the buyer's id, when, at whose request. Nothing personal."""

    buyer_id: uuid.UUID
    erased_at: datetime
    requested_by: str


class BuyerNotFound(Exception):
    """No buyer account has this id, and none with it was erased."""


class TooManyBuyers(ValueError):
    """More ids than one look-up answers."""


class PrivacyStore(Protocol):
    """The gateway's accounts seen for contacts and erasure (Postgres, or the in-memory fake)."""

    async def look_up(self, buyer_ids: Sequence[uuid.UUID]) -> KnownBuyers:
        """In one read: the e-mail address and kept delivery targets of each of these ids that is a
        buyer's account, and those of them whose buyer was erased."""
        ...

    async def erase(self, buyer_id: uuid.UUID, requested_by: str, at: datetime) -> Erasure | None:
        """In one transaction: delete the buyer's account (not an admin's), its kept delivery targets and
        the rows keyed by its address (failed sign-ins, per-account rate counters), and record the erasure.
        An id erased before returns that first record and changes nothing; an id that is no buyer's returns
        None."""
        ...


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


class Privacy:
    """Contacts for the services that write to buyers, and erasure."""

    def __init__(
        self, store: PrivacyStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._clock = clock

    async def contacts(self, buyer_ids: Sequence[str]) -> list[BuyerContact]:
        """One contact per id, in the order asked. Ids that are no account's are UNKNOWN, erased ones
        ERASED. Raises TooManyBuyers past MAX_CONTACTS ids."""
        if len(buyer_ids) > MAX_CONTACTS:
            raise TooManyBuyers(f"at most {MAX_CONTACTS} buyer ids per call")
        parsed = {b: _uuid(b) for b in buyer_ids}
        ids = sorted({u for u in parsed.values() if u is not None})
        found = await self._store.look_up(ids) if ids else KnownBuyers({}, set(), {})
        out = []
        for text, parsed_id in parsed.items():
            if parsed_id is not None and parsed_id in found.emails:
                out.append(BuyerContact(
                    text, found.emails[parsed_id], ContactStatus.ACTIVE, found.targets.get(parsed_id, ())
                ))
            elif parsed_id is not None and parsed_id in found.erased:
                out.append(BuyerContact(text, "", ContactStatus.ERASED))
            else:
                out.append(BuyerContact(text, "", ContactStatus.UNKNOWN))
        by_id = {c.buyer_id: c for c in out}
        return [by_id[b] for b in buyer_ids]

    async def erase(self, buyer_id: uuid.UUID, requested_by: str) -> Erasure:
        """Erase a buyer's personal data (idempotent). Raises BuyerNotFound for an id that is no buyer's."""
        erasure = await self._store.erase(buyer_id, requested_by, self._clock())
        if erasure is None:
            raise BuyerNotFound(str(buyer_id))
        return erasure
