"""Partners' redemption reports: authenticate the signed callback, find the key, record the redemption."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from quanyi_gateway import security
from quanyi_gateway.application.errors import UnknownKey
from quanyi_gateway.application.model import Redemption
from quanyi_gateway.application.ports import Deliveries, KeyVault, NonceStore


@dataclass(frozen=True, slots=True)
class RecordRedemption:
    """The command: a partner reports that the key with this code was redeemed (at a time, or now)."""

    partner: str
    code: str
    redeemed_at: datetime | None = None


class Redemptions:
    """Records partners' redemption reports once their signature, freshness and nonce are checked."""

    def __init__(
        self,
        partner_secrets: Mapping[str, str],
        skew_s: int,
        nonces: NonceStore,
        vault: KeyVault,
        deliveries: Deliveries,
        clock: Callable[[], float] = time.time,
    ) -> None:
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
        """Record the redemption of the key with this code. Raises UnknownKey; a repeat is a duplicate."""
        found = await self._vault.find(command.code)
        if found is None:
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
