from vecdb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PointBatch(_message.Message):
    __slots__ = ("ids", "vectors", "payloads_json", "texts")
    class VectorsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.Vector
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Vector, _Mapping]] = ...) -> None: ...
    IDS_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    PAYLOADS_JSON_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedCompositeFieldContainer[_common_pb2.PointId]
    vectors: _containers.MessageMap[str, _common_pb2.Vector]
    payloads_json: _containers.RepeatedScalarFieldContainer[str]
    texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[_Union[_common_pb2.PointId, _Mapping]]] = ..., vectors: _Optional[_Mapping[str, _common_pb2.Vector]] = ..., payloads_json: _Optional[_Iterable[str]] = ..., texts: _Optional[_Iterable[str]] = ...) -> None: ...

class UpsertRequest(_message.Message):
    __slots__ = ("collection", "points", "batch", "models", "chunking")
    class ModelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_FIELD_NUMBER: _ClassVar[int]
    collection: str
    points: _containers.RepeatedCompositeFieldContainer[_common_pb2.PointStruct]
    batch: PointBatch
    models: _containers.ScalarMap[str, str]
    chunking: Chunking
    def __init__(self, collection: _Optional[str] = ..., points: _Optional[_Iterable[_Union[_common_pb2.PointStruct, _Mapping]]] = ..., batch: _Optional[_Union[PointBatch, _Mapping]] = ..., models: _Optional[_Mapping[str, str]] = ..., chunking: _Optional[_Union[Chunking, _Mapping]] = ...) -> None: ...

class Chunking(_message.Message):
    __slots__ = ("window_tokens", "overlap_tokens")
    WINDOW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_TOKENS_FIELD_NUMBER: _ClassVar[int]
    window_tokens: int
    overlap_tokens: int
    def __init__(self, window_tokens: _Optional[int] = ..., overlap_tokens: _Optional[int] = ...) -> None: ...

class GetPointsRequest(_message.Message):
    __slots__ = ("collection", "ids", "with_payload", "with_vectors")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    WITH_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTORS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedCompositeFieldContainer[_common_pb2.PointId]
    with_payload: bool
    with_vectors: _common_pb2.WithVectors
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[_Union[_common_pb2.PointId, _Mapping]]] = ..., with_payload: _Optional[bool] = ..., with_vectors: _Optional[_Union[_common_pb2.WithVectors, _Mapping]] = ...) -> None: ...

class GetPointsResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_common_pb2.Record]
    def __init__(self, points: _Optional[_Iterable[_Union[_common_pb2.Record, _Mapping]]] = ...) -> None: ...

class PointIdList(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedCompositeFieldContainer[_common_pb2.PointId]
    def __init__(self, ids: _Optional[_Iterable[_Union[_common_pb2.PointId, _Mapping]]] = ...) -> None: ...

class DeletePointsRequest(_message.Message):
    __slots__ = ("collection", "ids", "filter")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: PointIdList
    filter: _common_pb2.Filter
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Union[PointIdList, _Mapping]] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ...) -> None: ...

class CountRequest(_message.Message):
    __slots__ = ("collection", "filter")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: _common_pb2.Filter
    def __init__(self, collection: _Optional[str] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ...) -> None: ...

class CountResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class ScrollRequest(_message.Message):
    __slots__ = ("collection", "filter", "limit", "offset", "with_payload", "with_vectors")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    WITH_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTORS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: _common_pb2.Filter
    limit: int
    offset: _common_pb2.PointId
    with_payload: bool
    with_vectors: _common_pb2.WithVectors
    def __init__(self, collection: _Optional[str] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ..., limit: _Optional[int] = ..., offset: _Optional[_Union[_common_pb2.PointId, _Mapping]] = ..., with_payload: _Optional[bool] = ..., with_vectors: _Optional[_Union[_common_pb2.WithVectors, _Mapping]] = ...) -> None: ...

class ScrollResponse(_message.Message):
    __slots__ = ("points", "next_offset")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_common_pb2.Record]
    next_offset: _common_pb2.PointId
    def __init__(self, points: _Optional[_Iterable[_Union[_common_pb2.Record, _Mapping]]] = ..., next_offset: _Optional[_Union[_common_pb2.PointId, _Mapping]] = ...) -> None: ...
