"""Who may do what: the roles of accounts and the permissions of operators' roles. Standard library only.

A buyer holds no permission. `admin` is the owner the environment configures (QUANYI_ADMIN_EMAIL): it
keeps its name, so the audit trails written before roles (`admin:<id>`) still read the same, and holds
every permission, as an `owner` made through the API does. The other operators' roles each hold the
permissions of their job; `read-only` holds only permissions to read, and never the one that shows card
keys' codes. Every admin route and back-office page names the permission it needs (api/deps.Allowed).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

Role = Literal["buyer", "admin", "owner", "operations", "finance", "support", "read-only"]
ROLES: frozenset[str] = frozenset(get_args(Role))
OperatorRole = Literal["owner", "operations", "finance", "support", "read-only"]
# The roles an owner gives operators (`admin` is only the configured owner's).
OPERATOR_ROLES: tuple[OperatorRole, ...] = get_args(OperatorRole)


class Permission(StrEnum):
    """One thing an operator may do, named `area:verb`."""

    CATALOGUE_READ = "catalogue:read"
    CATALOGUE_WRITE = "catalogue:write"
    KEYS_READ = "keys:read"
    KEYS_WRITE = "keys:write"
    KEY_CODES = "keys:codes"  # an export that carries the keys' codes (audited by inventory)
    MASTER_KEY = "keys:rotate-master"
    ORDERS_READ = "orders:read"
    ORDERS_REVIEW = "orders:review"
    PAYMENTS_CONFIRM = "orders:confirm-payment"
    REFUNDS = "orders:refund"
    DELIVERIES = "orders:deliver"
    QUEUE_READ = "queue:read"
    QUEUE_ACT = "queue:act"
    FINANCE_READ = "finance:read"
    FINANCE_WRITE = "finance:write"
    AUDIT_READ = "audit:read"
    PARTNERS_READ = "partners:read"
    PARTNERS_WRITE = "partners:write"
    ACCOUNTS_UNLOCK = "accounts:unlock"
    BUYERS_ERASE = "buyers:erase"
    OPERATORS_MANAGE = "operators:manage"
    COUPONS_READ = "coupons:read"
    COUPONS_WRITE = "coupons:write"


P = Permission
_READS = frozenset(
    {
        P.CATALOGUE_READ, P.KEYS_READ, P.ORDERS_READ, P.QUEUE_READ, P.FINANCE_READ, P.AUDIT_READ,
        P.PARTNERS_READ, P.COUPONS_READ,
    }
)
_OWNER = frozenset(Permission)
PERMISSIONS: dict[str, frozenset[Permission]] = {
    "buyer": frozenset(),
    "admin": _OWNER,
    "owner": _OWNER,
    # Products, SKUs, bundles, pools and keys; orders, the exception queue and deliveries. Refunds are
    # finance's (a queue entry's refund too), and so are the ledger and its reports.
    "operations": (_READS - {P.FINANCE_READ})
    | {
        P.CATALOGUE_WRITE, P.KEYS_WRITE, P.KEY_CODES, P.ORDERS_REVIEW, P.PAYMENTS_CONFIRM, P.DELIVERIES,
        P.QUEUE_ACT, P.PARTNERS_WRITE, P.COUPONS_WRITE,
    },
    # Reports, the ledger, reconciliation and refunds, and the orders and audit trails behind them.
    "finance": frozenset(
        {
            P.CATALOGUE_READ, P.ORDERS_READ, P.QUEUE_READ, P.FINANCE_READ, P.FINANCE_WRITE, P.REFUNDS,
            P.AUDIT_READ, P.COUPONS_READ,
        }
    ),
    # Buyers' questions: orders, the exception queue's actions but refunds, resends, audit lookups, a
    # buyer locked out by failed sign-ins.
    "support": frozenset(
        {
            P.CATALOGUE_READ, P.ORDERS_READ, P.PAYMENTS_CONFIRM, P.DELIVERIES, P.QUEUE_READ, P.QUEUE_ACT,
            P.AUDIT_READ, P.ACCOUNTS_UNLOCK,
        }
    ),
    # Reads only; never a key's code.
    "read-only": _READS,
}


def is_operator(role: str) -> bool:
    """True for every role but a buyer's (an unknown role is nobody's)."""
    return role in ROLES and role != "buyer"


def allows(role: str, permission: Permission) -> bool:
    """True when the role holds the permission; an unknown role holds none."""
    return permission in PERMISSIONS.get(role, frozenset())


def roles_allowed(permission: Permission) -> list[str]:
    """The operator roles holding a permission, for an error message or a page ("owner, finance")."""
    return [r for r in ("owner", *OPERATOR_ROLES[1:]) if allows(r, permission)]
