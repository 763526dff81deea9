"""Recording a partner's report that a delivered key was redeemed: once, repeats are reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from quanyi_fulfillment.domain.errors import InvalidRedemption


@dataclass(frozen=True)
class RedemptionReport:
    key_id: str
    partner: str
    redeemed_at: datetime


def parse_report(key_id: str, partner: str, redeemed_at: str, now: datetime) -> RedemptionReport:
    """Validate a report; an empty time means now. Times must be RFC 3339 with a zone, kept in UTC."""
    if not key_id.strip():
        raise InvalidRedemption("key_id is required")
    if not partner.strip():
        raise InvalidRedemption("partner is required")
    if not redeemed_at.strip():
        return RedemptionReport(key_id, partner.strip(), now)
    try:
        at = datetime.fromisoformat(redeemed_at.strip())
    except ValueError:
        raise InvalidRedemption("redeemed_at must be an RFC 3339 time") from None
    if at.tzinfo is None:
        raise InvalidRedemption("redeemed_at needs a time zone")
    return RedemptionReport(key_id, partner.strip(), at.astimezone(UTC))


def is_duplicate(already_redeemed_at: datetime | None) -> bool:
    """A key is redeemed once; a second report is a duplicate and changes nothing."""
    return already_redeemed_at is not None


def rfc3339(at: datetime) -> str:
    """`at` in UTC as RFC 3339 with a Z, as the contracts carry times."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
