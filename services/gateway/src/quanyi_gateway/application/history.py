"""An order's or a key's whole history across the services, for the back office (the same fold as
`quanyi history`: quanyi_platform.history). Each event-sourced service is asked for its own events, all at
once; a service that does not answer is named, and the history shows what the others gave."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from quanyi_platform.history import History, HistoryEvent, fold, merge


class SourceUnavailable(Exception):
    """A service's history could not be read (down, too slow, or it refused)."""


class EventSource(Protocol):
    """One service's events about orders or a key (its EventHistoryService)."""

    name: str

    async def events(self, correlation_ids: Sequence[str], key_id: str) -> tuple[list[HistoryEvent], bool]:
        """The service's events correlated with (or related by it to) the ids; with `key_id`, only those
        naming the key (a service that knows the key's orders searches them too). The flag says the
        service cut the answer at its cap. Raises SourceUnavailable."""
        ...


@dataclass(frozen=True)
class CrossServiceHistory:
    """The fold, and what it may lack: services that did not answer, answers cut at their cap."""

    history: History
    missing: tuple[str, ...]
    truncated: tuple[str, ...]

    @property
    def found(self) -> bool:
        return bool(self.history.events) or bool(self.missing)

    def as_json(self) -> dict[str, object]:
        whole = self.history.as_json()
        del whole["events"]
        return {**whole, "missing": list(self.missing), "truncated": list(self.truncated)}


class Histories:
    """Asks every source concurrently, merges (each event once, by service and seq) and folds."""

    def __init__(self, sources: Sequence[EventSource]) -> None:
        self._sources = tuple(sources)

    async def _ask(
        self, correlation_ids: Sequence[str], key_id: str
    ) -> tuple[list[list[HistoryEvent]], set[str], set[str]]:
        answers = await asyncio.gather(
            *(s.events(correlation_ids, key_id) for s in self._sources), return_exceptions=True
        )
        found: list[list[HistoryEvent]] = []
        missing: set[str] = set()
        truncated: set[str] = set()
        for source, answer in zip(self._sources, answers, strict=True):
            if isinstance(answer, SourceUnavailable):
                missing.add(source.name)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                events, cut = answer
                found.append(events)
                if cut:
                    truncated.add(source.name)
        return found, missing, truncated

    @staticmethod
    def _result(
        subject: str, as_of: datetime | None, found: list[list[HistoryEvent]], missing: set[str],
        truncated: set[str],
    ) -> CrossServiceHistory:
        return CrossServiceHistory(
            fold(subject, merge(*found), as_of), tuple(sorted(missing)), tuple(sorted(truncated))
        )

    async def of_order(self, order_id: str, as_of: datetime | None = None) -> CrossServiceHistory:
        """Every service's events correlated with the order, folded as of `as_of` (inclusive)."""
        found, missing, truncated = await self._ask([order_id], "")
        return self._result(order_id, as_of, found, missing, truncated)

    async def of_key(self, key_id: str, as_of: datetime | None = None) -> CrossServiceHistory:
        """Every service's events naming the key: first those the services find by the key alone (inventory
        knows its order), then those of the orders they were correlated with."""
        found, missing, truncated = await self._ask([], key_id)
        orders = sorted({e.correlation_id for events in found for e in events if e.correlation_id})
        if orders:
            more, missing_more, truncated_more = await self._ask(orders, key_id)
            found += more
            missing |= missing_more
            truncated |= truncated_more
        return self._result(key_id, as_of, found, missing, truncated)
