import json

import pytest
from quanyi_fulfillment.domain.delivery import KeyToSend, RevealedSecret
from quanyi_fulfillment.domain.webhook import delivery_id, sign, verify, webhook_body

SECRET = b"s3cret"


def test_a_signature_verifies_only_for_its_secret_body_and_time() -> None:
    header = sign(SECRET, 1_700_000_000, b'{"a":1}')
    assert header.startswith("t=1700000000,v1=")
    assert verify(SECRET, header, b'{"a":1}', 1_700_000_100)
    assert not verify(SECRET, header, b'{"a":2}', 1_700_000_100)
    assert not verify(b"other", header, b'{"a":1}', 1_700_000_100)
    assert not verify(SECRET, header, b'{"a":1}', 1_700_000_301)  # outside the tolerance
    assert not verify(SECRET, header.replace("t=1700000000", "t=1700000100"), b'{"a":1}', 1_700_000_100)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=x,v1=abc", "t=1,t=2,v1=abc", "garbage"])
def test_a_malformed_header_never_verifies(header: str) -> None:
    assert not verify(SECRET, header, b"{}", 1)


def test_signing_without_a_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        sign(b"", 1, b"{}")


def test_the_body_lists_keys_in_order_with_their_sku_instructions_and_is_deterministic() -> None:
    keys = [KeyToSend(1, 1, RevealedSecret("k1", "sku-a", "C1")), KeyToSend(2, 1, RevealedSecret("k2", "sku-b", "C2", "P2"))]
    body = webhook_body("o-1", keys, {"sku-b": "Open the app, then Redeem"})
    assert body == webhook_body("o-1", keys, {"sku-b": "Open the app, then Redeem"})
    document = json.loads(body)
    assert document["order_id"] == "o-1" and document["type"] == "quanyi.delivery"
    assert [(k["key_id"], k["code"], k["password"], k["instructions"]) for k in document["keys"]] == [
        ("k1", "C1", "", ""), ("k2", "C2", "P2", "Open the app, then Redeem"),
    ]
    assert delivery_id("o-1") == "o-1:webhook"
