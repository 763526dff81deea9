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

class MismatchKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISMATCH_KIND_UNSPECIFIED: _ClassVar[MismatchKind]
    MISMATCH_KIND_MISSING_IN_LEDGER: _ClassVar[MismatchKind]
    MISMATCH_KIND_MISSING_IN_STATEMENT: _ClassVar[MismatchKind]
    MISMATCH_KIND_AMOUNT: _ClassVar[MismatchKind]
MISMATCH_KIND_UNSPECIFIED: MismatchKind
MISMATCH_KIND_MISSING_IN_LEDGER: MismatchKind
MISMATCH_KIND_MISSING_IN_STATEMENT: MismatchKind
MISMATCH_KIND_AMOUNT: MismatchKind

class LedgerPosted(_message.Message):
    __slots__ = ("entry_seq", "source_event_id", "kind", "hash")
    ENTRY_SEQ_FIELD_NUMBER: _ClassVar[int]
    SOURCE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    entry_seq: int
    source_event_id: str
    kind: str
    hash: str
    def __init__(self, entry_seq: _Optional[int] = ..., source_event_id: _Optional[str] = ..., kind: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class EntriesPosted(_message.Message):
    __slots__ = ("entries", "totals")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[PostedEntry]
    totals: _containers.RepeatedCompositeFieldContainer[AccountChange]
    def __init__(self, entries: _Optional[_Iterable[_Union[PostedEntry, _Mapping]]] = ..., totals: _Optional[_Iterable[_Union[AccountChange, _Mapping]]] = ...) -> None: ...

class AccountChange(_message.Message):
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

class PostedEntry(_message.Message):
    __slots__ = ("seq", "source_event_id", "kind", "occurred_at", "lines", "prev_hash", "hash", "memo", "correlation_id", "reference")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SOURCE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    source_event_id: str
    kind: str
    occurred_at: _timestamp_pb2.Timestamp
    lines: _containers.RepeatedCompositeFieldContainer[JournalLine]
    prev_hash: str
    hash: str
    memo: str
    correlation_id: str
    reference: str
    def __init__(self, seq: _Optional[int] = ..., source_event_id: _Optional[str] = ..., kind: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[JournalLine, _Mapping]]] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ..., memo: _Optional[str] = ..., correlation_id: _Optional[str] = ..., reference: _Optional[str] = ...) -> None: ...

class JournalLine(_message.Message):
    __slots__ = ("account", "debit_minor", "credit_minor", "currency", "sku_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    DEBIT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CREDIT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    SKU_ID_FIELD_NUMBER: _ClassVar[int]
    account: str
    debit_minor: int
    credit_minor: int
    currency: str
    sku_id: str
    def __init__(self, account: _Optional[str] = ..., debit_minor: _Optional[int] = ..., credit_minor: _Optional[int] = ..., currency: _Optional[str] = ..., sku_id: _Optional[str] = ...) -> None: ...

class ReconciliationMismatch(_message.Message):
    __slots__ = ("provider", "provider_txn_id", "detail", "statement_id", "mismatch_id", "kind", "order_id", "ledger_amount", "statement_amount", "txn_kind")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TXN_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LEDGER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TXN_KIND_FIELD_NUMBER: _ClassVar[int]
    provider: str
    provider_txn_id: str
    detail: str
    statement_id: str
    mismatch_id: str
    kind: MismatchKind
    order_id: str
    ledger_amount: _money_pb2.Money
    statement_amount: _money_pb2.Money
    txn_kind: str
    def __init__(self, provider: _Optional[str] = ..., provider_txn_id: _Optional[str] = ..., detail: _Optional[str] = ..., statement_id: _Optional[str] = ..., mismatch_id: _Optional[str] = ..., kind: _Optional[_Union[MismatchKind, str]] = ..., order_id: _Optional[str] = ..., ledger_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., statement_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., txn_kind: _Optional[str] = ...) -> None: ...

class StatementReconciled(_message.Message):
    __slots__ = ("statement_id", "provider", "bill_date", "file_sha256", "matched", "missing_in_ledger", "missing_in_statement", "amount_mismatches", "fee_total", "payment_total", "refund_total", "actor")
    STATEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    BILL_DATE_FIELD_NUMBER: _ClassVar[int]
    FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    MISSING_IN_LEDGER_FIELD_NUMBER: _ClassVar[int]
    MISSING_IN_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    FEE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_TOTAL_FIELD_NUMBER: _ClassVar[int]
    REFUND_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    statement_id: str
    provider: str
    bill_date: str
    file_sha256: str
    matched: int
    missing_in_ledger: int
    missing_in_statement: int
    amount_mismatches: int
    fee_total: _money_pb2.Money
    payment_total: _money_pb2.Money
    refund_total: _money_pb2.Money
    actor: str
    def __init__(self, statement_id: _Optional[str] = ..., provider: _Optional[str] = ..., bill_date: _Optional[str] = ..., file_sha256: _Optional[str] = ..., matched: _Optional[int] = ..., missing_in_ledger: _Optional[int] = ..., missing_in_statement: _Optional[int] = ..., amount_mismatches: _Optional[int] = ..., fee_total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., payment_total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., refund_total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class MismatchResolved(_message.Message):
    __slots__ = ("mismatch_id", "actor", "note", "adjustment", "provider")
    MISMATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    mismatch_id: str
    actor: str
    note: str
    adjustment: _money_pb2.Money
    provider: str
    def __init__(self, mismatch_id: _Optional[str] = ..., actor: _Optional[str] = ..., note: _Optional[str] = ..., adjustment: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., provider: _Optional[str] = ...) -> None: ...

class ChainHeadSigned(_message.Message):
    __slots__ = ("seq", "hash", "signed_at", "public_key", "signature", "actor")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    seq: int
    hash: str
    signed_at: _timestamp_pb2.Timestamp
    public_key: str
    signature: str
    actor: str
    def __init__(self, seq: _Optional[int] = ..., hash: _Optional[str] = ..., signed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., public_key: _Optional[str] = ..., signature: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class ReportExported(_message.Message):
    __slots__ = ("actor", "report", "format", "rows", "head_seq")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    actor: str
    report: str
    format: str
    rows: int
    head_seq: int
    def __init__(self, actor: _Optional[str] = ..., report: _Optional[str] = ..., format: _Optional[str] = ..., rows: _Optional[int] = ..., head_seq: _Optional[int] = ...) -> None: ...
