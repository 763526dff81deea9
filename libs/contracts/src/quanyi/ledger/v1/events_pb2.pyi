import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[PostedEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[PostedEntry, _Mapping]]] = ...) -> None: ...

class PostedEntry(_message.Message):
    __slots__ = ("seq", "source_event_id", "kind", "occurred_at", "lines", "prev_hash", "hash", "memo", "correlation_id")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SOURCE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    seq: int
    source_event_id: str
    kind: str
    occurred_at: _timestamp_pb2.Timestamp
    lines: _containers.RepeatedCompositeFieldContainer[JournalLine]
    prev_hash: str
    hash: str
    memo: str
    correlation_id: str
    def __init__(self, seq: _Optional[int] = ..., source_event_id: _Optional[str] = ..., kind: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[JournalLine, _Mapping]]] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ..., memo: _Optional[str] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class JournalLine(_message.Message):
    __slots__ = ("account", "debit_minor", "credit_minor", "currency")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    DEBIT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CREDIT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    account: str
    debit_minor: int
    credit_minor: int
    currency: str
    def __init__(self, account: _Optional[str] = ..., debit_minor: _Optional[int] = ..., credit_minor: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class ReconciliationMismatch(_message.Message):
    __slots__ = ("provider", "provider_txn_id", "detail")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TXN_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    provider: str
    provider_txn_id: str
    detail: str
    def __init__(self, provider: _Optional[str] = ..., provider_txn_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...
