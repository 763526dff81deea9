"""Group commit on the in-memory fakes: a group of placements or notices decides exactly as the same calls
one after the other, and the committer runs groups without waiting when idle and isolates a group's
failure to the call that caused it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from quanyi_orders.adapters.memory import InMemoryOrdersEventLog, InMemoryOrdersUnitOfWork
from quanyi_orders.application import orders as app
from quanyi_orders.domain.money import Money
from quanyi_platform.group_commit import GroupCommit
from quanyi_platform.projection import StoredEvent

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ORDERS = ["o-0", "o-1", "o-2"]


def place(buyer: str, key: str, order_id: str, price: int = 1000) -> app.Placement:
    cmd = app.PlaceOrder(buyer, "b@example.com", "web", [("sku-a", 1, Money(price, "CNY"))], key)
    return app.prepare(cmd, now=NOW, order_id=order_id)


async def seeded() -> InMemoryOrdersEventLog:
    """Three orders of 10.00 CNY; o-2 already paid by transaction t-old with nonce n-old."""
    log = InMemoryOrdersEventLog("orders")
    for n, order_id in enumerate(ORDERS):
        await app.place_orders(InMemoryOrdersUnitOfWork(log), [place(f"b-{n}", "k", order_id)])
    await app.capture_notified_payment(
        InMemoryOrdersUnitOfWork(log),
        app.PaymentNotice("psp", "n-old", "x", "o-2", "t-old", Money(1000, "CNY")),
    )
    return log


def record(log: InMemoryOrdersEventLog) -> list[tuple[str, str, int, bytes]]:
    """The committed events without their ids and times."""
    return [(e.type, e.aggregate_id, e.aggregate_version, _bytes(e)) for e in log.committed]


def _bytes(e: StoredEvent) -> bytes:
    return bytes(e.payload.SerializeToString(deterministic=True))


def summary(outcome: Any) -> object:
    if isinstance(outcome, Exception):
        return type(outcome).__name__, str(outcome)
    if isinstance(outcome, app.Captured):
        return outcome.order, outcome.duplicate
    return outcome.order, outcome.replayed


notices = st.lists(
    st.builds(
        lambda order, right, nonce, txn: app.PaymentNotice(
            "psp", nonce, "notice", order, txn, Money(1000 if right else 999, "CNY")
        ),
        st.sampled_from([*ORDERS, "ghost"]), st.sampled_from([True, True, True, False]),
        st.sampled_from(["n1", "n2", "n3", "n-old"]), st.sampled_from(["t1", "t2", "t-old"]),
    ),
    min_size=1, max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(notices)
def test_a_group_of_notices_decides_each_as_it_would_alone_one_after_the_other(
    batch: list[app.PaymentNotice],
) -> None:
    async def check() -> None:
        alone, grouped = await seeded(), await seeded()
        expected = []
        for notice in batch:
            try:
                expected.append(summary(await app.capture_notified_payment(InMemoryOrdersUnitOfWork(alone), notice)))
            except Exception as exc:
                expected.append(summary(exc))
        outcomes = await app.capture_notified_payments(InMemoryOrdersUnitOfWork(grouped), batch)
        assert [summary(o) for o in outcomes] == expected
        assert record(grouped) == record(alone)

    asyncio.run(check())


placements = st.lists(
    st.tuples(st.sampled_from(["b-0", "b-1", "b-9"]), st.sampled_from(["k", "k2", "k3"]), st.integers(1, 3)),
    min_size=1, max_size=10,
)


@settings(max_examples=100, deadline=None)
@given(placements)
def test_a_group_of_placements_places_each_as_it_would_alone_one_after_the_other(
    batch: list[tuple[str, str, int]],
) -> None:
    async def check() -> None:
        alone, grouped = await seeded(), await seeded()
        group = [place(buyer, key, f"new-{n}", price) for n, (buyer, key, price) in enumerate(batch)]
        expected = [summary((await app.place_orders(InMemoryOrdersUnitOfWork(alone), [p]))[0]) for p in group]
        outcomes = await app.place_orders(InMemoryOrdersUnitOfWork(grouped), group)
        assert [summary(o) for o in outcomes] == expected
        # The same orders exist; the group appends them in key order, so compare them as sets.
        assert sorted(record(grouped)) == sorted(record(alone))

    asyncio.run(check())


class Recorder:
    """A group runner that records its groups; a command "boom" breaks any group it is in."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []

    async def run(self, group: Sequence[str]) -> list[str | Exception]:
        self.groups.append(list(group))
        await asyncio.sleep(0.01)  # the group "commits"
        if "boom" in group:
            raise RuntimeError("the append failed")
        return [ValueError(c) if c.startswith("bad") else c.upper() for c in group]


async def test_a_lone_call_runs_at_once_and_calls_arriving_meanwhile_share_the_next_group() -> None:
    recorder = Recorder()
    committer: GroupCommit[str, str] = GroupCommit(recorder.run, max_group=3, max_in_flight=1)
    first = asyncio.create_task(committer.submit("a"))
    await asyncio.sleep(0.001)
    assert recorder.groups == [["a"]]  # nothing waited for company
    rest = [asyncio.create_task(committer.submit(c)) for c in "bcdef"]
    assert await first == "A"
    assert await asyncio.gather(*rest) == ["B", "C", "D", "E", "F"]
    assert recorder.groups == [["a"], ["b", "c", "d"], ["e", "f"]]  # at most max_group each
    assert (committer.groups, committer.calls) == (3, 6)


async def test_a_refusal_is_its_callers_alone_and_a_failed_group_fails_only_the_call_that_broke_it() -> None:
    recorder = Recorder()
    committer: GroupCommit[str, str] = GroupCommit(recorder.run, max_group=8, max_in_flight=1)
    outcomes = await asyncio.gather(
        *[committer.submit(c) for c in ["a", "bad-1", "boom", "b"]], return_exceptions=True
    )
    assert outcomes[0] == "A" and outcomes[3] == "B"
    assert isinstance(outcomes[1], ValueError)
    assert isinstance(outcomes[2], RuntimeError)
    # The group, then each of its calls alone, in their order.
    assert recorder.groups == [["a", "bad-1", "boom", "b"], ["a"], ["bad-1"], ["boom"], ["b"]]
