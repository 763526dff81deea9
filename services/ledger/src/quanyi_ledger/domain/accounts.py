"""The chart of accounts. A balance is debits − credits: assets and expenses are positive, liabilities,
revenue and payables negative.

`CHART` lists every account: its name pattern, kind and what it holds.

The channel is where the order arrived (the gateway's storefront route or an authenticated channel
integration), as the order's events carry it; a fact without one posts to ``<kind>:unknown``.
Revenue of a channel = credit balance of ``revenue:<channel>`` − debit balance of ``refunds:<channel>``;
revenue is posted gross of coupons, so what buyers paid on a channel less what was refunded to them =
that revenue − the balance of ``expense:coupons:<channel>`` (I4).
"""

from __future__ import annotations

UNKNOWN = "unknown"

DEPOSITS_BUYERS = "deposits:buyers"
PAYABLES_REFUNDS = "payables:refunds"
INVENTORY_KEYS = "inventory:keys"
PAYABLES_KEY_SUPPLIERS = "payables:key_suppliers"
EXPENSE_COUPONS = "expense:coupons"
LIABILITY_POINTS = "liability:points"
EXPENSE_POINTS = "expense:points"
PAYABLES_MEMBERSHIPS = "payables:memberships"
EXPENSE_RECONCILIATION = "expense:reconciliation"


def _name(part: str) -> str:
    return part or UNKNOWN


# A payment the sales channel collected itself (a marketplace that pays the operator out later) is captured
# with the provider "channel:<channel>": its money is a receivable from the channel, not a PSP's clearing.
CHANNEL_PROVIDER = "channel:"


def clearing(provider: str) -> str:
    """Where a payment captured by `provider` is held until it settles: the PSP's clearing account, or the
    channel's receivable for a payment a channel collected ("channel:<channel>")."""
    if provider.startswith(CHANNEL_PROVIDER) and provider != CHANNEL_PROVIDER:
        return channel_receivable(provider[len(CHANNEL_PROVIDER):])
    return f"clearing:psp:{_name(provider)}"


def fees(provider: str) -> str:
    return f"fees:psp:{_name(provider)}"


def revenue(channel: str) -> str:
    return f"revenue:{_name(channel)}"


def refunds(channel: str) -> str:
    return f"refunds:{_name(channel)}"


def cogs(channel: str) -> str:
    return f"cogs:{_name(channel)}"


def coupons_expense(channel: str) -> str:
    """What the operator funds of its coupons on a channel's sales (``expense:coupons:<channel>``)."""
    return f"{EXPENSE_COUPONS}:{_name(channel)}"


def commissions_expense(channel: str) -> str:
    return f"expense:commissions:{_name(channel)}"


def commissions_payable(partner: str) -> str:
    return f"payables:commissions:{_name(partner)}"


def channel_receivable(channel: str) -> str:
    return f"receivables:channel:{_name(channel)}"


def channel_of(account: str) -> str | None:
    """The channel of a ``revenue:``, ``refunds:`` or ``cogs:`` account, or None."""
    kind, _, rest = account.partition(":")
    return rest if kind in ("revenue", "refunds", "cogs") and rest else None


def provider_of_clearing(account: str) -> str | None:
    """The provider whose clearing account (or channel receivable) `account` is, or None."""
    prefix = "clearing:psp:"
    if account.startswith(prefix):
        return account[len(prefix):]
    receivable = "receivables:channel:"
    return CHANNEL_PROVIDER + account[len(receivable):] if account.startswith(receivable) else None


CHART: tuple[tuple[str, str, str], ...] = (
    ("clearing:psp:<provider>", "asset", "money a payment provider holds for us until it settles"),
    ("fees:psp:<provider>", "expense", "the provider's fees, from its statements"),
    (DEPOSITS_BUYERS, "liability", "buyers' money for orders not yet sold"),
    (PAYABLES_REFUNDS, "liability", "refunds decided or payments refused, not yet paid back"),
    ("revenue:<channel>", "revenue", "sales per channel, per SKU"),
    ("refunds:<channel>", "contra-revenue", "refunds of sold orders per channel, per SKU"),
    (INVENTORY_KEYS, "asset", "card keys in stock at cost, per SKU"),
    (PAYABLES_KEY_SUPPLIERS, "liability", "the cost of imported keys, owed to suppliers"),
    ("cogs:<channel>", "expense", "cost of the keys delivered, per channel and SKU"),
    ("expense:coupons:<channel>", "expense",
     "coupons the operator funds: what they took off each sale on the channel, less refunds' shares"),
    ("expense:commissions:<channel>", "expense",
     "commissions earned by a channel's partner on its sales (QUANYI_LEDGER_COMMISSION_BPS), less refunds"),
    ("payables:commissions:<partner>", "liability",
     "commissions owed to a partner (a channel's partner by the channel's name)"),
    (LIABILITY_POINTS, "liability", "loyalty points awarded, not yet spent"),
    (EXPENSE_POINTS, "expense", "the value of loyalty points credited with bundles (PointsCredited)"),
    (PAYABLES_MEMBERSHIPS, "liability",
     "the cost of memberships granted with bundles, owed to their provider (MembershipGranted)"),
    ("receivables:channel:<channel>", "asset",
     "money a marketplace channel collected for us (payments captured by provider channel:<channel>)"),
    (EXPENSE_RECONCILIATION, "expense", "differences written off when a mismatch is resolved"),
)
