"""The gateway's use cases against in-memory ports: no network, no database."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from quanyi_gateway import security
from quanyi_gateway.adapters.memory import (
    InMemoryCatalogue,
    InMemoryDeliveries,
    InMemoryKeyVault,
    InMemoryNonceStore,
    InMemoryOrders,
    InMemoryPartnerScopes,
    InMemoryRevocationStore,
    InMemoryUserRepository,
)
from quanyi_gateway.application.accounts import Accounts, TokenRevocations
from quanyi_gateway.application.checkout import Checkout, OrderLine, PlaceOrder
from quanyi_gateway.application.errors import BadCredentials, OrderNotFound, UnknownKey, UnknownSku
from quanyi_gateway.application.keys import MyKeys
from quanyi_gateway.application.model import ChannelStep, Delivery, KeyFacts, RevealedKey, User
from quanyi_gateway.application.orders import OrderQueries
from quanyi_gateway.application.redemptions import RecordRedemption, Redemptions

SECRET = "a-token-secret-of-at-least-32-bytes!"
ALICE = User(uuid.uuid4(), "alice@example.com", "buyer")
BOB = User(uuid.uuid4(), "bob@example.com", "buyer")
ADMIN = User(uuid.uuid4(), "admin@example.com", "admin")


def accounts(users: InMemoryUserRepository, revocations: TokenRevocations) -> Accounts:
    return Accounts(users, revocations, SECRET, hash_n=2**4, token_ttl_s=3600)


async def test_a_signed_in_user_is_known_by_the_token_alone() -> None:
    users = InMemoryUserRepository()
    acc = accounts(users, TokenRevocations(InMemoryRevocationStore()))
    user = await acc.register("Alice@Example.com", "correct-horse")
    issued = await acc.sign_in("alice@example.com", "correct-horse")
    assert acc.authenticate(issued.token) == user
    with pytest.raises(BadCredentials):
        await acc.sign_in("alice@example.com", "wrong-horse")


async def test_a_signed_out_token_is_refused_here_at_once_and_at_another_replica_after_its_refresh() -> None:
    store = InMemoryRevocationStore()
    users = InMemoryUserRepository()
    here, there = TokenRevocations(store), TokenRevocations(store)
    a, b = accounts(users, here), accounts(users, there)
    await a.register("alice@example.com", "correct-horse")
    token = (await a.sign_in("alice@example.com", "correct-horse")).token
    assert await a.sign_out(token)
    assert a.authenticate(token) is None
    assert b.authenticate(token) is not None  # until its next refresh
    await there.refresh()
    assert b.authenticate(token) is None


async def test_a_token_dated_past_one_revocation_still_falls_to_the_next_in_the_same_second() -> None:
    now = [1_000.3]
    revocations = TokenRevocations(InMemoryRevocationStore(), clock=lambda: now[0])
    account = uuid.uuid4()
    await revocations.revoke_account(account, 5_000)  # a role changed at 1000.3
    # A sign-in at 1000.5 is dated 1001 (the second of the revocation refuses its own tokens) ...
    assert revocations.issued_before_revocation(str(account), 1_000)
    assert not revocations.issued_before_revocation(str(account), 1_001)
    now[0] = 1_000.9  # ... and the operator is removed before 1001 comes
    await revocations.revoke_account(account, 5_000)
    assert revocations.issued_before_revocation(str(account), 1_001)
    assert not revocations.issued_before_revocation(str(account), 1_002)


async def test_signing_out_a_forged_token_records_nothing() -> None:
    store = InMemoryRevocationStore()
    acc = accounts(InMemoryUserRepository(), TokenRevocations(store))
    assert not await acc.sign_out("not-a-token")
    assert await store.revoked_since(None) == []


async def test_revocations_of_expired_tokens_are_forgotten() -> None:
    now = [datetime.now(UTC)]
    store = InMemoryRevocationStore(now=lambda: now[0])
    revocations = TokenRevocations(store, clock=lambda: now[0].timestamp())
    await revocations.revoke("j-1", ALICE.user_id, int((now[0] + timedelta(seconds=60)).timestamp()))
    assert revocations.is_revoked("j-1")
    now[0] += timedelta(seconds=61)
    await revocations.refresh()
    assert not revocations.is_revoked("j-1")
    assert await store.revoked_since(None) == []


async def test_an_order_is_placed_at_the_catalogues_prices() -> None:
    catalogue, orders = InMemoryCatalogue(), InMemoryOrders()
    catalogue.put("a", 1990)
    catalogue.put("b", 500)
    placed = await Checkout(catalogue, orders).place(
        PlaceOrder(ALICE, (OrderLine("a", 2), OrderLine("b", 1), OrderLine("a", 1)), "k-1")
    )
    assert [(i.sku_id, i.quantity, i.unit_price.amount_minor) for i in placed.order.items] == [
        ("a", 2, 1990), ("b", 1, 500), ("a", 1, 1990)
    ]
    assert placed.order.total.amount_minor == 3 * 1990 + 500
    assert catalogue.calls["prices"] == 1  # one lookup for all lines, each SKU once


async def test_an_unknown_sku_places_no_order() -> None:
    catalogue, orders = InMemoryCatalogue(), InMemoryOrders()
    catalogue.put("a", 1990)
    with pytest.raises(UnknownSku):
        await Checkout(catalogue, orders).place(PlaceOrder(ALICE, (OrderLine("a", 1), OrderLine("zzz", 1)), "k"))
    assert orders.orders == {}


async def test_the_same_idempotency_key_places_one_order() -> None:
    catalogue, orders = InMemoryCatalogue(), InMemoryOrders()
    catalogue.put("a", 1990)
    checkout = Checkout(catalogue, orders)
    first = await checkout.place(PlaceOrder(ALICE, (OrderLine("a", 1),), "same"))
    again = await checkout.place(PlaceOrder(ALICE, (OrderLine("a", 1),), "same"))
    assert (first.replayed, again.replayed) == (False, True)
    assert first.order == again.order


async def test_another_buyers_order_looks_like_no_order_but_an_admin_sees_it() -> None:
    catalogue, orders = InMemoryCatalogue(), InMemoryOrders()
    catalogue.put("a", 1990)
    placed = await Checkout(catalogue, orders).place(PlaceOrder(ALICE, (OrderLine("a", 1),), "k"))
    queries = OrderQueries(orders)
    assert await queries.own_order(ALICE, placed.order.order_id) == placed.order
    assert await queries.own_order(ADMIN, placed.order.order_id) == placed.order
    for who, order_id in ((BOB, placed.order.order_id), (ALICE, "missing")):
        with pytest.raises(OrderNotFound):
            await queries.own_order(who, order_id)


def deliver(
    deliveries: InMemoryDeliveries,
    vault: InMemoryKeyVault,
    order_id: str,
    buyer: User,
    code: str,
    sku_id: str = "a",
) -> str:
    key_id = f"k-{uuid.uuid4().hex[:6]}"
    vault.keys[key_id] = (RevealedKey(key_id, sku_id, code, "pw"), order_id)
    deliveries.deliveries.append(
        Delivery(order_id, key_id, sku_id, str(buyer.user_id), "2026-01-01T00:00:00+00:00", "")
    )
    return key_id


async def test_a_buyers_keys_are_revealed_once_per_order_under_audit_and_only_theirs() -> None:
    orders, deliveries, vault = InMemoryOrders(), InMemoryDeliveries(), InMemoryKeyVault()
    k1 = deliver(deliveries, vault, "o-1", ALICE, "C1")
    k2 = deliver(deliveries, vault, "o-1", ALICE, "C2")
    deliver(deliveries, vault, "o-2", BOB, "BOBS")
    keys = (await MyKeys(OrderQueries(orders), deliveries, vault).reveal(ALICE)).items
    assert sorted((k.key_id, k.code) for k in keys) == sorted([(k1, "C1"), (k2, "C2")])
    assert vault.reveals == [("o-1", (k1, k2), f"buyer:{ALICE.user_id}", "user-center")]
    assert "C1" not in repr(keys)


async def test_asking_for_the_keys_of_another_buyers_order_reveals_nothing() -> None:
    catalogue, orders, deliveries, vault = InMemoryCatalogue(), InMemoryOrders(), InMemoryDeliveries(), InMemoryKeyVault()
    catalogue.put("a", 1)
    placed = await Checkout(catalogue, orders).place(PlaceOrder(ALICE, (OrderLine("a", 1),), "k"))
    deliver(deliveries, vault, placed.order.order_id, ALICE, "C1")
    with pytest.raises(OrderNotFound):
        await MyKeys(OrderQueries(orders), deliveries, vault).reveal(BOB, placed.order.order_id)
    assert vault.reveals == []


def signed(partner: str, secret: str, nonce: str, body: bytes, now: float) -> security.PartnerRequest:
    ts = str(int(now))
    return security.PartnerRequest(partner, ts, nonce, security.partner_signature(secret, ts, nonce, body), body)


async def test_a_signed_redemption_is_recorded_once_and_a_repeat_is_a_duplicate() -> None:
    deliveries, vault = InMemoryDeliveries(), InMemoryKeyVault()
    key_id = deliver(deliveries, vault, "o-1", ALICE, "CODE-1")
    now = 1_800_000_000.0
    redemptions = Redemptions(
        {"acme": "s"},
        300,
        InMemoryNonceStore(timedelta(seconds=600)),
        vault,
        deliveries,
        InMemoryPartnerScopes({"acme": {"a"}}),
        clock=lambda: now,
    )
    await redemptions.authenticate(signed("acme", "s", "n-1", b"{}", now))
    with pytest.raises(security.PartnerAuthError):
        await redemptions.authenticate(signed("acme", "s", "n-1", b"{}", now))
    first = await redemptions.record(RecordRedemption("acme", "CODE-1"))
    again = await redemptions.record(RecordRedemption("acme", "CODE-1"))
    assert (first.key_id, first.order_id, first.duplicate) == (key_id, "o-1", False)
    assert first.redeemed_at == datetime.fromtimestamp(now, UTC).isoformat()
    assert (again.duplicate, again.redeemed_at) == (True, first.redeemed_at)
    with pytest.raises(UnknownKey):
        await redemptions.record(RecordRedemption("acme", "NO-SUCH-CODE"))


async def test_a_token_known_from_an_earlier_request_is_still_refused_once_expired_or_revoked() -> None:
    now = [float(int(time.time()))]
    revocations = TokenRevocations(InMemoryRevocationStore())
    users = InMemoryUserRepository()
    acc = Accounts(users, revocations, SECRET, hash_n=2**4, token_ttl_s=60, clock=lambda: now[0])
    await acc.register("alice@example.com", "correct-horse")
    first = (await acc.sign_in("alice@example.com", "correct-horse")).token
    second = (await acc.sign_in("alice@example.com", "correct-horse")).token
    assert acc.authenticate(first) is not None and acc.authenticate(second) is not None
    await acc.sign_out(second)
    assert acc.authenticate(second) is None
    now[0] += 60
    assert acc.authenticate(first) is None


async def test_a_code_of_a_sku_outside_the_partners_is_answered_as_an_unknown_code() -> None:
    deliveries, vault = InMemoryDeliveries(), InMemoryKeyVault()
    deliver(deliveries, vault, "o-1", ALICE, "THEIRS", sku_id="sku-b")
    scopes = InMemoryPartnerScopes({"acme": {"a"}})
    nonces = InMemoryNonceStore(timedelta(seconds=1))
    redemptions = Redemptions({"acme": "s"}, 300, nonces, vault, deliveries, scopes)
    with pytest.raises(UnknownKey) as foreign:
        await redemptions.record(RecordRedemption("acme", "THEIRS"))
    with pytest.raises(UnknownKey) as unknown:
        await redemptions.record(RecordRedemption("acme", "NO-SUCH-CODE"))
    assert str(foreign.value) == str(unknown.value)
    assert not any(d.redeemed_at for d in deliveries.deliveries)
    await scopes.grant("acme", ["sku-b"])
    assert (await redemptions.record(RecordRedemption("acme", "THEIRS"))).order_id == "o-1"


async def test_a_buyer_sees_their_keys_state_validity_and_channel_history_without_a_reveal() -> None:
    catalogue, orders, deliveries, vault = InMemoryCatalogue(), InMemoryOrders(), InMemoryDeliveries(), InMemoryKeyVault()
    catalogue.put("a", 1)
    placed = await Checkout(catalogue, orders).place(PlaceOrder(ALICE, (OrderLine("a", 1),), "k"))
    order_id = placed.order.order_id
    key_id = deliver(deliveries, vault, order_id, ALICE, "C1")
    until = datetime(2027, 1, 1, tzinfo=UTC)
    vault.facts[key_id] = KeyFacts(key_id, "delivered", None, until)
    deliveries.steps += [
        (order_id, ChannelStep("sms", "requested", "2026-12-01T01:00:00Z", 0, False, f"buyer:{ALICE.user_id}")),
        (order_id, ChannelStep("activation", "requested", "2026-12-01T01:01:00Z", 0, False, "ops:someone")),
        (order_id, ChannelStep("activation", "failed", "2026-12-01T01:02:00Z", 3, True, "")),
    ]
    my = MyKeys(OrderQueries(orders), deliveries, vault)

    [owned] = await my.delivered(ALICE, order_id)
    assert (owned.key_id, owned.state, owned.expires_at, owned.valid_from) == (key_id, "delivered", until, None)
    steps = await my.channel_history(ALICE, order_id)
    assert [(s.channel, s.outcome, s.requested_by) for s in steps] == [
        ("sms", "requested", "buyer"), ("activation", "requested", "support"), ("activation", "failed", ""),
    ]
    assert vault.reveals == []  # nothing was revealed to show any of it
    assert (await my.channel_histories(ALICE, [placed.order])) == {order_id: steps}
    assert await my.channel_histories(BOB, [placed.order]) == {}  # not Bob's order: nothing asked
    with pytest.raises(OrderNotFound):
        await my.channel_history(BOB, order_id)
    with pytest.raises(OrderNotFound):
        await my.delivered(BOB, order_id)
