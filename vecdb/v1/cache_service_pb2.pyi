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
    __slots__ = ("hit", "answer", "similarity", "entry_id", "age_seconds", "category", "metadata_json", "threshold", "near_miss")
    HIT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    NEAR_MISS_FIELD_NUMBER: _ClassVar[int]
    hit: bool
    answer: str
    similarity: float
    entry_id: str
    age_seconds: float
    category: str
    metadata_json: str
    threshold: float
    near_miss: bool
    def __init__(self, hit: _Optional[bool] = ..., answer: _Optional[str] = ..., similarity: _Optional[float] = ..., entry_id: _Optional[str] = ..., age_seconds: _Optional[float] = ..., category: _Optional[str] = ..., metadata_json: _Optional[str] = ..., threshold: _Optional[float] = ..., near_miss: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("category",)
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    category: str
    def __init__(self, category: _Optional[str] = ...) -> None: ...

class CategoryStats(_message.Message):
    __slots__ = ("category", "entries", "hits", "misses", "near_misses", "false_hits", "evictions", "expiries", "threshold", "ttl_seconds", "bytes", "base_threshold", "base_ttl_seconds", "adaptation_level", "lookup_p50_ms", "lookup_p99_ms", "invalidations")
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
    BYTES_FIELD_NUMBER: _ClassVar[int]
    BASE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BASE_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ADAPTATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    LOOKUP_P50_MS_FIELD_NUMBER: _ClassVar[int]
    LOOKUP_P99_MS_FIELD_NUMBER: _ClassVar[int]
    INVALIDATIONS_FIELD_NUMBER: _ClassVar[int]
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
    bytes: int
    base_threshold: float
    base_ttl_seconds: float
    adaptation_level: int
    lookup_p50_ms: float
    lookup_p99_ms: float
    invalidations: int
    def __init__(self, category: _Optional[str] = ..., entries: _Optional[int] = ..., hits: _Optional[int] = ..., misses: _Optional[int] = ..., near_misses: _Optional[int] = ..., false_hits: _Optional[int] = ..., evictions: _Optional[int] = ..., expiries: _Optional[int] = ..., threshold: _Optional[float] = ..., ttl_seconds: _Optional[float] = ..., bytes: _Optional[int] = ..., base_threshold: _Optional[float] = ..., base_ttl_seconds: _Optional[float] = ..., adaptation_level: _Optional[int] = ..., lookup_p50_ms: _Optional[float] = ..., lookup_p99_ms: _Optional[float] = ..., invalidations: _Optional[int] = ...) -> None: ...

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

class LoadAdaptation(_message.Message):
    __slots__ = ("high_watermark", "low_watermark", "threshold_step", "max_threshold_relax", "ttl_factor_step", "max_ttl_factor")
    HIGH_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    LOW_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_STEP_FIELD_NUMBER: _ClassVar[int]
    MAX_THRESHOLD_RELAX_FIELD_NUMBER: _ClassVar[int]
    TTL_FACTOR_STEP_FIELD_NUMBER: _ClassVar[int]
    MAX_TTL_FACTOR_FIELD_NUMBER: _ClassVar[int]
    high_watermark: float
    low_watermark: float
    threshold_step: float
    max_threshold_relax: float
    ttl_factor_step: float
    max_ttl_factor: float
    def __init__(self, high_watermark: _Optional[float] = ..., low_watermark: _Optional[float] = ..., threshold_step: _Optional[float] = ..., max_threshold_relax: _Optional[float] = ..., ttl_factor_step: _Optional[float] = ..., max_ttl_factor: _Optional[float] = ...) -> None: ...

class CachePolicy(_message.Message):
    __slots__ = ("category", "threshold", "ttl_seconds", "max_entries", "max_bytes", "exact_match_only", "enabled", "near_miss_margin", "examples", "adaptation")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    EXACT_MATCH_ONLY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    NEAR_MISS_MARGIN_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    ADAPTATION_FIELD_NUMBER: _ClassVar[int]
    category: str
    threshold: float
    ttl_seconds: float
    max_entries: int
    max_bytes: int
    exact_match_only: bool
    enabled: bool
    near_miss_margin: float
    examples: _containers.RepeatedScalarFieldContainer[str]
    adaptation: LoadAdaptation
    def __init__(self, category: _Optional[str] = ..., threshold: _Optional[float] = ..., ttl_seconds: _Optional[float] = ..., max_entries: _Optional[int] = ..., max_bytes: _Optional[int] = ..., exact_match_only: _Optional[bool] = ..., enabled: _Optional[bool] = ..., near_miss_margin: _Optional[float] = ..., examples: _Optional[_Iterable[str]] = ..., adaptation: _Optional[_Union[LoadAdaptation, _Mapping]] = ...) -> None: ...

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
