import pytest
from quanyi_fulfillment.domain.delivery import (
    Decision,
    Money,
    Reservation,
    ReservedKey,
    RevealedSecret,
    channels,
    decide,
    pair_secrets,
)
from quanyi_fulfillment.domain.errors import ConflictingReservation, InvalidReservation, RevealMismatch


def reservation(*key_ids: str) -> Reservation:
    keys = tuple(
        ReservedKey(key_id=k, sku_id="sku-1", line_no=1, unit_no=n, unit_cost=Money(500, "CNY"))
        for n, k in enumerate(key_ids, start=1)
    )
    return Reservation("o-1", "b-1", keys, "web")


def test_an_order_with_nothing_delivered_is_delivered() -> None:
    assert decide(reservation("k1", "k2"), []) is Decision.DELIVER


def test_an_order_delivered_with_the_same_keys_is_not_delivered_again() -> None:
    assert decide(reservation("k1", "k2"), ["k2", "k1"]) is Decision.ALREADY_DELIVERED


def test_an_order_delivered_with_other_keys_is_a_conflict_for_a_person() -> None:
    with pytest.raises(ConflictingReservation):
        decide(reservation("k1", "k2"), ["k1", "k9"])


def test_a_reservation_without_keys_or_with_a_key_twice_is_refused() -> None:
    with pytest.raises(InvalidReservation):
        decide(reservation(), [])
    with pytest.raises(InvalidReservation):
        decide(reservation("k1", "k1"), [])


def test_keys_reach_the_user_centre_at_once_and_no_queued_channel_is_listed() -> None:
    assert channels() == ("user_center",)


def test_secrets_are_paired_with_their_keys_in_line_and_unit_order() -> None:
    keys = [("k2", 2, 1), ("k1", 1, 2), ("k0", 1, 1)]
    secrets = [RevealedSecret(k, "sku", f"code-{k}") for k in ("k0", "k1", "k2")]
    paired = pair_secrets(keys, secrets)
    assert [p.secret.key_id for p in paired] == ["k0", "k1", "k2"]


def test_a_key_inventory_did_not_reveal_is_a_mismatch_naming_ids_only() -> None:
    with pytest.raises(RevealMismatch) as err:
        pair_secrets([("k1", 1, 1), ("k2", 1, 2)], [RevealedSecret("k1", "sku", "SECRET-CODE")])
    assert "k2" in str(err.value)
    assert "SECRET-CODE" not in str(err.value)


def test_a_revealed_secret_never_shows_its_code_or_password_in_its_repr() -> None:
    secret = RevealedSecret("k1", "sku", code="ABCD-1234", password="pw-5678")
    assert "ABCD-1234" not in repr(secret)
    assert "pw-5678" not in repr(secret)
