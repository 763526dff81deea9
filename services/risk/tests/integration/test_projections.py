"""The projections on real Postgres equal the fold of the recorded events, and loads serialise buyers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import AsyncConnectionPool
from quanyi_platform.envelope import open_envelope
from quanyi_platform.eventstore import EventStore
from quanyi_risk.adapters.postgres import PgRiskUnitOfWork
from quanyi_risk.adapters.proto import RISK_DECIDED, decided_from_proto, decided_new_event
from quanyi_risk.application.assess import PlacedOrder, assess_placed_orders
from quanyi_risk.domain.assessment import AssessOrder, BuyerVelocity, RiskDecided, decide, fold
from quanyi_risk.domain.velocity import Decision, VelocityRule

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RULE = VelocityRule(max_orders=3)
MINUTE = timedelta(seconds=60)


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[tuple[int, int, int]], list[int]]:
    """Placements (order, buyer, millisecond) of a few buyers over several minutes, in any order and some
    more than once, and the sizes of the batches they arrive in."""
    n = draw(st.integers(1, 20))
    orders = [(i, draw(st.integers(0, 2)), draw(st.integers(0, 400_000))) for i in range(n)]
    placements = draw(st.lists(st.sampled_from(orders), min_size=1, max_size=30))
    return placements, draw(st.lists(st.integers(1, 12), max_size=30))


async def recorded(pool: AsyncConnectionPool, prefix: str) -> list[tuple[RiskDecided, datetime]]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT envelope, occurred_at FROM events WHERE aggregate_id LIKE %s AND event_type = %s ORDER BY seq",
            (f"{prefix}%", RISK_DECIDED),
        )
        found: list[Any] = await cur.fetchall()
        out = []
        for row in found:
            _, payload = open_envelope(row["envelope"])
            out.append((decided_from_proto(payload, row["occurred_at"]), row["occurred_at"]))  # type: ignore[arg-type]
        return out


async def table(pool: AsyncConnectionPool, query: Any, prefix: str) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(query, (f"{prefix}%",))
        found: list[dict[str, Any]] = await cur.fetchall()  # type: ignore[assignment]
        return found


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs())
async def test_batches_through_postgres_decide_as_one_by_one_and_the_projections_equal_the_fold(
    pool: AsyncConnectionPool, store: EventStore, run: tuple[list[tuple[int, int, int]], list[int]]
) -> None:
    prefix = uuid.uuid4().hex[:10]
    placements, cuts = run
    commands = [
        AssessOrder(f"{prefix}-o{i}", f"{prefix}-b{b}", T0 + timedelta(milliseconds=ms)) for i, b, ms in placements
    ]
    rest = commands
    for size in [*cuts, len(commands)]:
        batch, rest = rest[:size], rest[size:]
        await assess_placed_orders(
            PgRiskUnitOfWork(store, pool=pool), RULE, [PlacedOrder(c, c.order_id, "") for c in batch]
        )

    expected: list[RiskDecided] = []
    for c in commands:
        expected.extend(decide(fold(expected).get(c.buyer_id) or BuyerVelocity(c.buyer_id), c, RULE))
    events = await recorded(pool, prefix)
    assert [e for e, _ in events] == expected

    states = fold(e for e, _ in events)
    velocity = await table(pool, "SELECT order_id, buyer_id, placed_at FROM order_velocity WHERE buyer_id LIKE %s", prefix)
    by_buyer: dict[str, dict[str, datetime]] = {}
    for r in velocity:
        by_buyer.setdefault(r["buyer_id"], {})[r["order_id"]] = r["placed_at"]
    assert {b: BuyerVelocity(b, o) for b, o in by_buyer.items()} == states

    rows = await table(
        pool, "SELECT order_id, buyer_id, decision, reasons, decided_at FROM decisions WHERE order_id LIKE %s", prefix
    )
    assert {r["order_id"]: (r["buyer_id"], Decision(r["decision"]), tuple(r["reasons"]), r["decided_at"]) for r in rows} == {
        e.order_id: (e.buyer_id, e.decision, e.reasons, at) for e, at in events
    }


async def test_a_unit_of_work_loading_a_buyer_waits_for_the_one_holding_it_and_then_sees_its_orders(
    pool: AsyncConnectionPool, store: EventStore
) -> None:
    first = PgRiskUnitOfWork(store, pool=pool)
    async with first:
        await first.velocity.load([AssessOrder("o1", "b1", T0)], MINUTE)
        await first.events.append([decided_new_event(RiskDecided("o1", "b1", T0, Decision.APPROVE), "o1", "")])

        async def second_load() -> dict[str, BuyerVelocity]:
            async with PgRiskUnitOfWork(store, pool=pool) as second:
                return await second.velocity.load([AssessOrder("o2", "b1", T0 + MINUTE / 2)], MINUTE)

        waiting = asyncio.create_task(second_load())
        async with pool.connection() as conn:
            for _ in range(500):
                cur = await conn.execute("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                row: Any = await cur.fetchone()
                await conn.rollback()
                if row["n"] == 1:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the second load never waited for the first unit of work")
        assert not waiting.done()
        await first.commit()
    assert (await waiting)["b1"].orders == {"o1": T0}
