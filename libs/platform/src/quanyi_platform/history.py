"""An order's or a key's history: its state at any instant, folded from every service's events, and the
causal chain that led there. Shared by `quanyi history` and the back office (the gateway's order page and
admin API). Pure: the callers read the events (from the stores, or each service's
`quanyi.common.v1.EventHistoryService`); this module merges and folds them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# What an event says about the order it belongs to (short type name -> the order's state after it).
ORDER_STATE = {
    "OrderPlaced": "awaiting payment",
    "PaymentNoticeAccepted": None,
    "PaymentCaptured": "payment captured",
    "RiskDecided": None,
    "OrderApproved": "approved, awaiting payment",
    "OrderHeld": "held for review",
    "OrderPaid": "paid",
    "KeyReserved": "keys reserved",
    "StockShort": "stock short",
    "OrderRefunded": "refunded",
    "OrderCancelled": "cancelled",
    "KeyDelivered": "delivered",
    "OrderFulfilled": "fulfilled",
    "DeliveryFailed": "delivery failed",
}

# What an event says about one key.
KEY_STATE = {
    "KeysImported": "available",
    "KeyReserved": "reserved",
    "KeyDelivered": "delivered",
    "KeysRevealed": None,
    "Redeemed": "redeemed",
    "KeyExpired": "expired",
    "KeyVoided": "void",
    "KeyRecycled": "available",
    # A partner redeemed it, heard after the refund that took it back (inventory's exception).
    "RefundedKeyRedeemed": "redeemed after its refund",
}


@dataclass(frozen=True)
class HistoryEvent:
    """One event of some service, decoded."""

    service: str
    seq: int
    event_id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    correlation_id: str
    causation_id: str
    occurred_at: datetime
    payload: dict[str, Any]

    @property
    def short_type(self) -> str:
        return self.type.rsplit(".", 1)[-1]


@dataclass
class History:
    subject: str
    kind: str  # "order" or "key"
    as_of: datetime | None
    events: list[HistoryEvent] = field(default_factory=list)
    state: str = "unknown"
    facts: dict[str, Any] = field(default_factory=dict)

    def chain(self) -> list[tuple[int, HistoryEvent, HistoryEvent | None]]:
        """The events as a causal forest, depth-first: (depth, event, its cause when among the events)."""
        by_id = {e.event_id: e for e in self.events}
        children: dict[str, list[HistoryEvent]] = {}
        roots: list[HistoryEvent] = []
        for e in self.events:
            if e.causation_id and e.causation_id in by_id and e.causation_id != e.event_id:
                children.setdefault(e.causation_id, []).append(e)
            else:
                roots.append(e)
        out: list[tuple[int, HistoryEvent, HistoryEvent | None]] = []
        seen: set[str] = set()

        def walk(e: HistoryEvent, depth: int) -> None:
            if e.event_id in seen:
                return
            seen.add(e.event_id)
            out.append((depth, e, by_id.get(e.causation_id)))
            for child in children.get(e.event_id, []):
                walk(child, depth + 1)

        for root in roots:
            walk(root, 0)
        return out

    def chain_rows(self) -> list[dict[str, Any]]:
        """The causal chain as rows for people: depth (indent under the cause), when, service, event and
        the payload on one line."""
        return [
            {
                "depth": depth,
                "at": e.occurred_at.isoformat(),
                "service": e.service,
                "event": e.short_type,
                "event_id": e.event_id,
                "caused_by": e.causation_id or None,
                "details": summary(e.payload, self.subject),
            }
            for depth, e, _cause in self.chain()
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "kind": self.kind,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "state": self.state,
            "facts": self.facts,
            "chain": self.chain_rows(),
            "events": [
                {
                    "at": e.occurred_at.isoformat(),
                    "service": e.service,
                    "event": e.short_type,
                    "event_id": e.event_id,
                    "caused_by": e.causation_id or None,
                    "aggregate": f"{e.aggregate_type}:{e.aggregate_id}",
                    "payload": e.payload,
                }
                for e in self.events
            ],
        }


_ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK"})


def money_text(minor: int, currency: str) -> str:
    """Minor units as a decimal amount, for people: (1990, 'CNY') -> '19.90 CNY'."""
    if currency in _ZERO_DECIMAL:
        return f"{minor} {currency}"
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d} {currency}"


def _money(m: dict[str, Any]) -> str:
    """A payload's Money as people read it: {'minorUnits': '1990', 'currency': 'CNY'} -> '19.90 CNY'."""
    return money_text(int(m.get("minorUnits", 0)), str(m.get("currency", "")))


def mentions_key(payload: Any, key_id: str) -> bool:
    """Whether a decoded payload names `key_id` anywhere (a value, at any depth)."""
    if isinstance(payload, dict):
        return any(mentions_key(v, key_id) for v in payload.values())
    if isinstance(payload, list):
        return any(mentions_key(v, key_id) for v in payload)
    return bool(payload == key_id)


def fold(subject: str, events: Iterable[HistoryEvent], as_of: datetime | None = None) -> History:
    """Fold the events (of any services, any order) that concern `subject` up to `as_of` (inclusive).

    The subject is an order when some event is correlated with it or is about it as an aggregate;
    otherwise a key, whose events are those that name it."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.service, e.seq))
    if as_of is not None:
        ordered = [e for e in ordered if e.occurred_at <= as_of]
    is_order = any(
        e.correlation_id == subject or (e.aggregate_id == subject and e.aggregate_type == "Order")
        for e in ordered
    )
    history = History(subject, "order" if is_order else "key", as_of, ordered)
    table = ORDER_STATE if is_order else KEY_STATE
    for e in ordered:
        if not is_order and e.short_type in {"KeyReserved", "KeyDelivered"}:
            # Events about a whole order: they concern this key only if they name it.
            if not mentions_key(e.payload, subject):
                continue
        label = table.get(e.short_type)
        if label is not None:
            history.state = label
        if is_order:
            if e.short_type == "OrderPlaced":
                history.facts["buyer"] = e.payload.get("buyerId")
                total = e.payload.get("total") or {}
                if total:
                    history.facts["total"] = _money(total)
            if e.short_type == "PaymentCaptured":
                history.facts["payment"] = e.payload.get("providerTxnId")
            if e.short_type == "RefundedKeyRedeemed":
                key = (e.payload.get("key") or {}).get("keyId")
                history.facts["redeemed_after_refund"] = ", ".join(
                    k for k in (history.facts.get("redeemed_after_refund"), key) if k
                )
        else:
            if e.short_type == "KeyReserved":
                history.facts["order"] = e.correlation_id
            if e.short_type in {"Redeemed", "RefundedKeyRedeemed"}:
                history.facts["redeemed_by"] = e.payload.get("partner")
            if e.short_type == "KeysRevealed":
                history.facts["reveals"] = int(history.facts.get("reveals", 0)) + 1
    return history


def order_ids_of_key(events: Sequence[HistoryEvent], key_id: str) -> set[str]:
    """The orders whose events name the key."""
    return {e.correlation_id for e in events if e.correlation_id and mentions_key(e.payload, key_id)}


def merge(*batches: Iterable[HistoryEvent]) -> list[HistoryEvent]:
    """The events of several answers (services asked more than once, or overlapping look-ups) once each:
    an event is identified by its service and its seq there."""
    seen: dict[tuple[str, int], HistoryEvent] = {}
    for batch in batches:
        for e in batch:
            seen.setdefault((e.service, e.seq), e)
    return sorted(seen.values(), key=lambda e: (e.occurred_at, e.service, e.seq))


def summary(body: dict[str, Any], subject: str = "") -> str:
    """A payload on one line: money as '19.90 CNY', lists by their length, the subject's own id left out."""
    parts = []
    for key, value in body.items():
        if value == subject:
            continue
        if isinstance(value, dict) and set(value) == {"minorUnits", "currency"}:
            text = money_text(int(value["minorUnits"]), value["currency"])
        elif isinstance(value, list):
            text = f"{len(value)} item{'s' if len(value) != 1 else ''}"
        elif isinstance(value, dict):
            text = "{…}"
        else:
            text = str(value)
        parts.append(f"{key}={text}")
    return " ".join(parts)
