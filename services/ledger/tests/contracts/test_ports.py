"""Ledger's ports, one suite against both implementations: Postgres and the in-memory fakes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi_ledger.adapters.memory import InMemoryLedger, InMemoryLedgerUnitOfWork
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.application.ports import JournalRefused, LedgerUnitOfWork
from quanyi_ledger.application.posting import HeardFact, post, post_facts
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.chain import GENESIS_HASH, RecordedEntry, chain_hash
from quanyi_ledger.domain.journal import JournalLine, Money
from quanyi_ledger.domain.ledger import AccountBalance, Chain, EntriesPosted, Post, PostedEntry, decide
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.contracts import EventLogContract, Versions

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

UnitOfWorkFactory = Callable[[], LedgerUnitOfWork]


def source(n: int) -> posting.Source:
    return posting.Source(str(uuid.UUID(int=n)), T0 + timedelta(seconds=n))


def sold(n: int, amount: int = 100, channel: str = "web") -> HeardFact:
    return HeardFact(posting.OrderPaid(f"o{n}", channel, Money(amount, "CNY")), source(n), f"o{n}")


def paid(n: int, amount: int = 100) -> Post:
    entry = posting.entry_for(sold(n, amount).fact, source(n))
    assert entry is not None
    return Post(entry, f"o{n}")


def entries_after(chain: Chain, *ns: int) -> EntriesPosted:
    event = decide(chain, [paid(n) for n in ns])
    assert event is not None
    return event


@pytest.fixture(params=["memory", "postgres"])
def unit_of_work(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if request.param == "memory":
        db = InMemoryLedger()
        return lambda: InMemoryLedgerUnitOfWork(db)
    pool: AsyncConnectionPool = request.getfixturevalue("pool")
    store: EventStore = request.getfixturevalue("store")
    return lambda: PgLedgerUnitOfWork(store, pool=pool)


async def committed(unit_of_work: UnitOfWorkFactory) -> list[PostedEntry]:
    async with unit_of_work() as uow:
        return [e async for e in uow.journal.entries()]


async def test_an_empty_journal_loads_as_the_genesis_chain(unit_of_work: UnitOfWorkFactory) -> None:
    async with unit_of_work() as uow:
        assert await uow.journal.load([source(1).event_id]) == Chain(0, GENESIS_HASH, frozenset())
        assert await uow.journal.announced_seq() == 0
        assert await uow.journal.totals() == []
        assert await uow.balances.list() == []


async def test_appended_entries_end_the_chain_and_their_sources_count_as_posted_at_once(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    event = entries_after(Chain(), 1, 2)
    async with unit_of_work() as uow:
        await uow.journal.append(event)
        in_unit = await uow.journal.load([source(2).event_id, source(3).event_id])
        await uow.commit()
    assert in_unit == Chain(2, event.head.hash, frozenset({source(2).event_id}))
    async with unit_of_work() as uow:
        assert await uow.journal.load([source(1).event_id]) == Chain(
            2, event.head.hash, frozenset({source(1).event_id})
        )


async def test_recorded_entries_come_back_in_seq_order_with_lines_memo_and_correlation(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    first = entries_after(Chain(), 1, 2)
    second = entries_after(Chain(2, first.head.hash), 3)
    async with unit_of_work() as uow:
        await uow.journal.append(first)
        await uow.journal.append(second)
        await uow.commit()
    assert await committed(unit_of_work) == [*first.entries, *second.entries]
    async with unit_of_work() as uow:
        assert [e async for e in uow.journal.entries(after=2)] == list(second.entries)


async def test_entries_that_do_not_follow_the_end_of_the_chain_are_refused_and_nothing_is_kept(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    first = entries_after(Chain(), 1)
    async with unit_of_work() as uow:
        await uow.journal.append(first)
        await uow.commit()
    gap = entries_after(Chain(2, first.head.hash), 2)  # seq 3 after entry 1
    forked = entries_after(Chain(1, "e" * 64), 3)  # seq 2, but not linked to entry 1
    relinked = EntriesPosted(  # 2 follows 1, but 3 is not linked to 2
        (entries_after(Chain(1, first.head.hash), 4).entries[0], entries_after(Chain(2, "d" * 64), 5).entries[0])
    )
    for bad in (gap, forked, relinked, first):
        with pytest.raises(JournalRefused):
            async with unit_of_work() as uow:
                await uow.journal.append(bad)
                await uow.commit()
    assert await committed(unit_of_work) == list(first.entries)


async def test_a_fact_posted_already_is_refused(unit_of_work: UnitOfWorkFactory) -> None:
    first = entries_after(Chain(), 1)
    async with unit_of_work() as uow:
        await uow.journal.append(first)
        await uow.commit()
    again = decide(Chain(1, first.head.hash), [paid(1)])  # a chain that forgot it was posted
    assert again is not None
    with pytest.raises(JournalRefused):
        async with unit_of_work() as uow:
            await uow.journal.append(again)
            await uow.commit()
    assert len(await committed(unit_of_work)) == 1


@pytest.mark.parametrize(
    "lines",
    [
        (JournalLine("deposits:buyers", 100, 0, "CNY"), JournalLine("revenue:web", 0, 99, "CNY")),
        (JournalLine("deposits:buyers", 100, 0, "CNY"), JournalLine("revenue:web", 0, 100, "USD")),
        (JournalLine("deposits:buyers", 100, 0, "CNY"),),
    ],
)
async def test_an_entry_that_does_not_balance_is_refused(
    unit_of_work: UnitOfWorkFactory, lines: tuple[JournalLine, ...]
) -> None:
    src = source(1)
    rec = RecordedEntry(
        1, "sale", src.event_id, src.occurred_at, lines, GENESIS_HASH,
        chain_hash(GENESIS_HASH, 1, "sale", src.event_id, src.occurred_at, lines),
    )
    with pytest.raises(JournalRefused):
        async with unit_of_work() as uow:
            await uow.journal.append(EntriesPosted((PostedEntry(rec, "", "o1"),)))
            await uow.commit()
    assert await committed(unit_of_work) == []


async def test_a_unit_of_work_left_without_commit_keeps_no_entries(unit_of_work: UnitOfWorkFactory) -> None:
    async with unit_of_work() as uow:
        await uow.journal.append(entries_after(Chain(), 1))
    assert await committed(unit_of_work) == []
    async with unit_of_work() as uow:
        assert (await uow.journal.load([])).seq == 0


async def test_posting_announces_the_chain_and_the_balances_add_up_within_and_after_the_unit(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    await post_facts(unit_of_work(), [sold(1, 300), sold(2, 200, "jd")])
    uow = unit_of_work()
    async with uow:
        event = await post(uow, [paid(3, 50)])  # in the open unit of work
        assert event is not None
        assert await uow.journal.announced_seq() == 3 == event.last_seq
        assert await uow.balances.list("revenue:") == [
            AccountBalance("revenue:jd", "CNY", 0, 200),
            AccountBalance("revenue:web", "CNY", 0, 350),
        ]
        await uow.commit()
    async with unit_of_work() as uow:
        totals = await uow.journal.totals()
        assert await uow.balances.list() == totals
        assert totals == [
            AccountBalance("deposits:buyers", "CNY", 550, 0),
            AccountBalance("revenue:jd", "CNY", 0, 200),
            AccountBalance("revenue:web", "CNY", 0, 350),
        ]


async def test_a_balance_prefix_is_taken_literally(unit_of_work: UnitOfWorkFactory) -> None:
    await post_facts(unit_of_work(), [sold(1, 5, "web"), sold(2, 7, "w_b")])
    async with unit_of_work() as uow:
        assert [b.account for b in await uow.balances.list("revenue:w")] == ["revenue:w_b", "revenue:web"]
        assert await uow.balances.list("revenue:w_%") == []
        assert [b.account for b in await uow.balances.list("revenue:w_")] == ["revenue:w_b"]


async def test_a_consistent_read_sees_what_was_committed_before_it(unit_of_work: UnitOfWorkFactory) -> None:
    await post_facts(unit_of_work(), [sold(1, 5)])
    async with unit_of_work() as uow:
        await uow.read_consistently()
        assert [e.seq async for e in uow.journal.entries()] == [1]
        assert await uow.journal.announced_seq() == 1


async def test_large_batches_are_announced_in_several_events_of_bounded_size(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    event = await post_facts(unit_of_work(), [sold(n, n) for n in range(1, 1_202)])
    assert event is not None and event.last_seq == 1_201
    async with unit_of_work() as uow:
        assert await uow.journal.announced_seq() == 1_201
        assert len(await committed(unit_of_work)) == 1_201
        assert sum(b.debit_total for b in await uow.balances.list("deposits:")) == sum(range(1, 1_202))


class TestLedgerEventLog(EventLogContract):
    """Ledger's units of work keep the platform's EventLog contract, with its projections running."""

    @pytest.fixture(params=["memory", "postgres"])
    def backend(self, request: pytest.FixtureRequest) -> tuple[UnitOfWorkFactory, Versions]:
        if request.param == "memory":
            db = InMemoryLedger()

            async def fake_versions(aggregate_id: str) -> list[int]:
                return [e.aggregate_version for e in db.events.committed if e.aggregate_id == aggregate_id]

            return (lambda: InMemoryLedgerUnitOfWork(db)), fake_versions
        pool: AsyncConnectionPool = request.getfixturevalue("pool")
        store: EventStore = request.getfixturevalue("store")

        async def pg_versions(aggregate_id: str) -> list[int]:
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT aggregate_version AS v FROM events WHERE aggregate_id = %s ORDER BY seq",
                    (aggregate_id,),
                )
                return [int(r["v"]) for r in await cur.fetchall()]

        return (lambda: PgLedgerUnitOfWork(store, pool=pool)), pg_versions

    @pytest.fixture
    def uow_factory(self, backend: tuple[UnitOfWorkFactory, Versions]) -> UnitOfWorkFactory:
        return backend[0]

    @pytest.fixture
    def committed_versions(self, backend: tuple[UnitOfWorkFactory, Versions]) -> Versions:
        return backend[1]



# -- issue 9: the reads behind balances as of, reports, reconciliation, refunds and the audit -------------


def _facts() -> list[HeardFact]:
    cny = "CNY"
    facts: list[posting.Fact] = [
        posting.PaymentCaptured("o1", "wechatpay", "T1", Money(1000, cny)),
        posting.OrderPaid("o1", "web", Money(1000, cny), (posting.SaleLine("sku-a", Money(600, cny)),
                                                          posting.SaleLine("sku-b", Money(400, cny)))),
        posting.KeyDelivered("o1", "web", [Money(300, cny), Money(100, cny)], ["sku-a", "sku-b"]),
        posting.PaymentCaptured("o2", "alipay", "T2", Money(500, cny)),
        posting.OrderRefunded("o1", "web", Money(500, cny), was_released=True),
        posting.RefundSucceeded("o1", "R1", "wechatpay", Money(500, cny)),
    ]
    return [HeardFact(f, source(i), f.order_id) for i, f in enumerate(facts, start=1)]


async def test_the_journal_reads_totals_as_of_reports_transactions_entries_and_order_books_alike(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    from quanyi_ledger.domain.reconciliation import LedgerTxn, RowKind
    from quanyi_ledger.domain.reports import Period, ReportQuery

    await post_facts(unit_of_work(), _facts())
    async with unit_of_work() as uow:
        j = uow.journal
        assert {(b.account, b.balance_minor) for b in await j.totals(T0 + timedelta(seconds=2))} == {
            ("clearing:psp:wechatpay", 1000), ("deposits:buyers", 0), ("revenue:web", -1000)
        }
        rows = await j.report(ReportQuery(period=Period.DAY, group_by=frozenset({"sku"})))
        assert [(r.period, r.sku_id, r.sales_minor, r.refunds_minor, r.cost_minor) for r in rows] == [
            ("2026-11-30", "sku-a", 600, 300, 300), ("2026-11-30", "sku-b", 400, 200, 100)
        ]
        by_key, of_day = await j.txns("wechatpay", ["T1", "R1", "T9"], T0, T0 + timedelta(days=1))
        assert by_key == {
            "T1": LedgerTxn(RowKind.PAYMENT, "T1", "o1", 1000, "CNY"),
            "R1": LedgerTxn(RowKind.REFUND, "R1", "o1", 500, "CNY"),
        }
        assert sorted(t.key for t in of_day) == ["R1", "T1"]
        assert [e.rec.kind for e in await j.find(correlation_id="o1")] == [
            "payment", "sale", "key_cost", "refund", "refund_paid"
        ]
        assert [e.seq for e in await j.find(reference="T2")] == [4]
        books = await j.order_books(["o1", "o2", "o3"])
        assert books["o1"].provider == "wechatpay" and books["o1"].channel == "web"
        assert books["o1"].refunds_owed == 0 and books["o2"].provider == "alipay" and "o3" not in books
        seq, head = await j.head()
        assert seq == 6 and await j.hash_at(6) == head and await j.hash_at(7) is None


async def test_reconciliations_record_list_and_resolve_alike(unit_of_work: UnitOfWorkFactory) -> None:
    from quanyi_ledger.application import reconciling
    from quanyi_ledger.domain.reconciliation import RowKind, StatementRow

    from ..statements import wechatpay_bill

    await post_facts(unit_of_work(), _facts())
    at = T0 + timedelta(seconds=1)
    bill = wechatpay_bill([
        StatementRow(RowKind.PAYMENT, "T1", "o1", "", 990, 6, "CNY", at),
        StatementRow(RowKind.REFUND, "T1", "o1", "R1", 500, -3, "CNY", at),
    ])
    done = await reconciling.reconcile_statement(unit_of_work(), "wechatpay", bill, "admin:a")
    assert not done.already_reconciled and done.result.matched == 1
    [found] = done.result.mismatches
    again = await reconciling.reconcile_statement(unit_of_work(), "wechatpay", bill, "admin:a")
    assert again.already_reconciled
    [listed], token = await reconciling.list_mismatches(unit_of_work())
    assert token == ""
    assert (listed.mismatch_id, listed.key, listed.ledger_minor, listed.statement_minor) == (
        found.mismatch_id, "T1", 1000, 990
    )
    resolved = await reconciling.resolve_mismatch(unit_of_work(), found.mismatch_id, "admin:b", "ok",
                                                  Money(-10, "CNY"))
    assert resolved.resolved and resolved.resolved_by == "admin:b" and resolved.adjustment_minor == -10
    assert await reconciling.list_mismatches(unit_of_work()) == ([], "")
    assert [m.mismatch_id for m in (await reconciling.list_mismatches(unit_of_work(), True, 1))[0]] == [
        found.mismatch_id
    ]
    with pytest.raises(reconciling.AlreadyResolved):
        await reconciling.resolve_mismatch(unit_of_work(), found.mismatch_id, "admin:b", "again")
    with pytest.raises(reconciling.MismatchNotFound):
        await reconciling.resolve_mismatch(unit_of_work(), str(uuid.uuid4()), "admin:b", "none")
    async with unit_of_work() as uow:
        fees = [b for b in await uow.journal.totals() if b.account == "fees:psp:wechatpay"]
        assert [(b.balance_minor) for b in fees] == [3]


async def test_the_chain_streams_every_entry_as_its_hash_covers_it_in_seq_order(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    first = entries_after(Chain(), 1, 2)
    second = entries_after(Chain(first.last_seq, first.head.hash), 3)
    for event in (first, second):
        async with unit_of_work() as uow:
            await uow.journal.append(event)
            await uow.commit()
    async with unit_of_work() as uow:
        links = [link async for page in uow.journal.chain_pages() for link in page]
    assert [link.seq for link in links] == [1, 2, 3]
    recorded = [e.rec for e in (*first.entries, *second.entries)]
    for link, rec in zip(links, recorded, strict=True):
        assert (link.kind, link.source_event_id, link.occurred_at, link.prev_hash, link.hash) == (
            rec.kind, rec.source_event_id, rec.occurred_at, rec.prev_hash, rec.hash
        )
        assert link.expected_hash() == rec.hash
        assert sorted(link.lines) == sorted(
            (ln.account, ln.currency, ln.debit_minor, ln.credit_minor, ln.sku_id) for ln in rec.lines
        )


@pytest.mark.parametrize("extends_the_chain", [True, False])
async def test_work_done_while_the_journal_writes_runs_once_whether_or_not_the_write_is_refused(
    unit_of_work: UnitOfWorkFactory, extends_the_chain: bool
) -> None:
    event = entries_after(Chain() if extends_the_chain else Chain(7, "f" * 64), 1, 2)
    calls: list[int] = []
    async with unit_of_work() as uow:
        if extends_the_chain:
            await uow.journal.append(event, while_writing=lambda: calls.append(len(calls)))
            await uow.commit()
        else:
            with pytest.raises(JournalRefused):
                await uow.journal.append(event, while_writing=lambda: calls.append(len(calls)))
    assert calls == [0]
    assert [e.seq for e in await committed(unit_of_work)] == ([1, 2] if extends_the_chain else [])
