"""The broker restarted empty in the middle of a flow: the event stores refill it; nothing happens twice."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from quanyi_cli.stack import Stack
from quanyi_platform.infra.smtp import CapturingSmtpServer
from quanyi_platform.infra.tansu import TansuBroker

from tests.integration import checks
from tests.integration.harness import (
    Client,
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


async def test_orders_paid_around_a_broker_restart_are_each_delivered_and_booked_once(
    http: httpx.AsyncClient, stack: Stack, e2e_broker: TansuBroker, e2e_smtp: CapturingSmtpServer
) -> None:
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(40), price_minor=990, cost_minor=500, name="Mango TV")
    buyers: list[Client] = list(await asyncio.gather(*(new_buyer(http) for _ in range(40))))
    url = stack.config.database_url

    async def buy(buyer: Client) -> str:
        order = (await place_order(buyer, sku["sku_id"])).json()
        r = await pay(http, order)
        assert r.status_code == 200 and r.json()["webhook_status"] == 200, r.text
        return str(order["order_id"])

    first = list(await asyncio.gather(*(buy(b) for b in buyers[:20])))
    e2e_broker.restart_empty()  # everything the broker held is gone, mid-flow
    second = list(await asyncio.gather(*(buy(b) for b in buyers[20:])))
    order_ids = first + second

    async def all_fulfilled() -> bool:
        n = await checks.scalar(
            url,
            "SELECT count(*) FROM orders.orders WHERE order_id = ANY(%s) AND status = 'FULFILLED'",
            (order_ids,),
        )
        return bool(n == 40)

    await eventually(all_fulfilled, timeout=120, interval=0.5)
    await eventually(lambda: quiet(url), timeout=60)

    # Each consumer catches up on its own (after the restart they re-read every topic from the start and
    # drop what they applied before), so wait for every expected effect, then make sure none doubles.
    expected = {"payment": 40, "sale": 40, "key_cost": 40, "refund": 0}

    async def booked() -> dict[str, int]:
        got = {}
        for kind in expected:
            got[kind] = await checks.scalar(
                url,
                "SELECT count(*) FROM ledger.journal_entries WHERE correlation_id = ANY(%s) AND kind = %s",
                (order_ids, kind),
            )
        return got

    def mails() -> int:
        return len([m for m in e2e_smtp.messages if any(o in str(m["Subject"]) for o in order_ids)])

    async def all_booked() -> bool:
        return await booked() == expected

    async def all_mailed() -> bool:
        return mails() >= 40

    await eventually(all_booked, timeout=60, interval=0.5)
    await eventually(all_mailed, timeout=60, interval=0.5)
    await asyncio.sleep(2)  # let republished duplicates arrive: they must change nothing
    assert await booked() == expected
    assert mails() == 40
    assert (
        await checks.scalar(
            url, "SELECT count(*) FROM fulfillment.deliveries WHERE order_id = ANY(%s)", (order_ids,)
        )
        == 40
    )
    assert (
        await checks.scalar(
            url,
            "SELECT count(DISTINCT key_id) FROM fulfillment.deliveries WHERE order_id = ANY(%s)",
            (order_ids,),
        )
        == 40
    )
    # The relays noticed the new broker and republished their stores; the consumers re-read from the start.
    for service in ("orders", "inventory", "fulfillment", "ledger", "risk"):
        log = (stack.log_dir / f"{service}.log").read_text()
        assert "broker lost its data: republishing the event store" in log, service
        assert "broker lost its data: re-reading from the start" in log, service
    epochs = {await checks.scalar(url, f"SELECT broker_epoch FROM {s}.relay_state") for s in ("orders", "inventory")}
    assert len(epochs) == 1


    # Tansu's memory store can give a produce that was in flight across its restart an offset a batch already
    # holds (AlreadyExists in its log), and readers from offset 0 then skip records after that batch: a defect
    # of this broker, not of the relays (the store marks nothing the current broker did not acknowledge). The
    # tests after this one replay every topic from offset 0, so leave them a broker refilled while nothing was
    # in flight: restart it once more, idle, and wait until every relay has republished its store.
    republishing = "broker lost its data: republishing the event store"
    services = ("orders", "inventory", "fulfillment", "ledger", "risk")

    def republished() -> dict[str, int]:
        return {s: (stack.log_dir / f"{s}.log").read_text().count(republishing) for s in services}

    await eventually(lambda: quiet(url), timeout=60)
    before = republished()
    e2e_broker.restart_empty()

    async def all_republished() -> bool:
        now = republished()
        return all(now[s] > before[s] for s in services) and await quiet(url)

    await eventually(all_republished, timeout=60, interval=0.5)
