"""The hostile suite drives the whole stack (six services as processes) over its public API, like the
end-to-end tests, and reads the stores directly to prove that a refused request changed nothing."""

from __future__ import annotations

import asyncio
import time

from psycopg import AsyncConnection

# The stack and its HTTP client, as the end-to-end tests have them (this directory starts its own).
from tests.integration.conftest import e2e_broker, e2e_smtp, http, stack, stack_dir  # noqa: F401
from tests.integration.harness import quiet

SCHEMAS = ("gateway", "orders", "inventory", "fulfillment", "ledger", "risk")
# Bookkeeping that legitimately moves with any request, or on its own: the relays' positions, the abuse
# limits' counters and failed sign-ins, partners' nonces, revoked tokens.
BOOKKEEPING = {"relay_state", "rate_counters", "login_failures", "partner_nonces", "revoked_tokens"}


async def row_counts(database_url: str) -> dict[str, int]:
    """Rows in every table of every service's schema (event stores included), bookkeeping aside."""
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
            (list(SCHEMAS),),
        )
        tables = [(s, t) for s, t in await cur.fetchall() if t not in BOOKKEEPING]
        union = " UNION ALL ".join(
            f"SELECT '{s}.{t}', count(*) FROM \"{s}\".\"{t}\"" for s, t in tables
        )
        cur = await conn.execute(union)
        return {name: n for name, n in await cur.fetchall()}


# How long the row counts must stay the same, with nothing left to publish, before the stack counts as
# settled: longer than one hop's worst wait, an idle consumer's fetch (the stack's
# QUANYI_CONSUMER_BACKGROUND_IDLE_FETCH_WAIT_MS, 500 ms) plus its batch. Two looks 0.2 s apart were not: a
# background consumer in its idle fetch applied an event after both (gateway.inbox 3 -> 4).
SETTLE_S = 1.5


async def settled_counts(database_url: str, timeout: float = 60) -> dict[str, int]:
    """The row counts once every event is published and they have stopped moving for SETTLE_S."""
    deadline = time.monotonic() + timeout
    last: dict[str, int] | None = None
    since = 0.0
    while time.monotonic() < deadline:
        if not await quiet(database_url):
            last = None
        else:
            now = await row_counts(database_url)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= SETTLE_S:
                return now
        await asyncio.sleep(0.2)
    raise AssertionError("the stack did not settle")


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {t: (before.get(t, 0), after.get(t, 0)) for t in before.keys() | after.keys()
            if before.get(t, 0) != after.get(t, 0)}
