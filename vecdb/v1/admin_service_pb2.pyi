from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerInfoResponse(_message.Message):
    __slots__ = ("version", "data_dir", "capabilities", "max_limit", "max_message_bytes")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DATA_DIR_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    MAX_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    version: str
    data_dir: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    max_limit: int
    max_message_bytes: int
    def __init__(self, version: _Optional[str] = ..., data_dir: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., max_limit: _Optional[int] = ..., max_message_bytes: _Optional[int] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class FieldStats(_message.Message):
    __slots__ = ("name", "kind", "indexed_points", "index_capacity", "ram_bytes", "checkpoint_sequence", "vector_ram_bytes", "float32_bytes", "codebook_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INDEXED_POINTS_FIELD_NUMBER: _ClassVar[int]
    INDEX_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    RAM_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    VECTOR_RAM_BYTES_FIELD_NUMBER: _ClassVar[int]
    FLOAT32_BYTES_FIELD_NUMBER: _ClassVar[int]
    CODEBOOK_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    indexed_points: int
    index_capacity: int
    ram_bytes: int
    checkpoint_sequence: int
    vector_ram_bytes: int
    float32_bytes: int
    codebook_json: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., indexed_points: _Optional[int] = ..., index_capacity: _Optional[int] = ..., ram_bytes: _Optional[int] = ..., checkpoint_sequence: _Optional[int] = ..., vector_ram_bytes: _Optional[int] = ..., float32_bytes: _Optional[int] = ..., codebook_json: _Optional[str] = ...) -> None: ...

class CollectionStats(_message.Message):
    __slots__ = ("name", "points_count", "sequence", "disk_bytes", "fields")
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    points_count: int
    sequence: int
    disk_bytes: int
    fields: _containers.RepeatedCompositeFieldContainer[FieldStats]
    def __init__(self, name: _Optional[str] = ..., points_count: _Optional[int] = ..., sequence: _Optional[int] = ..., disk_bytes: _Optional[int] = ..., fields: _Optional[_Iterable[_Union[FieldStats, _Mapping]]] = ...) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionStats]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionStats, _Mapping]]] = ...) -> None: ...

class CheckpointRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class CheckpointResponse(_message.Message):
    __slots__ = ("sequence",)
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    def __init__(self, sequence: _Optional[int] = ...) -> None: ...

class RetrainQuantizationRequest(_message.Message):
    __slots__ = ("collection", "field")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    collection: str
    field: str
    def __init__(self, collection: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class CreateSnapshotRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class SnapshotCollection(_message.Message):
    __slots__ = ("name", "sequence", "points_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    POINTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    sequence: int
    points_count: int
    def __init__(self, name: _Optional[str] = ..., sequence: _Optional[int] = ..., points_count: _Optional[int] = ...) -> None: ...

class SnapshotInfo(_message.Message):
    __slots__ = ("name", "size_bytes", "created_at", "collection", "collections", "sha256", "vecdb_version", "with_cache")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    VECDB_VERSION_FIELD_NUMBER: _ClassVar[int]
    WITH_CACHE_FIELD_NUMBER: _ClassVar[int]
    name: str
    size_bytes: int
    created_at: float
    collection: str
    collections: _containers.RepeatedCompositeFieldContainer[SnapshotCollection]
    sha256: str
    vecdb_version: str
    with_cache: bool
    def __init__(self, name: _Optional[str] = ..., size_bytes: _Optional[int] = ..., created_at: _Optional[float] = ..., collection: _Optional[str] = ..., collections: _Optional[_Iterable[_Union[SnapshotCollection, _Mapping]]] = ..., sha256: _Optional[str] = ..., vecdb_version: _Optional[str] = ..., with_cache: _Optional[bool] = ...) -> None: ...

class ListSnapshotsRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class ListSnapshotsResponse(_message.Message):
    __slots__ = ("snapshots",)
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[SnapshotInfo]
    def __init__(self, snapshots: _Optional[_Iterable[_Union[SnapshotInfo, _Mapping]]] = ...) -> None: ...

class DeleteSnapshotRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteSnapshotResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RestoreSnapshotRequest(_message.Message):
    __slots__ = ("name", "overwrite", "collection")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    overwrite: bool
    collection: str
    def __init__(self, name: _Optional[str] = ..., overwrite: _Optional[bool] = ..., collection: _Optional[str] = ...) -> None: ...

class RestoreSnapshotResponse(_message.Message):
    __slots__ = ("collection", "points_count", "sequence")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    POINTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    points_count: int
    sequence: int
    def __init__(self, collection: _Optional[str] = ..., points_count: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class DownloadSnapshotRequest(_message.Message):
    __slots__ = ("name", "chunk_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    chunk_bytes: int
    def __init__(self, name: _Optional[str] = ..., chunk_bytes: _Optional[int] = ...) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("info", "data", "offset")
    INFO_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    info: SnapshotInfo
    data: bytes
    offset: int
    def __init__(self, info: _Optional[_Union[SnapshotInfo, _Mapping]] = ..., data: _Optional[bytes] = ..., offset: _Optional[int] = ...) -> None: ...
