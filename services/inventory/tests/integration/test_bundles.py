"""Bundles on Postgres: a bundle SKU's unit claims every component's keys in one transaction or none."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool
from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.application import catalogue
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.ports import Context
from quanyi_inventory.domain.allocation import OrderLine, PaidOrder, Reserved, Short, ShortLine
from quanyi_inventory.domain.catalogue import UNLIMITED, Money
from quanyi_inventory.domain.events import (
    MEMBERSHIP,
    POINTS,
    BundleComponent,
    Entitlement,
    ReservedEntitlement,
)
from quanyi_platform.envelope import open_envelope
from quanyi_platform.testing.replay import assert_replay_matches_live

from .conftest import UowFactory
from .test_key_states import DAY, NOW, new_pool, new_sku, rows, sell, stock


async def bundle_of(uow: UowFactory, *parts: tuple[str, int], extras: tuple[Entitlement, ...] = ()) -> str:
    product = await catalogue.create_product(uow(), name="Game + VIP", kind="bundle")
    sku = await catalogue.create_sku(
        uow(), product_id=product.product_id, name="Bundle", price=Money(5000, "CNY"), low_stock_threshold=0,
        components=[BundleComponent(s, q) for s, q in parts], entitlements=extras,
    )
    return sku.sku_id


async def available(uow: UowFactory, sku_id: str) -> int:
    return (await catalogue.get_sku(uow(), sku_id)).available


async def test_a_bundle_unit_claims_each_components_keys_as_keys_of_their_own(
    uow: UowFactory, keyring: Keyring
) -> None:
    game, vip = await new_sku(uow), await new_sku(uow, "fefo")
    game_keys = await stock(uow, keyring, await new_pool(uow, game), ["G1", "G2"])
    vip_keys = await stock(uow, keyring, await new_pool(uow, vip), ["V1", "V2", "V3"], expires_at=NOW + DAY)
    bundle = await bundle_of(uow, (game, 1), (vip, 2))
    assert await available(uow, bundle) == 1  # the scarcest component: 3 VIP keys make one bundle
    outcome = await sell(uow, "o-1", bundle, 1)
    assert isinstance(outcome, Reserved)
    assert [(k.key_id, k.sku_id, k.line_no, k.unit_no) for k in outcome.keys] == [
        (game_keys[0], game, 1, 1), (vip_keys[0], vip, 1, 2), (vip_keys[1], vip, 1, 3),
    ]
    assert await available(uow, bundle) == 0


async def test_a_component_that_runs_out_mid_claim_leaves_the_whole_bundle_unclaimed_and_short(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, database_url: str
) -> None:
    game, vip = await new_sku(uow), await new_sku(uow)
    await stock(uow, keyring, await new_pool(uow, game), ["G1", "G2", "G3"])
    await stock(uow, keyring, await new_pool(uow, vip), ["V1", "V2", "V3"])
    bundle = await bundle_of(uow, (game, 1), (vip, 2))
    # Two bundles need 2 game keys (there are 3) and 4 VIP keys (there are 3): the game keys are found
    # first, then VIP runs out — nothing of the order is claimed.
    outcome = await sell(uow, "o-1", bundle, 2)
    assert outcome == Short((ShortLine(1, bundle, 2, 1),))
    counts = await rows(pool, "SELECT sku_id, available, reserved FROM sku_stock WHERE sku_id = ANY(%s)",
                        [game, vip])
    assert {r["sku_id"]: (r["available"], r["reserved"]) for r in counts} == {game: (3, 0), vip: (3, 0)}
    assert await rows(pool, "SELECT count(*) AS n FROM keys WHERE state = 'reserved'") == [{"n": 0}]
    short = await rows(pool, "SELECT outcome FROM allocations WHERE order_id = 'o-1'")
    assert short == [{"outcome": "short"}]
    # One bundle still fits, and a plain order of a component in the same batch shares the claim.
    order = PaidOrder("o-2", "b", "", "storefront", (OrderLine(1, bundle, 1), OrderLine(2, vip, 1)))
    outcomes = await allocate_paid_orders(uow(), [(order, Context())], clock=lambda: NOW)
    reserved = outcomes["o-2"]
    assert isinstance(reserved, Reserved)
    assert sorted((k.line_no, k.sku_id) for k in reserved.keys) == sorted(
        [(1, game), (1, vip), (1, vip), (2, vip)]
    )
    await assert_replay_matches_live(database_url, "inventory")


POINTS_500 = Entitlement(POINTS, points=500, value_minor=250, currency="CNY")
VIP_30 = Entitlement(MEMBERSHIP, plan="vip", days=30, value_minor=0, currency="")


async def test_points_and_a_membership_are_claimed_with_the_bundles_keys_in_one_transaction_or_not_at_all(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, database_url: str
) -> None:
    game = await new_sku(uow)
    game_keys = await stock(uow, keyring, await new_pool(uow, game), ["G1", "G2", "G3"])
    bundle = await bundle_of(uow, (game, 1), extras=(POINTS_500, VIP_30))
    perks = await bundle_of(uow, extras=(POINTS_500, VIP_30))
    # Points and memberships are unlimited: availability is the keys', or unlimited without keys.
    assert await available(uow, bundle) == 3
    assert await available(uow, perks) == UNLIMITED
    # Four bundles need four game keys (there are three): nothing is claimed, the order is short.
    assert await sell(uow, "o-short", bundle, 4) == Short((ShortLine(1, bundle, 4, 3),))
    assert await rows(pool, "SELECT count(*) AS n FROM keys WHERE state = 'reserved'") == [{"n": 0}]
    # Two fit: each unit's key, then each unit's points and membership, numbered on.
    outcome = await sell(uow, "o-1", bundle, 2)
    assert isinstance(outcome, Reserved)
    assert [(k.key_id, k.unit_no) for k in outcome.keys] == [(game_keys[0], 1), (game_keys[1], 2)]
    assert outcome.entitlements == (
        ReservedEntitlement(1, 3, bundle, POINTS_500), ReservedEntitlement(1, 4, bundle, POINTS_500),
        ReservedEntitlement(1, 5, bundle, VIP_30), ReservedEntitlement(1, 6, bundle, VIP_30),
    )
    assert await available(uow, bundle) == 1
    # A bundle of points and a membership only is reserved without a key.
    only = await sell(uow, "o-2", perks, 1)
    assert isinstance(only, Reserved) and only.keys == () and len(only.entitlements) == 2
    # The record carries each reserved component to fulfillment.
    recorded = await rows(
        pool, "SELECT envelope FROM events WHERE event_type = %s ORDER BY seq",
        pb.KeyReserved.DESCRIPTOR.full_name,
    )
    reserved = [pb.KeyReserved.FromString(open_envelope(bytes(r["envelope"]))[0].payload) for r in recorded]
    assert [(len(m.keys), len(m.entitlements)) for m in reserved] == [(2, 4), (0, 2)]
    first = reserved[0]
    assert first.entitlements[0].points.points == 500 and first.entitlements[2].membership.plan == "vip"
    assert await rows(pool, "SELECT count(*) AS n FROM bundle_entitlements") == [{"n": 4}]
    await assert_replay_matches_live(database_url, "inventory")
