from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

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

class ReconciliationMismatch(_message.Message):
    __slots__ = ("provider", "provider_txn_id", "detail")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TXN_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    provider: str
    provider_txn_id: str
    detail: str
    def __init__(self, provider: _Optional[str] = ..., provider_txn_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...
