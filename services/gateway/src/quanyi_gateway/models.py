"""The HTTP API's request and response bodies, in families: XCreate (input), XPublic (output)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from quanyi_gateway.api.validation import ID_PATTERN, MAX_MONEY_MINOR, refuse_control_characters

EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]

T = TypeVar("T")


class Input(BaseModel):
    """A request body: unknown fields are refused (no mass assignment) and so are control characters in
    any text field (Postgres refuses NUL, and none belongs in a name, an address or a code)."""

    model_config = ConfigDict(extra="forbid")

    _no_control_characters = field_validator("*", mode="after")(refuse_control_characters)


# Problems


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["urn:quanyi:problem:validation"])
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ValidationIssue] | None = None


# Money


class Money(BaseModel):
    """An amount in integer minor units (fen for CNY) and its ISO 4217 currency."""

    amount_minor: int = Field(ge=0, le=MAX_MONEY_MINOR, examples=[1999])
    currency: Currency = Field(examples=["CNY"])


# Accounts


class UserCreate(Input):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, examples=["buyer@example.com"])
    password: str = Field(min_length=8, max_length=256)

    @field_validator("email")
    @classmethod
    def _lower(cls, email: str) -> str:
        return email.strip().lower()


class UserPublic(BaseModel):
    user_id: str
    email: str


class TokenCreate(Input):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(max_length=256)


class AccountUnlock(Input):
    email: str = Field(min_length=1, max_length=254, examples=["buyer@example.com"])


class AccountUnlockPublic(BaseModel):
    email: str
    unlocked: bool = Field(description="False when the account was not locked nor limited.")


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


# Catalogue and inventory


class ProductCreate(Input):
    name: Name
    kind: str = Field(min_length=1, max_length=64, examples=["card_key", "membership"])


class ProductPublic(BaseModel):
    product_id: str
    name: str
    kind: str


class PointsComponentCreate(Input):
    points: int = Field(ge=1, le=1_000_000_000, description="Points credited to the buyer per unit")
    value: Money | None = Field(
        default=None, description="What those points are worth (posted to the points liability); none: 0"
    )


class MembershipComponentCreate(Input):
    plan: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", examples=["vip"])
    days: int = Field(ge=1, le=3660, description="Days of the plan per unit (grants of a plan stack)")
    cost: Money | None = Field(
        default=None, description="What a unit's membership costs the operator (posted like a key's cost)"
    )


class BundleComponentCreate(Input):
    """One of: keys of a component SKU (`sku_id`, `quantity`), points, or a membership."""

    sku_id: Id | None = Field(
        default=None, description="A component SKU (one with key pools of its own, not a bundle)"
    )
    quantity: int = Field(default=1, ge=1, le=100, description="Keys of it per unit of the bundle")
    points: PointsComponentCreate | None = None
    membership: MembershipComponentCreate | None = None

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> BundleComponentCreate:
        if sum(x is not None for x in (self.sku_id, self.points, self.membership)) != 1:
            raise ValueError("a component is exactly one of sku_id, points and membership")
        return self


class SkuCreate(Input):
    name: Name
    price: Money
    low_stock_threshold: int = Field(default=0, ge=0, le=1_000_000_000)
    components: list[BundleComponentCreate] = Field(
        default_factory=list, max_length=20,
        description="When given, the SKU is a bundle of these components (other SKUs' keys, points,"
        " memberships): a paid unit gets every component, each delivered and tracked on its own",
    )


class SkuPublic(BaseModel):
    sku_id: str
    product_id: str
    name: str
    price: Money
    available: int


class CursorPage(BaseModel, Generic[T]):
    """One keyset page of a list; pass `next_cursor` as `cursor` for the next one (null on the last page)."""

    items: list[T]
    next_cursor: str | None


class SkuPage(BaseModel):
    """One page of the catalogue; pass `next_cursor` as `cursor` for the next one."""

    items: list[SkuPublic]
    next_cursor: str | None


class PoolCreate(Input):
    name: Name


class PoolPublic(BaseModel):
    pool_id: str
    sku_id: str
    name: str


class RejectedRow(BaseModel):
    row: int
    reason: str


class ImportPublic(BaseModel):
    batch_id: str
    imported: int
    duplicates: int
    rejected: list[RejectedRow]


# Ledger


class BalancePublic(BaseModel):
    account: str
    balance_minor: int
    currency: str


class BalancesPublic(BaseModel):
    balances: list[BalancePublic]


class JournalVerificationPublic(BaseModel):
    ok: bool
    entries: int
    problems: list[str]


# Orders


class OrderItemCreate(Input):
    sku_id: Id
    quantity: int = Field(ge=1, le=100)


class OrderCreate(Input):
    """A storefront order. The channel comes from the route and the buyer from the token; prices, status
    and buyer are never taken from the body (a body naming them is refused)."""

    items: list[OrderItemCreate] = Field(min_length=1, max_length=50)
    coupon_code: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", examples=["SPRING10"],
        description="A coupon code (any case); a code the order cannot take refuses it with a 409 and why.",
    )


class OrderItemPublic(BaseModel):
    sku_id: str
    quantity: int
    unit_price: Money


class PaymentInstructions(BaseModel):
    """How to pay an order: POST {order_id, amount} to pay_url (the simulator) or use the provider."""

    provider: str = "psp-sim"
    pay_url: str = "/psp-sim/v1/pay"
    amount: Money


class OrderPublic(BaseModel):
    order_id: str
    buyer_id: str
    status: str = Field(
        examples=["PENDING_PAYMENT", "PAID", "UNDER_REVIEW", "FULFILLED", "REFUNDED", "CANCELLED"]
    )
    items: list[OrderItemPublic]
    total: Money
    risk_decision: str
    channel: str
    created_at: str
    version: int
    payment: PaymentInstructions | None = None
    discount: Money | None = Field(None, description="What the coupon took off the items; total is paid.")
    coupon_code: str | None = None


class OrderPagePublic(BaseModel):
    """A page of orders, newest first; pass `next_page_token` for the next (empty on the last page)."""

    orders: list[OrderPublic]
    next_page_token: str


class ReviewCreate(Input):
    approve: bool


class RefundLineCreate(Input):
    line_no: int = Field(ge=1, le=1000)
    quantity: int = Field(ge=1, le=100)


class RefundCreate(Input):
    """Units to refund (none: every unit not refunded yet); redeemed keys only with the override."""

    lines: list[RefundLineCreate] = Field(default_factory=list, max_length=100)
    override_redeemed: bool = False
    reason: str = Field(default="", max_length=500)


class RefundPublic(BaseModel):
    """A refund requested from the payment provider, which confirms it later."""

    refund_id: str
    amount: Money


class QueueEntryPublic(BaseModel):
    """A paid order that needs an operator, or (resolved) how it was settled."""

    order_id: str
    reason: str = Field(description="What happened, by ids (a key by its id, never its code)")
    source: str = Field(
        examples=["delivery", "deadline", "channel", "refund", "redeemed_after_refund"],
        description="What put it there; redeemed_after_refund: a key redeemed after the refund that took it"
        " back (the buyer has the money and used the key), open until resolved with a note",
    )
    queued_at: str
    status: str = Field(examples=["OPEN", "RESOLVED"])
    resolution: str = Field(examples=["", "delivered", "refunded", "refund", "resolve"])
    actor: str


class QueueActionCreate(Input):
    action: Literal["refund", "resolve", "redrive", "switch", "override", "decline"] = Field(
        description="refund (its remaining units), resolve (settled or delivered by hand), redrive (the"
        " channel that gave up, again) or switch (another channel); redrive and switch resolve the entry only"
        " when the channel delivered. For a refund inventory refused (source refund): override (refund the"
        " same units despite the redeemed key, audited) or decline (close it, the money stays with the"
        " sale); both need a note. A key redeemed after its refund (source redeemed_after_refund): resolve"
        " only, with a note of how the loss was settled"
    )
    note: str = Field(default="", max_length=500)
    channel: Literal["", "email", "webhook", "sms", "activation", "app"] = Field(
        default="", description="For redrive and switch: the channel to deliver on"
    )
    target: str = Field(
        default="", max_length=2048,
        description="For redrive and switch: the webhook's URL, the phone number in E.164, the partner"
        " account or the device's push token; empty uses what the buyer keeps (the e-mail address for"
        " email). Never stored.",
    )

    @model_validator(mode="after")
    def _channel_only_for_deliveries(self) -> QueueActionCreate:
        if self.action in ("redrive", "switch") and not self.channel:
            raise ValueError("redrive and switch need the channel to deliver on")
        if self.action not in ("redrive", "switch") and (self.channel or self.target):
            raise ValueError("only redrive and switch take a channel and a target")
        return self


class QueueActionPublic(BaseModel):
    entry: QueueEntryPublic
    refund_id: str


class PaymentConfirmationCreate(Input):
    # The provider to ask; empty asks every provider.
    provider: Literal["", "wechatpay-sim", "alipay-sim"] = ""


class PaymentConfirmationPublic(BaseModel):
    order: OrderPublic
    paid: bool
    duplicate: bool


class DeliveredKeyPublic(BaseModel):
    """A delivered key in plaintext; served with Cache-Control: no-store."""

    order_id: str
    key_id: str
    sku_id: str
    code: str
    password: str
    delivered_at: str
    redeemed_at: str | None


class PointsCreditPublic(BaseModel):
    """Points a bundle credited, with the order (line and unit) they came from."""

    order_id: str
    line_no: int
    unit_no: int
    points: int
    credited_at: str
    debited_at: str | None = None  # when the order's refund took them back; null while held


class MyPointsPublic(BaseModel):
    """The buyer's points balance (net of refunds' debits) and the credits that make it, oldest first."""

    balance: int
    credits: list[PointsCreditPublic]


class MembershipGrantPublic(BaseModel):
    """A grant of a membership by a bundle, with the order (line and unit) it came from."""

    order_id: str
    line_no: int
    unit_no: int
    days: int
    valid_from: str
    valid_until: str
    shortened_at: str | None = None  # when the order's refund took its days off the plan's end; null: held


class MembershipPublic(BaseModel):
    """A membership of a plan, valid until the end of its last grant (grants of a plan stack)."""

    plan: str
    valid_until: str
    grants: list[MembershipGrantPublic]


# Partners


class PartnerSkusUpdate(Input):
    sku_ids: list[Id] = Field(max_length=1000)


class PartnerSkusPublic(BaseModel):
    """The SKUs a partner may report redemptions of."""

    partner: str
    sku_ids: list[str]


# Callbacks


class PaymentNoticeAck(BaseModel):
    code: Literal["SUCCESS"] = "SUCCESS"


class RedemptionCreate(BaseModel):
    """A partner's report that a key was redeemed. Fields partners add beyond these are ignored."""

    code: str = Field(min_length=1, max_length=256)
    redeemed_at: AwareDatetime | None = None

    _no_control_characters = field_validator("code", mode="after")(refuse_control_characters)


class RedemptionPublic(BaseModel):
    key_id: str
    order_id: str
    redeemed_at: str
    duplicate: bool


# PSP simulator


class SimulatedPaymentCreate(Input):
    order_id: Id
    amount: Money
    # Which provider pays: "psp-sim" (the first simulator's notice), "wechatpay-sim" or "alipay-sim".
    provider: Literal["psp-sim", "wechatpay-sim", "alipay-sim"] = "psp-sim"
    # False: the provider takes the money but its notice is lost (only its query API will tell).
    deliver: bool = True


class SimulatedNoticePublic(BaseModel):
    notice_id: str
    txn_id: str
    body: str
    headers: dict[str, str]


class SimulatedPaymentPublic(BaseModel):
    notice_id: str
    txn_id: str
    webhook_status: int
    webhook_response: Any


# Health


class HealthPublic(BaseModel):
    status: str
    checks: dict[str, bool] | None = None


# Coupons


class CouponCreate(Input):
    """A coupon: `fixed` (amount_off) or `percent` (percent_off_bps, rounded down to a fen, at most
    max_discount). Caps of 0 mean none; times are RFC 3339 with a zone."""

    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", examples=["SPRING10"])
    kind: Literal["fixed", "percent"]
    amount_off: Money | None = None
    percent_off_bps: int = Field(0, ge=0, le=10_000, examples=[1000])
    max_discount: Money | None = None
    min_order: Money | None = None
    sku_ids: list[str] = Field(default_factory=list, max_length=100)
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    total_cap: int = Field(0, ge=0, le=2**31 - 1)
    per_buyer_cap: int = Field(0, ge=0, le=2**31 - 1)


class CouponPublic(BaseModel):
    code: str
    kind: str
    amount_off: Money | None = None
    percent_off_bps: int
    max_discount: Money | None = None
    min_order: Money | None = None
    sku_ids: list[str]
    valid_from: str
    expires_at: str
    total_cap: int
    per_buyer_cap: int
    disabled: bool
    uses: int = Field(description="Orders that hold a use now (placed, not cancelled, expired or refunded).")
    created_at: str
    created_by: str


class CouponsPublic(BaseModel):
    coupons: list[CouponPublic]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last."
    )
