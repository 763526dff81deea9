import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from quanyi.common.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeliveredKey(_message.Message):
    __slots__ = ("key_id", "sku_id", "unit_cost", "line_no", "unit_no")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_COST_FIELD_NUMBER: _ClassVar[int]
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_NO_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    sku_id: str
    unit_cost: _money_pb2.Money
    line_no: int
    unit_no: int
    def __init__(self, key_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., unit_cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., line_no: _Optional[int] = ..., unit_no: _Optional[int] = ...) -> None: ...

class KeyDelivered(_message.Message):
    __slots__ = ("order_id", "buyer_id", "keys", "channels", "sales_channel", "paid_at", "reserved_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SALES_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    RESERVED_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    buyer_id: str
    keys: _containers.RepeatedCompositeFieldContainer[DeliveredKey]
    channels: _containers.RepeatedScalarFieldContainer[str]
    sales_channel: str
    paid_at: _timestamp_pb2.Timestamp
    reserved_at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[DeliveredKey, _Mapping]]] = ..., channels: _Optional[_Iterable[str]] = ..., sales_channel: _Optional[str] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reserved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeliveryFailed(_message.Message):
    __slots__ = ("order_id", "attempt", "reason", "final", "channel")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    attempt: int
    reason: str
    final: bool
    channel: str
    def __init__(self, order_id: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[str] = ..., final: _Optional[bool] = ..., channel: _Optional[str] = ...) -> None: ...

class ChannelDelivered(_message.Message):
    __slots__ = ("order_id", "channel", "attempt")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel: str
    attempt: int
    def __init__(self, order_id: _Optional[str] = ..., channel: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class Redeemed(_message.Message):
    __slots__ = ("key_id", "order_id", "partner", "redeemed_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    order_id: str
    partner: str
    redeemed_at: str
    def __init__(self, key_id: _Optional[str] = ..., order_id: _Optional[str] = ..., partner: _Optional[str] = ..., redeemed_at: _Optional[str] = ...) -> None: ...

class EmailQueued(_message.Message):
    __slots__ = ("order_id", "buyer_email")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    buyer_email: str
    def __init__(self, order_id: _Optional[str] = ..., buyer_email: _Optional[str] = ...) -> None: ...

class EmailCancelled(_message.Message):
    __slots__ = ("order_id", "attempt", "lease", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    attempt: int
    lease: int
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., attempt: _Optional[int] = ..., lease: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class EmailAttemptStarted(_message.Message):
    __slots__ = ("order_id", "attempt", "lease", "lease_expires_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    attempt: int
    lease: int
    lease_expires_at: str
    def __init__(self, order_id: _Optional[str] = ..., attempt: _Optional[int] = ..., lease: _Optional[int] = ..., lease_expires_at: _Optional[str] = ...) -> None: ...

class EmailSent(_message.Message):
    __slots__ = ("order_id", "attempt", "lease")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    attempt: int
    lease: int
    def __init__(self, order_id: _Optional[str] = ..., attempt: _Optional[int] = ..., lease: _Optional[int] = ...) -> None: ...

class EmailAttemptFailed(_message.Message):
    __slots__ = ("order_id", "attempt", "lease", "reason", "next_attempt_at", "counted")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    COUNTED_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    attempt: int
    lease: int
    reason: str
    next_attempt_at: str
    counted: bool
    def __init__(self, order_id: _Optional[str] = ..., attempt: _Optional[int] = ..., lease: _Optional[int] = ..., reason: _Optional[str] = ..., next_attempt_at: _Optional[str] = ..., counted: _Optional[bool] = ...) -> None: ...

class EmailGivenUp(_message.Message):
    __slots__ = ("order_id", "attempt", "lease", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    attempt: int
    lease: int
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., attempt: _Optional[int] = ..., lease: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ChannelRequested(_message.Message):
    __slots__ = ("order_id", "channel", "requested_by")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel: str
    requested_by: str
    def __init__(self, order_id: _Optional[str] = ..., channel: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class ChannelAttemptStarted(_message.Message):
    __slots__ = ("order_id", "channel", "lease", "lease_expires_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel: str
    lease: int
    lease_expires_at: str
    def __init__(self, order_id: _Optional[str] = ..., channel: _Optional[str] = ..., lease: _Optional[int] = ..., lease_expires_at: _Optional[str] = ...) -> None: ...

class ChannelCancelled(_message.Message):
    __slots__ = ("order_id", "channel", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel: str
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., channel: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UndeliveredKeyRedeemed(_message.Message):
    __slots__ = ("key_id", "partner", "redeemed_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    partner: str
    redeemed_at: str
    def __init__(self, key_id: _Optional[str] = ..., partner: _Optional[str] = ..., redeemed_at: _Optional[str] = ...) -> None: ...

class PointsCredited(_message.Message):
    __slots__ = ("order_id", "line_no", "unit_no", "buyer_id", "points", "value", "sales_channel", "bundle_sku_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_NO_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SALES_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_SKU_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    line_no: int
    unit_no: int
    buyer_id: str
    points: int
    value: _money_pb2.Money
    sales_channel: str
    bundle_sku_id: str
    def __init__(self, order_id: _Optional[str] = ..., line_no: _Optional[int] = ..., unit_no: _Optional[int] = ..., buyer_id: _Optional[str] = ..., points: _Optional[int] = ..., value: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., sales_channel: _Optional[str] = ..., bundle_sku_id: _Optional[str] = ...) -> None: ...

class MembershipGranted(_message.Message):
    __slots__ = ("order_id", "line_no", "unit_no", "buyer_id", "plan", "days", "valid_from", "valid_until", "cost", "sales_channel", "bundle_sku_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_NO_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    SALES_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_SKU_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    line_no: int
    unit_no: int
    buyer_id: str
    plan: str
    days: int
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    cost: _money_pb2.Money
    sales_channel: str
    bundle_sku_id: str
    def __init__(self, order_id: _Optional[str] = ..., line_no: _Optional[int] = ..., unit_no: _Optional[int] = ..., buyer_id: _Optional[str] = ..., plan: _Optional[str] = ..., days: _Optional[int] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., sales_channel: _Optional[str] = ..., bundle_sku_id: _Optional[str] = ...) -> None: ...

class PointsDebited(_message.Message):
    __slots__ = ("order_id", "line_no", "unit_no", "buyer_id", "points", "value", "sales_channel", "bundle_sku_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_NO_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SALES_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_SKU_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    line_no: int
    unit_no: int
    buyer_id: str
    points: int
    value: _money_pb2.Money
    sales_channel: str
    bundle_sku_id: str
    def __init__(self, order_id: _Optional[str] = ..., line_no: _Optional[int] = ..., unit_no: _Optional[int] = ..., buyer_id: _Optional[str] = ..., points: _Optional[int] = ..., value: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., sales_channel: _Optional[str] = ..., bundle_sku_id: _Optional[str] = ...) -> None: ...

class MembershipShortened(_message.Message):
    __slots__ = ("order_id", "line_no", "unit_no", "buyer_id", "plan", "days", "valid_until", "cost", "sales_channel", "bundle_sku_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_NO_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    SALES_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_SKU_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    line_no: int
    unit_no: int
    buyer_id: str
    plan: str
    days: int
    valid_until: _timestamp_pb2.Timestamp
    cost: _money_pb2.Money
    sales_channel: str
    bundle_sku_id: str
    def __init__(self, order_id: _Optional[str] = ..., line_no: _Optional[int] = ..., unit_no: _Optional[int] = ..., buyer_id: _Optional[str] = ..., plan: _Optional[str] = ..., days: _Optional[int] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., sales_channel: _Optional[str] = ..., bundle_sku_id: _Optional[str] = ...) -> None: ...
