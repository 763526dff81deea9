from datetime import date

import pytest
from quanyi_inventory.domain import catalogue
from quanyi_inventory.domain.catalogue import Money
from quanyi_inventory.domain.errors import InvalidInput
from quanyi_inventory.domain.events import LowStockThresholdSet


def test_money_needs_a_three_letter_currency_and_no_negative_amount() -> None:
    assert catalogue.money(0, "cny", "price") == Money(0, "CNY")
    for minor, currency in [(-1, "CNY"), (1, ""), (1, "CN"), (1, "CNY1"), (1, "12A")]:
        with pytest.raises(InvalidInput):
            catalogue.money(minor, currency, "price")


def test_names_must_not_be_empty() -> None:
    assert catalogue.name("  Steam 100 ", "SKU name") == "Steam 100"
    with pytest.raises(InvalidInput, match="SKU name must not be empty"):
        catalogue.name("  ", "SKU name")


def test_a_product_kind_and_a_pool_name_have_defaults() -> None:
    assert catalogue.product_kind("") == "card_key"
    assert catalogue.pool_name(" ") == "default"


def test_a_page_holds_the_default_for_zero_and_refuses_sizes_out_of_range() -> None:
    assert catalogue.page_size(0) == catalogue.DEFAULT_PAGE_SIZE
    assert catalogue.page_size(200) == 200
    for bad in (-1, 201):
        with pytest.raises(InvalidInput):
            catalogue.page_size(bad)


def test_a_page_token_must_look_like_one_handed_out() -> None:
    assert catalogue.page_token("") == ""
    assert catalogue.page_token("01a21dcf-5c1c-73df-8966-d7f7d784767e") == "01a21dcf-5c1c-73df-8966-d7f7d784767e"
    for bad in ("x" * 65, "a\nb"):
        with pytest.raises(InvalidInput):
            catalogue.page_token(bad)


def test_a_threshold_set_is_the_skus_next_version_and_never_negative() -> None:
    recorded = catalogue.set_low_stock_threshold("sku-1", 3, 12)
    assert (recorded.aggregate_type, recorded.aggregate_id, recorded.version) == ("Sku", "sku-1", 4)
    assert recorded.event == LowStockThresholdSet("sku-1", 12)
    assert catalogue.set_low_stock_threshold("sku-1", 1, 0).event == LowStockThresholdSet("sku-1", 0)
    with pytest.raises(InvalidInput):
        catalogue.set_low_stock_threshold("sku-1", 1, -1)


def test_a_stock_history_covers_one_to_366_whole_days_in_order() -> None:
    assert catalogue.history_range("2026-12-01", "2026-12-01") == (date(2026, 12, 1), date(2026, 12, 1))
    assert catalogue.history_range("2025-12-01", "2026-11-30")[0] == date(2025, 12, 1)
    for first, last in [("2026-12-02", "2026-12-01"), ("2025-11-30", "2026-12-01"), ("2026-12-01T00:00", "x")]:
        with pytest.raises(InvalidInput):
            catalogue.history_range(first, last)
