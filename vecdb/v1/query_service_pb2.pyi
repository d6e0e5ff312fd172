from vecdb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryInput(_message.Message):
    __slots__ = ("vector", "multi", "sparse", "text", "point")
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    MULTI_FIELD_NUMBER: _ClassVar[int]
    SPARSE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    vector: _common_pb2.Vector
    multi: _common_pb2.Vector
    sparse: _common_pb2.SparseVector
    text: str
    point: _common_pb2.PointId
    def __init__(self, vector: _Optional[_Union[_common_pb2.Vector, _Mapping]] = ..., multi: _Optional[_Union[_common_pb2.Vector, _Mapping]] = ..., sparse: _Optional[_Union[_common_pb2.SparseVector, _Mapping]] = ..., text: _Optional[str] = ..., point: _Optional[_Union[_common_pb2.PointId, _Mapping]] = ...) -> None: ...

class SearchParams(_message.Message):
    __slots__ = ("ef", "exact")
    EF_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    ef: int
    exact: bool
    def __init__(self, ef: _Optional[int] = ..., exact: _Optional[bool] = ...) -> None: ...

class Prefetch(_message.Message):
    __slots__ = ("using", "query", "filter", "limit", "score_threshold", "params", "prefetch", "fusion")
    USING_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PREFETCH_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    using: str
    query: QueryInput
    filter: _common_pb2.Filter
    limit: int
    score_threshold: float
    params: SearchParams
    prefetch: _containers.RepeatedCompositeFieldContainer[Prefetch]
    fusion: Fusion
    def __init__(self, using: _Optional[str] = ..., query: _Optional[_Union[QueryInput, _Mapping]] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ..., limit: _Optional[int] = ..., score_threshold: _Optional[float] = ..., params: _Optional[_Union[SearchParams, _Mapping]] = ..., prefetch: _Optional[_Iterable[_Union[Prefetch, _Mapping]]] = ..., fusion: _Optional[_Union[Fusion, _Mapping]] = ...) -> None: ...

class Fusion(_message.Message):
    __slots__ = ("method", "rrf_k", "weights")
    class Method(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        METHOD_UNSPECIFIED: _ClassVar[Fusion.Method]
        RRF: _ClassVar[Fusion.Method]
        DBSF: _ClassVar[Fusion.Method]
        WEIGHTED: _ClassVar[Fusion.Method]
    METHOD_UNSPECIFIED: Fusion.Method
    RRF: Fusion.Method
    DBSF: Fusion.Method
    WEIGHTED: Fusion.Method
    METHOD_FIELD_NUMBER: _ClassVar[int]
    RRF_K_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    method: Fusion.Method
    rrf_k: int
    weights: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, method: _Optional[_Union[Fusion.Method, str]] = ..., rrf_k: _Optional[int] = ..., weights: _Optional[_Iterable[float]] = ...) -> None: ...

class Rerank(_message.Message):
    __slots__ = ("using", "query")
    USING_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    using: str
    query: QueryInput
    def __init__(self, using: _Optional[str] = ..., query: _Optional[_Union[QueryInput, _Mapping]] = ...) -> None: ...

class Diversity(_message.Message):
    __slots__ = ("method", "relevance_weight", "using", "candidates")
    class Method(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        METHOD_UNSPECIFIED: _ClassVar[Diversity.Method]
        MMR: _ClassVar[Diversity.Method]
        COVERAGE: _ClassVar[Diversity.Method]
    METHOD_UNSPECIFIED: Diversity.Method
    MMR: Diversity.Method
    COVERAGE: Diversity.Method
    METHOD_FIELD_NUMBER: _ClassVar[int]
    RELEVANCE_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    USING_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    method: Diversity.Method
    relevance_weight: float
    using: str
    candidates: int
    def __init__(self, method: _Optional[_Union[Diversity.Method, str]] = ..., relevance_weight: _Optional[float] = ..., using: _Optional[str] = ..., candidates: _Optional[int] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("collection", "using", "query", "filter", "limit", "score_threshold", "with_payload", "with_vectors", "params", "prefetch", "fusion", "rerank", "diversity", "offset", "model")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    USING_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WITH_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTORS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PREFETCH_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    RERANK_FIELD_NUMBER: _ClassVar[int]
    DIVERSITY_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    collection: str
    using: str
    query: QueryInput
    filter: _common_pb2.Filter
    limit: int
    score_threshold: float
    with_payload: bool
    with_vectors: _common_pb2.WithVectors
    params: SearchParams
    prefetch: _containers.RepeatedCompositeFieldContainer[Prefetch]
    fusion: Fusion
    rerank: Rerank
    diversity: Diversity
    offset: int
    model: str
    def __init__(self, collection: _Optional[str] = ..., using: _Optional[str] = ..., query: _Optional[_Union[QueryInput, _Mapping]] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ..., limit: _Optional[int] = ..., score_threshold: _Optional[float] = ..., with_payload: _Optional[bool] = ..., with_vectors: _Optional[_Union[_common_pb2.WithVectors, _Mapping]] = ..., params: _Optional[_Union[SearchParams, _Mapping]] = ..., prefetch: _Optional[_Iterable[_Union[Prefetch, _Mapping]]] = ..., fusion: _Optional[_Union[Fusion, _Mapping]] = ..., rerank: _Optional[_Union[Rerank, _Mapping]] = ..., diversity: _Optional[_Union[Diversity, _Mapping]] = ..., offset: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _common_pb2.ScoredPoints
    def __init__(self, points: _Optional[_Union[_common_pb2.ScoredPoints, _Mapping]] = ...) -> None: ...

class QueryBatchRequest(_message.Message):
    __slots__ = ("collection", "queries", "template", "vectors")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    queries: _containers.RepeatedCompositeFieldContainer[QueryRequest]
    template: QueryRequest
    vectors: _common_pb2.Vector
    def __init__(self, collection: _Optional[str] = ..., queries: _Optional[_Iterable[_Union[QueryRequest, _Mapping]]] = ..., template: _Optional[_Union[QueryRequest, _Mapping]] = ..., vectors: _Optional[_Union[_common_pb2.Vector, _Mapping]] = ...) -> None: ...

class QueryBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[QueryResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[QueryResponse, _Mapping]]] = ...) -> None: ...
