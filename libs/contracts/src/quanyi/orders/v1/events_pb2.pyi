import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from quanyi.common.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RefundReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUND_REASON_UNSPECIFIED: _ClassVar[RefundReason]
    REFUND_REASON_STOCK_SHORT: _ClassVar[RefundReason]
    REFUND_REASON_REVIEW_REJECTED: _ClassVar[RefundReason]
    REFUND_REASON_DELIVERY_FAILED: _ClassVar[RefundReason]
    REFUND_REASON_OPERATOR: _ClassVar[RefundReason]
    REFUND_REASON_AMOUNT_MISMATCH: _ClassVar[RefundReason]
    REFUND_REASON_ORDER_NOT_PAYABLE: _ClassVar[RefundReason]
    REFUND_REASON_DUPLICATE_PAYMENT: _ClassVar[RefundReason]

class CouponKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COUPON_KIND_UNSPECIFIED: _ClassVar[CouponKind]
    COUPON_KIND_FIXED: _ClassVar[CouponKind]
    COUPON_KIND_PERCENT: _ClassVar[CouponKind]
REFUND_REASON_UNSPECIFIED: RefundReason
REFUND_REASON_STOCK_SHORT: RefundReason
REFUND_REASON_REVIEW_REJECTED: RefundReason
REFUND_REASON_DELIVERY_FAILED: RefundReason
REFUND_REASON_OPERATOR: RefundReason
REFUND_REASON_AMOUNT_MISMATCH: RefundReason
REFUND_REASON_ORDER_NOT_PAYABLE: RefundReason
REFUND_REASON_DUPLICATE_PAYMENT: RefundReason
COUPON_KIND_UNSPECIFIED: CouponKind
COUPON_KIND_FIXED: CouponKind
COUPON_KIND_PERCENT: CouponKind

class OrderLine(_message.Message):
    __slots__ = ("line_no", "sku_id", "quantity", "unit_price")
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    line_no: int
    sku_id: str
    quantity: int
    unit_price: _money_pb2.Money
    def __init__(self, line_no: _Optional[int] = ..., sku_id: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class OrderPlaced(_message.Message):
    __slots__ = ("order_id", "buyer_id", "channel", "lines", "total", "buyer_email", "idempotency_key", "pay_by", "client_tag", "coupon_code", "discount")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BUYER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PAY_BY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TAG_FIELD_NUMBER: _ClassVar[int]
    COUPON_CODE_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    buyer_id: str
    channel: str
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    total: _money_pb2.Money
    buyer_email: str
    idempotency_key: str
    pay_by: _timestamp_pb2.Timestamp
    client_tag: str
    coupon_code: str
    discount: _money_pb2.Money
    def __init__(self, order_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., channel: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., buyer_email: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., pay_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., client_tag: _Optional[str] = ..., coupon_code: _Optional[str] = ..., discount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class PaymentCaptured(_message.Message):
    __slots__ = ("order_id", "provider", "provider_txn_id", "amount", "refused_reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TXN_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUSED_REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    provider: str
    provider_txn_id: str
    amount: _money_pb2.Money
    refused_reason: str
    def __init__(self, order_id: _Optional[str] = ..., provider: _Optional[str] = ..., provider_txn_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., refused_reason: _Optional[str] = ...) -> None: ...

class OrderPaid(_message.Message):
    __slots__ = ("order_id", "buyer_id", "channel", "lines", "total", "buyer_email", "provider_txn_id", "discount")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BUYER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TXN_ID_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    buyer_id: str
    channel: str
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    total: _money_pb2.Money
    buyer_email: str
    provider_txn_id: str
    discount: _money_pb2.Money
    def __init__(self, order_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., channel: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., buyer_email: _Optional[str] = ..., provider_txn_id: _Optional[str] = ..., discount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class OrderHeld(_message.Message):
    __slots__ = ("order_id", "reasons")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, order_id: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class OrderCancelled(_message.Message):
    __slots__ = ("order_id", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class OrderRefunded(_message.Message):
    __slots__ = ("order_id", "channel", "amount", "reason", "was_released")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WAS_RELEASED_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel: str
    amount: _money_pb2.Money
    reason: RefundReason
    was_released: bool
    def __init__(self, order_id: _Optional[str] = ..., channel: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[_Union[RefundReason, str]] = ..., was_released: _Optional[bool] = ...) -> None: ...

class OrderFulfilled(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class OrderApproved(_message.Message):
    __slots__ = ("order_id", "reviewed")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reviewed: bool
    def __init__(self, order_id: _Optional[str] = ..., reviewed: _Optional[bool] = ...) -> None: ...

class PaymentNoticeAccepted(_message.Message):
    __slots__ = ("provider", "nonce", "order_id", "provider_txn_id", "notice_id")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TXN_ID_FIELD_NUMBER: _ClassVar[int]
    NOTICE_ID_FIELD_NUMBER: _ClassVar[int]
    provider: str
    nonce: str
    order_id: str
    provider_txn_id: str
    notice_id: str
    def __init__(self, provider: _Optional[str] = ..., nonce: _Optional[str] = ..., order_id: _Optional[str] = ..., provider_txn_id: _Optional[str] = ..., notice_id: _Optional[str] = ...) -> None: ...

class OrderExpired(_message.Message):
    __slots__ = ("order_id", "pay_by")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PAY_BY_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    pay_by: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., pay_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RefundLine(_message.Message):
    __slots__ = ("line_no", "sku_id", "quantity", "amount", "released", "voided", "redeemed")
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_FIELD_NUMBER: _ClassVar[int]
    line_no: int
    sku_id: str
    quantity: int
    amount: _money_pb2.Money
    released: int
    voided: int
    redeemed: int
    def __init__(self, line_no: _Optional[int] = ..., sku_id: _Optional[str] = ..., quantity: _Optional[int] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., released: _Optional[int] = ..., voided: _Optional[int] = ..., redeemed: _Optional[int] = ...) -> None: ...

class RefundRequested(_message.Message):
    __slots__ = ("order_id", "refund_id", "provider", "provider_txn_id", "amount", "reason", "lines", "actor", "override_redeemed", "note")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TXN_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_REDEEMED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    refund_id: str
    provider: str
    provider_txn_id: str
    amount: _money_pb2.Money
    reason: RefundReason
    lines: _containers.RepeatedCompositeFieldContainer[RefundLine]
    actor: str
    override_redeemed: bool
    note: str
    def __init__(self, order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., provider: _Optional[str] = ..., provider_txn_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[_Union[RefundReason, str]] = ..., lines: _Optional[_Iterable[_Union[RefundLine, _Mapping]]] = ..., actor: _Optional[str] = ..., override_redeemed: _Optional[bool] = ..., note: _Optional[str] = ...) -> None: ...

class RefundSent(_message.Message):
    __slots__ = ("order_id", "refund_id", "attempt", "outcome", "next_attempt_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    refund_id: str
    attempt: int
    outcome: str
    next_attempt_at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., attempt: _Optional[int] = ..., outcome: _Optional[str] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RefundSucceeded(_message.Message):
    __slots__ = ("order_id", "refund_id", "amount", "provider", "lines", "provider_refund_id", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    refund_id: str
    amount: _money_pb2.Money
    provider: str
    lines: _containers.RepeatedCompositeFieldContainer[RefundLine]
    provider_refund_id: str
    reason: RefundReason
    def __init__(self, order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., provider: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[RefundLine, _Mapping]]] = ..., provider_refund_id: _Optional[str] = ..., reason: _Optional[_Union[RefundReason, str]] = ...) -> None: ...

class OrderQueued(_message.Message):
    __slots__ = ("order_id", "reason", "source")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reason: str
    source: str
    def __init__(self, order_id: _Optional[str] = ..., reason: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class QueueEntryResolved(_message.Message):
    __slots__ = ("order_id", "action", "actor", "note")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    action: str
    actor: str
    note: str
    def __init__(self, order_id: _Optional[str] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class RefundKeysCleared(_message.Message):
    __slots__ = ("order_id", "refund_id", "refused", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    refund_id: str
    refused: bool
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., refused: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class RefundDeclined(_message.Message):
    __slots__ = ("order_id", "refund_id", "action", "actor", "note")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    refund_id: str
    action: str
    actor: str
    note: str
    def __init__(self, order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class CouponCreated(_message.Message):
    __slots__ = ("code", "kind", "amount_off", "percent_off_bps", "max_discount", "min_order", "sku_ids", "valid_from", "expires_at", "total_cap", "per_buyer_cap", "actor")
    CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_OFF_FIELD_NUMBER: _ClassVar[int]
    PERCENT_OFF_BPS_FIELD_NUMBER: _ClassVar[int]
    MAX_DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    MIN_ORDER_FIELD_NUMBER: _ClassVar[int]
    SKU_IDS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CAP_FIELD_NUMBER: _ClassVar[int]
    PER_BUYER_CAP_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    code: str
    kind: CouponKind
    amount_off: _money_pb2.Money
    percent_off_bps: int
    max_discount: _money_pb2.Money
    min_order: _money_pb2.Money
    sku_ids: _containers.RepeatedScalarFieldContainer[str]
    valid_from: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    total_cap: int
    per_buyer_cap: int
    actor: str
    def __init__(self, code: _Optional[str] = ..., kind: _Optional[_Union[CouponKind, str]] = ..., amount_off: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., percent_off_bps: _Optional[int] = ..., max_discount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., min_order: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., sku_ids: _Optional[_Iterable[str]] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., total_cap: _Optional[int] = ..., per_buyer_cap: _Optional[int] = ..., actor: _Optional[str] = ...) -> None: ...

class CouponDisabled(_message.Message):
    __slots__ = ("code", "actor")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    code: str
    actor: str
    def __init__(self, code: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...
