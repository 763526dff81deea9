"""Group commit against a fresh Postgres database: a burst of concurrent PlaceOrder and HandlePaymentNotice
calls through a real gRPC channel (failing ones and same-order pairs among them) gets the answers the
calls one after the other would give, in far fewer units of work; a call Postgres refuses fails alone;
and the projections rebuilt from the store equal live."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import money_pb2
from quanyi.orders.v1 import orders_service_pb2 as pb
from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.adapters.psp_signature import NoticeVerifier, load_public_key
from quanyi_orders.application import orders as app
from quanyi_orders.application.entry import OrdersEntry
from quanyi_orders.bootstrap import NAME
from quanyi_orders.domain.money import Money
from quanyi_orders.entrypoints.grpc_server import OrdersServicer
from quanyi_platform import rpc
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.replay import assert_replay_matches_live

from services.orders.tests.integration.conftest import Psp

OK = "OK"


def cny(minor: int) -> money_pb2.Money:
    return money_pb2.Money(minor_units=minor, currency="CNY")


def place_request(buyer: str, key: str, quantity: int = 1) -> pb.PlaceOrderRequest:
    return pb.PlaceOrderRequest(
        buyer_id=buyer, buyer_email="b@example.com", channel="web", idempotency_key=key,
        items=[pb.OrderItem(sku_id="sku-a", quantity=quantity, unit_price=cny(1000))],
    )


class Gate:
    """Holds every unit of work at its start while closed (open by default), so a test can let calls queue."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    async def passed(self) -> None:
        await self._open.wait()


class GatedUnitOfWork(PgOrdersUnitOfWork):
    def __init__(self, store: EventStore, pool: AsyncConnectionPool, gate: Gate) -> None:
        super().__init__(store, pool=pool)
        self._gate = gate

    async def _begin(self) -> None:
        await self._gate.passed()
        await super()._begin()


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def entry(pool: AsyncConnectionPool, store: EventStore, gate: Gate) -> OrdersEntry:
    return OrdersEntry(lambda: GatedUnitOfWork(store, pool, gate), max_group=64, max_in_flight=2)


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def grouped(
    pool: AsyncConnectionPool, store: EventStore, psp_key: rsa.RSAPrivateKey, entry: OrdersEntry
) -> AsyncIterator[pb_grpc.OrdersServiceStub]:
    """The gRPC servicer on `entry`, in process, on a free port."""
    public_pem = psp_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    verifier = NoticeVerifier("psp-sim", load_public_key(pem=public_pem), 300)
    server = rpc.server()
    servicer = OrdersServicer(lambda: PgOrdersUnitOfWork(store, pool=pool), verifier, entry)
    pb_grpc.add_OrdersServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = rpc.channel(f"127.0.0.1:{port}")
    try:
        yield pb_grpc.OrdersServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(None)


async def answer(call: Any) -> Any:
    """The reply, or the status code of the refusal."""
    try:
        return await call
    except grpc.aio.AioRpcError as err:
        return err.code()


async def test_a_burst_of_concurrent_calls_gets_the_answers_of_the_calls_one_after_the_other(
    grouped: pb_grpc.OrdersServiceStub, entry: OrdersEntry, gate: Gate, psp: Psp, probe: Any, database_url: str
) -> None:
    stub = grouped
    # Before the burst: 20 orders to pay, an order paid by t-paid with a notice whose nonce is then spent,
    # and a key used already.
    targets = [(await stub.PlaceOrder(place_request(f"payer-{n}", "k"))).order for n in range(20)]
    paid = (await stub.PlaceOrder(place_request("payer-paid", "k"))).order
    spent = psp.notice(paid, txn_id="t-paid")
    await stub.HandlePaymentNotice(spent)
    used = (await stub.PlaceOrder(place_request("old-buyer", "old-key"))).order
    before = await probe.counts()
    groups_before = (entry.placing.groups, entry.capturing.groups)

    t = targets
    same_nonce = psp.notice(t[17], txn_id="t-17")
    places = (
        [place_request(f"new-{n}", "k") for n in range(30)]  # 30 new orders
        + [place_request(f"pair-{n}", "k") for n in range(3) for _ in range(2)]  # one key twice, 3 times
        + [place_request("old-buyer", "old-key") for _ in range(2)]  # a key used before the burst
        + [place_request(f"bad-{n}", "k", quantity=101) for n in range(2)]  # refused by the domain
    )
    notices = (
        [psp.notice(t[n], txn_id=f"t-{n}") for n in range(10)]  # 10 captures
        + [psp.notice(t[10], minor_units=1)]  # the wrong amount
        + [spent]  # a replayed notice
        + [psp.notice(pb.Order(order_id="ghost", total=cny(1000)))]  # an unknown order
        + [psp.notice(t[12], txn_id="t-12a"), psp.notice(t[12], txn_id="t-12b")]  # two transactions, one order
        + [psp.notice(t[13], txn_id="t-13"), psp.notice(t[13], txn_id="t-13")]  # one transaction, two notices
        + [psp.notice(t[14], txn_id="shared"), psp.notice(t[15], txn_id="shared")]  # one transaction, two orders
        + [psp.notice(t[16], txn_id="t-paid")]  # a transaction that paid another order
        + [same_nonce, same_nonce]  # one notice twice
        + [psp.notice(t[n], txn_id=f"t-{n}") for n in range(18, 20)]
    )
    # The burst meets busy drainers (a group committing): the gate holds the first groups until calls have
    # queued behind them, as they would behind a slow commit, however fast this machine answers.
    gate.close()
    burst = asyncio.gather(
        *[answer(stub.PlaceOrder(r)) for r in places], *[answer(stub.HandlePaymentNotice(r)) for r in notices]
    )
    try:
        await until(lambda: entry.placing.waiting >= 10 and entry.capturing.waiting >= 5, "calls queue")
    finally:
        gate.open()
    replies = await burst
    placed, captured = replies[:len(places)], replies[len(places):]

    # Placing: each new key makes an order; a key twice in the burst makes one, the other call gets it
    # replayed; a key used before returns its order; the refused ones are refused.
    new = placed[:30]
    assert all(not r.replayed for r in new) and len({r.order.order_id for r in new}) == 30
    for n in range(3):
        a, b = placed[30 + 2 * n: 32 + 2 * n]
        assert a.order == b.order and sorted([a.replayed, b.replayed]) == [False, True]
    assert [(r.order, r.replayed) for r in placed[36:38]] == [(used, True)] * 2
    assert placed[38:] == [grpc.StatusCode.INVALID_ARGUMENT] * 2

    def outcome(reply: Any) -> object:
        return reply if isinstance(reply, grpc.StatusCode) else (OK, reply.duplicate)

    got = [outcome(r) for r in captured]
    failed = grpc.StatusCode.FAILED_PRECONDITION
    assert got[:10] == [(OK, False)] * 10
    # The wrong amount is recorded (and refunded); a resent notice is a duplicate.
    assert got[10:13] == [(OK, False), (OK, True), grpc.StatusCode.NOT_FOUND]
    # Pairs: whichever goes first wins, the other gets what it would get second.
    assert Counter(got[13:15]) == Counter([(OK, False), (OK, False)])  # the second is refunded
    assert Counter(got[15:17]) == Counter([(OK, False), (OK, True)])  # the second is a duplicate
    assert Counter(got[17:19]) == Counter([(OK, False), failed])  # "belongs to another order"
    assert got[19] == failed
    assert Counter(got[20:22]) == Counter([(OK, False), (OK, True)])
    assert got[22:] == [(OK, False)] * 2

    # What was recorded is what those answers say, nothing more.
    after = await probe.counts()
    resent = 2  # the spent notice and the second of one notice twice: duplicates that record nothing
    refused = 2  # the wrong amount and the second transaction of one order: recorded, refund requested
    accepted = sum(1 for g in got if g != failed and isinstance(g, tuple)) - resent
    captures = sum(1 for g in got if g == (OK, False))
    assert after["orders"] - before["orders"] == 33
    assert after["payment_notices"] - before["payment_notices"] == accepted
    assert after["payments"] - before["payments"] == captures
    assert after["refunds"] - before["refunds"] == refused
    assert after["events"] - before["events"] == 33 + accepted + captures + refused
    for order in t[:10]:
        assert await probe.event_types(order.order_id) == ["OrderPlaced", "PaymentCaptured"]

    # Fewer units of work than calls: the calls shared groups.
    place_groups = entry.placing.groups - groups_before[0]
    notice_groups = entry.capturing.groups - groups_before[1]
    assert place_groups < 36 and notice_groups < len(notices)

    await assert_replay_matches_live(database_url, NAME)


async def test_a_placement_postgres_refuses_fails_alone_and_the_rest_of_its_group_is_placed(
    entry: OrdersEntry, probe: Any
) -> None:
    def cmd(buyer: str) -> app.PlaceOrder:
        return app.PlaceOrder(buyer, "b@example.com", "web", [("sku-a", 1, Money(1000, "CNY"))], "k")

    # A NUL character passes the domain, but Postgres text cannot hold it: the group's append fails.
    results = await asyncio.gather(
        *[entry.place(cmd(b)) for b in ["b-1", "b-2", "b\x00-3", "b-4", "b-5"]], return_exceptions=True
    )
    assert entry.placing.groups == 1 and entry.placing.calls == 5  # all five in one group at first
    assert isinstance(results[2], Exception)
    assert [r.replayed for n, r in enumerate(results) if n != 2] == [False] * 4  # type: ignore[union-attr]
    assert await probe.count("orders") == 4
