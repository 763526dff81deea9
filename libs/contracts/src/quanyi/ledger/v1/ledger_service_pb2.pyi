import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from quanyi.common.v1 import money_pb2 as _money_pb2
from quanyi.ledger.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReportPeriod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_PERIOD_UNSPECIFIED: _ClassVar[ReportPeriod]
    REPORT_PERIOD_DAY: _ClassVar[ReportPeriod]
    REPORT_PERIOD_WEEK: _ClassVar[ReportPeriod]
    REPORT_PERIOD_MONTH: _ClassVar[ReportPeriod]

class ReportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_FORMAT_UNSPECIFIED: _ClassVar[ReportFormat]
    REPORT_FORMAT_CSV: _ClassVar[ReportFormat]
    REPORT_FORMAT_XLSX: _ClassVar[ReportFormat]
REPORT_PERIOD_UNSPECIFIED: ReportPeriod
REPORT_PERIOD_DAY: ReportPeriod
REPORT_PERIOD_WEEK: ReportPeriod
REPORT_PERIOD_MONTH: ReportPeriod
REPORT_FORMAT_UNSPECIFIED: ReportFormat
REPORT_FORMAT_CSV: ReportFormat
REPORT_FORMAT_XLSX: ReportFormat

class GetBalancesRequest(_message.Message):
    __slots__ = ("account_prefix", "as_of")
    ACCOUNT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    account_prefix: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, account_prefix: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Balance(_message.Message):
    __slots__ = ("account", "balance_minor", "currency")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    account: str
    balance_minor: int
    currency: str
    def __init__(self, account: _Optional[str] = ..., balance_minor: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class GetBalancesResponse(_message.Message):
    __slots__ = ("balances",)
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    balances: _containers.RepeatedCompositeFieldContainer[Balance]
    def __init__(self, balances: _Optional[_Iterable[_Union[Balance, _Mapping]]] = ...) -> None: ...

class GetTrialBalanceRequest(_message.Message):
    __slots__ = ("as_of",)
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TrialBalanceRow(_message.Message):
    __slots__ = ("account", "currency", "debit_minor", "credit_minor")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    DEBIT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CREDIT_MINOR_FIELD_NUMBER: _ClassVar[int]
    account: str
    currency: str
    debit_minor: int
    credit_minor: int
    def __init__(self, account: _Optional[str] = ..., currency: _Optional[str] = ..., debit_minor: _Optional[int] = ..., credit_minor: _Optional[int] = ...) -> None: ...

class GetTrialBalanceResponse(_message.Message):
    __slots__ = ("rows", "balanced", "head_seq")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BALANCED_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[TrialBalanceRow]
    balanced: bool
    head_seq: int
    def __init__(self, rows: _Optional[_Iterable[_Union[TrialBalanceRow, _Mapping]]] = ..., balanced: _Optional[bool] = ..., head_seq: _Optional[int] = ...) -> None: ...

class VerifyJournalRequest(_message.Message):
    __slots__ = ("head_seq", "head_hash")
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    head_seq: int
    head_hash: str
    def __init__(self, head_seq: _Optional[int] = ..., head_hash: _Optional[str] = ...) -> None: ...

class VerifyJournalResponse(_message.Message):
    __slots__ = ("ok", "entries", "problems")
    OK_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    entries: int
    problems: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ok: _Optional[bool] = ..., entries: _Optional[int] = ..., problems: _Optional[_Iterable[str]] = ...) -> None: ...

class SignChainHeadRequest(_message.Message):
    __slots__ = ("actor",)
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    actor: str
    def __init__(self, actor: _Optional[str] = ...) -> None: ...

class SignChainHeadResponse(_message.Message):
    __slots__ = ("head", "statement")
    HEAD_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    head: _events_pb2.ChainHeadSigned
    statement: bytes
    def __init__(self, head: _Optional[_Union[_events_pb2.ChainHeadSigned, _Mapping]] = ..., statement: _Optional[bytes] = ...) -> None: ...

class GetReportRequest(_message.Message):
    __slots__ = ("from_time", "to_time", "period", "group_by", "format", "actor")
    FROM_TIME_FIELD_NUMBER: _ClassVar[int]
    TO_TIME_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    from_time: _timestamp_pb2.Timestamp
    to_time: _timestamp_pb2.Timestamp
    period: ReportPeriod
    group_by: _containers.RepeatedScalarFieldContainer[str]
    format: ReportFormat
    actor: str
    def __init__(self, from_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., to_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period: _Optional[_Union[ReportPeriod, str]] = ..., group_by: _Optional[_Iterable[str]] = ..., format: _Optional[_Union[ReportFormat, str]] = ..., actor: _Optional[str] = ...) -> None: ...

class ReportRow(_message.Message):
    __slots__ = ("period", "channel", "sku_id", "currency", "sales_minor", "refunds_minor", "cost_minor", "margin_minor", "product_id", "discounts_minor")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SALES_MINOR_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_MINOR_FIELD_NUMBER: _ClassVar[int]
    COST_MINOR_FIELD_NUMBER: _ClassVar[int]
    MARGIN_MINOR_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    DISCOUNTS_MINOR_FIELD_NUMBER: _ClassVar[int]
    period: str
    channel: str
    sku_id: str
    currency: str
    sales_minor: int
    refunds_minor: int
    cost_minor: int
    margin_minor: int
    product_id: str
    discounts_minor: int
    def __init__(self, period: _Optional[str] = ..., channel: _Optional[str] = ..., sku_id: _Optional[str] = ..., currency: _Optional[str] = ..., sales_minor: _Optional[int] = ..., refunds_minor: _Optional[int] = ..., cost_minor: _Optional[int] = ..., margin_minor: _Optional[int] = ..., product_id: _Optional[str] = ..., discounts_minor: _Optional[int] = ...) -> None: ...

class GetReportResponse(_message.Message):
    __slots__ = ("rows", "content", "content_type", "filename")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[ReportRow]
    content: bytes
    content_type: str
    filename: str
    def __init__(self, rows: _Optional[_Iterable[_Union[ReportRow, _Mapping]]] = ..., content: _Optional[bytes] = ..., content_type: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class ReconcileStatementRequest(_message.Message):
    __slots__ = ("provider", "content", "actor", "ledger_provider")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    LEDGER_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    provider: str
    content: bytes
    actor: str
    ledger_provider: str
    def __init__(self, provider: _Optional[str] = ..., content: _Optional[bytes] = ..., actor: _Optional[str] = ..., ledger_provider: _Optional[str] = ...) -> None: ...

class ReconcileStatementResponse(_message.Message):
    __slots__ = ("statement", "mismatches", "already_reconciled")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    ALREADY_RECONCILED_FIELD_NUMBER: _ClassVar[int]
    statement: _events_pb2.StatementReconciled
    mismatches: _containers.RepeatedCompositeFieldContainer[_events_pb2.ReconciliationMismatch]
    already_reconciled: bool
    def __init__(self, statement: _Optional[_Union[_events_pb2.StatementReconciled, _Mapping]] = ..., mismatches: _Optional[_Iterable[_Union[_events_pb2.ReconciliationMismatch, _Mapping]]] = ..., already_reconciled: _Optional[bool] = ...) -> None: ...

class ListMismatchesRequest(_message.Message):
    __slots__ = ("include_resolved", "limit", "page_token")
    INCLUDE_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    include_resolved: bool
    limit: int
    page_token: str
    def __init__(self, include_resolved: _Optional[bool] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class Mismatch(_message.Message):
    __slots__ = ("mismatch", "resolved", "resolution", "found_at")
    MISMATCH_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    FOUND_AT_FIELD_NUMBER: _ClassVar[int]
    mismatch: _events_pb2.ReconciliationMismatch
    resolved: bool
    resolution: _events_pb2.MismatchResolved
    found_at: _timestamp_pb2.Timestamp
    def __init__(self, mismatch: _Optional[_Union[_events_pb2.ReconciliationMismatch, _Mapping]] = ..., resolved: _Optional[bool] = ..., resolution: _Optional[_Union[_events_pb2.MismatchResolved, _Mapping]] = ..., found_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListMismatchesResponse(_message.Message):
    __slots__ = ("mismatches", "next_page_token")
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    mismatches: _containers.RepeatedCompositeFieldContainer[Mismatch]
    next_page_token: str
    def __init__(self, mismatches: _Optional[_Iterable[_Union[Mismatch, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ResolveMismatchRequest(_message.Message):
    __slots__ = ("mismatch_id", "actor", "note", "adjustment")
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    mismatch_id: str
    actor: str
    note: str
    adjustment: _money_pb2.Money
    def __init__(self, mismatch_id: _Optional[str] = ..., actor: _Optional[str] = ..., note: _Optional[str] = ..., adjustment: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class ResolveMismatchResponse(_message.Message):
    __slots__ = ("mismatch",)
    MISMATCH_FIELD_NUMBER: _ClassVar[int]
    mismatch: Mismatch
    def __init__(self, mismatch: _Optional[_Union[Mismatch, _Mapping]] = ...) -> None: ...

class ListEntriesRequest(_message.Message):
    __slots__ = ("correlation_id", "reference")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    reference: str
    def __init__(self, correlation_id: _Optional[str] = ..., reference: _Optional[str] = ...) -> None: ...

class ListEntriesResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_events_pb2.PostedEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[_events_pb2.PostedEntry, _Mapping]]] = ...) -> None: ...
