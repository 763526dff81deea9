"""Orders' use cases over a unit of work: load what the command touches, decide, append, commit.

The entry points hand each call a fresh unit of work (from the pool for gRPC, bound to the inbox
transaction for the consumer); nothing here knows which database, if any, is behind it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from quanyi_platform import paging
from quanyi_platform.envelope import NewEvent, new_event_id
from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_orders.adapters.proto_mapping import notice_new_event, order_new_events
from quanyi_orders.application import holds as stock_holds
from quanyi_orders.application.coupons import screen as coupon_screen
from quanyi_orders.application.errors import OrderNotFound, PaymentBelongsToAnotherOrder
from quanyi_orders.application.pages import page_position
from quanyi_orders.application.ports import HistoryEvent, IdempotencyKeyUsed, OrdersUnitOfWork
from quanyi_orders.domain.errors import InvalidOrder, OrderError
from quanyi_orders.domain.events import Event, OrderPlaced, PaymentCaptured, PaymentNoticeAccepted
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import CapturePayment, Order, Place, Review, decide, execute, fold
from quanyi_orders.domain.refund import Refund

MAX_LIST_LIMIT = 200
DEFAULT_LIST_LIMIT = 50
ATTEMPTS = 5

T = TypeVar("T")


@dataclass(frozen=True)
class PlaceOrder:
    buyer_id: str
    buyer_email: str
    channel: str
    lines: Sequence[tuple[str, int, Money]]
    idempotency_key: str
    #: The buyer's client address, as the gateway saw it ("" when unknown): only its keyed digest is kept.
    client_ip: str = ""
    #: A coupon code the buyer typed (any case; "" for none): decided in the unit of work (coupons.screen).
    coupon_code: str = ""


@dataclass(frozen=True)
class PaymentNotice:
    """An authenticated notice from the provider: it captured `amount` for the order in `txn_id`."""

    provider: str
    nonce: str
    notice_id: str
    order_id: str
    txn_id: str
    amount: Money


@dataclass(frozen=True)
class Placed:
    order: Order
    replayed: bool


@dataclass(frozen=True)
class Captured:
    order: Order
    duplicate: bool


async def _retrying(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` again from the start when another writer got to an aggregate first."""
    for attempt in range(ATTEMPTS):
        try:
            return await work()
        except ConcurrencyConflict:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Placement:
    """A PlaceOrder the domain accepted: the order it makes and the events that record it."""

    order: Order
    events: list[Event]
    #: The coupon the buyer named, and the command that placed the order (decided again with a discount).
    coupon_code: str = ""
    command: Place | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.order.buyer_id, self.order.idempotency_key

    @property
    def placed(self) -> OrderPlaced:
        placed = self.events[0]
        assert isinstance(placed, OrderPlaced)
        return placed


def prepare(
    cmd: PlaceOrder, *, now: datetime | None = None, order_id: str | None = None,
    pay_within: timedelta | None = None, client_key: bytes = b"",
) -> Placement:
    """Decide a PlaceOrder in memory (pure but for a new id and the clock); raises InvalidOrder. With
    `pay_within` the order expires unless paid that long after it was placed; with `client_key` the order
    records the keyed digest of its client address."""
    placed_at = now or datetime.now(UTC)
    place = Place(
        order_id or new_event_id(), cmd.buyer_id, cmd.buyer_email, cmd.channel, cmd.lines,
        cmd.idempotency_key, placed_at, placed_at + pay_within if pay_within is not None else None,
        stock_holds.client_tag(cmd.client_ip, client_key),
    )
    order, events = execute(None, place)
    assert order is not None
    code = cmd.coupon_code.strip()
    return Placement(order, events, code, place) if code else Placement(order, events)


async def place_order(
    uow: OrdersUnitOfWork, cmd: PlaceOrder, *, now: datetime | None = None, order_id: str | None = None,
    pay_within: timedelta | None = None, holds: stock_holds.HoldPolicy | None = None,
) -> Placed:
    """Place an order once per (buyer, idempotency key): without `holds`, the hot path, one append and
    nothing read; with them, the stock hold is screened first (raises HoldRefused).

    A key used before returns the order it created, whatever the new request says.
    """
    try:
        placement = prepare(cmd, now=now, order_id=order_id, pay_within=pay_within,
                            client_key=holds.client_key if holds is not None else b"")
    except InvalidOrder:
        existing = await _by_key(uow, cmd)
        if existing is None:
            raise
        return Placed(existing, replayed=True)
    outcome = (await place_orders(uow, [placement], holds))[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


async def place_orders(
    uow: OrdersUnitOfWork, placements: Sequence[Placement], holds: stock_holds.HoldPolicy | None = None,
) -> list[Placed | Exception]:
    """Place several orders in one unit of work, each as if placed alone, one after the other.

    The first placement of a (buyer, key) creates its order and later ones in the group return it,
    replayed; one append records every new order. When a key names an order committed before, the
    append is refused as a whole: one read finds the orders of the group's keys, those placements
    return them (replayed), and the rest are appended again. Raises (placing nothing) only when that
    does not settle within ATTEMPTS appends.

    With `holds`, each new order takes a stock hold: the holds its placements meet are locked and
    counted in the unit of work, and a placement that would hold more than inventory has available, or
    one more than its buyer's or address's cap, gets HoldRefused as its outcome (unless its key names an
    order placed before, which it then returns, replayed) and records nothing.
    """
    first: dict[tuple[str, str], Placement] = {}
    for p in placements:
        first.setdefault(p.key, p)
    stock = await stock_holds.available(holds, [p.placed for p in first.values()]) if holds else {}
    settled: dict[tuple[str, str], Placed | Exception] = {}
    for _ in range(ATTEMPTS):
        todo = [p for key, p in first.items() if key not in settled]  # in arrival order
        if not todo:
            break
        decided: dict[tuple[str, str], Placed | Exception] = {}
        try:
            async with uow:
                if holds is not None:
                    refused = await stock_holds.screen(uow, holds, [p.placed for p in todo], stock)
                    if refused:
                        keys = [p.key for p in todo if p.order.order_id in refused]
                        taken = await uow.orders.by_idempotency_keys(keys)
                        decided.update((key, Placed(order, replayed=True)) for key, order in taken.items())
                        decided.update((p.key, refused[p.order.order_id]) for p in todo
                                       if p.order.order_id in refused and p.key not in taken)
                        todo = [p for p in todo if p.order.order_id not in refused]
                if any(p.coupon_code for p in todo):
                    todo, refused_coupon = await coupon_screen(uow, todo)
                    if refused_coupon:
                        keys = [p.key for p in first.values() if p.order.order_id in refused_coupon]
                        taken = await uow.orders.by_idempotency_keys(keys)
                        decided.update((key, Placed(order, replayed=True)) for key, order in taken.items())
                        decided.update((p.key, refused_coupon[p.order.order_id]) for p in first.values()
                                       if p.order.order_id in refused_coupon and p.key not in taken)
                if todo:
                    await uow.events.append([
                        # in key order: two groups never wait for each other's keys in a cycle
                        ev for p in sorted(todo, key=lambda p: p.key) for ev in order_new_events(
                            p.order.order_id, 0, p.events, occurred_at=p.order.placed_at
                        )
                    ])
                await uow.commit()
        except ConcurrencyConflict:
            continue
        except IdempotencyKeyUsed:
            async with uow:
                taken = await uow.orders.by_idempotency_keys([p.key for p in todo])
            settled.update((key, Placed(order, replayed=True)) for key, order in taken.items())
            continue
        settled.update(decided)
        settled.update((p.key, Placed(p.order, replayed=False)) for p in todo)
        break
    else:
        if any(key not in settled for key in first):
            raise ConcurrencyConflict("placing the group did not settle")
    return [settled[p.key] if first[p.key] is p else _again(settled[p.key]) for p in placements]


def _again(outcome: Placed | Exception) -> Placed | Exception:
    """The outcome of a placement whose key an earlier one of its group used."""
    return outcome if isinstance(outcome, Exception) else Placed(outcome.order, replayed=True)


async def _by_key(uow: OrdersUnitOfWork, cmd: PlaceOrder) -> Order | None:
    async with uow:
        return await uow.orders.by_idempotency_key(cmd.buyer_id, cmd.idempotency_key)


async def get_order(uow: OrdersUnitOfWork, order_id: str) -> Order:
    async with uow:
        order = await uow.orders.get(order_id)
    if order is None:
        raise OrderNotFound(order_id)
    return order


async def get_order_with_refunds(uow: OrdersUnitOfWork, order_id: str) -> tuple[Order, list[Refund]]:
    """The order and its refunds (in the order they were requested), read together."""
    async with uow:
        order = await uow.orders.get(order_id)
        refunds = await uow.saga.refunds_of_order(order_id) if order is not None else []
    if order is None:
        raise OrderNotFound(order_id)
    return order, list(refunds)


async def list_orders_with_refunds(
    uow: OrdersUnitOfWork, buyer_id: str, limit: int, page_token: str = ""
) -> tuple[list[tuple[Order, list[Refund]]], str]:
    """A page of the buyer's orders as list_orders, each with its refunds (one read for all of them), and
    the next page's token."""
    limit = DEFAULT_LIST_LIMIT if limit <= 0 else min(limit, MAX_LIST_LIMIT)
    before = page_position(page_token)
    async with uow:
        found, token = paging.page(
            await uow.orders.list_for_buyer(buyer_id, limit + 1, before), limit, _order_position
        )
        refunds = await uow.saga.refunds_of_orders([o.order_id for o in found])
    return [(o, refunds.get(o.order_id, [])) for o in found], token


async def list_orders(
    uow: OrdersUnitOfWork, buyer_id: str, limit: int, page_token: str = ""
) -> tuple[list[Order], str]:
    """A page of the buyer's orders, newest first, and the token of the next page ("" on the last); a limit
    of 0 means the default, and it never exceeds the maximum. A token that is not one raises InvalidOrder."""
    limit = DEFAULT_LIST_LIMIT if limit <= 0 else min(limit, MAX_LIST_LIMIT)
    before = page_position(page_token)
    async with uow:
        found = await uow.orders.list_for_buyer(buyer_id, limit + 1, before)
    return paging.page(found, limit, _order_position)


def _order_position(order: Order) -> tuple[datetime, str]:
    return order.placed_at, order.order_id


async def order_history(uow: OrdersUnitOfWork, order_id: str) -> list[HistoryEvent]:
    """The order's recorded events, oldest first. Raises OrderNotFound when it has none."""
    async with uow:
        found = await uow.orders.history(order_id)
    if not found:
        raise OrderNotFound(order_id)
    return found


async def search_orders(
    uow: OrdersUnitOfWork, channel: str, status: str, limit: int, page_token: str
) -> tuple[list[Order], str]:
    """A page of every buyer's orders, newest first, of a channel and in a status (empty: any), and the
    token of the next page ("" on the last). A token that is not one raises InvalidOrder."""
    limit = DEFAULT_LIST_LIMIT if limit <= 0 else min(limit, MAX_LIST_LIMIT)
    before = page_position(page_token)
    async with uow:
        found = await uow.orders.search(channel, status, limit + 1, before)
    return paging.page(found, limit, _order_position)


async def capture_notified_payment(uow: OrdersUnitOfWork, notice: PaymentNotice) -> Captured:
    """Apply an authenticated payment notice: the notice, the payment and the order's events in one append.

    Idempotent on the provider's transaction: a notice about a transaction already recorded for this
    order (captured, or refused and refunded) is a duplicate and records only its nonce; a nonce seen
    before (the provider resending the same notice) is a duplicate and records nothing. A payment the
    order cannot take is recorded and refunded (domain.order), never dropped. Refused without a record:
    an unknown order, a transaction recorded for another order.
    """
    outcome = (await capture_notified_payments(uow, [notice]))[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


async def capture_notified_payments(
    uow: OrdersUnitOfWork, notices: Sequence[PaymentNotice]
) -> list[Captured | Exception]:
    """Apply several notices in one unit of work, each as `capture_notified_payment` alone would, one
    after the other: one read loads and locks their orders with what is recorded of their nonces and
    transactions, each notice is decided against the state the ones before it left (two notices of one
    order, a nonce or a transaction seen earlier in the group), and one append records what the accepted
    ones imply. A refused notice's outcome is its refusal; it records nothing and changes nothing for
    the others. The group is decided again from the start when another writer got there first.
    """

    async def attempt() -> list[Captured | Exception]:
        async with uow:
            orders, facts = await uow.orders.get_for_payment_notices(
                [(n.order_id, n.provider, n.nonce, n.txn_id) for n in notices]
            )
            nonces: set[tuple[str, str]] = set()
            txns: dict[tuple[str, str], str] = {}
            outcomes: list[Captured | Exception] = []
            new: list[NewEvent] = []
            for notice, recorded in zip(notices, facts, strict=True):
                try:
                    order = orders.get(notice.order_id)
                    if order is None:
                        raise OrderNotFound(notice.order_id)
                    txn = (notice.provider, notice.txn_id)
                    owner = txns.get(txn, recorded.txn_order_id)
                    if owner is not None and owner != order.order_id:
                        raise PaymentBelongsToAnotherOrder()
                    if recorded.nonce_seen or (notice.provider, notice.nonce) in nonces:
                        outcomes.append(Captured(order, duplicate=True))  # the same notice, resent
                        continue
                    events = [] if owner is not None else decide(
                        order, CapturePayment(notice.amount, notice.provider, notice.txn_id)
                    )
                except (OrderError, OrderNotFound, PaymentBelongsToAnotherOrder) as exc:
                    outcomes.append(exc)
                    continue
                accepted = PaymentNoticeAccepted(
                    notice.provider, notice.nonce, order.order_id, notice.txn_id, notice.notice_id
                )
                new += [notice_new_event(accepted), *order_new_events(order.order_id, order.version, events)]
                nonces.add((notice.provider, notice.nonce))
                if any(isinstance(ev, PaymentCaptured) for ev in events):
                    txns[txn] = order.order_id
                after = fold(events, order)
                assert after is not None
                orders[order.order_id] = after
                outcomes.append(Captured(after, duplicate=not events))
            if new:
                await uow.events.append(new)
                await uow.commit()
        return outcomes

    return await _retrying(attempt)


async def review_order(uow: OrdersUnitOfWork, order_id: str, approve: bool) -> Order:
    """A reviewer releases or rejects an order held by risk."""

    async def attempt() -> Order:
        async with uow:
            order = (await uow.orders.get_many_for_update([order_id])).get(order_id)
            if order is None:
                raise OrderNotFound(order_id)
            after, events = execute(order, Review(approve))
            await uow.events.append(order_new_events(order_id, order.version, events))
            await uow.commit()
        assert after is not None
        return after

    return await _retrying(attempt)
