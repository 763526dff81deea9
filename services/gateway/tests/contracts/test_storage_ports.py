"""The gateway's storage ports, one suite against both implementations: Postgres and the in-memory fakes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quanyi_gateway.adapters.memory import InMemoryNonceStore, InMemoryRevocationStore, InMemoryUserRepository
from quanyi_gateway.adapters.nonces import PostgresNonceStore
from quanyi_gateway.adapters.users import PostgresRevocationStore, PostgresUserRepository
from quanyi_gateway.main import NAME
from quanyi_platform import db

BACKENDS = ["memory", "postgres"]


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    await db.migrate(database_url, NAME, ["quanyi_gateway.migrations"])
    pool = await db.create_pool(database_url, NAME, 1, 2)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(params=BACKENDS)
def users(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryUserRepository()
    return PostgresUserRepository(request.getfixturevalue("pool"))


@pytest.fixture(params=BACKENDS)
def revocations(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryRevocationStore()
    return PostgresRevocationStore(request.getfixturevalue("pool"))


@pytest.fixture(params=BACKENDS)
def nonce_store(request: pytest.FixtureRequest) -> Any:
    """A factory of nonce stores with a given retention."""
    if request.param == "memory":
        return InMemoryNonceStore
    pool = request.getfixturevalue("pool")
    return lambda retention: PostgresNonceStore(pool, retention=retention)


async def test_an_account_is_created_once_per_email_in_any_case(users: Any) -> None:
    alice = await users.add("Alice@Example.com", "hash-1")
    assert alice is not None and alice.email == "alice@example.com" and alice.role == "buyer"
    assert await users.add("ALICE@example.com", "hash-2") is None
    creds = await users.credentials("alice@EXAMPLE.com")
    assert (creds.user, creds.password_hash) == (alice, "hash-1")
    assert await users.credentials("nobody@example.com") is None


async def test_a_password_hash_is_replaced(users: Any) -> None:
    alice = await users.add("alice@example.com", "old")
    await users.set_password_hash(alice.user_id, "new")
    assert (await users.credentials("alice@example.com")).password_hash == "new"


async def test_the_admin_is_created_or_an_existing_account_made_admin_with_the_new_password(users: Any) -> None:
    created = await users.upsert_admin("Admin@example.com", "first")
    again = await users.upsert_admin("admin@example.com", "second")
    assert created.role == again.role == "admin"
    assert again.user_id == created.user_id
    assert (await users.credentials("admin@example.com")).password_hash == "second"
    bob = await users.add("bob@example.com", "bob")
    promoted = await users.upsert_admin("bob@example.com", "boss")
    assert (promoted.user_id, promoted.role) == (bob.user_id, "admin")


async def test_a_revocation_is_recorded_once_and_listed_since_a_time(revocations: Any) -> None:
    expiry = datetime.now(UTC) + timedelta(hours=1)
    before = datetime.now(UTC) - timedelta(seconds=5)
    jti = str(uuid.uuid4())
    await revocations.revoke(jti, uuid.uuid4(), expiry)
    await revocations.revoke(jti, uuid.uuid4(), expiry)
    listed = await revocations.revoked_since(None)
    assert [r.jti for r in listed] == [jti]
    assert abs(listed[0].expires_at - expiry) < timedelta(milliseconds=1)
    assert [r.jti for r in await revocations.revoked_since(before)] == [jti]
    assert await revocations.revoked_since(listed[0].revoked_at + timedelta(seconds=1)) == []


async def test_revocations_of_expired_tokens_are_not_listed_and_are_purged(revocations: Any) -> None:
    live, dead = str(uuid.uuid4()), str(uuid.uuid4())
    await revocations.revoke(live, uuid.uuid4(), datetime.now(UTC) + timedelta(hours=1))
    await revocations.revoke(dead, uuid.uuid4(), datetime.now(UTC) - timedelta(seconds=1))
    assert [r.jti for r in await revocations.revoked_since(None)] == [live]
    assert await revocations.purge_expired() == 1
    assert await revocations.purge_expired() == 0


async def test_a_nonce_is_new_once_per_partner_within_the_retention(nonce_store: Any) -> None:
    nonces = nonce_store(timedelta(minutes=10))
    assert await nonces.remember("acme", "n-1")
    assert not await nonces.remember("acme", "n-1")
    assert await nonces.remember("other", "n-1")


async def test_a_nonce_older_than_the_retention_is_forgotten(nonce_store: Any) -> None:
    nonces = nonce_store(timedelta(0))  # a nonce that old would be refused as stale anyway
    assert await nonces.remember("acme", "n-1")
    assert await nonces.remember("acme", "n-1")


async def test_operators_are_listed_given_roles_and_removed_but_never_buyers_or_the_configured_owner(
    users: Any,
) -> None:
    admin = await users.upsert_admin("admin@example.com", "h")
    buyer = await users.add("buyer@example.com", "h")
    sam = await users.add("sam@example.com", "h", "read-only")
    assert [(u.email, u.role) for u in await users.operators()] == [
        ("admin@example.com", "admin"), ("sam@example.com", "read-only")
    ]
    changed = await users.set_operator_role(sam.user_id, "finance")
    assert (changed.user_id, changed.role) == (sam.user_id, "finance")
    assert (await users.credentials("sam@example.com")).user.role == "finance"
    assert await users.set_operator_role(buyer.user_id, "owner") is None
    assert await users.set_operator_role(admin.user_id, "support") is None
    assert await users.remove_operator(buyer.user_id) is False
    assert await users.remove_operator(admin.user_id) is False
    assert await users.remove_operator(sam.user_id) is True
    assert await users.credentials("sam@example.com") is None
    assert [u.email for u in await users.operators()] == ["admin@example.com"]


async def test_an_account_revocation_is_listed_as_one_and_only_moves_forward(revocations: Any) -> None:
    account = uuid.uuid4()
    first = datetime.now(UTC).replace(microsecond=0)
    expiry = first + timedelta(hours=1)
    await revocations.revoke_account(account, first + timedelta(seconds=10), expiry)
    await revocations.revoke_account(account, first, expiry - timedelta(minutes=1))
    (listed,) = await revocations.revoked_since(None)
    assert (listed.jti, listed.account) == (str(account), True)
    assert listed.revoked_at == first + timedelta(seconds=10) and listed.expires_at == expiry
    await revocations.revoke_account(account, first + timedelta(seconds=20), expiry + timedelta(hours=1))
    (listed,) = await revocations.revoked_since(first + timedelta(seconds=15))
    assert listed.revoked_at == first + timedelta(seconds=20)
    assert listed.expires_at == expiry + timedelta(hours=1)
