from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LatencyBucket(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LATENCY_BUCKET_UNSPECIFIED: _ClassVar[LatencyBucket]
    LATENCY_BUCKET_HOUR: _ClassVar[LatencyBucket]
    LATENCY_BUCKET_DAY: _ClassVar[LatencyBucket]
LATENCY_BUCKET_UNSPECIFIED: LatencyBucket
LATENCY_BUCKET_HOUR: LatencyBucket
LATENCY_BUCKET_DAY: LatencyBucket

class Delivery(_message.Message):
    __slots__ = ("order_id", "key_id", "sku_id", "buyer_id", "delivered_at", "redeemed_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    key_id: str
    sku_id: str
    buyer_id: str
    delivered_at: str
    redeemed_at: str
    def __init__(self, order_id: _Optional[str] = ..., key_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., delivered_at: _Optional[str] = ..., redeemed_at: _Optional[str] = ...) -> None: ...

class ListDeliveriesRequest(_message.Message):
    __slots__ = ("buyer_id", "order_id", "limit", "page_token", "order_ids")
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_IDS_FIELD_NUMBER: _ClassVar[int]
    buyer_id: str
    order_id: str
    limit: int
    page_token: str
    order_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, buyer_id: _Optional[str] = ..., order_id: _Optional[str] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ..., order_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries", "next_page_token")
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    next_page_token: str
    def __init__(self, deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RecordRedemptionRequest(_message.Message):
    __slots__ = ("key_id", "partner", "redeemed_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    partner: str
    redeemed_at: str
    def __init__(self, key_id: _Optional[str] = ..., partner: _Optional[str] = ..., redeemed_at: _Optional[str] = ...) -> None: ...

class RecordRedemptionResponse(_message.Message):
    __slots__ = ("delivery", "duplicate")
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    delivery: Delivery
    duplicate: bool
    def __init__(self, delivery: _Optional[_Union[Delivery, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class DeliverOnChannelRequest(_message.Message):
    __slots__ = ("order_id", "channel", "target", "requested_by")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel: str
    target: str
    requested_by: str
    def __init__(self, order_id: _Optional[str] = ..., channel: _Optional[str] = ..., target: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class DeliverOnChannelResponse(_message.Message):
    __slots__ = ("delivered", "attempts", "reason")
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    delivered: bool
    attempts: int
    reason: str
    def __init__(self, delivered: _Optional[bool] = ..., attempts: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ListChannelEventsRequest(_message.Message):
    __slots__ = ("order_id", "order_ids")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_IDS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    order_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, order_id: _Optional[str] = ..., order_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ChannelEvent(_message.Message):
    __slots__ = ("channel", "outcome", "at", "attempt", "final", "requested_by", "order_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    outcome: str
    at: str
    attempt: int
    final: bool
    requested_by: str
    order_id: str
    def __init__(self, channel: _Optional[str] = ..., outcome: _Optional[str] = ..., at: _Optional[str] = ..., attempt: _Optional[int] = ..., final: _Optional[bool] = ..., requested_by: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class ListChannelEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ChannelEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[ChannelEvent, _Mapping]]] = ...) -> None: ...

class ListEntitlementsRequest(_message.Message):
    __slots__ = ("buyer_id",)
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    buyer_id: str
    def __init__(self, buyer_id: _Optional[str] = ...) -> None: ...

class PointsCredit(_message.Message):
    __slots__ = ("order_id", "line_no", "unit_no", "points", "credited_at", "debited_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_NO_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    CREDITED_AT_FIELD_NUMBER: _ClassVar[int]
    DEBITED_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    line_no: int
    unit_no: int
    points: int
    credited_at: str
    debited_at: str
    def __init__(self, order_id: _Optional[str] = ..., line_no: _Optional[int] = ..., unit_no: _Optional[int] = ..., points: _Optional[int] = ..., credited_at: _Optional[str] = ..., debited_at: _Optional[str] = ...) -> None: ...

class MembershipGrant(_message.Message):
    __slots__ = ("order_id", "line_no", "unit_no", "plan", "days", "valid_from", "valid_until", "shortened_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_NO_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    SHORTENED_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    line_no: int
    unit_no: int
    plan: str
    days: int
    valid_from: str
    valid_until: str
    shortened_at: str
    def __init__(self, order_id: _Optional[str] = ..., line_no: _Optional[int] = ..., unit_no: _Optional[int] = ..., plan: _Optional[str] = ..., days: _Optional[int] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., shortened_at: _Optional[str] = ...) -> None: ...

class Membership(_message.Message):
    __slots__ = ("plan", "valid_until")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    plan: str
    valid_until: str
    def __init__(self, plan: _Optional[str] = ..., valid_until: _Optional[str] = ...) -> None: ...

class ListEntitlementsResponse(_message.Message):
    __slots__ = ("points_balance", "credits", "memberships", "grants")
    POINTS_BALANCE_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIPS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    points_balance: int
    credits: _containers.RepeatedCompositeFieldContainer[PointsCredit]
    memberships: _containers.RepeatedCompositeFieldContainer[Membership]
    grants: _containers.RepeatedCompositeFieldContainer[MembershipGrant]
    def __init__(self, points_balance: _Optional[int] = ..., credits: _Optional[_Iterable[_Union[PointsCredit, _Mapping]]] = ..., memberships: _Optional[_Iterable[_Union[Membership, _Mapping]]] = ..., grants: _Optional[_Iterable[_Union[MembershipGrant, _Mapping]]] = ...) -> None: ...

class GetDeliveryLatencyRequest(_message.Message):
    __slots__ = ("from_time", "to_time", "bucket")
    FROM_TIME_FIELD_NUMBER: _ClassVar[int]
    TO_TIME_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    from_time: str
    to_time: str
    bucket: LatencyBucket
    def __init__(self, from_time: _Optional[str] = ..., to_time: _Optional[str] = ..., bucket: _Optional[_Union[LatencyBucket, str]] = ...) -> None: ...

class LatencyPercentiles(_message.Message):
    __slots__ = ("start", "orders", "p50_ms", "p95_ms", "p99_ms")
    START_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    start: str
    orders: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    def __init__(self, start: _Optional[str] = ..., orders: _Optional[int] = ..., p50_ms: _Optional[float] = ..., p95_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ...) -> None: ...

class GetDeliveryLatencyResponse(_message.Message):
    __slots__ = ("buckets",)
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[LatencyPercentiles]
    def __init__(self, buckets: _Optional[_Iterable[_Union[LatencyPercentiles, _Mapping]]] = ...) -> None: ...
