"""The Postgres stores behind idempotency keys, abuse limits and partners' SKUs keep the guarantees their
ports state (application.idempotency, application.limits, application.ports)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from quanyi_gateway.adapters.idempotency import PostgresIdempotencyStore
from quanyi_gateway.adapters.limits import PostgresLimitStore
from quanyi_gateway.adapters.memory import InMemoryPartnerScopes
from quanyi_gateway.adapters.partner_scopes import PostgresPartnerScopes
from quanyi_gateway.application.idempotency import StoredResponse
from quanyi_gateway.application.limits import Backoff
from quanyi_gateway.main import NAME
from quanyi_platform import db

TTL, LEASE = timedelta(hours=24), timedelta(seconds=30)
A, B = b"a" * 32, b"b" * 32


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    await db.migrate(database_url, NAME, ["quanyi_gateway.migrations"])
    pool = await db.create_pool(database_url, NAME, 1, 4)
    try:
        yield pool
    finally:
        await pool.close()


async def test_a_key_runs_once_then_replays_its_exact_response(pool: Any) -> None:
    store = PostgresIdempotencyStore(pool)
    claim = await store.claim("u1", "k", A, TTL, LEASE)
    assert claim.outcome == "run" and claim.generation is not None
    assert (await store.claim("u1", "k", A, TTL, LEASE)).outcome == "busy"
    assert (await store.claim("u1", "k", B, TTL, LEASE)).outcome == "mismatch"
    assert (await store.claim("u2", "k", B, TTL, LEASE)).outcome == "run"  # keys are per owner
    body = b'{"order_id":"o-1","total":{"amount_minor":1990}}'
    await store.complete("u1", "k", claim.generation, StoredResponse(201, "application/json", body))
    replay = await store.claim("u1", "k", A, TTL, LEASE)
    assert replay.outcome == "replay" and replay.response == StoredResponse(201, "application/json", body)
    assert (await store.claim("u1", "k", B, TTL, LEASE)).outcome == "mismatch"


async def test_concurrent_claims_of_one_key_give_one_run(pool: Any) -> None:
    store = PostgresIdempotencyStore(pool)
    claims = await asyncio.gather(*(store.claim("u", "same", A, TTL, LEASE) for _ in range(8)))
    assert sorted(c.outcome for c in claims) == ["busy"] * 7 + ["run"]


async def test_claims_and_completions_sharing_a_group_each_get_what_they_would_alone(pool: Any) -> None:
    store = PostgresIdempotencyStore(pool)
    done = await store.claim("u", "done", A, TTL, LEASE)
    assert done.generation is not None
    await store.complete("u", "done", done.generation, StoredResponse(201, "application/json", b"{}"))
    # Issued together: new keys win by one insert, a key seen twice runs once, a settled key replays.
    claims = await asyncio.gather(*(store.claim("u", k, A, TTL, LEASE) for k in ("n1", "n2", "done", "n1")))
    assert [c.outcome for c in claims] == ["run", "run", "replay", "busy"]
    n1, n2 = claims[0].generation, claims[1].generation
    assert n1 is not None and n2 is not None
    await asyncio.gather(
        store.complete("u", "n1", n1, StoredResponse(201, "application/json", b'{"n":1}')),
        store.complete("u", "n2", n2, StoredResponse(409, "application/problem+json", b'{"n":2}')),
    )
    replays = await asyncio.gather(*(store.claim("u", k, A, TTL, LEASE) for k in ("n1", "n2")))
    assert [r.response for r in replays] == [
        StoredResponse(201, "application/json", b'{"n":1}'),
        StoredResponse(409, "application/problem+json", b'{"n":2}'),
    ]


async def test_a_released_key_runs_again_and_an_expired_lease_is_taken_over(pool: Any) -> None:
    store = PostgresIdempotencyStore(pool)
    first = await store.claim("u", "k", A, TTL, LEASE)
    assert first.generation is not None
    await store.release("u", "k", first.generation)
    again = await store.claim("u", "k", A, TTL, timedelta(0))  # a lease that has ended at once
    assert again.outcome == "run" and again.generation is not None
    taken = await store.claim("u", "k", A, TTL, LEASE)
    assert taken.outcome == "run" and taken.generation == again.generation  # the same life of the key


async def test_a_key_past_its_lifetime_is_new_with_a_new_generation(pool: Any) -> None:
    store = PostgresIdempotencyStore(pool)
    old = await store.claim("u", "k", A, TTL, LEASE)
    assert old.generation is not None
    await store.complete("u", "k", old.generation, StoredResponse(201, "application/json", b"{}"))
    await asyncio.sleep(0.01)
    new = await store.claim("u", "k", B, timedelta(milliseconds=1), LEASE)
    assert new.outcome == "run" and new.generation is not None and new.generation > old.generation
    assert await store.purge(timedelta(0)) == 1


async def test_counters_count_per_bucket_and_window(pool: Any) -> None:
    store = PostgresLimitStore(pool)
    for n in (1, 2, 3):
        counts, factor = await store.hit([("login:ip:1.2.3.4", 60), ("login:account:a", 3600)], None)
        assert {c.bucket: c.hits for c in counts} == {"login:ip:1.2.3.4": n, "login:account:a": n}
        assert factor == 1
        windows = {"login:ip:1.2.3.4": 60, "login:account:a": 3600}
        assert all(0 < c.resets_in_s <= windows[c.bucket] for c in counts)


async def test_concurrent_hits_count_as_if_one_after_the_other(pool: Any) -> None:
    store = PostgresLimitStore(pool)
    now = datetime.now(UTC)
    await store.tighten("b1", 2, now + timedelta(hours=1), "risk")
    hits = await asyncio.gather(*(
        store.hit([("checkout:ip:1.2.3.4", 60), (f"checkout:account:b{i % 2}", 60)], f"b{i % 2}")
        for i in range(10)
    ))
    assert sorted(counts[0].hits for counts, _ in hits) == list(range(1, 11))
    for i in (0, 1):
        mine = [(counts, factor) for n, (counts, factor) in enumerate(hits) if n % 2 == i]
        assert sorted(counts[1].hits for counts, _ in mine) == [1, 2, 3, 4, 5]
        assert {factor for _, factor in mine} == {1 if i == 0 else 2}
    assert store._hits.groups < 10  # they shared statements


async def test_the_strictest_tightening_in_force_wins(pool: Any) -> None:
    store = PostgresLimitStore(pool)
    now = datetime.now(UTC)
    await store.tighten("b1", 2, now + timedelta(hours=1), "risk")
    await store.tighten("b1", 4, now + timedelta(minutes=1), "risk")
    await store.tighten("b2", 8, now - timedelta(minutes=1), "over")
    assert (await store.hit([("checkout:account:b1", 60)], "b1"))[1] == 4
    assert (await store.hit([("checkout:account:b2", 60)], "b2"))[1] == 1


async def test_failed_sign_ins_lock_with_backoff_and_unlock_forgets_them(pool: Any) -> None:
    store = PostgresLimitStore(pool)
    backoff = Backoff(free=2, base_s=30, max_s=60)
    assert [await store.login_failed("a", backoff) for _ in range(4)] == [0, 0, 30, 60]
    assert 55 < await store.login_locked_for("a") <= 60
    assert await store.unlock("a") is True
    assert await store.login_locked_for("a") == 0
    assert await store.unlock("a") is False
    assert await store.login_failed("a", backoff) == 0  # counting starts again


@pytest.fixture(params=["memory", "postgres"])
def scopes(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryPartnerScopes()
    return PostgresPartnerScopes(request.getfixturevalue("pool"))


async def test_a_partners_skus_are_granted_replaced_and_kept_apart(scopes: Any) -> None:
    assert await scopes.skus_of("acme") == frozenset()
    await scopes.grant("acme", ["s1", "s2"])
    await scopes.grant("acme", ["s2", "s3"])
    await scopes.grant("other", ["s9"])
    assert await scopes.skus_of("acme") == {"s1", "s2", "s3"}
    await scopes.replace("acme", ["s3", "s4"])
    assert await scopes.skus_of("acme") == {"s3", "s4"}
    await scopes.replace("acme", [])
    assert await scopes.skus_of("acme") == frozenset()
    assert await scopes.skus_of("other") == {"s9"}


class RoundTrips(AsyncConnection[Any]):
    """Records, per statement it runs, whether the connection was left inside a transaction (then BEGIN
    went before it and a COMMIT must follow: three round trips, not one)."""

    left_open: ClassVar[list[bool]] = []

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        cur = await super().execute(query, params, **kwargs)
        RoundTrips.left_open.append(self.info.transaction_status != TransactionStatus.IDLE)
        return cur


async def test_every_request_pays_one_round_trip_per_store_call(database_url: str) -> None:
    """A checkout's rate-limit hit, its new key's claim and the completion each commit on their own."""
    await db.migrate(database_url, NAME, ["quanyi_gateway.migrations"])
    pool = AsyncConnectionPool(
        database_url, connection_class=RoundTrips, min_size=1, max_size=1, open=False,
        kwargs={"options": f"-c search_path={NAME}", "row_factory": dict_row, "autocommit": False},
    )
    await pool.open(wait=True)
    try:
        limits, keys = PostgresLimitStore(pool), PostgresIdempotencyStore(pool)
        RoundTrips.left_open.clear()
        counts, _ = await limits.hit([("checkout:account:u", 60)], "u")
        claim = await keys.claim("u", "k", A, TTL, LEASE)
        assert claim.generation is not None and [c.hits for c in counts] == [1]
        await keys.complete("u", "k", claim.generation, StoredResponse(201, "application/json", b"{}"))
        assert RoundTrips.left_open == [False, False, False]
        assert (await keys.claim("u", "k", A, TTL, LEASE)).outcome == "replay"  # the row lock's path
        async with pool.connection() as conn:  # back in the pool as it was: transactions implicit
            assert conn.autocommit is False
    finally:
        await pool.close()
