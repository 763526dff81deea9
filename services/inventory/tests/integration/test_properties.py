"""Property test against real Postgres: random imports and batches of paid orders run through the
application on Postgres and on the in-memory fakes. Afterwards every projection row equals the fold of the
events in the store (SkuStock, each key's lifecycle, each order's allocation), and both backends decided
the same."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import AsyncConnectionPool
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.adapters.mappers import from_proto
from quanyi_inventory.adapters.memory import InMemoryInventory
from quanyi_inventory.application import catalogue, import_keys
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.ports import Context
from quanyi_inventory.domain import allocation, stock
from quanyi_inventory.domain.allocation import Allocation, OrderLine, PaidOrder, Reserved
from quanyi_inventory.domain.events import Event, KeyReserved, KeysImported
from quanyi_inventory.domain.money import Money
from quanyi_platform.envelope import open_envelope

from .conftest import UowFactory

imports = st.tuples(st.just("import"), st.integers(0, 1), st.integers(0, 5))
reimports = st.tuples(st.just("reimport"), st.integers(0, 1))
lines = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3)), min_size=1, max_size=3)
batches = st.tuples(st.just("pay"), st.lists(st.tuples(st.integers(0, 8), lines), min_size=1, max_size=5))
commands = st.lists(st.one_of(imports, reimports, batches), min_size=1, max_size=15)


class Run:
    """One backend running a script: its SKUs, the codes imported per SKU, the outcomes."""

    def __init__(self, uow: Any, keyring: Keyring, tag: str) -> None:
        self.uow = uow
        self.keyring = keyring
        self.tag = tag
        self.skus: list[str] = []
        self.pools: list[str] = []
        self.codes: list[list[str]] = [[], []]
        self.outcomes: dict[str, Allocation] = {}

    async def setup(self, thresholds: tuple[int, int]) -> None:
        product = await catalogue.create_product(self.uow(), name="P", kind="")
        for threshold in thresholds:
            sku = await catalogue.create_sku(
                self.uow(), product_id=product.product_id, name="S", price=Money(100, "CNY"),
                low_stock_threshold=threshold,
            )
            pool = await catalogue.create_pool(self.uow(), sku_id=sku.sku_id, name="main")
            self.skus.append(sku.sku_id)
            self.pools.append(pool.pool_id)

    async def run(self, script: list[tuple[Any, ...]]) -> None:
        for step, command in enumerate(script):
            if command[0] == "import":
                _, s, n = command
                codes = [f"{self.tag}-{s}-{step}-{i}" for i in range(n)]
                self.codes[s].extend(codes)
                await self.store(s, codes)
            elif command[0] == "reimport":
                _, s = command
                await self.store(s, [*self.codes[s][-2:], f"{self.tag}-{s}-{step}-new"])
                self.codes[s].append(f"{self.tag}-{s}-{step}-new")
            else:
                _, raw = command
                orders = [
                    (PaidOrder(f"{self.tag}-o-{n}", "b", "", "web",
                               tuple(OrderLine(i, self.skus[s], q) for i, (s, q) in enumerate(ls, start=1))),
                     Context(f"{self.tag}-o-{n}"))
                    for n, ls in raw
                ]
                outcomes = await allocate_paid_orders(self.uow(), orders)
                for order_id, outcome in outcomes.items():
                    assert self.outcomes.setdefault(order_id, outcome) == outcome

    async def store(self, s: int, codes: list[str]) -> None:
        csv = ("code\n" + "".join(f"{c}\n" for c in codes)).encode()
        batch = import_keys.prepare_batch(self.keyring, csv, 1000)
        await import_keys.store_batch(
            self.uow(), batch, pool_id=self.pools[s], unit_cost=Money(40, "CNY"), actor="t"
        )

    def shape(self) -> dict[str, Any]:
        """The outcomes without key ids (each backend makes its own), SKUs by position."""
        by_sku = {sku: i for i, sku in enumerate(self.skus)}
        out: dict[str, Any] = {}
        for order_id, outcome in self.outcomes.items():
            name = order_id.removeprefix(self.tag)
            if isinstance(outcome, Reserved):
                out[name] = [(by_sku[k.sku_id], k.line_no, k.unit_no) for k in outcome.keys]
            else:
                out[name] = [(s.line_no, by_sku.get(s.sku_id), s.wanted, s.available) for s in outcome.lines]
        return out


async def stored_events(pool: AsyncConnectionPool) -> list[tuple[Event, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT envelope, occurred_at FROM events ORDER BY seq")
        out = []
        for r in await cur.fetchall():
            event = from_proto(open_envelope(bytes(r["envelope"]))[1])
            if event is not None:
                out.append((event, r["occurred_at"]))
        return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(thresholds=st.tuples(st.integers(1, 3), st.integers(0, 3)), script=commands)
async def test_projections_equal_the_fold_of_the_events_and_postgres_decides_as_the_fakes_do(
    pool: AsyncConnectionPool, uow: UowFactory, keyring: Keyring,
    thresholds: tuple[int, int], script: list[tuple[Any, ...]],
) -> None:
    memory = InMemoryInventory()
    fake = Run(memory.uow, keyring, f"m{uuid.uuid4().hex[:8]}")
    real = Run(uow, keyring, f"p{uuid.uuid4().hex[:8]}")
    for backend in (fake, real):
        await backend.setup(thresholds)
        await backend.run(script)
    assert real.shape() == fake.shape()

    events = await stored_events(pool)
    domain = [e for e, _ in events]
    async with pool.connection() as conn:
        # SkuStock: the projection row is the fold of the events; so is the fake's state.
        cur = await conn.execute(
            "SELECT sku_id, low_stock_threshold, available, reserved, low_stock_alerted, stock_version"
            " FROM sku_stock WHERE sku_id = ANY(%s) ORDER BY sku_id",
            (real.skus,),
        )
        rows = {r["sku_id"]: r for r in await cur.fetchall()}
        for position, sku_id in enumerate(real.skus):
            folded = stock.fold(domain, sku_id)
            assert folded is not None
            row = rows[sku_id]
            assert (row["low_stock_threshold"], row["available"], row["reserved"], row["low_stock_alerted"],
                    row["stock_version"]) == (folded.low_stock_threshold, folded.available, folded.reserved,
                                              folded.low_stock_alerted, folded.version)
            async with memory.uow() as fake_uow:
                fake_stock = (await fake_uow.stock.lock([fake.skus[position]]))[fake.skus[position]]
            assert (fake_stock.available, fake_stock.reserved, fake_stock.low_stock_alerted, fake_stock.version) == (
                folded.available, folded.reserved, folded.low_stock_alerted, folded.version
            )

        # Keys: each key's row is the fold of its import and its reservation.
        imported = sum(e.imported for e in domain if isinstance(e, KeysImported) and e.sku_id in real.skus)
        holders = {
            k.key_id: (e.order_id, k.line_no, k.unit_no, at)
            for e, at in events if isinstance(e, KeyReserved) for k in e.keys if k.sku_id in real.skus
        }
        cur = await conn.execute(
            "SELECT key_id, state, order_id, line_no, unit_no, reserved_at FROM keys WHERE sku_id = ANY(%s)",
            (real.skus,),
        )
        keys = await cur.fetchall()
        assert len(keys) == imported
        assert {k["key_id"]: (k["order_id"], k["line_no"], k["unit_no"], k["reserved_at"]) for k in keys
                if k["state"] == "reserved"} == holders
        assert all(k["order_id"] is None for k in keys if k["state"] == "available")

        # Allocations: each order's row is the fold of its events.
        decided: dict[str, Allocation] = {}
        for e in domain:
            order_id = getattr(e, "order_id", "")
            if isinstance(order_id, str) and order_id.startswith(real.tag):
                folded_order = allocation.evolve(decided.get(order_id), e)
                if folded_order is not None:
                    decided[order_id] = folded_order
        assert decided == real.outcomes
        cur = await conn.execute(
            "SELECT order_id, outcome, short_lines FROM allocations WHERE order_id LIKE %s", (real.tag + "%",)
        )
        rows_ = {r["order_id"]: r for r in await cur.fetchall()}
        assert set(rows_) == set(decided)
        for order_id, outcome in decided.items():
            row = rows_[order_id]
            if isinstance(outcome, Reserved):
                assert (row["outcome"], row["short_lines"]) == ("reserved", None)
            else:
                assert row["outcome"] == "short"
                assert json.loads(json.dumps(row["short_lines"])) == [
                    {"line_no": s.line_no, "sku_id": s.sku_id, "wanted": s.wanted, "available": s.available}
                    for s in outcome.lines
                ]
