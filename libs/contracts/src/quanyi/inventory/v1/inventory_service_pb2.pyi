import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from quanyi.common.v1 import money_pb2 as _money_pb2
from quanyi.inventory.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImportMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_MODE_UNSPECIFIED: _ClassVar[ImportMode]
    IMPORT_MODE_ALL_OR_NOTHING: _ClassVar[ImportMode]
    IMPORT_MODE_VALID_ROWS: _ClassVar[ImportMode]
IMPORT_MODE_UNSPECIFIED: ImportMode
IMPORT_MODE_ALL_OR_NOTHING: ImportMode
IMPORT_MODE_VALID_ROWS: ImportMode

class Sku(_message.Message):
    __slots__ = ("sku_id", "product_id", "name", "price", "available", "low_stock_threshold")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    LOW_STOCK_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    product_id: str
    name: str
    price: _money_pb2.Money
    available: int
    low_stock_threshold: int
    def __init__(self, sku_id: _Optional[str] = ..., product_id: _Optional[str] = ..., name: _Optional[str] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., available: _Optional[int] = ..., low_stock_threshold: _Optional[int] = ...) -> None: ...

class CreateProductRequest(_message.Message):
    __slots__ = ("name", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class CreateProductResponse(_message.Message):
    __slots__ = ("product_id", "name", "kind")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    name: str
    kind: str
    def __init__(self, product_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class CreateSkuRequest(_message.Message):
    __slots__ = ("product_id", "name", "price", "low_stock_threshold", "allocation_strategy", "components")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    LOW_STOCK_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    name: str
    price: _money_pb2.Money
    low_stock_threshold: int
    allocation_strategy: _events_pb2.AllocationStrategy
    components: _containers.RepeatedCompositeFieldContainer[_events_pb2.BundleComponent]
    def __init__(self, product_id: _Optional[str] = ..., name: _Optional[str] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., low_stock_threshold: _Optional[int] = ..., allocation_strategy: _Optional[_Union[_events_pb2.AllocationStrategy, str]] = ..., components: _Optional[_Iterable[_Union[_events_pb2.BundleComponent, _Mapping]]] = ...) -> None: ...

class CreateSkuResponse(_message.Message):
    __slots__ = ("sku",)
    SKU_FIELD_NUMBER: _ClassVar[int]
    sku: Sku
    def __init__(self, sku: _Optional[_Union[Sku, _Mapping]] = ...) -> None: ...

class GetSkuRequest(_message.Message):
    __slots__ = ("sku_id",)
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    def __init__(self, sku_id: _Optional[str] = ...) -> None: ...

class GetSkuResponse(_message.Message):
    __slots__ = ("sku",)
    SKU_FIELD_NUMBER: _ClassVar[int]
    sku: Sku
    def __init__(self, sku: _Optional[_Union[Sku, _Mapping]] = ...) -> None: ...

class ListSkusRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSkusResponse(_message.Message):
    __slots__ = ("skus", "next_page_token")
    SKUS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    skus: _containers.RepeatedCompositeFieldContainer[Sku]
    next_page_token: str
    def __init__(self, skus: _Optional[_Iterable[_Union[Sku, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreatePoolRequest(_message.Message):
    __slots__ = ("sku_id", "name", "priority")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    name: str
    priority: int
    def __init__(self, sku_id: _Optional[str] = ..., name: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class CreatePoolResponse(_message.Message):
    __slots__ = ("pool_id", "sku_id", "name")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    sku_id: str
    name: str
    def __init__(self, pool_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ImportKeysRequest(_message.Message):
    __slots__ = ("pool_id", "csv", "unit_cost", "actor")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    CSV_FIELD_NUMBER: _ClassVar[int]
    UNIT_COST_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    csv: bytes
    unit_cost: _money_pb2.Money
    actor: str
    def __init__(self, pool_id: _Optional[str] = ..., csv: _Optional[bytes] = ..., unit_cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class RejectedRow(_message.Message):
    __slots__ = ("row", "reason")
    ROW_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    row: int
    reason: str
    def __init__(self, row: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ImportKeysResponse(_message.Message):
    __slots__ = ("batch_id", "imported", "duplicates", "rejected")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    imported: int
    duplicates: int
    rejected: _containers.RepeatedCompositeFieldContainer[RejectedRow]
    def __init__(self, batch_id: _Optional[str] = ..., imported: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[RejectedRow, _Mapping]]] = ...) -> None: ...

class RevealKeysRequest(_message.Message):
    __slots__ = ("order_id", "actor", "purpose", "key_ids")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    actor: str
    purpose: str
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, order_id: _Optional[str] = ..., actor: _Optional[str] = ..., purpose: _Optional[str] = ..., key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RevealedKey(_message.Message):
    __slots__ = ("key_id", "sku_id", "code", "password")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    sku_id: str
    code: str
    password: str
    def __init__(self, key_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., code: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class RevealKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[RevealedKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[RevealedKey, _Mapping]]] = ...) -> None: ...

class RevealOrdersKeysRequest(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[RevealKeysRequest]
    def __init__(self, orders: _Optional[_Iterable[_Union[RevealKeysRequest, _Mapping]]] = ...) -> None: ...

class OrderKeysRevealed(_message.Message):
    __slots__ = ("order_id", "keys", "status_code", "status_message")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    keys: _containers.RepeatedCompositeFieldContainer[RevealedKey]
    status_code: int
    status_message: str
    def __init__(self, order_id: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[RevealedKey, _Mapping]]] = ..., status_code: _Optional[int] = ..., status_message: _Optional[str] = ...) -> None: ...

class RevealOrdersKeysResponse(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[OrderKeysRevealed]
    def __init__(self, orders: _Optional[_Iterable[_Union[OrderKeysRevealed, _Mapping]]] = ...) -> None: ...

class FindKeyRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class FindKeyResponse(_message.Message):
    __slots__ = ("key_id", "order_id", "sku_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    order_id: str
    sku_id: str
    def __init__(self, key_id: _Optional[str] = ..., order_id: _Optional[str] = ..., sku_id: _Optional[str] = ...) -> None: ...

class ImportKeyFileHeader(_message.Message):
    __slots__ = ("pool_id", "format", "file_name", "unit_cost", "actor", "mode", "job_id")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_COST_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    format: str
    file_name: str
    unit_cost: _money_pb2.Money
    actor: str
    mode: ImportMode
    job_id: str
    def __init__(self, pool_id: _Optional[str] = ..., format: _Optional[str] = ..., file_name: _Optional[str] = ..., unit_cost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., actor: _Optional[str] = ..., mode: _Optional[_Union[ImportMode, str]] = ..., job_id: _Optional[str] = ...) -> None: ...

class ImportKeyFileRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ImportKeyFileHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ImportKeyFileHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class BadRow(_message.Message):
    __slots__ = ("line", "reason")
    LINE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    line: int
    reason: str
    def __init__(self, line: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ImportKeyFileResult(_message.Message):
    __slots__ = ("batch_id", "imported", "duplicates_in_file", "duplicates_in_pool", "rejected", "rows", "file_sha256", "aborted", "bad_rows")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_IN_FILE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_IN_POOL_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
    ABORTED_FIELD_NUMBER: _ClassVar[int]
    BAD_ROWS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    imported: int
    duplicates_in_file: int
    duplicates_in_pool: int
    rejected: int
    rows: int
    file_sha256: str
    aborted: bool
    bad_rows: _containers.RepeatedCompositeFieldContainer[BadRow]
    def __init__(self, batch_id: _Optional[str] = ..., imported: _Optional[int] = ..., duplicates_in_file: _Optional[int] = ..., duplicates_in_pool: _Optional[int] = ..., rejected: _Optional[int] = ..., rows: _Optional[int] = ..., file_sha256: _Optional[str] = ..., aborted: _Optional[bool] = ..., bad_rows: _Optional[_Iterable[_Union[BadRow, _Mapping]]] = ...) -> None: ...

class ImportKeyFileResponse(_message.Message):
    __slots__ = ("rows_read", "bytes_read", "bytes_total", "stage", "result", "job_id")
    ROWS_READ_FIELD_NUMBER: _ClassVar[int]
    BYTES_READ_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    rows_read: int
    bytes_read: int
    bytes_total: int
    stage: str
    result: ImportKeyFileResult
    job_id: str
    def __init__(self, rows_read: _Optional[int] = ..., bytes_read: _Optional[int] = ..., bytes_total: _Optional[int] = ..., stage: _Optional[str] = ..., result: _Optional[_Union[ImportKeyFileResult, _Mapping]] = ..., job_id: _Optional[str] = ...) -> None: ...

class KeyFileImport(_message.Message):
    __slots__ = ("job_id", "pool_id", "file_name", "actor", "status", "stage", "rows_read", "bytes_read", "bytes_total", "created_at", "finished_at", "result", "error")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ROWS_READ_FIELD_NUMBER: _ClassVar[int]
    BYTES_READ_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    pool_id: str
    file_name: str
    actor: str
    status: str
    stage: str
    rows_read: int
    bytes_read: int
    bytes_total: int
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    result: ImportKeyFileResult
    error: str
    def __init__(self, job_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., file_name: _Optional[str] = ..., actor: _Optional[str] = ..., status: _Optional[str] = ..., stage: _Optional[str] = ..., rows_read: _Optional[int] = ..., bytes_read: _Optional[int] = ..., bytes_total: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[_Union[ImportKeyFileResult, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class GetKeyFileImportRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetKeyFileImportResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: KeyFileImport
    def __init__(self, job: _Optional[_Union[KeyFileImport, _Mapping]] = ...) -> None: ...

class ListKeyFileImportsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListKeyFileImportsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[KeyFileImport]
    def __init__(self, jobs: _Optional[_Iterable[_Union[KeyFileImport, _Mapping]]] = ...) -> None: ...

class RotateMasterKeyRequest(_message.Message):
    __slots__ = ("master_key_id", "actor")
    MASTER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    master_key_id: str
    actor: str
    def __init__(self, master_key_id: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class RotateMasterKeyResponse(_message.Message):
    __slots__ = ("master_key_id", "rewrapped")
    MASTER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REWRAPPED_FIELD_NUMBER: _ClassVar[int]
    master_key_id: str
    rewrapped: int
    def __init__(self, master_key_id: _Optional[str] = ..., rewrapped: _Optional[int] = ...) -> None: ...

class VoidBatchRequest(_message.Message):
    __slots__ = ("batch_id", "actor", "reason")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    actor: str
    reason: str
    def __init__(self, batch_id: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class VoidBatchResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: int
    def __init__(self, keys: _Optional[int] = ...) -> None: ...

class RestoreBatchRequest(_message.Message):
    __slots__ = ("batch_id", "actor")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    actor: str
    def __init__(self, batch_id: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class RestoreBatchResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: int
    def __init__(self, keys: _Optional[int] = ...) -> None: ...

class ListBatchesRequest(_message.Message):
    __slots__ = ("pool_id", "voided_only", "page_size", "page_token")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    VOIDED_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    voided_only: bool
    page_size: int
    page_token: str
    def __init__(self, pool_id: _Optional[str] = ..., voided_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class KeyBatch(_message.Message):
    __slots__ = ("batch_id", "pool_id", "sku_id", "imported", "actor", "imported_at", "file_sha256", "file_name", "voided", "keys_by_state")
    class KeysByStateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FIELD_NUMBER: _ClassVar[int]
    KEYS_BY_STATE_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    pool_id: str
    sku_id: str
    imported: int
    actor: str
    imported_at: _timestamp_pb2.Timestamp
    file_sha256: str
    file_name: str
    voided: bool
    keys_by_state: _containers.ScalarMap[str, int]
    def __init__(self, batch_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., imported: _Optional[int] = ..., actor: _Optional[str] = ..., imported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., file_sha256: _Optional[str] = ..., file_name: _Optional[str] = ..., voided: _Optional[bool] = ..., keys_by_state: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ListBatchesResponse(_message.Message):
    __slots__ = ("batches", "next_page_token")
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    batches: _containers.RepeatedCompositeFieldContainer[KeyBatch]
    next_page_token: str
    def __init__(self, batches: _Optional[_Iterable[_Union[KeyBatch, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportKeysRequest(_message.Message):
    __slots__ = ("batch_id", "pool_id", "state", "expires_before", "with_codes", "actor", "key_ids")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    WITH_CODES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    pool_id: str
    state: str
    expires_before: _timestamp_pb2.Timestamp
    with_codes: bool
    actor: str
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, batch_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., state: _Optional[str] = ..., expires_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., with_codes: _Optional[bool] = ..., actor: _Optional[str] = ..., key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportedKey(_message.Message):
    __slots__ = ("key_id", "batch_id", "pool_id", "sku_id", "state", "valid_from", "expires_at", "order_id", "code", "password")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    batch_id: str
    pool_id: str
    sku_id: str
    state: str
    valid_from: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    order_id: str
    code: str
    password: str
    def __init__(self, key_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., state: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order_id: _Optional[str] = ..., code: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class ExportKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[ExportedKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[ExportedKey, _Mapping]]] = ...) -> None: ...

class ListPoolOperationsRequest(_message.Message):
    __slots__ = ("pool_id", "page_size", "page_token")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    page_size: int
    page_token: str
    def __init__(self, pool_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class PoolOperation(_message.Message):
    __slots__ = ("operation_id", "at", "action", "actor", "pool_id", "sku_id", "batch_id", "keys", "detail")
    OPERATION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    operation_id: str
    at: _timestamp_pb2.Timestamp
    action: str
    actor: str
    pool_id: str
    sku_id: str
    batch_id: str
    keys: int
    detail: str
    def __init__(self, operation_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., pool_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., keys: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class ListPoolOperationsResponse(_message.Message):
    __slots__ = ("operations", "next_page_token")
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    operations: _containers.RepeatedCompositeFieldContainer[PoolOperation]
    next_page_token: str
    def __init__(self, operations: _Optional[_Iterable[_Union[PoolOperation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MoveBatchRequest(_message.Message):
    __slots__ = ("batch_id", "to_pool_id", "actor")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    TO_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    to_pool_id: str
    actor: str
    def __init__(self, batch_id: _Optional[str] = ..., to_pool_id: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class MoveBatchResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: int
    def __init__(self, keys: _Optional[int] = ...) -> None: ...

class SetPoolPriorityRequest(_message.Message):
    __slots__ = ("pool_id", "priority")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    priority: int
    def __init__(self, pool_id: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class SetPoolPriorityResponse(_message.Message):
    __slots__ = ("pool_id", "sku_id", "priority")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    sku_id: str
    priority: int
    def __init__(self, pool_id: _Optional[str] = ..., sku_id: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class SetLowStockThresholdRequest(_message.Message):
    __slots__ = ("sku_id", "low_stock_threshold")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    LOW_STOCK_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    low_stock_threshold: int
    def __init__(self, sku_id: _Optional[str] = ..., low_stock_threshold: _Optional[int] = ...) -> None: ...

class SetLowStockThresholdResponse(_message.Message):
    __slots__ = ("sku",)
    SKU_FIELD_NUMBER: _ClassVar[int]
    sku: Sku
    def __init__(self, sku: _Optional[_Union[Sku, _Mapping]] = ...) -> None: ...

class GetStockHistoryRequest(_message.Message):
    __slots__ = ("sku_id", "from_day", "to_day")
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_DAY_FIELD_NUMBER: _ClassVar[int]
    TO_DAY_FIELD_NUMBER: _ClassVar[int]
    sku_id: str
    from_day: str
    to_day: str
    def __init__(self, sku_id: _Optional[str] = ..., from_day: _Optional[str] = ..., to_day: _Optional[str] = ...) -> None: ...

class StockDay(_message.Message):
    __slots__ = ("day", "available", "imported", "reserved", "released", "expired", "voided", "moved")
    DAY_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    day: str
    available: int
    imported: int
    reserved: int
    released: int
    expired: int
    voided: int
    moved: int
    def __init__(self, day: _Optional[str] = ..., available: _Optional[int] = ..., imported: _Optional[int] = ..., reserved: _Optional[int] = ..., released: _Optional[int] = ..., expired: _Optional[int] = ..., voided: _Optional[int] = ..., moved: _Optional[int] = ...) -> None: ...

class GetStockHistoryResponse(_message.Message):
    __slots__ = ("days",)
    DAYS_FIELD_NUMBER: _ClassVar[int]
    days: _containers.RepeatedCompositeFieldContainer[StockDay]
    def __init__(self, days: _Optional[_Iterable[_Union[StockDay, _Mapping]]] = ...) -> None: ...
