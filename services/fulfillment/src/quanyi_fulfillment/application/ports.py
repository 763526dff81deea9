"""What the use cases need from the world, as interfaces; bootstrap picks the concrete adapters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from quanyi_platform.consumer import TransientError

from quanyi_fulfillment.domain.delivery import RevealedSecret
from quanyi_fulfillment.domain.mail import MailContent


class InventoryUnavailable(TransientError):
    """Inventory did not answer in time; try again later (the consumer retries its batch)."""


class RevealRefused(Exception):
    """Inventory answered but would not reveal the keys (for example NOT_FOUND); retrying will not help."""


class KeyRevealer(Protocol):
    async def reveal(self, order_id: str, key_ids: Sequence[str]) -> list[RevealedSecret]:
        """The plaintext of the order's keys, for delivery; the reveal is audited by inventory.

        Raises InventoryUnavailable (transient) or RevealRefused. Never stores or logs the result.
        """
        ...


class MailNotSent(Exception):
    """The SMTP server could not be reached or refused the message. `reason` holds no key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Mailer(Protocol):
    async def send(self, to: str, content: MailContent) -> None:
        """Hand one message to the mail server; returns once it was accepted, else raises MailNotSent."""
        ...
