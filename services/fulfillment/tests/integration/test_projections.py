"""The projections on real Postgres: after any command sequence they equal the fold of the stored events."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from psycopg_pool import AsyncConnectionPool
from quanyi_fulfillment.adapters import codec
from quanyi_fulfillment.domain.aggregate import fold
from quanyi_fulfillment.domain.events import Recorded
from quanyi_platform.envelope import open_envelope
from quanyi_platform.projection import StoredEvent

from services.fulfillment.tests.scenarios import EXAMPLES, T0, Runner, Step, check_invariants, steps

_runs = itertools.count()


async def stored_records(pool: AsyncConnectionPool) -> list[Recorded]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT seq, envelope, occurred_at FROM events ORDER BY seq")
        rows = await cur.fetchall()
        await conn.rollback()
    out = []
    for row in rows:
        env, payload = open_envelope(bytes(row["envelope"]))
        assert payload is not None
        recorded = codec.recorded_of(StoredEvent(env, payload, row["occurred_at"], row["seq"]))
        assert recorded is not None
        out.append(recorded)
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
@example(EXAMPLES[0])
@example(EXAMPLES[1])
@example(EXAMPLES[2])
async def test_after_any_command_sequence_the_projection_rows_equal_the_fold_of_the_stored_events(
    pool: AsyncConnectionPool, world: Any, sequence: list[Step]
) -> None:
    run = next(_runs)
    # Every run starts a day before the previous one, so its claims never reach the e-mails of earlier runs
    # (all runs share the database).
    runner = Runner(world.uow, f"r{run}", now=T0 - timedelta(days=run))

    await runner.run(sequence)

    recorded = await stored_records(pool)
    states = fold(recorded)
    async with world.uow() as uow:
        loaded = await uow.deliveries.get_many(list(states))
    assert loaded == states
    check_invariants(recorded, states)
