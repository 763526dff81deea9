"""The payment-provider port: what orders needs of a provider (its notices, its query and refund APIs),
and asking the providers about an order. Implementations: adapters.providers."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from quanyi_orders.application.orders import PaymentNotice
from quanyi_orders.application.saga import RefundOutcome
from quanyi_orders.domain.refund import Refund

log = logging.getLogger(__name__)

#: Payments of the first simulator are queried and refunded through the WeChat-style API.
ALIASES = {"psp-sim": "wechatpay-sim"}


class ProviderUnavailable(Exception):
    """The provider's API did not answer usably (network, 5xx, an unverifiable response): try later."""


@dataclass(frozen=True)
class RawNotice:
    """A notice as the webhook received it."""

    body: bytes
    signature: str = ""
    timestamp: str = ""
    nonce: str = ""
    serial: str = ""


class PaymentProvider(ABC):
    """One provider: opens its notices, asks its query API, calls its refund API.

    Guarantees: a notice or an API answer is believed only if it carries the provider's valid signature;
    `refund` may be called again for the same refund (the provider refunds it once)."""

    name: str

    @abstractmethod
    def open_notice(self, raw: RawNotice) -> PaymentNotice | RefundOutcome:
        """A verified notice: a payment, or a refund's confirmation. Raises NoticeRejected (not the
        provider's) or MalformedNotice (not understood)."""

    @abstractmethod
    async def query_payment(self, order_id: str) -> PaymentNotice | None:
        """The provider's payment for the order (its out_trade_no), or None while unpaid."""

    @abstractmethod
    async def refund(self, refund: Refund) -> RefundOutcome:
        """Ask for the refund (idempotent on its refund id) and say what the provider answered."""



def provider_for(providers: Mapping[str, PaymentProvider], name: str) -> PaymentProvider | None:
    return providers.get(name) or providers.get(ALIASES.get(name, ""))


async def find_payment(
    providers: Mapping[str, PaymentProvider], order_id: str, only: str = ""
) -> PaymentNotice | None:
    """The first payment a provider reports for the order; providers that do not answer are skipped."""
    for name in [only] if only else list(providers):
        provider = provider_for(providers, name)
        if provider is None:
            continue
        try:
            found = await provider.query_payment(order_id)
        except ProviderUnavailable as exc:
            log.warning("payment query failed", extra={"provider": name, "order_id": order_id,
                                                       "error": str(exc)})
            continue
        if found is not None:
            return found
    return None
