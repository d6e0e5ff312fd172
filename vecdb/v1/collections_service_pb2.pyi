from vecdb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Metric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METRIC_UNSPECIFIED: _ClassVar[Metric]
    COSINE: _ClassVar[Metric]
    DOT: _ClassVar[Metric]
    L2: _ClassVar[Metric]

class PayloadIndexType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYLOAD_INDEX_TYPE_UNSPECIFIED: _ClassVar[PayloadIndexType]
    KEYWORD: _ClassVar[PayloadIndexType]
    INTEGER: _ClassVar[PayloadIndexType]
    FLOAT: _ClassVar[PayloadIndexType]
    BOOL: _ClassVar[PayloadIndexType]
METRIC_UNSPECIFIED: Metric
COSINE: Metric
DOT: Metric
L2: Metric
PAYLOAD_INDEX_TYPE_UNSPECIFIED: PayloadIndexType
KEYWORD: PayloadIndexType
INTEGER: PayloadIndexType
FLOAT: PayloadIndexType
BOOL: PayloadIndexType

class HnswParams(_message.Message):
    __slots__ = ("m", "ef_construct", "ef")
    M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCT_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    m: int
    ef_construct: int
    ef: int
    def __init__(self, m: _Optional[int] = ..., ef_construct: _Optional[int] = ..., ef: _Optional[int] = ...) -> None: ...

class QuantizationParams(_message.Message):
    __slots__ = ("int8", "binary", "oversampling", "rescore", "query_mode")
    class QueryMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        QUERY_MODE_UNSPECIFIED: _ClassVar[QuantizationParams.QueryMode]
        SYMMETRIC: _ClassVar[QuantizationParams.QueryMode]
        ASYMMETRIC: _ClassVar[QuantizationParams.QueryMode]
    QUERY_MODE_UNSPECIFIED: QuantizationParams.QueryMode
    SYMMETRIC: QuantizationParams.QueryMode
    ASYMMETRIC: QuantizationParams.QueryMode
    INT8_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    OVERSAMPLING_FIELD_NUMBER: _ClassVar[int]
    RESCORE_FIELD_NUMBER: _ClassVar[int]
    QUERY_MODE_FIELD_NUMBER: _ClassVar[int]
    int8: Int8Quantization
    binary: BinaryQuantization
    oversampling: float
    rescore: bool
    query_mode: QuantizationParams.QueryMode
    def __init__(self, int8: _Optional[_Union[Int8Quantization, _Mapping]] = ..., binary: _Optional[_Union[BinaryQuantization, _Mapping]] = ..., oversampling: _Optional[float] = ..., rescore: _Optional[bool] = ..., query_mode: _Optional[_Union[QuantizationParams.QueryMode, str]] = ...) -> None: ...

class Int8Quantization(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BinaryQuantization(_message.Message):
    __slots__ = ("bits", "method")
    class Method(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        METHOD_UNSPECIFIED: _ClassVar[BinaryQuantization.Method]
        THRESHOLD: _ClassVar[BinaryQuantization.Method]
        RECURRENT_RESIDUAL: _ClassVar[BinaryQuantization.Method]
    METHOD_UNSPECIFIED: BinaryQuantization.Method
    THRESHOLD: BinaryQuantization.Method
    RECURRENT_RESIDUAL: BinaryQuantization.Method
    BITS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    bits: int
    method: BinaryQuantization.Method
    def __init__(self, bits: _Optional[int] = ..., method: _Optional[_Union[BinaryQuantization.Method, str]] = ...) -> None: ...

class DenseParams(_message.Message):
    __slots__ = ("dim", "metric", "storage_dtype", "hnsw", "quantization")
    DIM_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    STORAGE_DTYPE_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    QUANTIZATION_FIELD_NUMBER: _ClassVar[int]
    dim: int
    metric: Metric
    storage_dtype: _common_pb2.DType
    hnsw: HnswParams
    quantization: QuantizationParams
    def __init__(self, dim: _Optional[int] = ..., metric: _Optional[_Union[Metric, str]] = ..., storage_dtype: _Optional[_Union[_common_pb2.DType, str]] = ..., hnsw: _Optional[_Union[HnswParams, _Mapping]] = ..., quantization: _Optional[_Union[QuantizationParams, _Mapping]] = ...) -> None: ...

class MultiVectorParams(_message.Message):
    __slots__ = ("dim", "metric", "storage_dtype", "muvera", "hnsw")
    DIM_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    STORAGE_DTYPE_FIELD_NUMBER: _ClassVar[int]
    MUVERA_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    dim: int
    metric: Metric
    storage_dtype: _common_pb2.DType
    muvera: MuveraParams
    hnsw: HnswParams
    def __init__(self, dim: _Optional[int] = ..., metric: _Optional[_Union[Metric, str]] = ..., storage_dtype: _Optional[_Union[_common_pb2.DType, str]] = ..., muvera: _Optional[_Union[MuveraParams, _Mapping]] = ..., hnsw: _Optional[_Union[HnswParams, _Mapping]] = ...) -> None: ...

class MuveraParams(_message.Message):
    __slots__ = ("reps", "k_sim", "d_proj", "final_dim", "seed", "candidates")
    REPS_FIELD_NUMBER: _ClassVar[int]
    K_SIM_FIELD_NUMBER: _ClassVar[int]
    D_PROJ_FIELD_NUMBER: _ClassVar[int]
    FINAL_DIM_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    reps: int
    k_sim: int
    d_proj: int
    final_dim: int
    seed: int
    candidates: int
    def __init__(self, reps: _Optional[int] = ..., k_sim: _Optional[int] = ..., d_proj: _Optional[int] = ..., final_dim: _Optional[int] = ..., seed: _Optional[int] = ..., candidates: _Optional[int] = ...) -> None: ...

class SparseParams(_message.Message):
    __slots__ = ("modifier", "bm25")
    class Modifier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        MODIFIER_UNSPECIFIED: _ClassVar[SparseParams.Modifier]
        BM25: _ClassVar[SparseParams.Modifier]
    MODIFIER_UNSPECIFIED: SparseParams.Modifier
    BM25: SparseParams.Modifier
    MODIFIER_FIELD_NUMBER: _ClassVar[int]
    BM25_FIELD_NUMBER: _ClassVar[int]
    modifier: SparseParams.Modifier
    bm25: Bm25Params
    def __init__(self, modifier: _Optional[_Union[SparseParams.Modifier, str]] = ..., bm25: _Optional[_Union[Bm25Params, _Mapping]] = ...) -> None: ...

class Bm25Params(_message.Message):
    __slots__ = ("k1", "b", "text_key", "lowercase", "stopwords", "stemmer")
    K1_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    TEXT_KEY_FIELD_NUMBER: _ClassVar[int]
    LOWERCASE_FIELD_NUMBER: _ClassVar[int]
    STOPWORDS_FIELD_NUMBER: _ClassVar[int]
    STEMMER_FIELD_NUMBER: _ClassVar[int]
    k1: float
    b: float
    text_key: str
    lowercase: bool
    stopwords: str
    stemmer: str
    def __init__(self, k1: _Optional[float] = ..., b: _Optional[float] = ..., text_key: _Optional[str] = ..., lowercase: _Optional[bool] = ..., stopwords: _Optional[str] = ..., stemmer: _Optional[str] = ...) -> None: ...

class TextSource(_message.Message):
    __slots__ = ("model", "payload_key", "model_hash")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_KEY_FIELD_NUMBER: _ClassVar[int]
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    model: str
    payload_key: str
    model_hash: str
    def __init__(self, model: _Optional[str] = ..., payload_key: _Optional[str] = ..., model_hash: _Optional[str] = ...) -> None: ...

class VectorFieldConfig(_message.Message):
    __slots__ = ("name", "dense", "multivector", "sparse", "text_source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DENSE_FIELD_NUMBER: _ClassVar[int]
    MULTIVECTOR_FIELD_NUMBER: _ClassVar[int]
    SPARSE_FIELD_NUMBER: _ClassVar[int]
    TEXT_SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    dense: DenseParams
    multivector: MultiVectorParams
    sparse: SparseParams
    text_source: TextSource
    def __init__(self, name: _Optional[str] = ..., dense: _Optional[_Union[DenseParams, _Mapping]] = ..., multivector: _Optional[_Union[MultiVectorParams, _Mapping]] = ..., sparse: _Optional[_Union[SparseParams, _Mapping]] = ..., text_source: _Optional[_Union[TextSource, _Mapping]] = ...) -> None: ...

class PayloadIndexConfig(_message.Message):
    __slots__ = ("key", "type")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    key: str
    type: PayloadIndexType
    def __init__(self, key: _Optional[str] = ..., type: _Optional[_Union[PayloadIndexType, str]] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ("name", "vectors", "payload_indexes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_INDEXES_FIELD_NUMBER: _ClassVar[int]
    name: str
    vectors: _containers.RepeatedCompositeFieldContainer[VectorFieldConfig]
    payload_indexes: _containers.RepeatedCompositeFieldContainer[PayloadIndexConfig]
    def __init__(self, name: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[VectorFieldConfig, _Mapping]]] = ..., payload_indexes: _Optional[_Iterable[_Union[PayloadIndexConfig, _Mapping]]] = ...) -> None: ...

class GetCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CollectionInfo(_message.Message):
    __slots__ = ("name", "vectors", "payload_indexes", "points_count", "sequence")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_INDEXES_FIELD_NUMBER: _ClassVar[int]
    POINTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    vectors: _containers.RepeatedCompositeFieldContainer[VectorFieldConfig]
    payload_indexes: _containers.RepeatedCompositeFieldContainer[PayloadIndexConfig]
    points_count: int
    sequence: int
    def __init__(self, name: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[VectorFieldConfig, _Mapping]]] = ..., payload_indexes: _Optional[_Iterable[_Union[PayloadIndexConfig, _Mapping]]] = ..., points_count: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionInfo]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionInfo, _Mapping]]] = ...) -> None: ...

class DeleteCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteCollectionResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class ExistsResponse(_message.Message):
    __slots__ = ("exists",)
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    def __init__(self, exists: _Optional[bool] = ...) -> None: ...
