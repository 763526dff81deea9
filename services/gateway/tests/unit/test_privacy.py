"""Privacy's use cases on the in-memory store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from quanyi_gateway.adapters.privacy import InMemoryPrivacyStore
from quanyi_gateway.application.privacy import (
    MAX_CONTACTS,
    BuyerContact,
    BuyerNotFound,
    ContactStatus,
    Privacy,
    TooManyBuyers,
)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def test_contacts_come_back_in_the_order_asked_and_an_erasure_turns_active_into_erased() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    store = InMemoryPrivacyStore(buyers={a: "a@x.test", b: "b@x.test"})
    privacy = Privacy(store, clock=lambda: T0)

    erasure = await privacy.erase(b, "self")
    again = await privacy.erase(b, "someone else")

    assert (erasure.buyer_id, erasure.erased_at, erasure.requested_by) == (b, T0, "self")
    assert again == erasure  # the first record stands
    assert await privacy.contacts([str(b), "junk", str(a)]) == [
        BuyerContact(str(b), "", ContactStatus.ERASED),
        BuyerContact("junk", "", ContactStatus.UNKNOWN),
        BuyerContact(str(a), "a@x.test", ContactStatus.ACTIVE),
    ]
    assert store.buyers == {a: "a@x.test"}


async def test_an_unknown_buyer_cannot_be_erased_and_a_look_up_is_bounded() -> None:
    privacy = Privacy(InMemoryPrivacyStore())
    with pytest.raises(BuyerNotFound):
        await privacy.erase(uuid.uuid4(), "admin")
    with pytest.raises(TooManyBuyers):
        await privacy.contacts([str(uuid.uuid4()) for _ in range(MAX_CONTACTS + 1)])
