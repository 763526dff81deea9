"""Property (issue 9): random sequences of sales, refunds, partial refunds, deliveries and commissions,
interleaved across orders and split into random batches, posted through the application on the fakes:

- every entry balances;
- the trial balance sums to zero in every currency;
- I4 holds exactly: revenue per channel − its coupon expense = paid − refunded (a sale with a coupon is
  posted gross, its discount as coupon expense, and refunds give back a proportional share of it), and
  cost of goods sold per channel = the cost of the keys delivered; clearing per provider (a channel's receivable for a payment the channel collected)
  = captured − paid back; refunds owed = decided − paid back;
- a channel's commission (its terms) = its share of each sale less the same share of each refund decided.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from quanyi_ledger.adapters.memory import InMemoryLedger, InMemoryLedgerUnitOfWork
from quanyi_ledger.application.posting import HeardFact, post_facts
from quanyi_ledger.domain import accounts, posting
from quanyi_ledger.domain.journal import Money, entry_problems

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CNY = "CNY"
CHANNELS = ["storefront", "app", "tmall"]
PROVIDERS = ["wechatpay", "alipay", "channel:tmall"]
TERMS = posting.ChannelTerms({"tmall": 500, "app": 125})
SKUS = ["sku-a", "sku-b", "sku-c"]


@dataclass
class Expected:
    paid: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refunded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cogs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    captured: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    paid_back: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    owed: int = 0
    commissions: int = 0
    channel_commissions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    partner_commissions: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@st.composite
def order_story(draw: st.DrawFn, n: int) -> tuple[list[posting.Fact], Expected]:
    """One order's facts in causal order, and what they add to the expectations."""
    exp = Expected()
    order_id = f"o{n}"
    channel = draw(st.sampled_from(CHANNELS))
    provider = draw(st.sampled_from(PROVIDERS))
    lines = tuple(
        posting.SaleLine(sku, Money(draw(st.integers(1, 5_000)), CNY))
        for sku in draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3, unique=True))
    )
    gross = sum(ln.amount.minor for ln in lines)
    discount: Money | None = None
    if gross > 1 and draw(st.booleans()):
        # A coupon: the buyer pays the lines less the discount (at least one fen).
        discount = Money(draw(st.integers(1, gross - 1)), CNY)
        total = Money(gross - discount.minor, CNY)
    else:
        total = Money(max(gross - draw(st.integers(0, 50)), 1), CNY)
    facts: list[posting.Fact] = [posting.PaymentCaptured(order_id, provider, f"t{n}", total)]
    exp.captured[provider] += total.minor
    if draw(st.booleans()) and draw(st.booleans()):
        # The order refuses the payment (amount mismatch): owed back, then paid back.
        facts = [posting.PaymentCaptured(order_id, provider, f"t{n}", total, refused=True)]
        if draw(st.booleans()):
            facts.append(posting.RefundSucceeded(order_id, f"r{n}", provider, total))
            exp.paid_back[provider] += total.minor
        else:
            exp.owed += total.minor
        return facts, exp
    facts.append(posting.OrderPaid(order_id, channel, total, lines, discount))
    exp.paid[channel] += total.minor
    exp.channel_commissions[channel] += TERMS.commission(channel, total).minor
    sold = posting.sale_lines(posting.OrderPaid(order_id, channel, total, lines, discount))
    if draw(st.booleans()):
        costs = [Money(draw(st.integers(0, 400)), CNY) for _ in sold]
        facts.append(posting.KeyDelivered(order_id, channel, costs, [ln.sku_id for ln in sold]))
        exp.cogs[channel] += sum(c.minor for c in costs)
    if draw(st.booleans()):
        amount = Money(draw(st.integers(0, 300)), CNY)
        facts.append(posting.CommissionAccrued(order_id, channel, "partner-1", amount))
        exp.commissions += amount.minor
        exp.partner_commissions[channel] += amount.minor
    refund = draw(st.sampled_from(["none", "full", "partial"]))
    if refund == "full":
        facts.append(posting.OrderRefunded(order_id, channel, total, was_released=True))
        exp.refunded[channel] += total.minor
        exp.channel_commissions[channel] -= TERMS.commission(channel, total).minor
        if draw(st.booleans()):
            facts.append(posting.RefundSucceeded(order_id, f"r{n}", provider, total))
            exp.paid_back[provider] += total.minor
        else:
            exp.owed += total.minor
    elif refund == "partial":
        # What was paid per SKU (the sale's lines less the coupon's share), refunded a part at a time.
        paid_lines = posting.sale_lines(posting.OrderPaid(order_id, channel, total, lines))
        left = {ln.sku_id: ln.amount.minor for ln in paid_lines}
        for k in range(draw(st.integers(1, 3))):
            sku = draw(st.sampled_from(sorted(left)))
            amount = draw(st.integers(0, left[sku]))
            left[sku] -= amount
            part = (posting.SaleLine(sku, Money(amount, CNY)),)
            facts.append(posting.RefundSucceeded(order_id, f"r{n}.{k}", provider, Money(amount, CNY), part))
            exp.refunded[channel] += amount
            exp.paid_back[provider] += amount
        rest = sum(left.values())
        if rest and draw(st.booleans()):
            # The last units: the order's refund says only its amount; the provider's confirmation its lines.
            facts.append(posting.OrderRefunded(order_id, channel, Money(rest, CNY), was_released=True))
            exp.channel_commissions[channel] -= TERMS.commission(channel, Money(rest, CNY)).minor
            lines_left = tuple(posting.SaleLine(sku, Money(m, CNY)) for sku, m in left.items() if m)
            facts.append(posting.RefundSucceeded(order_id, f"r{n}.last", provider, Money(rest, CNY), lines_left))
            exp.refunded[channel] += rest
            exp.paid_back[provider] += rest
    return facts, exp


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[list[HeardFact]], Expected]:
    stories = [draw(order_story(n)) for n in range(draw(st.integers(1, 6)))]
    exp = Expected()
    for _, e in stories:
        for attr in ("paid", "refunded", "cogs", "captured", "paid_back", "channel_commissions",
                     "partner_commissions"):
            for k, v in getattr(e, attr).items():
                getattr(exp, attr)[k] += v
        exp.owed += e.owed
        exp.commissions += e.commissions
    # Interleave the orders' facts, each order's in its own order.
    queues = [list(f) for f, _ in stories]
    flat: list[posting.Fact] = []
    while any(queues):
        q = draw(st.sampled_from([q for q in queues if q]))
        flat.append(q.pop(0))
    heard = [
        HeardFact(f, posting.Source(str(uuid.UUID(int=i + 1)), T0 + timedelta(minutes=i)), f.order_id)
        for i, f in enumerate(flat)
    ]
    batches: list[list[HeardFact]] = []
    i = 0
    while i < len(heard):
        size = draw(st.integers(1, 5))
        batches.append(heard[i : i + size])
        i += size
    return batches, exp


def net(totals: dict[str, tuple[int, int]], account: str) -> int:
    d, c = totals.get(account, (0, 0))
    return d - c


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_every_entry_balances_the_trial_balance_is_zero_and_i4_holds_exactly(
    case: tuple[list[list[HeardFact]], Expected],
) -> None:
    batches, exp = case
    db = InMemoryLedger()

    async def run() -> None:
        for batch in batches:
            await post_facts(InMemoryLedgerUnitOfWork(db), batch, TERMS)

    asyncio.run(run())
    for entry in db.journal:
        assert entry_problems(entry.rec.lines) == []

    totals: dict[str, tuple[int, int]] = {}
    per_currency: dict[str, int] = defaultdict(int)
    for entry in db.journal:
        for ln in entry.rec.lines:
            d, c = totals.get(ln.account, (0, 0))
            totals[ln.account] = (d + ln.debit_minor, c + ln.credit_minor)
            per_currency[ln.currency] += ln.debit_minor - ln.credit_minor
    assert all(v == 0 for v in per_currency.values())

    # No SKU is refunded more than it was sold for, on any channel.
    by_sku: dict[tuple[str, str], int] = defaultdict(int)
    for entry in db.journal:
        for ln in entry.rec.lines:
            if ln.account.startswith(("revenue:", "refunds:")):
                by_sku[(ln.account.split(":", 1)[1], ln.sku_id)] += ln.credit_minor - ln.debit_minor
    assert all(v >= 0 for v in by_sku.values()), by_sku

    for channel in CHANNELS:
        revenue = -net(totals, f"revenue:{channel}") - net(totals, f"refunds:{channel}")
        coupons = net(totals, accounts.coupons_expense(channel))
        assert revenue - coupons == exp.paid[channel] - exp.refunded[channel]
        assert coupons >= 0
        assert net(totals, f"cogs:{channel}") == exp.cogs[channel]
    for provider in PROVIDERS:
        assert net(totals, accounts.clearing(provider)) == exp.captured[provider] - exp.paid_back[provider]
    assert accounts.clearing("channel:tmall") == "receivables:channel:tmall"
    for channel in CHANNELS:
        accrued = -net(totals, f"payables:commissions:{channel}")
        assert accrued == exp.channel_commissions[channel] and accrued >= 0
        expense = net(totals, f"expense:commissions:{channel}")
        assert expense == accrued + exp.partner_commissions[channel]
    assert -net(totals, "payables:refunds") == exp.owed
    assert -net(totals, "payables:commissions:partner-1") == exp.commissions
    assert net(totals, "deposits:buyers") == 0


@settings(max_examples=100, deadline=None)
@given(scenario())
def test_the_same_events_heard_twice_post_one_entry_each(case: tuple[list[list[HeardFact]], Expected]) -> None:
    batches, _ = case
    once, twice = InMemoryLedger(), InMemoryLedger()

    async def run() -> None:
        for batch in batches:
            await post_facts(InMemoryLedgerUnitOfWork(once), batch)
        for batch in batches + batches:
            await post_facts(InMemoryLedgerUnitOfWork(twice), batch + batch[:1])

    asyncio.run(run())
    assert [e.rec for e in once.journal] == [e.rec for e in twice.journal]
