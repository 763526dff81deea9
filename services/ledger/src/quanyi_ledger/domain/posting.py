"""Posting rules: pure functions from the financial facts the ledger hears about to journal entries.

The accounts are the chart in `quanyi_ledger.domain.accounts`. One fact makes at most one entry; a rule
returns None when there is nothing to post (a zero amount). Revenue, refunds, stock and cost lines carry
the SKU they are about, so reports can group by SKU.

Refunds are posted in two steps. When the order decides a refund (OrderRefunded) the sale is reversed,
per SKU, against ``payables:refunds`` (a deposit not yet sold is returned the same way); a payment the order
refused goes to ``payables:refunds`` straight away. When the provider confirms a refund (RefundSucceeded),
``payables:refunds`` is paid from the provider's clearing account; what such a refund pays beyond what was
owed for its order (an operator's partial refund, decided by no OrderRefunded) reverses the sale itself.

Facts that do not say everything are completed from what the ledger posted for the order before (its
`OrderBook`: the payment's provider, the sale's channel and lines, the refunds owed): `complete`.

Coupons. A sale with a coupon is posted gross: Cr revenue:<channel> per SKU for what the lines were priced
at, Dr deposits:buyers for what the buyer paid and Dr expense:coupons:<channel> for the discount the
operator funds. A refund of such an order reverses proportionally: of refunds that add up to R of the P
paid, the coupon expense given back is floor(R × discount / P) in all (cumulative, so the refund of the
whole order gives back exactly the discount), and each refund reverses its amount plus its share of that
from revenue (Dr refunds:<channel> R + share / Cr expense:coupons:<channel> share / Cr payables:refunds
or clearing R). So revenue − refunds − coupon expense of a channel = paid − refunded (I4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

from quanyi_ledger.domain import accounts
from quanyi_ledger.domain.journal import JournalEntry, JournalLine, Money

UNKNOWN_CHANNEL = accounts.UNKNOWN

KIND_PAYMENT = "payment"
KIND_SALE = "sale"
KIND_REFUND = "refund"
KIND_REFUND_PAID = "refund_paid"
KIND_KEY_COST = "key_cost"
KIND_KEY_IMPORT = "key_import"
KIND_POINTS = "points_credited"
KIND_MEMBERSHIP_COST = "membership_cost"
KIND_POINTS_DEBITED = "points_debited"
KIND_MEMBERSHIP_COST_REVERSED = "membership_cost_reversed"
KIND_COMMISSION = "commission"
KIND_FEES = "psp_fees"
KIND_ADJUSTMENT = "reconciliation_adjustment"


def _channel(channel: str) -> str:
    return channel or UNKNOWN_CHANNEL


revenue_account = accounts.revenue
refunds_account = accounts.refunds
cogs_account = accounts.cogs


class Source(NamedTuple):
    """The event a fact came from: its id becomes the entry's source_event_id, so it posts at most once."""

    event_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class ChannelTerms:
    """What the sales channels' contracts say, as the ledger posts them: the commission a channel's partner
    earns on a sale, in basis points of what the buyer paid (``{"tmall": 500}`` is 5%). A sale on such a
    channel accrues its commission in the sale's own entry (one event, one entry); a refund of the sale
    gives back the same share of what it refunds. Channels not named earn nothing."""

    commission_bps: Mapping[str, int] = field(default_factory=dict)

    def commission(self, channel: str, amount: Money) -> Money:
        """The commission on `amount` sold (or refunded) on `channel`, rounded down to a minor unit."""
        return Money(amount.minor * self.commission_bps.get(channel, 0) // 10_000, amount.currency)


NO_TERMS = ChannelTerms()


class SaleLine(NamedTuple):
    """What one SKU of an order was sold (or refunded) for."""

    sku_id: str
    amount: Money


@dataclass(frozen=True)
class PaymentCaptured:
    """`refused`: the order could not take the payment; the money is owed back."""

    order_id: str
    provider: str
    provider_txn_id: str
    amount: Money
    refused: bool = False


@dataclass(frozen=True)
class OrderPaid:
    """`lines` are the order's lines priced (quantity × unit price) per SKU; `total` is what was paid."""

    order_id: str
    channel: str
    total: Money
    lines: tuple[SaleLine, ...] = ()
    #: What a coupon took off the lines (None: none): they were sold for `total` plus it.
    discount: Money | None = None


@dataclass(frozen=True)
class OrderRefunded:
    """The order decided to refund `amount`. `lines` (the per-SKU split) may be empty: `complete` fills
    them from the order's sale."""

    order_id: str
    channel: str
    amount: Money
    was_released: bool
    lines: tuple[SaleLine, ...] = ()
    #: The coupon expense this refund gives back (`complete` fills it from the order's book).
    coupon_back: int = 0


@dataclass(frozen=True)
class RefundSucceeded:
    """The provider paid a refund back. `channel`, `owed` (what was owed for the order before it) come
    from the order's book (`complete`)."""

    order_id: str
    refund_id: str
    provider: str
    amount: Money
    lines: tuple[SaleLine, ...] = ()
    channel: str = ""
    owed: int = 0
    #: The coupon expense the part of it that reverses the sale gives back (from the book: `complete`).
    coupon_back: int = 0


@dataclass(frozen=True)
class KeysImported:
    batch_id: str
    sku_id: str
    count: int
    unit_cost: Money
    actor: str = ""

    @property
    def order_id(self) -> str:
        return ""


@dataclass(frozen=True)
class KeyDelivered:
    """Keys delivered for an order: their costs, and (when known, same length) their SKUs."""

    order_id: str
    sales_channel: str
    unit_costs: Sequence[Money]
    sku_ids: Sequence[str] = ()


@dataclass(frozen=True)
class PointsCredited:
    """A bundle's points credited to a buyer with an order's delivery, worth `value` (fulfillment's
    PointsCredited: one per unit of the line)."""

    order_id: str
    line_no: int
    unit_no: int
    points: int
    value: Money


@dataclass(frozen=True)
class MembershipGranted:
    """A bundle's membership granted with an order's delivery, costing the operator `cost` (0: nothing)."""

    order_id: str
    line_no: int
    unit_no: int
    plan: str
    sales_channel: str
    cost: Money
    sku_id: str = ""


@dataclass(frozen=True)
class PointsDebited:
    """A refunded bundle's points taken back from the buyer (fulfillment's PointsDebited), worth `value`
    (the credit's)."""

    order_id: str
    line_no: int
    unit_no: int
    points: int
    value: Money


@dataclass(frozen=True)
class MembershipShortened:
    """A refunded bundle's membership grant taken back whole (fulfillment's MembershipShortened): `cost` is
    the grant's cost (0: nothing)."""

    order_id: str
    line_no: int
    unit_no: int
    plan: str
    sales_channel: str
    cost: Money
    sku_id: str = ""


@dataclass(frozen=True)
class CommissionAccrued:
    order_id: str
    channel: str
    partner: str
    amount: Money


@dataclass(frozen=True)
class FeesCharged:
    """A provider's fees for a statement (a day's trade bill)."""

    provider: str
    statement_id: str
    amount: Money

    @property
    def order_id(self) -> str:
        return ""


@dataclass(frozen=True)
class Adjustment:
    """A reconciliation difference written off when its mismatch is resolved: `amount` more (positive) or
    less (negative) is held by the provider than the journal said."""

    mismatch_id: str
    provider: str
    amount: Money
    actor: str
    note: str = ""

    @property
    def order_id(self) -> str:
        return ""


Fact = (
    PaymentCaptured
    | OrderPaid
    | OrderRefunded
    | RefundSucceeded
    | KeysImported
    | KeyDelivered
    | PointsCredited
    | MembershipGranted
    | PointsDebited
    | MembershipShortened
    | CommissionAccrued
    | FeesCharged
    | Adjustment
)


@dataclass(frozen=True)
class OrderBook:
    """What the journal says of an order: the provider that holds its money, the channel and per-SKU
    amounts it was sold for, and the refunds owed for it and not yet paid (minor units)."""

    provider: str = ""
    channel: str = ""
    sale_lines: tuple[SaleLine, ...] = ()
    refunds_owed: int = 0
    # What its sale has been reversed by so far, per SKU (the refunds:<channel> debits).
    refunded: tuple[SaleLine, ...] = ()
    # The coupon's discount on the sale (its expense:coupons debit), and what refunds gave back of it.
    discount: int = 0
    discount_back: int = 0

    def coupon_share(self, refund: int) -> int:
        """The coupon expense a refund of `refund` (of what the buyer paid) gives back: the cumulative
        floor(refunded × discount / paid) less what earlier refunds gave back."""
        if self.discount <= 0 or refund <= 0:
            return 0
        paid = sum(ln.amount.minor for ln in self.sale_lines) - self.discount
        if paid <= 0:
            return 0
        before = sum(ln.amount.minor for ln in self.refunded) - self.discount_back
        after = min(paid, before + refund)
        return max(0, min(self.discount, after * self.discount // paid) - self.discount_back)

    def unrefunded(self) -> tuple[SaleLine, ...]:
        """The sale's lines less what was refunded of each SKU (what a refund without lines returns)."""
        back: dict[tuple[str, str], int] = {}
        for ln in self.refunded:
            key = (ln.sku_id, ln.amount.currency)
            back[key] = back.get(key, 0) + ln.amount.minor
        out = []
        for ln in self.sale_lines:
            key = (ln.sku_id, ln.amount.currency)
            left = ln.amount.minor - back.get(key, 0)
            back[key] = max(0, back.get(key, 0) - ln.amount.minor)
            if left > 0:
                out.append(SaleLine(ln.sku_id, Money(left, ln.amount.currency)))
        return tuple(out)


def _reversals(entry: JournalEntry) -> tuple[SaleLine, ...]:
    return tuple(
        SaleLine(ln.sku_id, Money(ln.debit_minor - ln.credit_minor, ln.currency))
        for ln in entry.lines
        if ln.account.startswith("refunds:") and ln.debit_minor != ln.credit_minor
    )


def _coupon_lines(entry: JournalEntry) -> tuple[int, int]:
    """The coupon expense `entry` debits (a sale's discount) and credits (what a refund gives back)."""
    debit = credit = 0
    for ln in entry.lines:
        if ln.account.startswith(accounts.EXPENSE_COUPONS + ":"):
            debit += ln.debit_minor
            credit += ln.credit_minor
    return debit, credit


def note_entry(books: dict[str, OrderBook], order_id: str, entry: JournalEntry) -> None:
    """Update `books` with the sale reversals `entry` (posted for `order_id`) makes."""
    reversed_ = _reversals(entry)
    if reversed_:
        book = books.get(order_id, OrderBook())
        _, back = _coupon_lines(entry)
        books[order_id] = replace(book, refunded=book.refunded + reversed_,
                                  discount_back=book.discount_back + back)


def note(books: dict[str, OrderBook], fact: Fact) -> None:
    """Update `books` with what `fact`, once posted, tells about its order."""
    order_id = fact.order_id
    book = books.get(order_id, OrderBook())
    if isinstance(fact, PaymentCaptured):
        # The order's provider is the one of the payment it took (a refused one counts only if none did).
        provider = book.provider if fact.refused and book.provider else fact.provider
        owed = book.refunds_owed + (fact.amount.minor if fact.refused else 0)
        book = replace(book, provider=provider, refunds_owed=owed)
    elif isinstance(fact, OrderPaid):
        book = replace(book, channel=fact.channel, sale_lines=sale_lines(fact),
                       discount=fact.discount.minor if fact.discount is not None else 0)
    elif isinstance(fact, OrderRefunded):
        book = replace(book, refunds_owed=book.refunds_owed + fact.amount.minor)
    elif isinstance(fact, RefundSucceeded):
        book = replace(book, refunds_owed=max(0, book.refunds_owed - fact.amount.minor))
    else:
        return
    books[order_id] = book


def book_of(entries: Iterable[JournalEntry]) -> OrderBook:
    """An order's book from its posted entries (payment, sale, refund and refund_paid)."""
    book = OrderBook()
    owed = 0
    for entry in entries:
        for ln in entry.lines:
            if ln.account == accounts.PAYABLES_REFUNDS:
                owed += ln.credit_minor - ln.debit_minor
        if entry.kind == KIND_PAYMENT and not book.provider:
            for ln in entry.lines:
                provider = accounts.provider_of_clearing(ln.account)
                if provider is not None and ln.debit_minor:
                    book = replace(book, provider=provider)
        elif entry.kind == KIND_SALE:
            lines = tuple(
                SaleLine(ln.sku_id, Money(ln.credit_minor, ln.currency))
                for ln in entry.lines
                if ln.account.startswith("revenue:") and ln.credit_minor
            )
            channel = next((accounts.channel_of(ln.account) or "" for ln in entry.lines
                            if ln.account.startswith("revenue:")), "")
            book = replace(book, channel=channel, sale_lines=lines, discount=_coupon_lines(entry)[0])
        else:
            book = replace(book, discount_back=book.discount_back + _coupon_lines(entry)[1])
        book = replace(book, refunded=book.refunded + _reversals(entry))
    return replace(book, refunds_owed=max(0, owed))


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` split in proportion to `weights` (non-negative, not all 0), summing exactly to `amount`:
    floors first, the rest one unit each to the largest remainders (earliest first on ties)."""
    total = sum(weights)
    if total <= 0:
        raise ValueError("allocation needs a positive total weight")
    shares = [amount * w // total for w in weights]
    rest = amount - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order[:rest]:
        shares[i] += 1
    return shares


def _split(amount: Money, lines: Sequence[SaleLine]) -> tuple[SaleLine, ...]:
    """`amount` over `lines` (same currency, positive) in proportion; one line without SKU otherwise."""
    usable = [ln for ln in lines if ln.amount.currency == amount.currency and ln.amount.minor > 0]
    if not usable:
        return (SaleLine("", amount),)
    weights = [ln.amount.minor for ln in usable]
    # The usual sale: its lines add up to what was paid, and each line keeps its own amount.
    if sum(weights) == amount.minor and len(usable) == len(lines) == len({ln.sku_id for ln in lines}):
        return tuple(lines)  # one line per SKU already: the split is the lines themselves
    shares = weights if sum(weights) == amount.minor else allocate(amount.minor, weights)
    merged: dict[str, int] = defaultdict(int)
    for ln, share in zip(usable, shares, strict=True):
        merged[ln.sku_id] += share
    return tuple(SaleLine(sku, Money(m, amount.currency)) for sku, m in merged.items() if m)


def sale_lines(fact: OrderPaid) -> tuple[SaleLine, ...]:
    """What each SKU of the order was sold for: its lines' prices, scaled to the total paid plus the
    coupon's discount (the lines' own sum, for an order placed with a coupon)."""
    if fact.discount is not None and fact.discount.minor:
        return _split(Money(fact.total.minor + fact.discount.minor, fact.total.currency), fact.lines)
    return _split(fact.total, fact.lines)


def _gross_lines(book: OrderBook, lines: Sequence[SaleLine], gross: Money) -> tuple[SaleLine, ...]:
    """A discounted order's refund reversal of `gross` (the refund plus its coupon share) per SKU: in
    proportion to the refund's `lines` (else what is left of the sale), no SKU past what is left of its
    sale; rounding's excess moves to SKUs with room left."""
    left = {ln.sku_id: ln.amount.minor for ln in book.unrefunded() if ln.amount.currency == gross.currency}
    split = _split(gross, tuple(lines) or book.unrefunded())
    out: dict[str, int] = {}
    excess = 0
    for ln in split:
        room = left.get(ln.sku_id, ln.amount.minor) - out.get(ln.sku_id, 0)
        take = max(0, min(ln.amount.minor, room))
        out[ln.sku_id] = out.get(ln.sku_id, 0) + take
        excess += ln.amount.minor - take
    for sku, have in left.items():
        if not excess:
            break
        more = min(excess, have - out.get(sku, 0))
        if more > 0:
            out[sku] = out.get(sku, 0) + more
            excess -= more
    if excess:  # nothing is left of the sale to take it: the first line carries it
        first = next(iter(out), "")
        out[first] = out.get(first, 0) + excess
    return tuple(SaleLine(sku, Money(m, gross.currency)) for sku, m in out.items() if m)


def complete(fact: Fact, books: Mapping[str, OrderBook]) -> Fact:
    """`fact` with what it leaves out filled in from its order's book: a refund's SKUs, a confirmed
    refund's channel and what was owed for its order."""
    if isinstance(fact, OrderRefunded):
        book = books.get(fact.order_id, OrderBook())
        # What is left of the sale after earlier refunds is what this one returns (the last units of an
        # order refunded unit by unit); the whole sale when nothing was refunded before.
        lines = fact.lines or (_split(fact.amount, book.unrefunded() or book.sale_lines)
                               if fact.was_released else ())
        back = book.coupon_share(fact.amount.minor) if fact.was_released else 0
        if back:
            lines = _gross_lines(book, lines, Money(fact.amount.minor + back, fact.amount.currency))
        return replace(fact, lines=lines, coupon_back=back)
    if isinstance(fact, RefundSucceeded):
        book = books.get(fact.order_id, OrderBook())
        rest = fact.amount.minor - min(book.refunds_owed, fact.amount.minor)
        back = book.coupon_share(rest)
        lines = fact.lines
        if back:
            lines = _gross_lines(book, lines, Money(rest + back, fact.amount.currency))
        return replace(
            fact,
            lines=lines,
            channel=fact.channel or book.channel,
            owed=book.refunds_owed,
            provider=fact.provider or book.provider,
            coupon_back=back,
        )
    return fact


def _entry(
    kind: str, source: Source, memo: str, lines: list[JournalLine], reference: str = ""
) -> JournalEntry:
    return JournalEntry(kind, source.event_id, source.occurred_at, memo, tuple(lines), reference)


def payment_captured(fact: PaymentCaptured, source: Source) -> JournalEntry | None:
    """Dr clearing:psp:<provider> / Cr deposits:buyers: the provider holds the buyer's money for the order.
    The provider's transaction id is the entry's reference, which reconciliation matches."""
    if fact.amount.minor == 0:
        return None
    memo = f"order {fact.order_id}: payment captured by {fact.provider}"
    if fact.provider_txn_id:
        memo += f" ({fact.provider_txn_id})"
    if fact.refused:
        memo += ", refused: owed back"
    credit = accounts.PAYABLES_REFUNDS if fact.refused else accounts.DEPOSITS_BUYERS
    return _entry(
        KIND_PAYMENT,
        source,
        memo,
        [
            JournalLine.debit(accounts.clearing(fact.provider), fact.amount),
            JournalLine.credit(credit, fact.amount),
        ],
        fact.provider_txn_id,
    )


def order_paid(fact: OrderPaid, source: Source, terms: ChannelTerms = NO_TERMS) -> JournalEntry | None:
    """Dr deposits:buyers / Cr revenue:<channel> per SKU: the order is sold. On a channel whose partner
    earns a commission (`terms`), also Dr expense:commissions:<channel> / Cr
    payables:commissions:<channel>."""
    if fact.total.minor == 0:
        return None
    discount = fact.discount if fact.discount is not None and fact.discount.minor else None
    revenue = revenue_account(fact.channel)
    lines = [JournalLine.debit(accounts.DEPOSITS_BUYERS, fact.total)]
    lines += [JournalLine(revenue, 0, minor, currency, sku) for sku, (minor, currency) in sale_lines(fact)]
    if discount:
        # The discount per SKU, in proportion to what each was sold for (reports show it by SKU).
        lines += [JournalLine.debit(accounts.coupons_expense(fact.channel), ln.amount, ln.sku_id)
                  for ln in _split(discount, sale_lines(fact))]
    memo = f"order {fact.order_id}: sold on {_channel(fact.channel)}"
    if discount:
        memo += f", coupon {discount.minor} {discount.currency}"
    commission = terms.commission(fact.channel, fact.total)
    if commission.minor:
        lines += _commission(fact.channel, commission)
        memo += f", commission {commission.minor} {commission.currency}"
    return _entry(KIND_SALE, source, memo, lines)


def _commission(channel: str, amount: Money, back: bool = False) -> list[JournalLine]:
    """The commission `amount` of `channel`'s partner accrued (or, `back`, given back by a refund)."""
    expense, payable = accounts.commissions_expense(channel), accounts.commissions_payable(channel)
    if back:
        return [JournalLine.debit(payable, amount), JournalLine.credit(expense, amount)]
    return [JournalLine.debit(expense, amount), JournalLine.credit(payable, amount)]


def order_refunded(
    fact: OrderRefunded, source: Source, terms: ChannelTerms = NO_TERMS
) -> JournalEntry | None:
    """Cr payables:refunds, against refunds:<channel> per SKU when the order had been sold (a reversal of
    the sale, which also gives back the commission's share of it, `terms`), else against deposits:buyers.
    Call `complete` first to fill in the SKUs."""
    if fact.amount.minor == 0:
        return None
    credit = JournalLine.credit(accounts.PAYABLES_REFUNDS, fact.amount)
    if fact.was_released:
        memo = f"order {fact.order_id}: refund of a sale on {_channel(fact.channel)}"
        debits = _reversal(fact.channel, fact.amount, fact.lines, fact.coupon_back)
        commission = terms.commission(fact.channel, fact.amount)
        if commission.minor:
            debits += _commission(fact.channel, commission, back=True)
    else:
        memo = f"order {fact.order_id}: deposit returned before sale"
        debits = [JournalLine.debit(accounts.DEPOSITS_BUYERS, fact.amount)]
    return _entry(KIND_REFUND, source, memo, [*debits, credit])


def _reversal(
    channel: str, amount: Money, lines: Sequence[SaleLine], coupon_back: int = 0
) -> list[JournalLine]:
    """Debits of refunds:<channel> for `amount` plus `coupon_back`, per SKU as `lines` split it, and the
    credit of expense:coupons:<channel> that gives `coupon_back` back (a coupon's share of the refund)."""
    gross = Money(amount.minor + coupon_back, amount.currency)
    split = tuple(lines) or (SaleLine("", gross),)
    if sum(ln.amount.minor for ln in split) != gross.minor:
        split = _split(gross, split)
    account = refunds_account(channel)
    out = [JournalLine.debit(account, ln.amount, ln.sku_id) for ln in split if ln.amount.minor]
    if coupon_back:
        back = accounts.coupons_expense(channel)
        out += [JournalLine.credit(back, ln.amount, ln.sku_id)
                for ln in _split(Money(coupon_back, amount.currency), split)]
    return out


def refund_succeeded(fact: RefundSucceeded, source: Source) -> JournalEntry | None:
    """Cr clearing:psp:<provider>: the provider paid the refund back. It pays what was owed for the order
    (Dr payables:refunds, up to `owed`); the rest was decided by no OrderRefunded and reverses the sale
    per SKU (Dr refunds:<channel>). Call `complete` first."""
    if fact.amount.minor <= 0:
        return None
    from_owed = min(fact.owed, fact.amount.minor)
    rest = fact.amount.minor - from_owed
    debits: list[JournalLine] = []
    if from_owed:
        debits.append(JournalLine.debit(accounts.PAYABLES_REFUNDS, Money(from_owed, fact.amount.currency)))
    if rest:
        debits += _reversal(fact.channel, Money(rest, fact.amount.currency), fact.lines, fact.coupon_back)
    return _entry(
        KIND_REFUND_PAID,
        source,
        f"order {fact.order_id}: refund {fact.refund_id} paid by {fact.provider or accounts.UNKNOWN}",
        [*debits, JournalLine.credit(accounts.clearing(fact.provider), fact.amount)],
        fact.refund_id,
    )


def keys_imported(fact: KeysImported, source: Source) -> JournalEntry | None:
    """Dr inventory:keys / Cr payables:key_suppliers: the imported keys at cost."""
    amount = Money(fact.count * fact.unit_cost.minor, fact.unit_cost.currency)
    if amount.minor == 0:
        return None
    by = f" by {fact.actor}" if fact.actor else ""
    return _entry(
        KIND_KEY_IMPORT,
        source,
        f"batch {fact.batch_id}: {fact.count} key(s) of {fact.sku_id} imported{by}",
        [
            JournalLine.debit(accounts.INVENTORY_KEYS, amount, fact.sku_id),
            JournalLine.credit(accounts.PAYABLES_KEY_SUPPLIERS, amount),
        ],
        fact.batch_id,
    )


def key_delivered(fact: KeyDelivered, source: Source) -> JournalEntry | None:
    """Dr cogs:<channel> / Cr inventory:keys for the delivered keys' cost, per SKU and currency; None when
    it is 0."""
    skus = list(fact.sku_ids) if len(fact.sku_ids) == len(fact.unit_costs) else [""] * len(fact.unit_costs)
    totals: dict[tuple[str, str], int] = {}
    for sku, (minor, currency) in zip(skus, fact.unit_costs, strict=True):
        totals[(currency, sku)] = totals.get((currency, sku), 0) + minor
    cogs, stock = cogs_account(fact.sales_channel), accounts.INVENTORY_KEYS
    lines: list[JournalLine] = []
    for (currency, sku), minor in sorted(totals.items()):
        if minor:
            lines += (JournalLine(cogs, minor, 0, currency, sku), JournalLine(stock, 0, minor, currency, sku))
    if not lines:
        return None
    n = len(fact.unit_costs)
    return _entry(KIND_KEY_COST, source, f"order {fact.order_id}: cost of {n} key(s) delivered", lines)


def points_credited(fact: PointsCredited, source: Source) -> JournalEntry | None:
    """Dr expense:points / Cr liability:points at the points' value: the operator owes the buyer what the
    points are worth until they are spent. None when they are worth 0."""
    if fact.value.minor == 0:
        return None
    return _entry(
        KIND_POINTS,
        source,
        f"order {fact.order_id}: {fact.points} point(s) credited (line {fact.line_no}, unit {fact.unit_no})",
        [
            JournalLine.debit(accounts.EXPENSE_POINTS, fact.value),
            JournalLine.credit(accounts.LIABILITY_POINTS, fact.value),
        ],
    )


def membership_granted(fact: MembershipGranted, source: Source) -> JournalEntry | None:
    """Dr cogs:<channel> / Cr payables:memberships at the membership's cost, as a key's cost is posted;
    None when it costs nothing."""
    if fact.cost.minor == 0:
        return None
    return _entry(
        KIND_MEMBERSHIP_COST,
        source,
        f"order {fact.order_id}: cost of a {fact.plan} membership (line {fact.line_no}, unit {fact.unit_no})",
        [
            JournalLine.debit(cogs_account(fact.sales_channel), fact.cost, fact.sku_id),
            JournalLine.credit(accounts.PAYABLES_MEMBERSHIPS, fact.cost),
        ],
    )


def points_debited(fact: PointsDebited, source: Source) -> JournalEntry | None:
    """The credit's reversal: Dr liability:points / Cr expense:points at the same value (a refund takes
    the points back, so the operator no longer owes them). None when they are worth 0."""
    if fact.value.minor == 0:
        return None
    return _entry(
        KIND_POINTS_DEBITED,
        source,
        f"order {fact.order_id}: {fact.points} point(s) taken back"
        f" (line {fact.line_no}, unit {fact.unit_no})",
        [
            JournalLine.debit(accounts.LIABILITY_POINTS, fact.value),
            JournalLine.credit(accounts.EXPENSE_POINTS, fact.value),
        ],
    )


def membership_shortened(fact: MembershipShortened, source: Source) -> JournalEntry | None:
    """The grant's cost reversed in full (a refund takes the whole grant's days back): Dr
    payables:memberships / Cr cogs:<channel>. None when it cost nothing."""
    if fact.cost.minor == 0:
        return None
    return _entry(
        KIND_MEMBERSHIP_COST_REVERSED,
        source,
        f"order {fact.order_id}: a {fact.plan} membership taken back"
        f" (line {fact.line_no}, unit {fact.unit_no})",
        [
            JournalLine.debit(accounts.PAYABLES_MEMBERSHIPS, fact.cost),
            JournalLine.credit(cogs_account(fact.sales_channel), fact.cost, fact.sku_id),
        ],
    )


def commission_accrued(fact: CommissionAccrued, source: Source) -> JournalEntry | None:
    """Dr expense:commissions:<channel> / Cr payables:commissions:<partner>."""
    if fact.amount.minor == 0:
        return None
    return _entry(
        KIND_COMMISSION,
        source,
        f"order {fact.order_id}: commission of {fact.partner or accounts.UNKNOWN}",
        [
            JournalLine.debit(accounts.commissions_expense(fact.channel), fact.amount),
            JournalLine.credit(accounts.commissions_payable(fact.partner), fact.amount),
        ],
    )


def fees_charged(fact: FeesCharged, source: Source) -> JournalEntry | None:
    """Dr fees:psp:<provider> / Cr clearing:psp:<provider>: the provider kept its fees."""
    if fact.amount.minor == 0:
        return None
    return _entry(
        KIND_FEES,
        source,
        f"statement {fact.statement_id}: fees of {fact.provider}",
        [
            JournalLine.debit(accounts.fees(fact.provider), fact.amount),
            JournalLine.credit(accounts.clearing(fact.provider), fact.amount),
        ],
        fact.statement_id,
    )


def adjustment(fact: Adjustment, source: Source) -> JournalEntry | None:
    """A resolved mismatch's difference: more held by the provider (Dr clearing / Cr
    expense:reconciliation) or less (the reverse)."""
    if fact.amount.minor == 0:
        return None
    amount = Money(abs(fact.amount.minor), fact.amount.currency)
    clearing, expense = accounts.clearing(fact.provider), accounts.EXPENSE_RECONCILIATION
    debit, credit = (clearing, expense) if fact.amount.minor > 0 else (expense, clearing)
    return _entry(
        KIND_ADJUSTMENT,
        source,
        f"mismatch {fact.mismatch_id} resolved by {fact.actor}" + (f": {fact.note}" if fact.note else ""),
        [JournalLine.debit(debit, amount), JournalLine.credit(credit, amount)],
        fact.mismatch_id,
    )


def entry_for(fact: Fact, source: Source, terms: ChannelTerms = NO_TERMS) -> JournalEntry | None:
    """The entry that posts `fact` (heard as the event `source`), by the rule for its kind and the channels'
    `terms`; None when there is nothing to post. Raises UnbalancedEntry when the fact cannot make a
    balanced entry."""
    if isinstance(fact, PaymentCaptured):
        return payment_captured(fact, source)
    if isinstance(fact, OrderPaid):
        return order_paid(fact, source, terms)
    if isinstance(fact, OrderRefunded):
        return order_refunded(fact, source, terms)
    if isinstance(fact, RefundSucceeded):
        return refund_succeeded(fact, source)
    if isinstance(fact, KeysImported):
        return keys_imported(fact, source)
    if isinstance(fact, KeyDelivered):
        return key_delivered(fact, source)
    if isinstance(fact, PointsCredited):
        return points_credited(fact, source)
    if isinstance(fact, MembershipGranted):
        return membership_granted(fact, source)
    if isinstance(fact, PointsDebited):
        return points_debited(fact, source)
    if isinstance(fact, MembershipShortened):
        return membership_shortened(fact, source)
    if isinstance(fact, CommissionAccrued):
        return commission_accrued(fact, source)
    if isinstance(fact, FeesCharged):
        return fees_charged(fact, source)
    return adjustment(fact, source)


def needs_book(fact: Fact) -> bool:
    """Whether posting `fact` needs what the journal says of its order (see `complete`)."""
    if isinstance(fact, OrderRefunded):
        # Even with its lines: a refund of a sale with a coupon gives back its share of the discount, which
        # only the order's book knows.
        return fact.was_released
    return isinstance(fact, RefundSucceeded)


# An entry made ahead of time by `premade`: a 1-tuple of what entry_for returned; None when not made.
Premade = tuple[JournalEntry | None] | None


def premade(fact: Fact, source: Source, terms: ChannelTerms = NO_TERMS) -> Premade:
    """`fact`'s entry when it can be made before the journal is read (it needs no order book), else None;
    None too when the rule refuses it (UnbalancedEntry, a ValueError: entries_for then meets it itself).
    The consumer makes the next batch's entries this way, their chain text too (JournalEntry.chain_text),
    while Postgres writes the batch before."""
    if needs_book(fact):
        return None
    try:
        return (entry_for(fact, source, terms),)
    except ValueError:
        return None


def entries_for(
    facts: Sequence[tuple[Fact, Source]],
    books: Mapping[str, OrderBook],
    posted: frozenset[str] = frozenset(),
    terms: ChannelTerms = NO_TERMS,
    made: Sequence[Premade] | None = None,
) -> list[JournalEntry | None]:
    """Each fact's entry, in order: a fact sees its order's book as the facts before it left it. A fact
    whose source is in `posted` (the journal has it) or came earlier in `facts` makes no entry and leaves
    the books alone, so a redelivery cannot count a refund owed twice. `made[i]`, when not None, is fact
    i's entry as `premade` made it by the same `terms` (used unless its order keeps a book in the batch)."""
    known = dict(books)
    seen = set(posted)
    # Only the orders of facts that need a book keep one as the batch goes (the others' would never be read).
    kept = {fact.order_id for fact, _ in facts if needs_book(fact)}
    out: list[JournalEntry | None] = []
    for i, (fact, source) in enumerate(facts):
        if source.event_id in seen:
            out.append(None)
            continue
        seen.add(source.event_id)
        if fact.order_id in kept:
            entry = entry_for(complete(fact, known), source, terms)
            note(known, fact)
            if entry is not None:
                note_entry(known, fact.order_id, entry)
        else:
            ahead = made[i] if made is not None else None
            entry = ahead[0] if ahead is not None else entry_for(fact, source, terms)
        out.append(entry)
    return out
