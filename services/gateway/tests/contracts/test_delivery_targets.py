"""The delivery-target store keeps its port's guarantees (application.delivery_targets.DeliveryTargetStore)
on Postgres and in the fake: one target per channel, the whole set replaced at once, nothing kept for a
buyer without an account, and a buyer's targets gone with the buyer's erasure."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from quanyi_gateway.adapters.delivery_targets import (
    InMemoryDeliveryTargetStore,
    PostgresDeliveryTargetStore,
)
from quanyi_gateway.adapters.privacy import PostgresPrivacyStore
from quanyi_gateway.application.delivery_targets import DeliveryTarget, DeliveryTargetStore
from quanyi_gateway.main import NAME
from quanyi_platform import db

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
HOOK = DeliveryTarget("webhook", "https://hooks.example.com/keys")
PHONE = DeliveryTarget("sms", "+8613800138000")
DEVICE = DeliveryTarget("app", "device-token-0123456789")


@dataclass
class Subject:
    store: DeliveryTargetStore
    add_buyer: Any  # async (uuid) -> None


@pytest.fixture(params=["memory", "postgres"])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    if request.param == "memory":
        fake = InMemoryDeliveryTargetStore()

        async def add_fake(buyer: uuid.UUID) -> None:
            fake.buyers.add(buyer)

        yield Subject(fake, add_fake)
        return
    database_url: str = request.getfixturevalue("database_url")
    await db.migrate(database_url, NAME, ["quanyi_gateway.migrations"])
    pool = await db.create_pool(database_url, NAME, 1, 4)

    async def add_buyer(buyer: uuid.UUID) -> None:
        async with pool.connection() as conn:
            await conn.execute(
                "INSERT INTO users (user_id, email, password_hash, role) VALUES (%s, %s, 'x', 'buyer')",
                (buyer, f"{buyer}@buyer.test"),
            )

    try:
        yield Subject(PostgresDeliveryTargetStore(pool), add_buyer)
    finally:
        await pool.close()


async def test_one_target_per_channel_the_last_kept_wins(subject: Subject) -> None:
    buyer = uuid.uuid4()
    await subject.add_buyer(buyer)
    assert await subject.store.keep(buyer, [HOOK, PHONE], T0)
    assert await subject.store.keep(buyer, [DeliveryTarget("sms", "+8613900139000")], T0)
    assert await subject.store.of(buyer) == [DeliveryTarget("sms", "+8613900139000"), HOOK]


async def test_keeping_only_a_set_forgets_the_other_channels_and_an_empty_set_forgets_all(
    subject: Subject,
) -> None:
    buyer, other = uuid.uuid4(), uuid.uuid4()
    await subject.add_buyer(buyer)
    await subject.add_buyer(other)
    await subject.store.keep(buyer, [HOOK, PHONE], T0)
    await subject.store.keep(other, [DEVICE], T0)

    assert await subject.store.keep(buyer, [DEVICE], T0, only=True)
    assert await subject.store.of(buyer) == [DEVICE]
    assert await subject.store.keep(buyer, [], T0, only=True)
    assert await subject.store.of(buyer) == []
    assert await subject.store.of(other) == [DEVICE]  # another buyer's stay


async def test_a_buyer_without_an_account_keeps_nothing(subject: Subject) -> None:
    nobody = uuid.uuid4()
    assert not await subject.store.keep(nobody, [HOOK], T0)
    assert await subject.store.of(nobody) == []


async def test_dropping_one_channel_or_all_says_how_many_were_kept(subject: Subject) -> None:
    buyer = uuid.uuid4()
    await subject.add_buyer(buyer)
    await subject.store.keep(buyer, [HOOK, PHONE, DEVICE], T0)
    assert await subject.store.drop(buyer, ["sms"]) == 1
    assert await subject.store.drop(buyer, ["sms"]) == 0
    assert await subject.store.drop(buyer, None) == 2
    assert await subject.store.of(buyer) == []


async def test_an_erased_buyers_targets_are_gone_and_contacts_answer_none(database_url: str) -> None:
    await db.migrate(database_url, NAME, ["quanyi_gateway.migrations"])
    pool = await db.create_pool(database_url, NAME, 1, 4)
    try:
        buyer, other = uuid.uuid4(), uuid.uuid4()
        async with pool.connection() as conn:
            for b in (buyer, other):
                await conn.execute(
                    "INSERT INTO users (user_id, email, password_hash, role) VALUES (%s, %s, 'x', 'buyer')",
                    (b, f"{b}@buyer.test"),
                )
        store, privacy = PostgresDeliveryTargetStore(pool), PostgresPrivacyStore(pool)
        await store.keep(buyer, [HOOK, PHONE], T0)
        await store.keep(other, [DEVICE], T0)
        found = await privacy.look_up([buyer, other])
        assert found.targets == {
            buyer: (("sms", PHONE.target), ("webhook", HOOK.target)), other: (("app", DEVICE.target),)
        }

        assert await privacy.erase(buyer, "self", T0) is not None

        async with pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) AS n FROM delivery_targets WHERE buyer_id = %s", (buyer,))
            row: Any = await cur.fetchone()
        assert row["n"] == 0
        found = await privacy.look_up([buyer, other])
        assert buyer in found.erased and buyer not in found.targets
        assert found.targets == {other: (("app", DEVICE.target),)}
    finally:
        await pool.close()
