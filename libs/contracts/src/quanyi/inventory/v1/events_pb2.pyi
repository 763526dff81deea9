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

class AllocationStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALLOCATION_STRATEGY_UNSPECIFIED: _ClassVar[AllocationStrategy]
    ALLOCATION_STRATEGY_FIFO: _ClassVar[AllocationStrategy]
    ALLOCATION_STRATEGY_FEFO: _ClassVar[AllocationStrategy]
ALLOCATION_STRATEGY_UNSPECIFIED: AllocationStrategy
ALLOCATION_STRATEGY_FIFO: AllocationStrategy
ALLOCATION_STRATEGY_FEFO: AllocationStrategy

class ReservedKey(_message.Message):
    __slots__ = ("key_id", "sku_id", "line_no", "unit_no", "unit_cost", "pool_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_COST_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    sku_id: str
    line_no: int
    unit_no: int
    unit_cost: _money_pb2.Money
    pool_id: str
    def __init__(self, key_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., line_no: _Optional[int] = ..., unit_no: _Optional[int] = ..., unit_cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., pool_id: _Optional[str] = ...) -> None: ...

class KeyReserved(_message.Message):
    __slots__ = ("order_id", "buyer_id", "buyer_email", "keys", "channel", "entitlements", "paid_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    buyer_id: str
    buyer_email: str
    keys: _containers.RepeatedCompositeFieldContainer[ReservedKey]
    channel: str
    entitlements: _containers.RepeatedCompositeFieldContainer[ReservedEntitlement]
    paid_at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., buyer_email: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[ReservedKey, _Mapping]]] = ..., channel: _Optional[str] = ..., entitlements: _Optional[_Iterable[_Union[ReservedEntitlement, _Mapping]]] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ShortLine(_message.Message):
    __slots__ = ("line_no", "sku_id", "wanted", "available")
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    WANTED_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    line_no: int
    sku_id: str
    wanted: int
    available: int
    def __init__(self, line_no: _Optional[int] = ..., sku_id: _Optional[str] = ..., wanted: _Optional[int] = ..., available: _Optional[int] = ...) -> None: ...

class StockShort(_message.Message):
    __slots__ = ("order_id", "lines")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    lines: _containers.RepeatedCompositeFieldContainer[ShortLine]
    def __init__(self, order_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[ShortLine, _Mapping]]] = ...) -> None: ...

class StockLow(_message.Message):
    __slots__ = ("sku_id", "available", "threshold")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    available: int
    threshold: int
    def __init__(self, sku_id: _Optional[str] = ..., available: _Optional[int] = ..., threshold: _Optional[int] = ...) -> None: ...

class KeysImported(_message.Message):
    __slots__ = ("batch_id", "pool_id", "sku_id", "imported", "duplicates", "unit_cost", "rejected", "actor", "master_key_id", "source", "channel", "valid_from", "expires_at")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    UNIT_COST_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    MASTER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    pool_id: str
    sku_id: str
    imported: int
    duplicates: int
    unit_cost: _money_pb2.Money
    rejected: int
    actor: str
    master_key_id: str
    source: ImportSource
    channel: str
    valid_from: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, batch_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., imported: _Optional[int] = ..., duplicates: _Optional[int] = ..., unit_cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., rejected: _Optional[int] = ..., actor: _Optional[str] = ..., master_key_id: _Optional[str] = ..., source: _Optional[_Union[ImportSource, _Mapping]] = ..., channel: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProductCreated(_message.Message):
    __slots__ = ("product_id", "name", "kind")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    name: str
    kind: str
    def __init__(self, product_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class SkuCreated(_message.Message):
    __slots__ = ("sku_id", "product_id", "name", "price", "low_stock_threshold", "allocation_strategy")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    LOW_STOCK_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    product_id: str
    name: str
    price: _money_pb2.Money
    low_stock_threshold: int
    allocation_strategy: AllocationStrategy
    def __init__(self, sku_id: _Optional[str] = ..., product_id: _Optional[str] = ..., name: _Optional[str] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., low_stock_threshold: _Optional[int] = ..., allocation_strategy: _Optional[_Union[AllocationStrategy, str]] = ...) -> None: ...

class PoolCreated(_message.Message):
    __slots__ = ("pool_id", "sku_id", "name", "priority")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    sku_id: str
    name: str
    priority: int
    def __init__(self, pool_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., name: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class PoolPriorityChanged(_message.Message):
    __slots__ = ("pool_id", "sku_id", "priority")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    sku_id: str
    priority: int
    def __init__(self, pool_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class ExpiredKey(_message.Message):
    __slots__ = ("key_id", "sku_id", "pool_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    sku_id: str
    pool_id: str
    def __init__(self, key_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., pool_id: _Optional[str] = ...) -> None: ...

class KeysExpired(_message.Message):
    __slots__ = ("sweep_id", "as_of", "keys")
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    as_of: _timestamp_pb2.Timestamp
    keys: _containers.RepeatedCompositeFieldContainer[ExpiredKey]
    def __init__(self, sweep_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., keys: _Optional[_Iterable[_Union[ExpiredKey, _Mapping]]] = ...) -> None: ...

class StockLowCleared(_message.Message):
    __slots__ = ("sku_id", "available", "threshold")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    available: int
    threshold: int
    def __init__(self, sku_id: _Optional[str] = ..., available: _Optional[int] = ..., threshold: _Optional[int] = ...) -> None: ...

class LowStockThresholdSet(_message.Message):
    __slots__ = ("sku_id", "low_stock_threshold")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    LOW_STOCK_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    low_stock_threshold: int
    def __init__(self, sku_id: _Optional[str] = ..., low_stock_threshold: _Optional[int] = ...) -> None: ...

class KeysRevealed(_message.Message):
    __slots__ = ("reveal_id", "order_id", "key_ids", "actor", "purpose", "on_behalf_of")
    REVEAL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ON_BEHALF_OF_FIELD_NUMBER: _ClassVar[int]
    reveal_id: str
    order_id: str
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    actor: str
    purpose: str
    on_behalf_of: str
    def __init__(self, reveal_id: _Optional[str] = ..., order_id: _Optional[str] = ..., key_ids: _Optional[_Iterable[str]] = ..., actor: _Optional[str] = ..., purpose: _Optional[str] = ..., on_behalf_of: _Optional[str] = ...) -> None: ...

class KeysRevealRefused(_message.Message):
    __slots__ = ("attempt_id", "order_id", "identity", "on_behalf_of", "purpose", "reason")
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    ON_BEHALF_OF_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    attempt_id: str
    order_id: str
    identity: str
    on_behalf_of: str
    purpose: str
    reason: str
    def __init__(self, attempt_id: _Optional[str] = ..., order_id: _Optional[str] = ..., identity: _Optional[str] = ..., on_behalf_of: _Optional[str] = ..., purpose: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RewrappedBatch(_message.Message):
    __slots__ = ("batch_id", "previous_master_key_id")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_MASTER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    previous_master_key_id: str
    def __init__(self, batch_id: _Optional[str] = ..., previous_master_key_id: _Optional[str] = ...) -> None: ...

class DataKeysRewrapped(_message.Message):
    __slots__ = ("rotation_id", "master_key_id", "batches", "actor")
    ROTATION_ID_FIELD_NUMBER: _ClassVar[int]
    MASTER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    rotation_id: str
    master_key_id: str
    batches: _containers.RepeatedCompositeFieldContainer[RewrappedBatch]
    actor: str
    def __init__(self, rotation_id: _Optional[str] = ..., master_key_id: _Optional[str] = ..., batches: _Optional[_Iterable[_Union[RewrappedBatch, _Mapping]]] = ..., actor: _Optional[str] = ...) -> None: ...

class ImportSource(_message.Message):
    __slots__ = ("file_sha256", "file_name", "format", "mode", "rows", "bytes")
    FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    file_sha256: str
    file_name: str
    format: str
    mode: str
    rows: int
    bytes: int
    def __init__(self, file_sha256: _Optional[str] = ..., file_name: _Optional[str] = ..., format: _Optional[str] = ..., mode: _Optional[str] = ..., rows: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class BatchVoided(_message.Message):
    __slots__ = ("batch_id", "pool_id", "sku_id", "keys", "actor", "reason")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    pool_id: str
    sku_id: str
    keys: int
    actor: str
    reason: str
    def __init__(self, batch_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., keys: _Optional[int] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class BatchRestored(_message.Message):
    __slots__ = ("batch_id", "pool_id", "sku_id", "keys", "actor")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    pool_id: str
    sku_id: str
    keys: int
    actor: str
    def __init__(self, batch_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., keys: _Optional[int] = ..., actor: _Optional[str] = ...) -> None: ...

class KeysExported(_message.Message):
    __slots__ = ("export_id", "actor", "batch_id", "pool_id", "state", "expires_before", "keys")
    EXPORT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    export_id: str
    actor: str
    batch_id: str
    pool_id: str
    state: str
    expires_before: _timestamp_pb2.Timestamp
    keys: int
    def __init__(self, export_id: _Optional[str] = ..., actor: _Optional[str] = ..., batch_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., state: _Optional[str] = ..., expires_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., keys: _Optional[int] = ...) -> None: ...

class KeysMoved(_message.Message):
    __slots__ = ("batch_id", "from_pool_id", "from_sku_id", "to_pool_id", "to_sku_id", "keys", "actor")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_SKU_ID_FIELD_NUMBER: _ClassVar[int]
    TO_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    TO_SKU_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    from_pool_id: str
    from_sku_id: str
    to_pool_id: str
    to_sku_id: str
    keys: int
    actor: str
    def __init__(self, batch_id: _Optional[str] = ..., from_pool_id: _Optional[str] = ..., from_sku_id: _Optional[str] = ..., to_pool_id: _Optional[str] = ..., to_sku_id: _Optional[str] = ..., keys: _Optional[int] = ..., actor: _Optional[str] = ...) -> None: ...

class BundleComponent(_message.Message):
    __slots__ = ("sku_id", "quantity", "points", "membership")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    quantity: int
    points: PointsComponent
    membership: MembershipComponent
    def __init__(self, sku_id: _Optional[str] = ..., quantity: _Optional[int] = ..., points: _Optional[_Union[PointsComponent, _Mapping]] = ..., membership: _Optional[_Union[MembershipComponent, _Mapping]] = ...) -> None: ...

class PointsComponent(_message.Message):
    __slots__ = ("points", "value")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    points: int
    value: _money_pb2.Money
    def __init__(self, points: _Optional[int] = ..., value: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class MembershipComponent(_message.Message):
    __slots__ = ("plan", "days", "cost")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    plan: str
    days: int
    cost: _money_pb2.Money
    def __init__(self, plan: _Optional[str] = ..., days: _Optional[int] = ..., cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class ReservedEntitlement(_message.Message):
    __slots__ = ("line_no", "unit_no", "bundle_sku_id", "points", "membership")
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_NO_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_SKU_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    line_no: int
    unit_no: int
    bundle_sku_id: str
    points: PointsComponent
    membership: MembershipComponent
    def __init__(self, line_no: _Optional[int] = ..., unit_no: _Optional[int] = ..., bundle_sku_id: _Optional[str] = ..., points: _Optional[_Union[PointsComponent, _Mapping]] = ..., membership: _Optional[_Union[MembershipComponent, _Mapping]] = ...) -> None: ...

class BundleDefined(_message.Message):
    __slots__ = ("sku_id", "components")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    components: _containers.RepeatedCompositeFieldContainer[BundleComponent]
    def __init__(self, sku_id: _Optional[str] = ..., components: _Optional[_Iterable[_Union[BundleComponent, _Mapping]]] = ...) -> None: ...

class HeldKey(_message.Message):
    __slots__ = ("key_id", "sku_id", "pool_id", "line_no", "unit_no")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_NO_FIELD_NUMBER: _ClassVar[int]
    UNIT_NO_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    sku_id: str
    pool_id: str
    line_no: int
    unit_no: int
    def __init__(self, key_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., line_no: _Optional[int] = ..., unit_no: _Optional[int] = ...) -> None: ...

class KeysDelivered(_message.Message):
    __slots__ = ("order_id", "keys", "delivery_event_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    keys: _containers.RepeatedCompositeFieldContainer[HeldKey]
    delivery_event_id: str
    def __init__(self, order_id: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[HeldKey, _Mapping]]] = ..., delivery_event_id: _Optional[str] = ...) -> None: ...

class KeysRedeemed(_message.Message):
    __slots__ = ("order_id", "keys", "partner", "redeemed_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    keys: _containers.RepeatedCompositeFieldContainer[HeldKey]
    partner: str
    redeemed_at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[HeldKey, _Mapping]]] = ..., partner: _Optional[str] = ..., redeemed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RefundKeysSettled(_message.Message):
    __slots__ = ("order_id", "refund_id", "released", "voided", "redeemed", "actor", "override_redeemed", "note", "voided_undelivered")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_REDEEMED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    VOIDED_UNDELIVERED_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    refund_id: str
    released: _containers.RepeatedCompositeFieldContainer[HeldKey]
    voided: _containers.RepeatedCompositeFieldContainer[HeldKey]
    redeemed: _containers.RepeatedCompositeFieldContainer[HeldKey]
    actor: str
    override_redeemed: bool
    note: str
    voided_undelivered: _containers.RepeatedCompositeFieldContainer[HeldKey]
    def __init__(self, order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., released: _Optional[_Iterable[_Union[HeldKey, _Mapping]]] = ..., voided: _Optional[_Iterable[_Union[HeldKey, _Mapping]]] = ..., redeemed: _Optional[_Iterable[_Union[HeldKey, _Mapping]]] = ..., actor: _Optional[str] = ..., override_redeemed: _Optional[bool] = ..., note: _Optional[str] = ..., voided_undelivered: _Optional[_Iterable[_Union[HeldKey, _Mapping]]] = ...) -> None: ...

class RefundKeysRefused(_message.Message):
    __slots__ = ("order_id", "refund_id", "reason", "actor")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    refund_id: str
    reason: str
    actor: str
    def __init__(self, order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class RefundedKeyRedeemed(_message.Message):
    __slots__ = ("order_id", "key", "refund_id", "taken", "partner", "redeemed_at", "redemption_event_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    TAKEN_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_AT_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    key: HeldKey
    refund_id: str
    taken: str
    partner: str
    redeemed_at: _timestamp_pb2.Timestamp
    redemption_event_id: str
    def __init__(self, order_id: _Optional[str] = ..., key: _Optional[_Union[HeldKey, _Mapping]] = ..., refund_id: _Optional[str] = ..., taken: _Optional[str] = ..., partner: _Optional[str] = ..., redeemed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., redemption_event_id: _Optional[str] = ...) -> None: ...

class KeyFileImportStarted(_message.Message):
    __slots__ = ("job_id", "pool_id", "file_name", "actor", "bytes_total")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    pool_id: str
    file_name: str
    actor: str
    bytes_total: int
    def __init__(self, job_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., file_name: _Optional[str] = ..., actor: _Optional[str] = ..., bytes_total: _Optional[int] = ...) -> None: ...

class KeyFileImportProgressed(_message.Message):
    __slots__ = ("job_id", "stage", "rows_read", "bytes_read")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ROWS_READ_FIELD_NUMBER: _ClassVar[int]
    BYTES_READ_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    stage: str
    rows_read: int
    bytes_read: int
    def __init__(self, job_id: _Optional[str] = ..., stage: _Optional[str] = ..., rows_read: _Optional[int] = ..., bytes_read: _Optional[int] = ...) -> None: ...

class ImportBadRow(_message.Message):
    __slots__ = ("line", "reason")
    LINE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    line: int
    reason: str
    def __init__(self, line: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class KeyFileImportFinished(_message.Message):
    __slots__ = ("job_id", "failed", "error", "batch_id", "imported", "duplicates_in_file", "duplicates_in_pool", "rejected", "rows", "file_sha256", "aborted", "bad_rows")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_IN_FILE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_IN_POOL_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
    ABORTED_FIELD_NUMBER: _ClassVar[int]
    BAD_ROWS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    failed: bool
    error: str
    batch_id: str
    imported: int
    duplicates_in_file: int
    duplicates_in_pool: int
    rejected: int
    rows: int
    file_sha256: str
    aborted: bool
    bad_rows: _containers.RepeatedCompositeFieldContainer[ImportBadRow]
    def __init__(self, job_id: _Optional[str] = ..., failed: _Optional[bool] = ..., error: _Optional[str] = ..., batch_id: _Optional[str] = ..., imported: _Optional[int] = ..., duplicates_in_file: _Optional[int] = ..., duplicates_in_pool: _Optional[int] = ..., rejected: _Optional[int] = ..., rows: _Optional[int] = ..., file_sha256: _Optional[str] = ..., aborted: _Optional[bool] = ..., bad_rows: _Optional[_Iterable[_Union[ImportBadRow, _Mapping]]] = ...) -> None: ...
