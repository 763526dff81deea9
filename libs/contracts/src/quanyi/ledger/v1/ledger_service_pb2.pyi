from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetBalancesRequest(_message.Message):
    __slots__ = ("account_prefix",)
    ACCOUNT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    account_prefix: str
    def __init__(self, account_prefix: _Optional[str] = ...) -> None: ...

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

class VerifyJournalRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyJournalResponse(_message.Message):
    __slots__ = ("ok", "entries", "problems")
    OK_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    entries: int
    problems: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ok: _Optional[bool] = ..., entries: _Optional[int] = ..., problems: _Optional[_Iterable[str]] = ...) -> None: ...
