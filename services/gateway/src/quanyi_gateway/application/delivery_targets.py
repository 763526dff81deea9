"""A buyer's kept delivery targets: where their keys also go, besides the user centre and the e-mail, each
time an order of theirs is delivered (and when a channel is re-driven without a target).

One target per channel: a webhook's https URL to a public host, a phone number in E.164 for SMS, the
account on the partner platform for one-click activation, a device's push token for the app. Targets are
personal data, held here only: fulfillment asks for them (BuyerContactsService) at the moment it delivers
and keeps no copy, and a buyer's erasure deletes them with the account.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

WEBHOOK, SMS, ACTIVATION, APP = "webhook", "sms", "activation", "app"
# The channels delivered on besides the user centre and the e-mail (quanyi.gateway.v1.DeliveryTarget).
CHANNELS = (WEBHOOK, SMS, ACTIVATION, APP)

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9_.@:+-]{1,128}$")
_DEVICE = re.compile(r"^[A-Za-z0-9_:.-]{16,256}$")
MAX_URL = 2048


@dataclass(frozen=True)
class DeliveryTarget:
    """Where a buyer keeps one channel's deliveries."""

    channel: str
    target: str


class InvalidTarget(ValueError):
    """A channel nobody knows, or a target that does not fit its channel; the message says which, and
    never repeats the target."""


class BuyerGone(Exception):
    """The buyer's account no longer exists (erased while the request ran)."""


def _local_host(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost") or "." not in name:
        return True
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def checked(channel: str, target: str) -> DeliveryTarget:
    """The target as kept, once it fits its channel; raises InvalidTarget."""
    target = target.strip()
    if channel not in CHANNELS:
        raise InvalidTarget(f"unknown channel: one of {', '.join(CHANNELS)}")
    if channel == SMS and not _E164.match(target):
        raise InvalidTarget("an sms target is a phone number in E.164 form, such as +8613800138000")
    if channel == ACTIVATION and not _ACCOUNT.match(target):
        raise InvalidTarget("an activation target is the account on the partner platform")
    if channel == APP and not _DEVICE.match(target):
        raise InvalidTarget("an app target is the device's push token (16 to 256 of letters, digits, _:.-)")
    if channel == WEBHOOK:
        try:
            url = urlsplit(target)
            host = url.hostname or ""
        except ValueError:
            raise InvalidTarget("a webhook target is an https URL to a public host") from None
        if len(target) > MAX_URL or url.scheme != "https" or not host or url.username or _local_host(host):
            raise InvalidTarget("a webhook target is an https URL to a public host")
    return DeliveryTarget(channel, target)


class DeliveryTargetStore(Protocol):
    """A buyer's kept targets (Postgres, or the in-memory fake). Guarantees: at most one target per
    (buyer, channel); a buyer's targets go with the buyer's account (erasure)."""

    async def of(self, buyer_id: uuid.UUID) -> list[DeliveryTarget]:
        """The buyer's targets, by channel name."""
        ...

    async def keep(
        self, buyer_id: uuid.UUID, targets: Sequence[DeliveryTarget], at: datetime, *, only: bool = False
    ) -> bool:
        """Keep these targets, each replacing the buyer's target for its channel, in one transaction; with
        `only`, the buyer's targets of other channels are forgotten in it too. False when the buyer has no
        account (nothing changes)."""
        ...

    async def drop(self, buyer_id: uuid.UUID, channels: Sequence[str] | None) -> int:
        """Forget the buyer's targets of these channels (None: all); how many were kept."""
        ...


class DeliveryTargets:
    """The buyer's own delivery targets: read, keep (the whole set, or one channel), forget."""

    def __init__(
        self, store: DeliveryTargetStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._clock = clock

    async def mine(self, buyer_id: uuid.UUID) -> list[DeliveryTarget]:
        return await self._store.of(buyer_id)

    async def replace(
        self, buyer_id: uuid.UUID, targets: Sequence[tuple[str, str]]
    ) -> list[DeliveryTarget]:
        """Keep exactly these (channel, target) pairs, one per channel: the channels not named are
        forgotten. Raises InvalidTarget (nothing changes) and BuyerGone."""
        wanted = [checked(channel, target) for channel, target in targets]
        if len({t.channel for t in wanted}) != len(wanted):
            raise InvalidTarget("one target per channel")
        if not await self._store.keep(buyer_id, wanted, self._clock(), only=True):
            raise BuyerGone(str(buyer_id))
        return sorted(wanted, key=lambda t: t.channel)

    async def set_one(self, buyer_id: uuid.UUID, channel: str, target: str) -> DeliveryTarget:
        """Keep one channel's target. Raises InvalidTarget and BuyerGone."""
        wanted = checked(channel, target)
        if not await self._store.keep(buyer_id, [wanted], self._clock()):
            raise BuyerGone(str(buyer_id))
        return wanted

    async def forget(self, buyer_id: uuid.UUID, channel: str | None = None) -> int:
        """Forget one channel's target, or all of them; how many there were. Raises InvalidTarget for a
        channel nobody knows."""
        if channel is not None and channel not in CHANNELS:
            raise InvalidTarget(f"unknown channel: one of {', '.join(CHANNELS)}")
        return await self._store.drop(buyer_id, None if channel is None else [channel])
