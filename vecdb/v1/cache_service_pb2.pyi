from vecdb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CacheLookupRequest(_message.Message):
    __slots__ = ("text", "vector", "category", "model")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    text: str
    vector: _common_pb2.Vector
    category: str
    model: str
    def __init__(self, text: _Optional[str] = ..., vector: _Optional[_Union[_common_pb2.Vector, _Mapping]] = ..., category: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class CacheLookupResponse(_message.Message):
    __slots__ = ("hit", "answer", "similarity", "entry_id", "age_seconds", "category")
    HIT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    hit: bool
    answer: str
    similarity: float
    entry_id: str
    age_seconds: float
    category: str
    def __init__(self, hit: _Optional[bool] = ..., answer: _Optional[str] = ..., similarity: _Optional[float] = ..., entry_id: _Optional[str] = ..., age_seconds: _Optional[float] = ..., category: _Optional[str] = ...) -> None: ...

class CacheStoreRequest(_message.Message):
    __slots__ = ("prompt", "vector", "answer", "category", "model", "metadata_json")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    vector: _common_pb2.Vector
    answer: str
    category: str
    model: str
    metadata_json: str
    def __init__(self, prompt: _Optional[str] = ..., vector: _Optional[_Union[_common_pb2.Vector, _Mapping]] = ..., answer: _Optional[str] = ..., category: _Optional[str] = ..., model: _Optional[str] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class CacheStoreResponse(_message.Message):
    __slots__ = ("entry_id", "category")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    category: str
    def __init__(self, entry_id: _Optional[str] = ..., category: _Optional[str] = ...) -> None: ...

class CacheInvalidateRequest(_message.Message):
    __slots__ = ("entry_id", "category", "model", "filter")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    category: str
    model: str
    filter: _common_pb2.Filter
    def __init__(self, entry_id: _Optional[str] = ..., category: _Optional[str] = ..., model: _Optional[str] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ...) -> None: ...

class CacheInvalidateResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class CacheStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CategoryStats(_message.Message):
    __slots__ = ("category", "entries", "hits", "misses", "near_misses", "false_hits", "evictions", "expiries", "threshold", "ttl_seconds")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    NEAR_MISSES_FIELD_NUMBER: _ClassVar[int]
    FALSE_HITS_FIELD_NUMBER: _ClassVar[int]
    EVICTIONS_FIELD_NUMBER: _ClassVar[int]
    EXPIRIES_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    category: str
    entries: int
    hits: int
    misses: int
    near_misses: int
    false_hits: int
    evictions: int
    expiries: int
    threshold: float
    ttl_seconds: float
    def __init__(self, category: _Optional[str] = ..., entries: _Optional[int] = ..., hits: _Optional[int] = ..., misses: _Optional[int] = ..., near_misses: _Optional[int] = ..., false_hits: _Optional[int] = ..., evictions: _Optional[int] = ..., expiries: _Optional[int] = ..., threshold: _Optional[float] = ..., ttl_seconds: _Optional[float] = ...) -> None: ...

class CacheStatsResponse(_message.Message):
    __slots__ = ("categories",)
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedCompositeFieldContainer[CategoryStats]
    def __init__(self, categories: _Optional[_Iterable[_Union[CategoryStats, _Mapping]]] = ...) -> None: ...

class GetCachePolicyRequest(_message.Message):
    __slots__ = ("category",)
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    category: str
    def __init__(self, category: _Optional[str] = ...) -> None: ...

class CachePolicy(_message.Message):
    __slots__ = ("category", "threshold", "ttl_seconds", "max_entries", "max_bytes", "exact_match_only", "enabled")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    EXACT_MATCH_ONLY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    category: str
    threshold: float
    ttl_seconds: float
    max_entries: int
    max_bytes: int
    exact_match_only: bool
    enabled: bool
    def __init__(self, category: _Optional[str] = ..., threshold: _Optional[float] = ..., ttl_seconds: _Optional[float] = ..., max_entries: _Optional[int] = ..., max_bytes: _Optional[int] = ..., exact_match_only: _Optional[bool] = ..., enabled: _Optional[bool] = ...) -> None: ...

class ReportLoadRequest(_message.Message):
    __slots__ = ("model", "load")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    model: str
    load: float
    def __init__(self, model: _Optional[str] = ..., load: _Optional[float] = ...) -> None: ...

class ReportLoadResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReportFalseHitRequest(_message.Message):
    __slots__ = ("entry_id",)
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    def __init__(self, entry_id: _Optional[str] = ...) -> None: ...

class ReportFalseHitResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
