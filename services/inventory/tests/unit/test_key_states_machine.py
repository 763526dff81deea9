"""A Hypothesis state machine over the key pool, on the in-memory fakes: imports with channels and validity
windows, batches of paid orders at a moving clock, the expiry sweeper, master-key rotations, reveals,
deliveries and redemptions, refunds that release undelivered keys, recycle delivered or revealed ones
and refuse redeemed ones without an override, and redemptions heard after the refund that took their key
back (RefundedKeyRedeemed). After every step: no key is held by two orders at once, a key goes out again
only after a refund released it, and never once recycled; none went out on another channel or outside its
validity window at the time of its allocation; each SKU's counts add up (available + reserved + delivered
+ expired + recycled + redeemed = imported, each as the keys' states say: a late redemption moves no key
and counts nothing twice); and a late redemption is recorded once per key, only for a key its order's
refund took back, naming that refund."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.adapters.mappers import from_proto
from quanyi_inventory.adapters.memory import InMemoryInventory
from quanyi_inventory.application import catalogue, import_keys, reveal, rotate
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.expire import sweep_all_expired
from quanyi_inventory.application.key_life import change_held_keys
from quanyi_inventory.application.ports import Context
from quanyi_inventory.domain.allocation import OrderLine, PaidOrder, Reserved
from quanyi_inventory.domain.events import (
    KeyReserved,
    KeysDelivered,
    KeysExpired,
    KeysImported,
    KeysRedeemed,
    RefundedKeyRedeemed,
    RefundKeysSettled,
)
from quanyi_inventory.domain.key_life import Deliver, Redeem, RefundUnits, SettleRefund
from quanyi_inventory.domain.money import Money

KEYS = Keyring({"k1": os.urandom(32), "k2": os.urandom(32)}, "k1")
START = datetime(2026, 11, 30, tzinfo=UTC)
DAY = timedelta(days=1)
CHANNELS = ("storefront", "app")
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class KeyPool(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = InMemoryInventory()
        self.now = START
        self.orders = 0
        self.codes = 0
        self.allocated_at: dict[str, datetime] = {}
        self.master = "k1"
        self.reports = 0

    @initialize(strategy=st.sampled_from(["fifo", "fefo"]))
    def catalogue(self, strategy: str) -> None:
        async def make() -> tuple[str, list[str]]:
            product = await catalogue.create_product(self.store.uow(), name="P", kind="")
            sku = await catalogue.create_sku(
                self.store.uow(), product_id=product.product_id, name="S", price=Money(100, "CNY"),
                low_stock_threshold=2, allocation_strategy=strategy,
            )
            pools = [
                (await catalogue.create_pool(self.store.uow(), sku_id=sku.sku_id, name=f"p{p}", priority=p)).pool_id
                for p in (1, 0)
            ]
            return sku.sku_id, pools

        self.sku, self.pools = run(make())
        self.import_keys(0, 4, "", None, None)  # some stock from the start, so that orders hold keys early

    @rule(
        pool=st.integers(0, 1), n=st.integers(0, 4), channel=st.sampled_from(["", "", "app"]),
        starts=st.sampled_from([None, None, 2]), ends=st.sampled_from([None, 1, 3, 8, -1]),
    )
    def import_keys(self, pool: int, n: int, channel: str, starts: int | None, ends: int | None) -> None:
        codes = [f"C{self.codes + i}" for i in range(n)]
        self.codes += n
        batch = import_keys.prepare_batch(KEYS, ("code\n" + "".join(f"{c}\n" for c in codes)).encode(), 100)
        run(import_keys.store_batch(
            self.store.uow(), batch, pool_id=self.pools[pool], unit_cost=Money(10, "CNY"), actor="t",
            channel=channel, valid_from=None if starts is None else self.now + starts * DAY,
            expires_at=None if ends is None else self.now + ends * DAY,
        ))

    @rule(quantities=st.lists(st.tuples(st.integers(1, 2), st.sampled_from(CHANNELS)), min_size=1, max_size=4))
    def pay(self, quantities: list[tuple[int, str]]) -> None:
        orders = []
        for quantity, channel in quantities:
            self.orders += 1
            order_id = f"o-{self.orders}"
            orders.append((PaidOrder(order_id, "b", "", channel, (OrderLine(1, self.sku, quantity),)),
                           Context(order_id)))
        outcomes = run(allocate_paid_orders(self.store.uow(), orders, clock=lambda: self.now))
        for order_id, outcome in outcomes.items():
            if isinstance(outcome, Reserved):
                self.allocated_at.setdefault(order_id, self.now)

    @rule(days=st.integers(0, 4))
    def advance(self, days: int) -> None:
        self.now += days * DAY

    @rule()
    def sweep(self) -> None:
        run(sweep_all_expired(self.store.uow, limit=3, clock=lambda: self.now))

    @rule()
    def rotate_master_key(self) -> None:
        self.master = "k2" if self.master == "k1" else "k1"
        run(rotate.rotate_master_key(self.store.uow(), KEYS, self.master, actor="ops"))

    @rule()
    def reveal_the_last_reserved_order(self) -> None:
        held = self._reserved()  # a refund may have taken every key of an order back
        if not held:
            return
        order_id = max(held, key=lambda o: int(o.split("-")[1]))
        keys = run(reveal.reveal_keys(
            self.store.uow(), KEYS, order_id=order_id, key_ids=[], actor="fulfillment", purpose="delivery"
        ))
        assert keys and all(k.code.startswith("C") for k in keys)

    def _reserved(self) -> dict[str, list[str]]:
        """The keys each order holds now (reserved, delivered or redeemed), by order."""
        held: dict[str, list[str]] = {}
        for k in sorted(self.store.uow().view().keys.values(), key=lambda k: k.key_id):
            if k.order_id:
                held.setdefault(k.order_id, []).append(k.key_id)
        return held

    @rule(which=st.integers(0, 100), n=st.integers(1, 2))
    def deliver(self, which: int, n: int) -> None:
        held = self._reserved()
        if not held:
            return
        order_id = sorted(held)[which % len(held)]
        self.reports += 1
        command = Deliver(order_id, tuple(held[order_id][:n]), f"d-{self.reports}")
        run(change_held_keys(self.store.uow(), [(command, Context(order_id))]))

    @rule(which=st.integers(0, 100))
    def redeem(self, which: int) -> None:
        held = self._reserved()
        if not held:
            return
        order_id = sorted(held)[which % len(held)]
        self.reports += 1
        command = Redeem(order_id, held[order_id][0], "partner", None, f"r-{self.reports}")
        run(change_held_keys(self.store.uow(), [(command, Context(order_id))]))

    @rule(which=st.integers(0, 100))
    def redeem_a_key_a_refund_took_back(self, which: int) -> None:
        """A redemption heard after the refund that took its key back (orders' topic beat fulfillment's);
        sometimes a key already reported so, heard again."""
        taken = [
            (e.order_id, k.key_id)
            for e in self.events() if isinstance(e, RefundKeysSettled)
            for k in (*e.released, *e.voided, *e.voided_undelivered)
        ]
        if not taken:
            return
        order_id, key_id = taken[which % len(taken)]
        self.reports += 1
        command = Redeem(order_id, key_id, "partner", None, f"late-{self.reports}")
        recorded = run(change_held_keys(self.store.uow(), [(command, Context(order_id))]))
        note_event(f"late redemption: {[type(r.event).__name__ for r in recorded]}")

    @rule(which=st.integers(0, 100), units=st.integers(1, 2), override=st.booleans())
    def refund(self, which: int, units: int, override: bool) -> None:
        held = self._reserved()
        if not held:
            return
        order_id = sorted(held)[which % len(held)]
        self.reports += 1
        command = SettleRefund(order_id, f"refund-{self.reports}", (RefundUnits(1, self.sku, units),), "ops",
                               override, "", f"f-{self.reports}")
        [outcome] = run(change_held_keys(self.store.uow(), [(command, Context(order_id))]))
        note_event(type(outcome.event).__name__)

    def events(self) -> list[object]:
        return [from_proto(e.payload) for e in self.store.committed]

    @invariant()
    def no_key_goes_out_twice_or_outside_its_channel_and_window(self) -> None:
        if not hasattr(self, "sku"):
            return
        batches = {e.batch_id: e for e in self.events() if isinstance(e, KeysImported)}
        batch_of = {m.key_id: m.batch_id for m in self.store.material.values()}
        holders: dict[str, str] = {}
        recycled: set[str] = set()
        for event in self.events():
            if isinstance(event, RefundKeysSettled):
                for k in event.released:
                    assert holders.pop(k.key_id) == event.order_id, "a refund released another order's key"
                for k in (*event.voided, *event.voided_undelivered):
                    assert holders.pop(k.key_id) == event.order_id, "a refund voided another order's key"
                    recycled.add(k.key_id)
            if not isinstance(event, KeyReserved):
                continue
            at = self.allocated_at[event.order_id]
            for key in event.keys:
                assert key.key_id not in holders, "a key went out twice"
                assert key.key_id not in recycled, "a recycled key went out again"
                holders[key.key_id] = event.order_id
                batch = batches[batch_of[key.key_id]]
                assert batch.channel in ("", event.channel), "a key went out on another channel"
                assert batch.valid_from is None or batch.valid_from <= at, "a key went out before it was valid"
                assert batch.expires_at is None or batch.expires_at > at, "an expired key went out"

    @invariant()
    def a_late_redemption_is_recorded_once_for_a_key_its_orders_refund_took_back(self) -> None:
        took: dict[tuple[str, str], str] = {}
        late: set[tuple[str, str]] = set()
        for event in self.events():
            if isinstance(event, RefundKeysSettled):
                for k in (*event.released, *event.voided, *event.voided_undelivered):
                    took[(event.order_id, k.key_id)] = event.refund_id
            elif isinstance(event, RefundedKeyRedeemed):
                at = (event.order_id, event.key.key_id)
                assert at not in late, "a late redemption was recorded twice"
                assert took.get(at) == event.refund_id, "a late redemption names no refund of its key"
                late.add(at)

    @invariant()
    def the_counts_add_up(self) -> None:
        if not hasattr(self, "sku"):
            return
        events = self.events()
        imported = sum(e.imported for e in events if isinstance(e, KeysImported))
        reserved = sum(len(e.keys) for e in events if isinstance(e, KeyReserved))
        expired = sum(len(e.keys) for e in events if isinstance(e, KeysExpired))
        delivered = sum(len(e.keys) for e in events if isinstance(e, KeysDelivered))
        redeemed = sum(len(e.keys) for e in events if isinstance(e, KeysRedeemed))
        settled = [e for e in events if isinstance(e, RefundKeysSettled)]
        released = sum(len(e.released) for e in settled)
        recycled_reserved = sum(len(e.voided_undelivered) for e in settled)
        recycled_delivered = sum(len(e.voided) for e in settled)
        stock = self.store.uow().view().stock[self.sku]
        available = imported - reserved - expired + released
        holding = reserved - delivered - released - recycled_reserved
        assert (stock.available, stock.reserved) == (available, holding)
        states = [k.state for k in self.store.uow().view().keys.values()]
        assert (states.count("available"), states.count("reserved"), states.count("expired")) == (
            available, holding, expired
        )
        assert states.count("delivered") == delivered - redeemed - recycled_delivered
        assert states.count("redeemed") == redeemed
        assert states.count("recycled") == recycled_reserved + recycled_delivered
        assert len(states) == imported


KeyPool.TestCase.settings = settings(
    max_examples=100, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_the_key_pool_never_hands_a_key_out_twice_nor_outside_its_channel_or_window = KeyPool.TestCase
