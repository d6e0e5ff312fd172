"""Wire -> domain: turn vecdb.v1 request messages into engine types, validating as it goes.

This module and `convert_to_proto` are the only server modules that see protobuf messages. Every
error is an `InvalidArgument` (or `Unimplemented` for a capability not built yet) whose message
names the field by its path in the request, e.g. "points[3].vectors['text']", and the value.
Checks that need the collection's data (dimension, NaN) are left to the engine; checks that only
need the request (shapes, ids unique, payload JSON, filter structure, limits) happen here, before
any engine work.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from vecdb.encoder import EncodeKind, TextRole
from vecdb.engine.errors import InvalidArgument
from vecdb.engine.filters import (
    MAX_FILTER_DEPTH,
    Condition,
    Filter,
    HasId,
    IsEmpty,
    Match,
    MatchAny,
    Range,
)
from vecdb.engine.ids import parse_point_id
from vecdb.engine.schema import (
    Bm25Config,
    CollectionConfig,
    DenseField,
    HnswConfig,
    Metric,
    MultiVectorField,
    MuveraConfig,
    PayloadIndexConfig,
    PayloadIndexType,
    QuantizationConfig,
    SparseField,
    StorageDType,
    TextSource,
    VectorField,
)
from vecdb.engine.types import (
    Diversity,
    Fusion,
    HybridQuery,
    NearestQuery,
    Payload,
    PointId,
    Rerank,
    SparseVector,
    UpsertBatch,
)
from vecdb.v1 import collections_service_pb2 as coll_pb
from vecdb.v1 import common_pb2 as common_pb
from vecdb.v1 import encoder_service_pb2 as encoder_pb
from vecdb.v1 import points_service_pb2 as points_pb
from vecdb.v1 import query_service_pb2 as query_pb

__all__ = [
    "DEFAULT_LIMIT",
    "batch_needs_config",
    "collection_config",
    "filter_",
    "hybrid_query",
    "is_hybrid",
    "nearest_queries",
    "nearest_query",
    "needs_config",
    "optional_filter",
    "page_limit",
    "payload",
    "point_id",
    "point_ids",
    "query_request",
    "upsert_batch",
    "vector_array",
    "with_vector_fields",
]

DEFAULT_LIMIT = 10

_WIRE_DTYPES: dict[int, tuple[str, np.dtype[Any]]] = {
    common_pb.DTYPE_UNSPECIFIED: ("float32", np.dtype("<f4")),
    common_pb.FLOAT32: ("float32", np.dtype("<f4")),
    common_pb.FLOAT16: ("float16", np.dtype("<f2")),
    common_pb.UINT8: ("uint8", np.dtype("u1")),
    common_pb.INT8: ("int8", np.dtype("i1")),
}
_METRICS: dict[int, Metric] = {
    coll_pb.METRIC_UNSPECIFIED: Metric.COSINE,
    coll_pb.COSINE: Metric.COSINE,
    coll_pb.DOT: Metric.DOT,
    coll_pb.L2: Metric.L2,
}
_INDEX_TYPES: dict[int, PayloadIndexType] = {
    coll_pb.KEYWORD: PayloadIndexType.KEYWORD,
    coll_pb.INTEGER: PayloadIndexType.INTEGER,
    coll_pb.FLOAT: PayloadIndexType.FLOAT,
    coll_pb.BOOL: PayloadIndexType.BOOL,
}
_BINARY_METHODS: dict[int, str] = {
    coll_pb.BinaryQuantization.METHOD_UNSPECIFIED: "threshold",
    coll_pb.BinaryQuantization.THRESHOLD: "threshold",
    coll_pb.BinaryQuantization.RECURRENT_RESIDUAL: "recurrent_residual",
}


def _enum_name(enum_type: Any, value: int) -> str:
    try:
        return str(enum_type.Name(value))
    except ValueError:
        return str(value)


# ---- collections ---------------------------------------------------------------------------


def collection_config(req: coll_pb.CreateCollectionRequest) -> CollectionConfig:
    """A CreateCollectionRequest as a CollectionConfig; zeros and UNSPECIFIED become defaults.

    Field parameters are mapped faithfully; `CollectionConfig.validate()` checks their ranges.
    """
    fields = tuple(_vector_field(vf, f"vectors[{i}]") for i, vf in enumerate(req.vectors))
    indexes = tuple(_payload_index(pi, f"payload_indexes[{i}]") for i, pi in enumerate(req.payload_indexes))
    return CollectionConfig(name=req.name, vectors=fields, payload_indexes=indexes)


def _metric(value: int, where: str) -> Metric:
    try:
        return _METRICS[value]
    except KeyError:
        raise InvalidArgument(f"{where} = {value} is not a metric; use COSINE, DOT or L2") from None


def _storage_dtype(value: int, where: str, default: StorageDType) -> StorageDType:
    if value == common_pb.DTYPE_UNSPECIFIED:
        return default
    if value == common_pb.FLOAT32:
        return StorageDType.FLOAT32
    if value == common_pb.FLOAT16:
        return StorageDType.FLOAT16
    raise InvalidArgument(
        f"{where} = {_enum_name(common_pb.DType, value)} is not a storage type; use FLOAT32 or FLOAT16"
    )


def _text_source(vf: coll_pb.VectorFieldConfig) -> TextSource | None:
    if not vf.HasField("text_source"):
        return None
    return TextSource(model=vf.text_source.model, payload_key=vf.text_source.payload_key)


def _vector_field(vf: coll_pb.VectorFieldConfig, where: str) -> VectorField:
    kind = vf.WhichOneof("kind")
    text_source = _text_source(vf)
    if kind == "dense":
        d = vf.dense
        hnsw = _hnsw(d.hnsw)
        return DenseField(
            name=vf.name,
            dim=d.dim,
            metric=_metric(d.metric, f"{where}.dense.metric"),
            storage_dtype=_storage_dtype(d.storage_dtype, f"{where}.dense.storage_dtype", StorageDType.FLOAT32),
            hnsw=hnsw,
            quantization=_quantization(d, f"{where}.dense.quantization"),
            text_source=text_source,
        )
    if kind == "multivector":
        mv = vf.multivector
        return MultiVectorField(
            name=vf.name,
            dim=mv.dim,
            metric=_metric(mv.metric, f"{where}.multivector.metric"),
            storage_dtype=_storage_dtype(
                mv.storage_dtype, f"{where}.multivector.storage_dtype", StorageDType.FLOAT16
            ),
            muvera=_muvera(mv.muvera),
            hnsw=_hnsw(mv.hnsw),
            text_source=text_source,
        )
    if kind == "sparse":
        modifier = vf.sparse.modifier
        if modifier == coll_pb.SparseParams.MODIFIER_UNSPECIFIED:
            if vf.sparse.HasField("bm25"):
                raise InvalidArgument(f"{where}.sparse.bm25 is set but modifier is not BM25; set modifier BM25")
            return SparseField(name=vf.name, modifier="none", text_source=text_source)
        if modifier == coll_pb.SparseParams.BM25:
            return SparseField(name=vf.name, modifier="bm25", text_source=text_source, bm25=_bm25(vf.sparse.bm25))
        raise InvalidArgument(f"{where}.sparse.modifier = {modifier} is not a modifier; use BM25 or leave it unset")
    raise InvalidArgument(f"{where} (field {vf.name!r}) has no kind: set dense, multivector or sparse")


def _hnsw(h: coll_pb.HnswParams) -> HnswConfig:
    defaults = HnswConfig()
    return HnswConfig(m=h.m or defaults.m, ef_construct=h.ef_construct or defaults.ef_construct, ef=h.ef or defaults.ef)


def _muvera(m: coll_pb.MuveraParams) -> MuveraConfig:
    d = MuveraConfig()
    return MuveraConfig(
        reps=m.reps or d.reps, k_sim=m.k_sim or d.k_sim,
        d_proj=m.d_proj if m.HasField("d_proj") else d.d_proj, final_dim=m.final_dim,
        seed=m.seed if m.HasField("seed") else d.seed, candidates=m.candidates or d.candidates,
    )


def _bm25(b: coll_pb.Bm25Params) -> Bm25Config:
    d = Bm25Config()
    return Bm25Config(
        k1=b.k1 if b.HasField("k1") else d.k1, b=b.b if b.HasField("b") else d.b, text_key=b.text_key,
        lowercase=b.lowercase if b.HasField("lowercase") else d.lowercase,
        stopwords=b.stopwords if b.HasField("stopwords") else d.stopwords,
        stemmer=b.stemmer if b.HasField("stemmer") else d.stemmer,
    )


def _quantization(d: coll_pb.DenseParams, where: str) -> QuantizationConfig | None:
    if not d.HasField("quantization"):
        return None
    q = d.quantization
    defaults = QuantizationConfig()
    method = q.WhichOneof("method")
    if method is None:
        raise InvalidArgument(f"{where} has no method: set int8 or binary")
    if q.oversampling != 0 and not (math.isfinite(q.oversampling) and q.oversampling >= 1):
        raise InvalidArgument(f"{where}.oversampling = {q.oversampling} must be a finite number >= 1 (0 = default)")
    binary_method = _BINARY_METHODS.get(q.binary.method)
    if binary_method is None:
        raise InvalidArgument(f"{where}.binary.method = {q.binary.method} is not a method; use THRESHOLD or RECURRENT_RESIDUAL")
    if method == "int8" and q.binary.bits:
        raise InvalidArgument(f"{where}: bits apply to binary quantization; int8 always uses 8")
    return QuantizationConfig(
        method=method,
        bits=q.binary.bits or defaults.bits,
        binary_method=binary_method,
        oversampling=q.oversampling or defaults.oversampling,
        rescore=q.rescore if q.HasField("rescore") else defaults.rescore,
        query_mode=_query_mode(q.query_mode, f"{where}.query_mode"),
    )


_QUERY_MODES = {
    coll_pb.QuantizationParams.QUERY_MODE_UNSPECIFIED: "",
    coll_pb.QuantizationParams.SYMMETRIC: "symmetric",
    coll_pb.QuantizationParams.ASYMMETRIC: "asymmetric",
}


def _query_mode(value: int, where: str) -> str:
    try:
        return _QUERY_MODES[value]
    except KeyError:
        raise InvalidArgument(f"{where} = {value} is not a query mode; use SYMMETRIC or ASYMMETRIC") from None


def _payload_index(pi: coll_pb.PayloadIndexConfig, where: str) -> PayloadIndexConfig:
    try:
        typ = _INDEX_TYPES[pi.type]
    except KeyError:
        raise InvalidArgument(
            f"{where}.type = {_enum_name(coll_pb.PayloadIndexType, pi.type)} (key {pi.key!r}) "
            "is not an index type; use KEYWORD, INTEGER, FLOAT or BOOL"
        ) from None
    return PayloadIndexConfig(key=pi.key, type=typ)


# ---- ids and vectors -----------------------------------------------------------------------


def point_id(msg: common_pb.PointId, where: str) -> PointId:
    """A PointId message as an int or a canonical lower-case UUID string."""
    kind = msg.WhichOneof("id")
    if kind == "num":
        return parse_point_id(msg.num, where)
    if kind == "uuid":
        return parse_point_id(msg.uuid, where)
    raise InvalidArgument(f"{where} is not set: give an unsigned integer (num) or a UUID string (uuid)")


def point_ids(msgs: Any, where: str) -> list[PointId]:
    return [point_id(m, f"{where}[{i}]") for i, m in enumerate(msgs)]


def _shape_str(shape: Any) -> str:
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def vector_array(msg: common_pb.Vector, where: str) -> np.ndarray:
    """A wire Vector as a read-only numpy array of its dtype and shape (no copy).

    Refuses an empty shape, a zero dimension, an unknown dtype and a data length that does not
    match prod(shape) x itemsize, naming the field, the byte counts and the shape.
    """
    try:
        dtype_name, dtype = _WIRE_DTYPES[msg.dtype]
    except KeyError:
        raise InvalidArgument(f"{where}.dtype = {msg.dtype} is not a dtype; use FLOAT32, FLOAT16, UINT8 or INT8") from None
    shape = tuple(int(s) for s in msg.shape)
    if not shape:
        raise InvalidArgument(f"{where}: shape is empty; give [dim] for one vector or [n, dim] for several")
    if any(s == 0 for s in shape):
        raise InvalidArgument(f"{where}: shape {_shape_str(shape)} has a zero dimension")
    needed = math.prod(shape) * dtype.itemsize
    if len(msg.data) != needed:
        raise InvalidArgument(
            f"{where}: data has {len(msg.data)} bytes, shape {_shape_str(shape)} {dtype_name} needs {needed}"
        )
    return np.frombuffer(msg.data, dtype=dtype).reshape(shape)


def multi_vector(msg: common_pb.Vector, where: str) -> np.ndarray:
    """Token vectors [n_tokens, dim] as float32."""
    arr = vector_array(msg, where)
    if arr.ndim != 2:
        raise InvalidArgument(f"{where}: shape {_shape_str(arr.shape)} is not a token matrix; use [n_tokens, dim]")
    return arr.astype(np.float32, copy=False)


def sparse_vector(msg: common_pb.SparseVector, where: str) -> SparseVector:
    if len(msg.indices) != len(msg.values):
        raise InvalidArgument(
            f"{where}: {len(msg.indices)} indices but {len(msg.values)} values; give one weight per term id"
        )
    return SparseVector(np.array(msg.indices, dtype=np.uint32), np.array(msg.values, dtype=np.float32))


def _single_vector(msg: common_pb.Vector, where: str) -> np.ndarray:
    arr = vector_array(msg, where)
    if arr.ndim != 1:
        raise InvalidArgument(f"{where}: shape {_shape_str(arr.shape)} is not one vector; use shape [dim]")
    return arr


# ---- payloads and upserts ------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def payload(text: str, where: str, max_bytes: int) -> Payload | None:
    """A payload_json string as a dict; "" means no payload. Must be a JSON object."""
    if not text:
        return None
    # len(text) <= bytes <= 4 * len(text): encode only when the character count is not decisive.
    size = len(text) if 4 * len(text) <= max_bytes else len(text.encode("utf-8"))
    if size > max_bytes:
        raise InvalidArgument(f"{where} has {size} bytes, over the server maximum {max_bytes}")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise InvalidArgument(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(
            f"{where} must be a JSON object, got {type(value).__name__} {text[:40]!r}"
        )
    return value


class _Columns:
    """Collects points row by row into per-field columns, checking shapes agree."""

    def __init__(self) -> None:
        self.ids: list[PointId] = []
        self.where_of_id: dict[PointId, str] = {}
        self.payloads: list[Payload | None] = []
        self.texts: list[str | None] = []
        self.parts: dict[str, list[np.ndarray]] = {}
        self.dims: dict[str, tuple[int, str]] = {}
        self.field_names: frozenset[str] | None = None
        self.first_where = ""
        self.entries: dict[str, list[Any]] = {}  # multi-vector / sparse field -> one entry per point

    def add_entry(self, name: str, position: int, value: Any, where: str) -> None:
        if name in self.parts:
            raise InvalidArgument(f"{where}: field {name!r} is dense in another point; a field has one kind")
        entries = self.entries.setdefault(name, [])
        entries.extend([None] * (position - len(entries)))
        entries.append(value)

    def add_id(self, pid: PointId, where: str) -> None:
        earlier = self.where_of_id.get(pid)
        if earlier is not None:
            raise InvalidArgument(f"{where} = {pid!r} repeats {earlier}; ids must be unique within a request")
        self.where_of_id[pid] = where
        self.ids.append(pid)

    def check_fields(self, names: frozenset[str], where: str) -> None:
        if self.field_names is None:
            self.field_names = names
            self.first_where = where
            return
        missing = sorted(self.field_names - names)
        if missing:
            raise InvalidArgument(
                f"{where}: missing vector field(s) {missing} that {self.first_where} has; "
                "every point of a request must carry the same fields"
            )
        extra = sorted(names - self.field_names)
        if extra:
            raise InvalidArgument(
                f"{where}: vector field(s) {extra} are missing from {self.first_where}; "
                "every point of a request must carry the same fields"
            )

    def add_column(self, name: str, arr: np.ndarray, where: str) -> None:
        dim = int(arr.shape[-1])
        seen = self.dims.get(name)
        if seen is not None and seen[0] != dim:
            raise InvalidArgument(f"{where}: dimension {dim} differs from {seen[1]} (dimension {seen[0]})")
        if seen is None:
            self.dims[name] = (dim, where)
        self.parts.setdefault(name, []).append(arr)


def upsert_batch(req: points_pb.UpsertRequest, *, max_payload_bytes: int, max_batch_points: int) -> UpsertBatch:
    """An UpsertRequest (points and/or a column-wise batch) as one column-wise UpsertBatch.

    Vectors become float32 arrays of shape (n, dim); ids are unique across points and batch;
    every point carries the same vector fields (the engine checks them against the schema).
    """
    n_total = len(req.points) + len(req.batch.ids)
    if n_total == 0:
        raise InvalidArgument(f"upsert to {req.collection!r} has no points: fill `points` or `batch`")
    if n_total > max_batch_points:
        raise InvalidArgument(
            f"upsert has {n_total} points, over the server maximum {max_batch_points} per request "
            "(max_batch_points); split it or use UpsertStream"
        )
    cols = _Columns()
    if req.points:
        _add_points(cols, req.points, max_payload_bytes)
    if req.HasField("batch") and (req.batch.ids or req.batch.vectors):
        _add_point_batch(cols, req.batch, max_payload_bytes)

    vectors: dict[str, Any] = {}
    for name, parts in cols.parts.items():
        if name in cols.entries:
            raise InvalidArgument(f"vectors[{name!r}]: the field is dense in some points and not in others")
        vectors[name] = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
    for name, entries in cols.entries.items():
        vectors[name] = entries + [None] * (len(cols.ids) - len(entries))
    has_payload = any(p is not None for p in cols.payloads)
    has_text = any(t is not None for t in cols.texts)
    return UpsertBatch(
        ids=cols.ids,
        vectors=vectors,
        payloads=cols.payloads if has_payload else None,
        texts=cols.texts if has_text else None,
    )


def _add_points(cols: _Columns, points: Any, max_payload_bytes: int) -> None:
    """Dense vectors become columns (every point must carry the same dense fields); multi-vector
    and sparse vectors become per-point lists, None where a point leaves the field out."""
    n = len(points)
    first = points[0]
    names = sorted(k for k, v in first.vectors.items() if v.WhichOneof("kind") == "dense")
    rows: dict[str, np.ndarray] = {}
    for i, p in enumerate(points):
        where = f"points[{i}]"
        cols.add_id(point_id(p.id, f"{where}.id"), f"{where}.id")
        dense_here = []
        for name, vi in p.vectors.items():
            kind = vi.WhichOneof("kind")
            vwhere = f"{where}.vectors[{name!r}]"
            if kind == "dense":
                dense_here.append(name)
            elif kind == "multi":
                cols.add_entry(name, i, multi_vector(vi.multi, f"{vwhere}.multi"), vwhere)
            elif kind == "sparse":
                cols.add_entry(name, i, sparse_vector(vi.sparse, f"{vwhere}.sparse"), vwhere)
            else:
                raise InvalidArgument(f"{vwhere} has no vector: set dense, multi or sparse")
        cols.check_fields(frozenset(dense_here), f"{where}.vectors")
        for name in names:
            vwhere = f"{where}.vectors[{name!r}]"
            vec = _single_vector(p.vectors[name].dense, vwhere)
            out = rows.get(name)
            if out is None:
                out = rows[name] = np.empty((n, vec.shape[0]), dtype=np.float32)
            elif out.shape[1] != vec.shape[0]:
                raise InvalidArgument(
                    f"{vwhere}: shape {_shape_str(vec.shape)} differs from points[0].vectors[{name!r}] "
                    f"shape [{out.shape[1]}]; a field has one dimension"
                )
            out[i] = vec
        cols.payloads.append(payload(p.payload_json, f"{where}.payload_json", max_payload_bytes))
        cols.texts.append(p.text or None)
    for name in names:
        cols.add_column(name, rows[name], f"points[0].vectors[{name!r}]")


def _add_point_batch(cols: _Columns, batch: points_pb.PointBatch, max_payload_bytes: int) -> None:
    n = len(batch.ids)
    for i, m in enumerate(batch.ids):
        where = f"batch.ids[{i}]"
        cols.add_id(point_id(m, where), where)
    cols.check_fields(frozenset(batch.vectors.keys()), "batch.vectors")
    for name in sorted(batch.vectors.keys()):
        where = f"batch.vectors[{name!r}]"
        arr = vector_array(batch.vectors[name], where)
        if arr.ndim != 2 or arr.shape[0] != n:
            raise InvalidArgument(
                f"{where}: shape {_shape_str(arr.shape)} does not match batch.ids; "
                f"use shape [{n}, dim] (one row per id)"
            )
        cols.add_column(name, arr.astype(np.float32, copy=False), where)
    for attr in ("payloads_json", "texts"):
        got = len(getattr(batch, attr))
        if got not in (0, n):
            raise InvalidArgument(f"batch.{attr} has {got} entries; give none or one per id ({n})")
    if batch.payloads_json:
        cols.payloads.extend(
            payload(text, f"batch.payloads_json[{i}]", max_payload_bytes) for i, text in enumerate(batch.payloads_json)
        )
    else:
        cols.payloads.extend([None] * n)
    if batch.texts:
        cols.texts.extend((t or None) for t in batch.texts)
    else:
        cols.texts.extend([None] * n)


# ---- filters -------------------------------------------------------------------------------


def optional_filter(parent: Any, where: str = "filter") -> Filter | None:
    """The `filter` field of a request; None when it is unset or has no clauses."""
    if not parent.HasField("filter"):
        return None
    f = filter_(parent.filter, where)
    if not (f.must or f.should or f.must_not):
        return None
    return f


def filter_(msg: common_pb.Filter, where: str = "filter", depth: int = 1) -> Filter:
    """A Filter message as a domain Filter, refusing malformed conditions by path."""
    if depth > MAX_FILTER_DEPTH:
        raise InvalidArgument(f"{where}: filters nest deeper than {MAX_FILTER_DEPTH} levels")
    return Filter(
        must=tuple(_condition(c, f"{where}.must[{i}]", depth) for i, c in enumerate(msg.must)),
        should=tuple(_condition(c, f"{where}.should[{i}]", depth) for i, c in enumerate(msg.should)),
        must_not=tuple(_condition(c, f"{where}.must_not[{i}]", depth) for i, c in enumerate(msg.must_not)),
    )


def _key(key: str, where: str) -> str:
    if not key or any(part == "" for part in key.split(".")):
        raise InvalidArgument(f"{where}.key = {key!r} is not a payload path; use dotted names like 'meta.author'")
    return key


def _condition(c: common_pb.Condition, where: str, depth: int) -> Condition:
    kind = c.WhichOneof("condition")
    if kind == "field":
        return _field_condition(c.field, f"{where}.field")
    if kind == "has_id":
        return HasId(ids=frozenset(point_ids(c.has_id.ids, f"{where}.has_id.ids")))
    if kind == "is_empty":
        return IsEmpty(key=_key(c.is_empty.key, f"{where}.is_empty"))
    if kind == "filter":
        return filter_(c.filter, f"{where}.filter", depth + 1)
    raise InvalidArgument(f"{where} is empty: set field, has_id, is_empty or filter")


def _field_condition(fc: common_pb.FieldCondition, where: str) -> Condition:
    key = _key(fc.key, where)
    test = fc.WhichOneof("test")
    if test == "match":
        kind = fc.match.WhichOneof("value")
        if kind is None:
            raise InvalidArgument(f"{where}.match (key {key!r}) has no value: set keyword, integer or boolean")
        return Match(key=key, value=getattr(fc.match, kind))
    if test == "any":
        keywords, integers = list(fc.any.keywords), list(fc.any.integers)
        if bool(keywords) == bool(integers):
            state = "both" if keywords else "neither"
            raise InvalidArgument(
                f"{where}.any (key {key!r}) sets {state} of keywords and integers; set exactly one"
            )
        return MatchAny(key=key, values=tuple(keywords or integers))
    if test == "range":
        r = fc.range
        bounds = {b: getattr(r, b) for b in ("gt", "gte", "lt", "lte") if r.HasField(b)}
        if not bounds:
            raise InvalidArgument(f"{where}.range (key {key!r}) has no bound: set gt, gte, lt or lte")
        for b, v in bounds.items():
            if math.isnan(v):
                raise InvalidArgument(f"{where}.range.{b} (key {key!r}) is NaN")
        return Range(key=key, **bounds)
    raise InvalidArgument(f"{where} (key {key!r}) has no test: set match, any or range")


# ---- reads and queries ---------------------------------------------------------------------


def needs_config(msg: common_pb.WithVectors) -> bool:
    """Whether resolving `msg` needs the collection's config (to list or check field names)."""
    return bool(msg.enable or msg.fields)


def with_vector_fields(msg: common_pb.WithVectors, config: CollectionConfig | None) -> tuple[str, ...]:
    """Field names whose vectors to return: `fields`, else all fields when `enable`, else none.

    `config` may be None only when `needs_config(msg)` is false.
    """
    if msg.fields:
        if config is not None:
            for name in msg.fields:
                config.field(name)  # FieldNotFound names the collection's fields
        return tuple(dict.fromkeys(msg.fields))
    if msg.enable:
        if config is None:
            raise ValueError("with_vector_fields needs the collection config when enable is set")
        return tuple(vf.name for vf in config.vectors)
    return ()


def page_limit(limit: int, max_limit: int, where: str = "limit") -> int:
    """A requested limit: 0 means the default (10); above the server maximum is refused."""
    if limit == 0:
        return min(DEFAULT_LIMIT, max_limit)
    if limit > max_limit:
        raise InvalidArgument(f"{where} = {limit} exceeds the server maximum {max_limit}")
    return int(limit)


def _query_input(q: query_pb.QueryInput, where: str) -> dict[str, Any]:
    """A QueryInput as the NearestQuery fields it sets (vector, point or text); {} when unset."""
    kind = q.WhichOneof("kind")
    if kind == "vector":
        return {"vector": _single_vector(q.vector, f"{where}.vector").astype(np.float32, copy=False)}
    if kind == "multi":
        return {"vector": multi_vector(q.multi, f"{where}.multi")}
    if kind == "sparse":
        return {"vector": sparse_vector(q.sparse, f"{where}.sparse")}
    if kind == "point":
        return {"point": point_id(q.point, f"{where}.point")}
    if kind == "text":
        if not q.text.strip():
            raise InvalidArgument(f"{where}.text is empty")
        return {"text": q.text}
    return {}


def _required_input(q: query_pb.QueryInput, where: str) -> dict[str, Any]:
    target = _query_input(q, where)
    if not target:
        raise InvalidArgument(f"{where} is not set: give a vector, a point id or a text")
    return target


def is_hybrid(req: query_pb.QueryRequest) -> bool:
    """Whether a QueryRequest needs the hybrid path (prefetch, fusion, rerank or diversity)."""
    return bool(req.prefetch) or any(req.HasField(f) for f in ("fusion", "rerank", "diversity"))


def query_request(
    req: query_pb.QueryRequest, config: CollectionConfig | None, *, max_limit: int
) -> NearestQuery | HybridQuery:
    """A QueryRequest as a single-stage NearestQuery or a HybridQuery."""
    if is_hybrid(req):
        return hybrid_query(req, config, max_limit=max_limit)
    return nearest_query(req, config, max_limit=max_limit)


def nearest_query(
    req: query_pb.QueryRequest, config: CollectionConfig | None, *, max_limit: int, where: str = ""
) -> NearestQuery:
    """A single-stage QueryRequest as a NearestQuery (one field, one query target)."""
    prefix = f"{where}." if where else ""
    if is_hybrid(req):
        raise InvalidArgument(
            f"{prefix}prefetch / fusion / rerank / diversity: hybrid queries go one per Query call, not in a batch"
        )
    return _with_params(req, config, max_limit=max_limit, prefix=prefix, **_required_input(req.query, f"{prefix}query"))


DEFAULT_STAGE_LIMIT = 100
"""Candidates a prefetch stage contributes when its limit is 0."""


def _threshold(msg: Any, where: str) -> float | None:
    if not msg.HasField("score_threshold"):
        return None
    threshold = float(msg.score_threshold)
    if math.isnan(threshold):
        raise InvalidArgument(f"{where}.score_threshold is NaN")
    return threshold


def _fusion(msg: query_pb.Fusion, where: str) -> Fusion:
    methods = {query_pb.Fusion.METHOD_UNSPECIFIED: "rrf", query_pb.Fusion.RRF: "rrf",
               query_pb.Fusion.DBSF: "dbsf", query_pb.Fusion.WEIGHTED: "weighted"}
    if msg.method not in methods:
        raise InvalidArgument(f"{where}.method = {msg.method} is not a fusion method; use RRF, DBSF or WEIGHTED")
    return Fusion(method=methods[msg.method], k=msg.rrf_k if msg.HasField("rrf_k") else 60,
                  weights=tuple(float(w) for w in msg.weights))


def _stage(p: query_pb.Prefetch, max_limit: int, where: str) -> NearestQuery | HybridQuery:
    limit = p.limit or min(DEFAULT_STAGE_LIMIT, max_limit)
    if limit > max_limit:
        raise InvalidArgument(f"{where}.limit = {limit} exceeds the server maximum {max_limit}")
    threshold = _threshold(p, where)
    filt = optional_filter(p, f"{where}.filter")
    if p.prefetch:
        if threshold is not None:
            raise InvalidArgument(f"{where}.score_threshold applies to a stage that searches a field, not to nested stages")
        target = _query_input(p.query, f"{where}.query")
        return HybridQuery(
            prefetch=tuple(_stage(c, max_limit, f"{where}.prefetch[{i}]") for i, c in enumerate(p.prefetch)),
            fusion=_fusion(p.fusion, f"{where}.fusion") if p.HasField("fusion") else None,
            rerank=Rerank(NearestQuery(using=p.using, limit=limit, **target)) if target else None,
            filter=filt, limit=limit,
        )
    if p.HasField("fusion"):
        raise InvalidArgument(f"{where}.fusion needs nested prefetch stages to fuse")
    return NearestQuery(using=p.using, filter=filt, limit=limit, score_threshold=threshold,
                        ef=p.params.ef or None, exact=p.params.exact, **_required_input(p.query, f"{where}.query"))


def hybrid_query(req: query_pb.QueryRequest, config: CollectionConfig | None, *, max_limit: int) -> HybridQuery:
    """A QueryRequest with prefetch stages (or a plain query with diversity) as a HybridQuery."""
    limit = page_limit(req.limit, max_limit, "limit")
    if limit + req.offset > max_limit:
        raise InvalidArgument(f"offset + limit = {req.offset} + {limit} exceeds the server maximum {max_limit}")
    if req.model:
        raise InvalidArgument("model applies to a single-stage query's vector; a hybrid query sends texts or "
                              "vectors per stage")
    rerank = None
    if req.HasField("rerank"):
        rerank = Rerank(NearestQuery(using=req.rerank.using, **_required_input(req.rerank.query, "rerank.query")))
    target = _query_input(req.query, "query")
    if req.prefetch:
        stages = tuple(_stage(p, max_limit, f"prefetch[{i}]") for i, p in enumerate(req.prefetch))
        if target:
            if rerank is not None:
                raise InvalidArgument("query and rerank both rescore the prefetch candidates; set only one")
            rerank = Rerank(NearestQuery(using=req.using, **target))
    else:
        if rerank is not None:
            raise InvalidArgument("rerank reorders prefetch candidates; add prefetch stages")
        if req.HasField("fusion"):
            raise InvalidArgument("fusion merges prefetch stages; add prefetch stages")
        if not target:
            raise InvalidArgument("query is not set: give a vector, a point id or a text")
        candidates = req.diversity.candidates or min(max_limit, 10 * (limit + req.offset))
        if candidates > max_limit:
            raise InvalidArgument(f"diversity.candidates = {candidates} exceeds the server maximum {max_limit}")
        stages = (NearestQuery(using=req.using, limit=candidates, ef=req.params.ef or None, exact=req.params.exact,
                               **target),)
    diversity = None
    if req.HasField("diversity"):
        d = req.diversity
        methods = {query_pb.Diversity.METHOD_UNSPECIFIED: "mmr", query_pb.Diversity.MMR: "mmr",
                   query_pb.Diversity.COVERAGE: "coverage"}
        if d.method not in methods:
            raise InvalidArgument(f"diversity.method = {d.method} is not a method; use MMR or COVERAGE")
        diversity = Diversity(method=methods[d.method],
                              lambda_=float(d.relevance_weight) if d.HasField("relevance_weight") else 0.5,
                              using=d.using)
    return HybridQuery(
        prefetch=stages,
        fusion=_fusion(req.fusion, "fusion") if req.HasField("fusion") else None,
        rerank=rerank,
        diversity=diversity,
        filter=optional_filter(req, "filter"),
        limit=limit,
        offset=int(req.offset),
        score_threshold=_threshold(req, "query"),
        with_payload=req.with_payload,
        with_vectors=with_vector_fields(req.with_vectors, config),
    )


def _with_params(
    req: query_pb.QueryRequest, config: CollectionConfig | None, *, max_limit: int, prefix: str,
    vector: Any = None, point: PointId | None = None, text: str | None = None,
) -> NearestQuery:
    """Everything of a QueryRequest but its `query` (given as `vector`, `point` or `text`)."""
    limit = page_limit(req.limit, max_limit, f"{prefix}limit")
    if limit + req.offset > max_limit:
        # The index is searched for offset + limit candidates, so the bound applies to the sum.
        raise InvalidArgument(
            f"{prefix}offset + limit = {req.offset} + {limit} exceeds the server maximum {max_limit}"
        )
    threshold: float | None = None
    if req.HasField("score_threshold"):
        threshold = float(req.score_threshold)
        if math.isnan(threshold):
            raise InvalidArgument(f"{prefix}score_threshold is NaN")
    return NearestQuery(
        using=req.using,
        vector=vector,
        point=point,
        text=text,
        filter=optional_filter(req, f"{prefix}filter"),
        limit=limit,
        offset=int(req.offset),
        score_threshold=threshold,
        with_payload=req.with_payload,
        with_vectors=with_vector_fields(req.with_vectors, config),
        ef=req.params.ef or None,
        exact=req.params.exact,
    )


def nearest_queries(
    req: query_pb.QueryBatchRequest,
    config: CollectionConfig | None,
    *,
    max_limit: int,
    max_queries: int,
) -> list[NearestQuery] | tuple[NearestQuery, np.ndarray]:
    """A QueryBatchRequest's queries: a list of them, or (template, vectors) for the compact form."""
    if req.HasField("vectors") or req.HasField("template"):
        return _template_queries(req, config, max_limit=max_limit, max_queries=max_queries)
    _check_batch_size(len(req.queries), "queries", max_queries)
    out = []
    for i, q in enumerate(req.queries):
        where = f"queries[{i}]"
        if q.collection and q.collection != req.collection:
            raise InvalidArgument(
                f"{where}.collection = {q.collection!r} does not match the batch collection {req.collection!r}; "
                "leave it empty or use the same name"
            )
        out.append(nearest_query(q, config, max_limit=max_limit, where=where))
    return out


def _check_batch_size(n: int, where: str, max_queries: int) -> None:
    if n > max_queries:
        raise InvalidArgument(
            f"{where} has {n} queries, over the server maximum {max_queries} per batch "
            "(max_queries_per_batch); split the batch"
        )


def _template_queries(
    req: query_pb.QueryBatchRequest, config: CollectionConfig | None, *, max_limit: int, max_queries: int
) -> tuple[NearestQuery, np.ndarray]:
    if req.queries:
        raise InvalidArgument("a batch gives either `queries` or `template` + `vectors`, not both")
    if not req.HasField("vectors"):
        raise InvalidArgument("template is set but vectors is not: give the query vectors, shape [q, dim]")
    if req.template.HasField("query"):
        raise InvalidArgument("template.query must be unset: each row of `vectors` is a query")
    matrix = vector_array(req.vectors, "vectors")
    if matrix.ndim != 2:
        raise InvalidArgument(f"vectors has shape {_shape_str(req.vectors.shape)}; expected [q, dim]")
    _check_batch_size(matrix.shape[0], "vectors", max_queries)
    if is_hybrid(req.template):
        raise InvalidArgument("template: prefetch / fusion / rerank / diversity are not available in a batch template")
    template = _with_params(req.template, config, max_limit=max_limit, prefix="template.")
    return template, matrix.astype(np.float32, copy=False)


def batch_needs_config(req: query_pb.QueryBatchRequest) -> bool:
    return needs_config(req.template.with_vectors) or any(needs_config(q.with_vectors) for q in req.queries)


# ---- per-request argument bundles (so servicers never read message fields beyond names) -----


def get_args(req: points_pb.GetPointsRequest, config: CollectionConfig | None) -> dict[str, Any]:
    """Keyword arguments of Collection.get besides the ids (which come from `point_ids`)."""
    return {
        "with_payload": req.with_payload,
        "with_vectors": with_vector_fields(req.with_vectors, config),
    }


def scroll_args(req: points_pb.ScrollRequest, config: CollectionConfig | None, *, max_limit: int) -> dict[str, Any]:
    """Keyword arguments of Collection.scroll."""
    return {
        "filter": optional_filter(req),
        "limit": page_limit(req.limit, max_limit),
        "offset": point_id(req.offset, "offset") if req.HasField("offset") else None,
        "with_payload": req.with_payload,
        "with_vectors": with_vector_fields(req.with_vectors, config),
    }


def delete_selector(req: points_pb.DeletePointsRequest) -> list[PointId] | Filter:
    """What a DeletePointsRequest deletes: a list of ids, or every point a filter matches.

    An empty filter would match every point: it is refused, so that a filter lost on the way
    (a typo, an unset variable) cannot empty a collection. Deleting the collection drops all.
    """
    kind = req.WhichOneof("selector")
    if kind == "ids":
        return point_ids(req.ids.ids, "ids.ids")
    if kind == "filter":
        filt = filter_(req.filter, "filter")
        if filt == Filter():
            raise InvalidArgument(
                "filter: an empty filter would delete every point; name what to delete, "
                "or delete the collection to drop everything"
            )
        return filt
    raise InvalidArgument(f"delete from {req.collection!r} has no selector: set ids or filter")


# ---- encoder ---------------------------------------------------------------------------------

_ENCODE_KINDS = {
    encoder_pb.ENCODE_KIND_UNSPECIFIED: "dense", encoder_pb.DENSE: "dense",
    encoder_pb.MULTI: "multi", encoder_pb.SPARSE: "sparse",
}
_TEXT_ROLES = {encoder_pb.TEXT_ROLE_UNSPECIFIED: "document", encoder_pb.DOCUMENT: "document", encoder_pb.QUERY: "query"}


def encode_args(req: encoder_pb.EncodeRequest) -> tuple[list[str], EncodeKind, str | None, TextRole]:
    """(texts, kind, model or None for the default, role) of an EncodeRequest. The texts
    themselves are checked by the encoder (empty, too long, too many)."""
    if req.kind not in _ENCODE_KINDS:
        raise InvalidArgument(f"kind = {req.kind} is not a known EncodeKind; use DENSE, MULTI or SPARSE")
    if req.role not in _TEXT_ROLES:
        raise InvalidArgument(f"role = {req.role} is not a known TextRole; use DOCUMENT or QUERY")
    return list(req.texts), EncodeKind(_ENCODE_KINDS[req.kind]), req.model or None, TextRole(_TEXT_ROLES[req.role])


def chunking(msg: points_pb.Chunking) -> tuple[int, int]:
    """(window_tokens, overlap_tokens) of a Chunking request; the model checks them against its window."""
    if msg.window_tokens == 0:
        raise InvalidArgument("chunking.window_tokens = 0: give the window size in tokens")
    if msg.overlap_tokens >= msg.window_tokens:
        raise InvalidArgument(
            f"chunking.overlap_tokens = {msg.overlap_tokens} must be less than window_tokens = {msg.window_tokens}"
        )
    return int(msg.window_tokens), int(msg.overlap_tokens)
