import pytest
from quanyi_inventory.domain.allocation import (
    ClaimedKey,
    OrderLine,
    Reserved,
    Short,
    ShortLine,
    decide,
    lines_to_fill,
    stock_is_low,
)
from quanyi_inventory.domain.errors import InvalidInput


def keys(line_no: int, sku_id: str, n: int) -> list[ClaimedKey]:
    return [ClaimedKey(f"k-{line_no}-{u}", sku_id, line_no, u, 100, "CNY") for u in range(1, n + 1)]


def test_an_order_whose_every_unit_has_a_key_is_reserved_in_line_and_unit_order() -> None:
    lines = [OrderLine(1, "sku-a", 2), OrderLine(2, "sku-b", 1)]
    outcome = decide(lines, {2: keys(2, "sku-b", 1), 1: list(reversed(keys(1, "sku-a", 2)))})
    assert isinstance(outcome, Reserved)
    assert [(k.line_no, k.unit_no) for k in outcome.keys] == [(1, 1), (1, 2), (2, 1)]


def test_an_order_with_one_short_line_is_short_and_names_only_that_line() -> None:
    lines = [OrderLine(1, "sku-a", 2), OrderLine(2, "sku-b", 3)]
    outcome = decide(lines, {1: keys(1, "sku-a", 2), 2: keys(2, "sku-b", 1)})
    assert outcome == Short((ShortLine(2, "sku-b", wanted=3, available=1),))


def test_a_line_without_any_claim_counts_as_nothing_available() -> None:
    assert decide([OrderLine(1, "sku-a", 1)], {}) == Short((ShortLine(1, "sku-a", 1, 0),))


def test_lines_of_zero_units_need_no_keys_and_lines_are_sorted() -> None:
    lines = lines_to_fill([OrderLine(2, "b", 1), OrderLine(1, "a", 0), OrderLine(3, "c", 2)])
    assert [line.line_no for line in lines] == [2, 3]


@pytest.mark.parametrize(
    "lines",
    [
        [OrderLine(1, "a", 1), OrderLine(1, "b", 1)],
        [OrderLine(1, "a", -1)],
        [OrderLine(0, "a", 1)],
    ],
)
def test_an_order_that_cannot_be_filled_correctly_is_invalid(lines: list[OrderLine]) -> None:
    with pytest.raises(InvalidInput):
        lines_to_fill(lines)


def test_stock_is_low_at_or_below_a_positive_threshold_only() -> None:
    assert stock_is_low(5, 5) and stock_is_low(0, 5)
    assert not stock_is_low(6, 5)
    assert not stock_is_low(0, 0)


def test_a_bundle_line_takes_every_components_keys_or_none_and_names_the_whole_bundles_found() -> None:
    from datetime import UTC, datetime

    from quanyi_inventory.domain.allocation import AvailableKey, PaidOrder, allocate
    from quanyi_inventory.domain.events import BundleComponent

    now = datetime(2026, 11, 30, tzinfo=UTC)
    bundles = {"box": (BundleComponent("game", 1), BundleComponent("vip", 2))}
    available = {
        ("game", "web"): [AvailableKey(f"g{i}", "game", 100, "CNY") for i in range(3)],
        ("vip", "web"): [AvailableKey(f"v{i}", "vip", 50, "CNY") for i in range(3)],
    }
    orders = [
        PaidOrder("o-1", "b", "", "web", (OrderLine(1, "box", 2),)),
        PaidOrder("o-2", "b", "", "web", (OrderLine(1, "box", 1),)),
    ]
    decision = allocate(orders, {}, {}, available, now, bundles)
    assert decision.outcomes["o-1"] == Short((ShortLine(1, "box", 2, 1),))
    second = decision.outcomes["o-2"]
    assert isinstance(second, Reserved)
    assert [(k.key_id, k.unit_no) for k in second.keys] == [("g0", 1), ("v0", 2), ("v1", 3)]
