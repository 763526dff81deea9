from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContactStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTACT_STATUS_UNSPECIFIED: _ClassVar[ContactStatus]
    CONTACT_STATUS_ACTIVE: _ClassVar[ContactStatus]
    CONTACT_STATUS_UNKNOWN: _ClassVar[ContactStatus]
    CONTACT_STATUS_ERASED: _ClassVar[ContactStatus]
CONTACT_STATUS_UNSPECIFIED: ContactStatus
CONTACT_STATUS_ACTIVE: ContactStatus
CONTACT_STATUS_UNKNOWN: ContactStatus
CONTACT_STATUS_ERASED: ContactStatus

class GetContactsRequest(_message.Message):
    __slots__ = ("buyer_ids", "purpose")
    BUYER_IDS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    buyer_ids: _containers.RepeatedScalarFieldContainer[str]
    purpose: str
    def __init__(self, buyer_ids: _Optional[_Iterable[str]] = ..., purpose: _Optional[str] = ...) -> None: ...

class DeliveryTarget(_message.Message):
    __slots__ = ("channel", "target")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    channel: str
    target: str
    def __init__(self, channel: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class BuyerContact(_message.Message):
    __slots__ = ("buyer_id", "email", "status", "targets")
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    buyer_id: str
    email: str
    status: ContactStatus
    targets: _containers.RepeatedCompositeFieldContainer[DeliveryTarget]
    def __init__(self, buyer_id: _Optional[str] = ..., email: _Optional[str] = ..., status: _Optional[_Union[ContactStatus, str]] = ..., targets: _Optional[_Iterable[_Union[DeliveryTarget, _Mapping]]] = ...) -> None: ...

class GetContactsResponse(_message.Message):
    __slots__ = ("contacts",)
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    contacts: _containers.RepeatedCompositeFieldContainer[BuyerContact]
    def __init__(self, contacts: _Optional[_Iterable[_Union[BuyerContact, _Mapping]]] = ...) -> None: ...
