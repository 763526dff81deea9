from quanyi.common.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderItem(_message.Message):
    __slots__ = ("sku_id", "quantity", "unit_price")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    quantity: int
    unit_price: _money_pb2.Money
    def __init__(self, sku_id: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "buyer_id", "status", "items", "total", "risk_decision", "channel", "created_at", "version", "coupon_code", "discount", "refunds")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    RISK_DECISION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    COUPON_CODE_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    buyer_id: str
    status: str
    items: _containers.RepeatedCompositeFieldContainer[OrderItem]
    total: _money_pb2.Money
    risk_decision: str
    channel: str
    created_at: str
    version: int
    coupon_code: str
    discount: _money_pb2.Money
    refunds: _containers.RepeatedCompositeFieldContainer[OrderRefund]
    def __init__(self, order_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., status: _Optional[str] = ..., items: _Optional[_Iterable[_Union[OrderItem, _Mapping]]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., risk_decision: _Optional[str] = ..., channel: _Optional[str] = ..., created_at: _Optional[str] = ..., version: _Optional[int] = ..., coupon_code: _Optional[str] = ..., discount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., refunds: _Optional[_Iterable[_Union[OrderRefund, _Mapping]]] = ...) -> None: ...

class OrderRefund(_message.Message):
    __slots__ = ("refund_id", "state", "amount")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    state: str
    amount: _money_pb2.Money
    def __init__(self, refund_id: _Optional[str] = ..., state: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class PlaceOrderRequest(_message.Message):
    __slots__ = ("buyer_id", "buyer_email", "channel", "items", "idempotency_key", "client_ip", "coupon_code")
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    COUPON_CODE_FIELD_NUMBER: _ClassVar[int]
    buyer_id: str
    buyer_email: str
    channel: str
    items: _containers.RepeatedCompositeFieldContainer[OrderItem]
    idempotency_key: str
    client_ip: str
    coupon_code: str
    def __init__(self, buyer_id: _Optional[str] = ..., buyer_email: _Optional[str] = ..., channel: _Optional[str] = ..., items: _Optional[_Iterable[_Union[OrderItem, _Mapping]]] = ..., idempotency_key: _Optional[str] = ..., client_ip: _Optional[str] = ..., coupon_code: _Optional[str] = ...) -> None: ...

class PlaceOrderResponse(_message.Message):
    __slots__ = ("order", "replayed")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    order: Order
    replayed: bool
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("buyer_id", "limit", "page_token")
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    buyer_id: str
    limit: int
    page_token: str
    def __init__(self, buyer_id: _Optional[str] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SearchOrdersRequest(_message.Message):
    __slots__ = ("channel", "status", "limit", "page_token")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    channel: str
    status: str
    limit: int
    page_token: str
    def __init__(self, channel: _Optional[str] = ..., status: _Optional[str] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetOrderHistoryRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class OrderHistoryEvent(_message.Message):
    __slots__ = ("event_id", "type", "occurred_at", "causation_id", "payload_json")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    occurred_at: str
    causation_id: str
    payload_json: str
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., occurred_at: _Optional[str] = ..., causation_id: _Optional[str] = ..., payload_json: _Optional[str] = ...) -> None: ...

class GetOrderHistoryResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[OrderHistoryEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[OrderHistoryEvent, _Mapping]]] = ...) -> None: ...

class SearchOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class HandlePaymentNoticeRequest(_message.Message):
    __slots__ = ("provider", "body", "signature", "timestamp", "nonce", "serial")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    provider: str
    body: bytes
    signature: str
    timestamp: str
    nonce: str
    serial: str
    def __init__(self, provider: _Optional[str] = ..., body: _Optional[bytes] = ..., signature: _Optional[str] = ..., timestamp: _Optional[str] = ..., nonce: _Optional[str] = ..., serial: _Optional[str] = ...) -> None: ...

class HandlePaymentNoticeResponse(_message.Message):
    __slots__ = ("order_id", "duplicate")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    duplicate: bool
    def __init__(self, order_id: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class ReviewOrderRequest(_message.Message):
    __slots__ = ("order_id", "approve", "reviewer")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    approve: bool
    reviewer: str
    def __init__(self, order_id: _Optional[str] = ..., approve: _Optional[bool] = ..., reviewer: _Optional[str] = ...) -> None: ...

class ReviewOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class ConfirmPaymentRequest(_message.Message):
    __slots__ = ("order_id", "provider", "actor")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    provider: str
    actor: str
    def __init__(self, order_id: _Optional[str] = ..., provider: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class ConfirmPaymentResponse(_message.Message):
    __slots__ = ("order", "paid", "duplicate")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    order: Order
    paid: bool
    duplicate: bool
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., paid: _Optional[bool] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class RefundLineRequest(_message.Message):
    __slots__ = ("line_no", "quantity")
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    line_no: int
    quantity: int
    def __init__(self, line_no: _Optional[int] = ..., quantity: _Optional[int] = ...) -> None: ...

class RefundOrderRequest(_message.Message):
    __slots__ = ("order_id", "lines", "actor", "override_redeemed", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_REDEEMED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    lines: _containers.RepeatedCompositeFieldContainer[RefundLineRequest]
    actor: str
    override_redeemed: bool
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[RefundLineRequest, _Mapping]]] = ..., actor: _Optional[str] = ..., override_redeemed: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class RefundOrderResponse(_message.Message):
    __slots__ = ("refund_id", "amount")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    amount: _money_pb2.Money
    def __init__(self, refund_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class QueueEntry(_message.Message):
    __slots__ = ("order_id", "reason", "source", "queued_at", "status", "resolution", "actor")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reason: str
    source: str
    queued_at: str
    status: str
    resolution: str
    actor: str
    def __init__(self, order_id: _Optional[str] = ..., reason: _Optional[str] = ..., source: _Optional[str] = ..., queued_at: _Optional[str] = ..., status: _Optional[str] = ..., resolution: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class ListExceptionQueueRequest(_message.Message):
    __slots__ = ("include_resolved", "limit", "page_token")
    INCLUDE_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    include_resolved: bool
    limit: int
    page_token: str
    def __init__(self, include_resolved: _Optional[bool] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExceptionQueueResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[QueueEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[QueueEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ActOnQueueEntryRequest(_message.Message):
    __slots__ = ("order_id", "action", "actor", "note", "channel", "target")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    action: str
    actor: str
    note: str
    channel: str
    target: str
    def __init__(self, order_id: _Optional[str] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., note: _Optional[str] = ..., channel: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class ActOnQueueEntryResponse(_message.Message):
    __slots__ = ("entry", "refund_id")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    entry: QueueEntry
    refund_id: str
    def __init__(self, entry: _Optional[_Union[QueueEntry, _Mapping]] = ..., refund_id: _Optional[str] = ...) -> None: ...

class Coupon(_message.Message):
    __slots__ = ("code", "kind", "amount_off", "percent_off_bps", "max_discount", "min_order", "sku_ids", "valid_from", "expires_at", "total_cap", "per_buyer_cap", "disabled", "uses", "created_at", "created_by")
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
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    code: str
    kind: str
    amount_off: _money_pb2.Money
    percent_off_bps: int
    max_discount: _money_pb2.Money
    min_order: _money_pb2.Money
    sku_ids: _containers.RepeatedScalarFieldContainer[str]
    valid_from: str
    expires_at: str
    total_cap: int
    per_buyer_cap: int
    disabled: bool
    uses: int
    created_at: str
    created_by: str
    def __init__(self, code: _Optional[str] = ..., kind: _Optional[str] = ..., amount_off: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., percent_off_bps: _Optional[int] = ..., max_discount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., min_order: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., sku_ids: _Optional[_Iterable[str]] = ..., valid_from: _Optional[str] = ..., expires_at: _Optional[str] = ..., total_cap: _Optional[int] = ..., per_buyer_cap: _Optional[int] = ..., disabled: _Optional[bool] = ..., uses: _Optional[int] = ..., created_at: _Optional[str] = ..., created_by: _Optional[str] = ...) -> None: ...

class CreateCouponRequest(_message.Message):
    __slots__ = ("coupon", "actor")
    COUPON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    coupon: Coupon
    actor: str
    def __init__(self, coupon: _Optional[_Union[Coupon, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class CreateCouponResponse(_message.Message):
    __slots__ = ("coupon",)
    COUPON_FIELD_NUMBER: _ClassVar[int]
    coupon: Coupon
    def __init__(self, coupon: _Optional[_Union[Coupon, _Mapping]] = ...) -> None: ...

class ListCouponsRequest(_message.Message):
    __slots__ = ("limit", "page_token")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    limit: int
    page_token: str
    def __init__(self, limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCouponsResponse(_message.Message):
    __slots__ = ("coupons", "next_page_token")
    COUPONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    coupons: _containers.RepeatedCompositeFieldContainer[Coupon]
    next_page_token: str
    def __init__(self, coupons: _Optional[_Iterable[_Union[Coupon, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DisableCouponRequest(_message.Message):
    __slots__ = ("code", "actor")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    code: str
    actor: str
    def __init__(self, code: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class DisableCouponResponse(_message.Message):
    __slots__ = ("coupon",)
    COUPON_FIELD_NUMBER: _ClassVar[int]
    coupon: Coupon
    def __init__(self, coupon: _Optional[_Union[Coupon, _Mapping]] = ...) -> None: ...
