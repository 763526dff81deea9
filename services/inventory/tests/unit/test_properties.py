"""Property tests of inventory's aggregates (pure, no I/O): random sequences of imports and batches of paid
orders, decided by the domain, and the state the deciders hand back always equals the fold of the events
they recorded. Also: no key is handed out twice, an order is decided once, counts add up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from quanyi_inventory.domain import allocation, stock
from quanyi_inventory.domain.allocation import Allocation, AvailableKey, OrderLine, PaidOrder, Reserved, Short
from quanyi_inventory.domain.catalogue import create_sku, set_low_stock_threshold
from quanyi_inventory.domain.events import Event, KeyReserved, Recorded, StockLow, StockLowCleared, StockShort
from quanyi_inventory.domain.money import Money
from quanyi_inventory.domain.stock import SkuStock

SKUS = ("sku-a", "sku-b")
NOW = datetime(2026, 11, 30, tzinfo=UTC)

# A command is ("import", sku index, keys) or ("pay", [order]) where an order is (order number, lines) and a
# line is (sku index, quantity). Order numbers repeat on purpose: a repeated order is a redelivery.
imports = st.tuples(st.just("import"), st.integers(0, 1), st.integers(0, 6))
lines = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3)), min_size=1, max_size=3)
batches = st.tuples(st.just("pay"), st.lists(st.tuples(st.integers(0, 12), lines), min_size=1, max_size=6))
# ("threshold", sku index, threshold): an operator sets the SKU's low-stock threshold.
thresholds_set = st.tuples(st.just("threshold"), st.integers(0, 1), st.integers(0, 5))
commands = st.lists(st.one_of(imports, batches, thresholds_set), max_size=25)


@dataclass
class World:
    """What the service would hold: the recorded events, the keys and who holds them, the stock."""

    thresholds: dict[str, int]
    events: list[Recorded] = field(default_factory=list)
    free: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SKUS})
    holder: dict[str, str] = field(default_factory=dict)
    stock: dict[str, SkuStock] = field(default_factory=dict)
    outcomes: dict[str, Allocation] = field(default_factory=dict)
    imported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKUS, 0))
    next_key: int = 0

    def create(self) -> None:
        for sku in SKUS:
            recorded = create_sku(sku, "p", sku, Money(100, "CNY"), self.thresholds[sku])
            self.events.append(recorded)
            state = stock.evolve(None, recorded.event)
            assert state is not None
            self.stock[sku] = state

    def set_threshold(self, sku: str, threshold: int) -> None:
        version = 1 + sum(1 for r in self.events if r.aggregate_type == "Sku" and r.aggregate_id == sku
                          and r.version > 1)
        recorded = set_low_stock_threshold(sku, version, threshold)
        assert recorded.version == version + 1
        self.events.append(recorded)
        after = stock.evolve(self.stock[sku], recorded.event)
        assert after is not None and after.low_stock_threshold == threshold
        self.stock[sku] = after

    def import_keys(self, sku: str, n: int) -> None:
        imported = stock.keys_imported(
            sku, batch_id=f"b-{len(self.events)}", pool_id="pool", imported=n, duplicates=0,
            rejected=0, unit_cost=Money(50, "CNY"), actor="t", master_key_id="k1",
        )
        restocked = stock.evolve(self.stock[sku], imported.event)
        assert restocked is not None
        after, cleared = stock.clear_if_restocked(restocked)
        recorded = [imported, *cleared]
        for _ in range(n):
            self.free[sku].append(f"key-{self.next_key:05d}")
            self.next_key += 1
        self.stock[sku] = after
        self.imported[sku] += n
        self.events.extend(recorded)

    def pay(self, orders: list[PaidOrder]) -> dict[str, Allocation]:
        needs = allocation.claims_needed(orders)
        available = {
            (sku, channel): [AvailableKey(k, sku, 50, "CNY") for k in sorted(self.free[sku])[:n]]
            for (sku, channel), n in needs.items()
        }
        decided = {o.order_id: self.outcomes[o.order_id] for o in orders if o.order_id in self.outcomes}
        decision = allocation.allocate(orders, decided, self.stock, available, NOW)
        for r in decision.recorded:
            if isinstance(r.event, KeyReserved):
                for k in r.event.keys:
                    assert k.key_id not in self.holder, "a key was handed out twice"
                    self.holder[k.key_id] = r.event.order_id
                    self.free[k.sku_id].remove(k.key_id)
        self.stock.update(decision.stock)
        self.events.extend(decision.recorded)
        for order_id, outcome in decision.outcomes.items():
            self.outcomes.setdefault(order_id, outcome)
        return decision.outcomes


def order(number: int, order_lines: list[tuple[int, int]]) -> PaidOrder:
    return PaidOrder(
        f"o-{number}", "b", "", "web",
        tuple(OrderLine(i, SKUS[s], q) for i, (s, q) in enumerate(order_lines, start=1)),
    )


def events_of(world: World) -> list[Event]:
    return [r.event for r in world.events]


@settings(max_examples=300, deadline=None)
@given(thresholds=st.tuples(st.integers(0, 4), st.integers(0, 4)), script=commands)
def test_folding_the_recorded_events_gives_the_state_the_aggregates_decided_on(
    thresholds: tuple[int, int], script: list[tuple[object, ...]]
) -> None:
    world = World(dict(zip(SKUS, thresholds, strict=True)))
    world.create()
    for command in script:
        if command[0] == "threshold":
            _, sku_index, threshold = command
            assert isinstance(sku_index, int) and isinstance(threshold, int)
            world.set_threshold(SKUS[sku_index], threshold)
        elif command[0] == "import":
            _, sku_index, n = command
            assert isinstance(sku_index, int) and isinstance(n, int)
            world.import_keys(SKUS[sku_index], n)
        else:
            _, raw = command
            assert isinstance(raw, list)
            orders = [order(n, ls) for n, ls in raw]
            first = {o.order_id: world.outcomes.get(o.order_id) for o in orders}
            outcomes = world.pay(orders)
            # An order decided before keeps its outcome.
            assert all(outcomes[o] == was for o, was in first.items() if was is not None)

        for sku in SKUS:
            # SkuStock: the fold of the events is the state the deciders handed back...
            assert stock.fold(events_of(world), sku) == world.stock[sku]
            # ...and it counts what there is.
            state = world.stock[sku]
            assert state.available == len(world.free[sku])
            assert state.reserved == sum(1 for k in world.holder if k in _keys_of(world, sku))
            assert state.available + state.reserved == world.imported[sku]
            alerts = [r for r in world.events if isinstance(r.event, StockLow | StockLowCleared)
                      and r.event.sku_id == sku]
            assert [r.version for r in alerts] == list(range(1, len(alerts) + 1)) == list(range(1, state.version + 1))
            # Alerts alternate: low, cleared, low, ...
            assert all(isinstance(r.event, StockLow) == (i % 2 == 0) for i, r in enumerate(alerts))

        # Allocation: one decision per order, and the fold of its events is that decision.
        decided: dict[str, Allocation] = {}
        for r in world.events:
            if isinstance(r.event, KeyReserved | StockShort):
                assert r.aggregate_id not in decided and r.version == 1
                folded = allocation.evolve(None, r.event)
                assert folded is not None
                decided[r.aggregate_id] = folded
        assert decided == world.outcomes
        for outcome in decided.values():
            if isinstance(outcome, Reserved):
                assert [(k.line_no, k.unit_no) for k in outcome.keys] == sorted((k.line_no, k.unit_no) for k in outcome.keys)
            else:
                assert isinstance(outcome, Short) and all(s.available < s.wanted for s in outcome.lines)


def _keys_of(world: World, sku: str) -> set[str]:
    return {k.key_id for r in world.events if isinstance(r.event, KeyReserved) for k in r.event.keys if k.sku_id == sku}
