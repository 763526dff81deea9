"""Partners' redemption reports: authenticate the signed callback, find the key, record the redemption."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from quanyi_gateway import security
from quanyi_gateway.application.errors import UnknownKey
from quanyi_gateway.application.model import Redemption
from quanyi_gateway.application.ports import Deliveries, KeyVault, NonceStore, PartnerScopes


@dataclass(frozen=True, slots=True)
class RecordRedemption:
    """The command: a partner reports that the key with this code was redeemed (at a time, or now)."""

    partner: str
    code: str
    redeemed_at: datetime | None = None


class Redemptions:
    """Records partners' redemption reports once their signature, freshness and nonce are checked.

    A partner reports only keys of the SKUs its credentials name (PartnerScopes): a code of another SKU
    is answered exactly as an unknown code, after the same work (the key lookup and the partner's SKUs
    are read together for every report), so neither the answer nor its timing tells them apart.
    """

    def __init__(
        self,
        partner_secrets: Mapping[str, str],
        skew_s: int,
        nonces: NonceStore,
        vault: KeyVault,
        deliveries: Deliveries,
        scopes: PartnerScopes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._scopes = scopes
        self._secrets = dict(partner_secrets)
        self._skew_s = skew_s
        self._nonces = nonces
        self._vault = vault
        self._deliveries = deliveries
        self._clock = clock

    async def authenticate(self, request: security.PartnerRequest) -> None:
        """Accept a callback signed by the partner's secret, fresh, with a new nonce. Raises
        security.PartnerAuthError (see security.authenticate_partner)."""
        await security.authenticate_partner(request, self._secrets, self._nonces, self._clock(), self._skew_s)

    async def record(self, command: RecordRedemption) -> Redemption:
        """Record the redemption of the key with this code. Raises UnknownKey for a code no key has and for
        a key of a SKU outside the partner's; a repeat is a duplicate."""
        found, skus = await asyncio.gather(
            self._vault.find(command.code), self._scopes.skus_of(command.partner)
        )
        if found is None or found.sku_id not in skus:
            raise UnknownKey()
        when = command.redeemed_at or datetime.fromtimestamp(self._clock(), UTC)
        redeemed_at = when.astimezone(UTC).isoformat()
        reply = await self._deliveries.record_redemption(found.key_id, command.partner, redeemed_at)
        return Redemption(
            key_id=found.key_id,
            order_id=reply.order_id or found.order_id,
            redeemed_at=reply.redeemed_at or redeemed_at,
            duplicate=reply.duplicate,
        )
