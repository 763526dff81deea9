"""Runs after every other end-to-end module: `quanyi replay --swap` while orders flow loses and doubles
nothing (I1, I3); then each service's projections, rebuilt from its event store and from its topic, equal
live (I6). The swap test comes first, so the module also stands alone: its flows feed every service."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from quanyi_cli.stack import Stack
from quanyi_platform.testing.replay import assert_replay_matches_live

from tests.integration import checks
from tests.integration.harness import (
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    new_buyer,
    pay,
    place_order,
    quiet,
)

pytestmark = pytest.mark.integration

SERVICES = ("orders", "inventory", "fulfillment", "ledger", "risk")


def quanyi(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """The operator's command, as a process of its own, pointed at the stack."""
    env = {
        **os.environ,
        "QUANYI_DATABASE_URL": stack.config.database_url,
        "QUANYI_KAFKA_BOOTSTRAP": stack.config.kafka_bootstrap,
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "quanyi"), *args], env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )


async def test_a_swap_while_orders_flow_loses_and_doubles_nothing(http: httpx.AsyncClient, stack: Stack) -> None:
    url = stack.config.database_url
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(60), price_minor=990, cost_minor=500, name="swap")
    buyers = list(await asyncio.gather(*(new_buyer(http) for _ in range(12))))
    order_ids: list[str] = []
    stop = asyncio.Event()

    async def shop(n: int) -> None:
        buyer = buyers[n]
        for _ in range(4):  # under the risk limit of 5 a minute
            if stop.is_set():
                return
            r = await place_order(buyer, sku["sku_id"])
            assert r.status_code == 201, r.text
            order_ids.append(r.json()["order_id"])
            paid = await pay(http, r.json())
            assert paid.status_code == 200, paid.text

    shoppers = asyncio.gather(*(shop(n) for n in range(len(buyers))))
    swaps = await asyncio.gather(*(
        asyncio.to_thread(quanyi, stack, "replay", service, "--swap", "--json")
        for service in ("orders", "inventory", "fulfillment", "ledger")
    ))
    await shoppers
    for run in swaps:
        assert run.returncode == 0, run.stdout + run.stderr
        assert json.loads(run.stdout.strip().splitlines()[-1])["swapped"] is True
    assert len(order_ids) == 48

    async def all_fulfilled() -> bool:
        n = await checks.scalar(
            url, "SELECT count(*) FROM orders.orders WHERE order_id = ANY(%s) AND status = 'FULFILLED'",
            (order_ids,),
        )
        return bool(n == 48)

    await eventually(all_fulfilled, timeout=120, interval=0.5)
    await eventually(lambda: quiet(url), timeout=60)
    # I1: every order got its one key, and no key went to two orders or twice to one.
    assert await checks.scalar(
        url, "SELECT count(DISTINCT key_id) FROM fulfillment.deliveries WHERE order_id = ANY(%s)", (order_ids,)
    ) == 48
    assert await checks.scalar(
        url, "SELECT count(*) - count(DISTINCT key_id) FROM fulfillment.deliveries"
    ) == 0
    # I3: the journal verifies and every sale was booked exactly once.
    r = await adm.get("/v1/admin/ledger/verify")
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    assert await checks.scalar(
        url, "SELECT count(*) FROM ledger.journal_entries WHERE correlation_id = ANY(%s) AND kind = 'sale'",
        (order_ids,),
    ) == 48
    # And the swapped-in tables still equal a fresh rebuild.
    for service in ("orders", "inventory", "fulfillment", "ledger"):
        await assert_replay_matches_live(url, service)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_projection_rebuilt_from_the_store_and_from_the_topic_equals_live(
    service: str, stack: Stack
) -> None:
    url = stack.config.database_url
    await eventually(lambda: quiet(url), timeout=60)
    comparisons = await assert_replay_matches_live(url, service, kafka_bootstrap=stack.config.kafka_bootstrap)
    assert sum(t.live_rows for t in comparisons[0].tables) > 0


async def test_the_replay_command_verifies_and_twice_gives_the_same_digest(stack: Stack) -> None:
    runs = [quanyi(stack, "replay", "orders", "--verify", "--json") for _ in range(2)]
    outs = []
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        outs.append(json.loads(run.stdout.strip().splitlines()[-1]))
    assert all(o["equal"] for o in outs) and outs[0]["events"] > 0 and outs[0]["events_per_s"] > 0
    assert outs[0]["digest"] == outs[1]["digest"]
