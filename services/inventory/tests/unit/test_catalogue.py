import pytest
from quanyi_inventory.domain import catalogue
from quanyi_inventory.domain.catalogue import Money
from quanyi_inventory.domain.errors import InvalidInput


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
