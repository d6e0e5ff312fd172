from vecdb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EncodeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENCODE_KIND_UNSPECIFIED: _ClassVar[EncodeKind]
    DENSE: _ClassVar[EncodeKind]
    MULTI: _ClassVar[EncodeKind]
    SPARSE: _ClassVar[EncodeKind]

class TextRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEXT_ROLE_UNSPECIFIED: _ClassVar[TextRole]
    DOCUMENT: _ClassVar[TextRole]
    QUERY: _ClassVar[TextRole]
ENCODE_KIND_UNSPECIFIED: EncodeKind
DENSE: EncodeKind
MULTI: EncodeKind
SPARSE: EncodeKind
TEXT_ROLE_UNSPECIFIED: TextRole
DOCUMENT: TextRole
QUERY: TextRole

class EncodeRequest(_message.Message):
    __slots__ = ("texts", "kind", "model", "role")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    kind: EncodeKind
    model: str
    role: TextRole
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[EncodeKind, str]] = ..., model: _Optional[str] = ..., role: _Optional[_Union[TextRole, str]] = ...) -> None: ...

class EncodedText(_message.Message):
    __slots__ = ("vector", "truncated", "n_tokens")
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    N_TOKENS_FIELD_NUMBER: _ClassVar[int]
    vector: _common_pb2.VectorInput
    truncated: bool
    n_tokens: int
    def __init__(self, vector: _Optional[_Union[_common_pb2.VectorInput, _Mapping]] = ..., truncated: _Optional[bool] = ..., n_tokens: _Optional[int] = ...) -> None: ...

class EncodeResponse(_message.Message):
    __slots__ = ("results", "model", "model_hash")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EncodedText]
    model: str
    model_hash: str
    def __init__(self, results: _Optional[_Iterable[_Union[EncodedText, _Mapping]]] = ..., model: _Optional[str] = ..., model_hash: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "hash", "dim", "max_tokens", "kinds", "device")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    name: str
    hash: str
    dim: int
    max_tokens: int
    kinds: _containers.RepeatedScalarFieldContainer[EncodeKind]
    device: str
    def __init__(self, name: _Optional[str] = ..., hash: _Optional[str] = ..., dim: _Optional[int] = ..., max_tokens: _Optional[int] = ..., kinds: _Optional[_Iterable[_Union[EncodeKind, str]]] = ..., device: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...
