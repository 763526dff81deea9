"""Posting rules: pure functions from the financial facts the ledger hears about to journal entries.

Accounts (a balance is debits − credits: cash, refunds and cogs are positive, deposits and revenue negative):
- ``cash:psp``               money held at the payment provider (one account whatever the provider is called,
                             since refunds do not say which provider returns the money)
- ``deposits:buyers``        buyers' money received for orders not yet sold (a liability)
- ``revenue:<channel>``      sales per sales channel
- ``refunds:<channel>``      refunds of released (sold) orders, a contra-revenue per channel
- ``cogs:<channel>``         cost of the keys delivered, per sales channel
- ``inventory:keys``         the cost of keys in stock; only credited so far (key imports are not posted),
                             so its balance is minus the cost of the keys delivered

Revenue of a channel = credit balance of ``revenue:<channel>`` − debit balance of ``refunds:<channel>`` (I4).
A rule returns None when there is nothing to post (a zero amount).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from quanyi_ledger.domain.journal import JournalEntry, JournalLine, Money

CASH_PSP = "cash:psp"
DEPOSITS_BUYERS = "deposits:buyers"
INVENTORY_KEYS = "inventory:keys"
UNKNOWN_CHANNEL = "unknown"

KIND_PAYMENT = "payment"
KIND_SALE = "sale"
KIND_REFUND = "refund"
KIND_KEY_COST = "key_cost"


def _channel(channel: str) -> str:
    return channel or UNKNOWN_CHANNEL


def revenue_account(channel: str) -> str:
    return f"revenue:{_channel(channel)}"


def refunds_account(channel: str) -> str:
    return f"refunds:{_channel(channel)}"


def cogs_account(channel: str) -> str:
    return f"cogs:{_channel(channel)}"


@dataclass(frozen=True)
class Source:
    """The event a fact came from: its id becomes the entry's source_event_id, so it posts at most once."""

    event_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class PaymentCaptured:
    order_id: str
    provider: str
    provider_txn_id: str
    amount: Money


@dataclass(frozen=True)
class OrderPaid:
    order_id: str
    channel: str
    total: Money


@dataclass(frozen=True)
class OrderRefunded:
    order_id: str
    channel: str
    amount: Money
    was_released: bool


@dataclass(frozen=True)
class KeyDelivered:
    order_id: str
    sales_channel: str
    unit_costs: Sequence[Money]


Fact = PaymentCaptured | OrderPaid | OrderRefunded | KeyDelivered


def _entry(kind: str, source: Source, memo: str, lines: list[JournalLine]) -> JournalEntry:
    return JournalEntry(kind, source.event_id, source.occurred_at, memo, tuple(lines))


def payment_captured(fact: PaymentCaptured, source: Source) -> JournalEntry | None:
    """Dr cash:psp / Cr deposits:buyers: the provider holds the buyer's money for the order."""
    if fact.amount.minor == 0:
        return None
    memo = f"order {fact.order_id}: payment captured by {fact.provider}"
    if fact.provider_txn_id:
        memo += f" ({fact.provider_txn_id})"
    return _entry(
        KIND_PAYMENT,
        source,
        memo,
        [JournalLine.debit(CASH_PSP, fact.amount), JournalLine.credit(DEPOSITS_BUYERS, fact.amount)],
    )


def order_paid(fact: OrderPaid, source: Source) -> JournalEntry | None:
    """Dr deposits:buyers / Cr revenue:<channel>: the order is sold."""
    if fact.total.minor == 0:
        return None
    return _entry(
        KIND_SALE,
        source,
        f"order {fact.order_id}: sold on {_channel(fact.channel)}",
        [
            JournalLine.debit(DEPOSITS_BUYERS, fact.total),
            JournalLine.credit(revenue_account(fact.channel), fact.total),
        ],
    )


def order_refunded(fact: OrderRefunded, source: Source) -> JournalEntry | None:
    """Cr cash:psp, against refunds:<channel> when the order had been sold, else against deposits:buyers."""
    if fact.amount.minor == 0:
        return None
    if fact.was_released:
        debit = refunds_account(fact.channel)
        memo = f"order {fact.order_id}: refund of a sale on {_channel(fact.channel)}"
    else:
        debit = DEPOSITS_BUYERS
        memo = f"order {fact.order_id}: deposit returned before sale"
    return _entry(
        KIND_REFUND,
        source,
        memo,
        [JournalLine.debit(debit, fact.amount), JournalLine.credit(CASH_PSP, fact.amount)],
    )


def key_delivered(fact: KeyDelivered, source: Source) -> JournalEntry | None:
    """Dr cogs:<channel> / Cr inventory:keys for the delivered keys' cost, per currency; None when it is 0."""
    totals: dict[str, int] = defaultdict(int)
    for cost in fact.unit_costs:
        totals[cost.currency] += cost.minor
    lines: list[JournalLine] = []
    for currency in sorted(totals):
        if totals[currency] == 0:
            continue
        amount = Money(totals[currency], currency)
        lines += [JournalLine.debit(cogs_account(fact.sales_channel), amount),
                  JournalLine.credit(INVENTORY_KEYS, amount)]
    if not lines:
        return None
    n = len(fact.unit_costs)
    return _entry(KIND_KEY_COST, source, f"order {fact.order_id}: cost of {n} key(s) delivered", lines)


def entry_for(fact: Fact, source: Source) -> JournalEntry | None:
    """The entry that posts `fact` (heard as the event `source`), by the rule for its kind; None when there
    is nothing to post. Raises UnbalancedEntry when the fact cannot make a balanced entry."""
    if isinstance(fact, PaymentCaptured):
        return payment_captured(fact, source)
    if isinstance(fact, OrderPaid):
        return order_paid(fact, source)
    if isinstance(fact, OrderRefunded):
        return order_refunded(fact, source)
    return key_delivered(fact, source)
