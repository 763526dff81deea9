"""Delivering an order's reserved keys: what to deliver, and pairing the revealed secrets with the keys.

Plaintext (a key's code and password) exists only in `RevealedSecret`, in memory, for as long as it takes
to render the e-mail. Its repr hides both, so a log line or traceback that shows one shows no secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from quanyi_fulfillment.domain.errors import ConflictingReservation, InvalidReservation, RevealMismatch

USER_CENTER = "user_center"
EMAIL = "email"
WEBHOOK = "webhook"
SMS = "sms"
ACTIVATION = "activation"  # a top-up of the buyer's account on the partner platform
APP = "app"  # a push to the buyer's device in quanyi's app (the target: the device's push token)
# The channels a buyer or an operator can ask for on demand (DeliverOnChannel); the e-mail for a re-drive
# after the delivery e-mail gave up, or a resend to another address.
ON_DEMAND = (EMAIL, WEBHOOK, SMS, ACTIVATION, APP)


@dataclass(frozen=True)
class Money:
    minor_units: int
    currency: str


@dataclass(frozen=True)
class ReservedKey:
    """One key inventory claimed for one unit of one order line; an id, never the key itself."""

    key_id: str
    sku_id: str
    line_no: int
    unit_no: int
    unit_cost: Money


POINTS = "points"
MEMBERSHIP = "membership"


@dataclass(frozen=True)
class ReservedEntitlement:
    """A bundle's points (kind POINTS: `points` worth `value`) or membership (kind MEMBERSHIP: `days` of
    `plan`, costing the operator `value`) reserved for one unit of one order line."""

    line_no: int
    unit_no: int
    bundle_sku_id: str
    kind: str
    points: int
    plan: str
    days: int
    value: Money


@dataclass(frozen=True)
class Reservation:
    """An order whose every unit has a key: what KeyReserved says. It names the buyer by id only: their
    address is the gateway's to know (quanyi.gateway.v1.BuyerContactsService), asked when the e-mail goes.
    `entitlements` are its bundles' points and memberships (an order of only those has no key)."""

    order_id: str
    buyer_id: str
    keys: tuple[ReservedKey, ...]
    sales_channel: str
    entitlements: tuple[ReservedEntitlement, ...] = ()
    # When the order was paid and when its keys were reserved, as KeyReserved says (None: not said).
    paid_at: datetime | None = None
    reserved_at: datetime | None = None

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(k.key_id for k in self.keys)


@dataclass(frozen=True)
class RevealedSecret:
    """A key in plaintext, from inventory. Never stored, logged or raised: repr shows the id only."""

    key_id: str
    sku_id: str
    code: str = field(repr=False)
    password: str = field(repr=False, default="")


class Decision(Enum):
    DELIVER = "deliver"
    ALREADY_DELIVERED = "already_delivered"


def decide(reservation: Reservation, delivered_key_ids: Iterable[str]) -> Decision:
    """Deliver an order once: nothing delivered yet -> deliver; the same keys delivered -> nothing.

    Raises InvalidReservation for a reservation without keys or with a key twice, and
    ConflictingReservation when the order was delivered with other keys than these.
    """
    ids = reservation.key_ids
    if not reservation.order_id:
        raise InvalidReservation("reservation without an order id")
    if not ids and not reservation.entitlements:
        raise InvalidReservation(f"order {reservation.order_id}: reservation without keys")
    if len(set(ids)) != len(ids):
        raise InvalidReservation(f"order {reservation.order_id}: a key is reserved twice")
    delivered = set(delivered_key_ids)
    if not delivered:
        return Decision.DELIVER
    if delivered == set(ids):
        return Decision.ALREADY_DELIVERED
    raise ConflictingReservation(f"order {reservation.order_id} was delivered with other keys")


def channels() -> tuple[str, ...]:
    """The channels that have delivered an order's keys when they are reserved: the user centre only. A
    queued channel (the e-mail) is never listed before it succeeded; ChannelDelivered announces it then."""
    return (USER_CENTER,)


@dataclass(frozen=True)
class KeyToSend:
    """A delivered key with its secret, in the order the buyer should read them."""

    line_no: int
    unit_no: int
    secret: RevealedSecret


def pair_secrets(
    keys: Sequence[tuple[str, int, int]], secrets: Iterable[RevealedSecret]
) -> list[KeyToSend]:
    """Match each (key_id, line_no, unit_no) with its revealed secret, ordered by line and unit.

    Raises RevealMismatch (naming key ids only) when a key was not revealed or an unknown one was.
    """
    by_id = {s.key_id: s for s in secrets}
    wanted = {k[0] for k in keys}
    missing = sorted(wanted - by_id.keys())
    extra = sorted(by_id.keys() - wanted)
    if missing or extra:
        raise RevealMismatch(f"revealed keys differ: missing {missing}, unexpected {extra}")
    ordered = sorted(keys, key=lambda k: (k[1], k[2], k[0]))
    return [KeyToSend(line_no, unit_no, by_id[key_id]) for key_id, line_no, unit_no in ordered]
