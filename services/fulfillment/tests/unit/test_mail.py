from quanyi_fulfillment.domain.delivery import KeyToSend, RevealedSecret
from quanyi_fulfillment.domain.mail import render_delivery, scrub

KEYS = [
    KeyToSend(1, 1, RevealedSecret("k1", "sku-gold", code="GOLD-0001", password="pw-1")),
    KeyToSend(1, 2, RevealedSecret("k2", "sku-gold", code="GOLD-0002")),
]


def test_the_email_names_the_order_in_its_subject() -> None:
    assert render_delivery("o-42", KEYS).subject == "Your order o-42"


def test_the_email_body_lists_each_keys_sku_code_and_password() -> None:
    body = render_delivery("o-42", KEYS).body
    assert "sku-gold" in body
    assert "GOLD-0001" in body and "pw-1" in body
    assert "GOLD-0002" in body
    assert body.count("Password:") == 1  # the second key has none


def test_the_rendered_email_does_not_show_its_body_in_its_repr() -> None:
    assert "GOLD-0001" not in repr(render_delivery("o-42", KEYS))


def test_scrub_masks_any_code_or_password_quoted_in_a_reason() -> None:
    assert scrub("server said GOLD-0001 / pw-1", KEYS) == "server said *** / ***"


def test_the_email_carries_each_skus_usage_instructions_once() -> None:
    body = render_delivery("o-42", KEYS, {"sku-gold": "Open Gold.\nMe > Redeem.", "sku-other": "unused"}).body
    assert body.count("How to use SKU sku-gold:") == 1
    assert "   Open Gold.\n   Me > Redeem." in body
    assert "unused" not in body
    assert "How to use" not in render_delivery("o-42", KEYS).body
