"""Conversions between the SDK's Python values and the vecdb.v1 wire messages.

The one place in the SDK that builds or reads protobuf messages; `Client` and `AsyncClient` share
it. Validation here is limited to what is cheap and unambiguous on the client (ids, payload JSON,
array shapes against the number of ids, filter structure); semantic checks (dimensions, NaN,
limits) are the server's. Every problem raises `errors.InvalidArgument` naming where it is, e.g.
"ids[3]: -1 is out of range" or "filter.must[2].range: needs at least one of gt, gte, lt, lte".
"""

from __future__ import annotations

import json
import numbers
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from vecdb.v1 import admin_service_pb2 as admin_pb
from vecdb.v1 import collections_service_pb2 as coll_pb
from vecdb.v1 import common_pb2 as common_pb
from vecdb.v1 import encoder_service_pb2 as enc_pb
from vecdb_client import models
from vecdb_client.errors import Internal, InvalidArgument, Unimplemented

_U64_MAX = 2**64 - 1
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_U32_MAX = 2**32 - 1
E = TypeVar("E")
_ID_HELP = "a point id is an int in 0..2**64-1 or a UUID string"


def _bad(where: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{where}: {problem}")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_name(value: object, where: str) -> str:
    """A collection or field name: a str (the server checks the characters)."""
    if not isinstance(value, str):
        raise _bad(where, f"must be a str, got {type(value).__name__}")
    return value


def uint32(value: object, where: str) -> int:
    """A non-negative int that fits the wire's uint32."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        num = int(value)
        if 0 <= num <= _U32_MAX:
            return num
    raise _bad(where, f"must be an int in 0..{_U32_MAX}, got {value!r}")


def positive_uint32(value: object, where: str) -> int:
    """A count the caller asks for, such as k: at least 1 (on the wire, 0 would mean "default")."""
    num = uint32(value, where)
    if num == 0:
        raise _bad(where, "must be at least 1")
    return num


def real(value: object, where: str) -> float:
    """A real number (not a bool)."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    raise _bad(where, f"must be a number, got {value!r}")


# -- point ids ------------------------------------------------------------------------------------


def canonical_id(value: object, where: str) -> int | str:
    """Validate one point id: an int in 0..2**64-1 or a UUID (returned canonical, lower-case)."""
    if isinstance(value, (bool, np.bool_)):
        raise _bad(where, f"{value!r} is a bool; {_ID_HELP}")
    if isinstance(value, numbers.Integral):
        num = int(value)
        if 0 <= num <= _U64_MAX:
            return num
        raise _bad(where, f"{num} is out of range; {_ID_HELP}")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise _bad(where, f"{value!r} is not a UUID; {_ID_HELP}") from None
    raise _bad(where, f"{value!r} ({type(value).__name__}) is not a point id; {_ID_HELP}")


def id_message(canonical: int | str) -> common_pb.PointId:
    if isinstance(canonical, int):
        return common_pb.PointId(num=canonical)
    return common_pb.PointId(uuid=canonical)


def point_id(value: object, where: str) -> common_pb.PointId:
    return id_message(canonical_id(value, where))


def canonical_ids(values: object, where: str = "ids") -> list[int | str]:
    """Validate a sequence of point ids; errors name the index ("ids[3]: ...")."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise _bad(where, f"must be a sequence of point ids, got {type(values).__name__}")
    return [canonical_id(v, f"{where}[{i}]") for i, v in enumerate(values)]


def point_ids(values: object, where: str = "ids") -> list[common_pb.PointId]:
    return [id_message(c) for c in canonical_ids(values, where)]


def id_from_wire(pid: common_pb.PointId) -> models.PointId:
    # The server never sends an empty uuid, so a non-empty one is the id; cheaper than WhichOneof.
    return pid.uuid or pid.num


# -- vectors --------------------------------------------------------------------------------------

_WIRE_DTYPES: dict[common_pb.DType, np.dtype[Any]] = {
    common_pb.DTYPE_UNSPECIFIED: np.dtype("<f4"),
    common_pb.FLOAT32: np.dtype("<f4"),
    common_pb.FLOAT16: np.dtype("<f2"),
    common_pb.UINT8: np.dtype("u1"),
    common_pb.INT8: np.dtype("i1"),
}
_DTYPE_CODES: dict[np.dtype[Any], common_pb.DType] = {
    np.dtype("<f4"): common_pb.FLOAT32,
    np.dtype("<f2"): common_pb.FLOAT16,
    np.dtype("u1"): common_pb.UINT8,
    np.dtype("i1"): common_pb.INT8,
}


def as_array(value: ArrayLike, where: str) -> np.ndarray:
    """A C-contiguous little-endian array in a wire dtype.

    float32 and float16 stay as they are; other floats and ints become float32, except numpy
    int8 / uint8 arrays, which travel as they are (codes for quantized fields).
    """
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise _bad(
            where, f"not a numeric array; rows must all have the same length ({exc})"
        ) from None
    kind, size = arr.dtype.kind, arr.dtype.itemsize
    if kind == "O":
        raise _bad(where, "not a numeric array; rows must all have the same length")
    if kind == "f" and size in (2, 4):
        target = np.dtype(f"<f{size}")
    elif kind in "iu" and size == 1:
        target = np.dtype(f"{kind}1")
    elif kind in "fiu":
        target = np.dtype("<f4")
    else:
        raise _bad(where, f"dtype {arr.dtype} is not numeric")
    return arr.astype(target, order="C", copy=False)


def encode_array(arr: np.ndarray) -> common_pb.Vector:
    """An array from `as_array` as a wire Vector: little-endian bytes, dtype and shape."""
    return common_pb.Vector(
        data=arr.tobytes(), dtype=_DTYPE_CODES[arr.dtype], shape=[int(n) for n in arr.shape]
    )


def encode_vector(value: ArrayLike, where: str, ndim: int = 1) -> common_pb.Vector:
    arr = as_array(value, where)
    if arr.ndim != ndim:
        want = "(dim,)" if ndim == 1 else "(n, dim)"
        raise _bad(where, f"expected a {ndim}-D array {want}, got shape {arr.shape}")
    return encode_array(arr)


def decode_vector(vec: common_pb.Vector, where: str = "vector") -> np.ndarray:
    """A wire Vector as a read-only numpy array of its shape."""
    dtype = _WIRE_DTYPES.get(vec.dtype)
    if dtype is None:
        raise Unimplemented(f"{where}: vector dtype {vec.dtype} is not known to this SDK version")
    arr = np.frombuffer(vec.data, dtype=dtype)
    shape = tuple(vec.shape) or (arr.size,)
    if int(np.prod(shape)) != arr.size:  # a malformed response
        raise Internal(f"{where}: {arr.size} elements do not fill shape {shape}")
    arr = arr.reshape(shape)
    return arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))


def decode_vectors(vectors: Mapping[str, common_pb.VectorInput]) -> dict[str, Any]:
    """A record's vectors: dense (dim,) or token (n, dim) arrays, or SparseVectors."""
    return {name: encoded_vector(vi, f"vectors[{name!r}]") for name, vi in vectors.items()}


def is_sparse(value: object) -> bool:
    return isinstance(value, (models.SparseVector, Mapping))


def sparse_message(value: object, where: str) -> common_pb.SparseVector:
    """A SparseVector or {term id: weight} dict as the wire message."""
    if isinstance(value, Mapping):
        indices, weights = list(value.keys()), list(value.values())
    elif isinstance(value, models.SparseVector):
        indices, weights = np.asarray(value.indices).tolist(), np.asarray(value.values).tolist()
    else:
        raise _bad(where, f"must be a SparseVector or a {{term id: weight}} dict, got {type(value).__name__}")
    if len(indices) != len(weights):
        raise _bad(where, f"{len(indices)} indices but {len(weights)} values")
    for i in indices:
        if not _is_int(i) or not 0 <= int(i) < 2**32:
            raise _bad(where, f"term id {i!r} is not an integer in [0, 2**32)")
    return common_pb.SparseVector(indices=[int(i) for i in indices], values=[real(w, where) for w in weights])


def vector_input(value: object, where: str) -> common_pb.VectorInput:
    """One vector of a point: sparse (SparseVector / dict), token vectors (2-D) or dense (1-D)."""
    if is_sparse(value):
        return common_pb.VectorInput(sparse=sparse_message(value, where))
    arr = as_array(value, where)  # type: ignore[arg-type]
    if arr.ndim == 2:
        return common_pb.VectorInput(multi=encode_array(arr))
    if arr.ndim == 1:
        return common_pb.VectorInput(dense=encode_array(arr))
    raise _bad(where, f"expected a vector (dim,), token vectors (n, dim) or a sparse vector, got shape {arr.shape}")


def query_input(target: Any, vector: object, where: str) -> None:
    """Set a QueryInput's vector from a dense (dim,), token (n, dim) or sparse query value."""
    vi = vector_input(vector, where)
    kind = vi.WhichOneof("kind")
    if kind == "dense":
        target.vector.CopyFrom(vi.dense)
    elif kind == "multi":
        target.multi.CopyFrom(vi.multi)
    else:
        target.sparse.CopyFrom(vi.sparse)


def matrix(value: ArrayLike, n: int, where: str) -> np.ndarray:
    """A (n, dim) batch of vectors for n points; a 1-D array is accepted when n == 1."""
    arr = as_array(value, where)
    if arr.ndim == 1 and n == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise _bad(where, f"expected shape (n, dim) with n = {n} (one row per id), got {arr.shape}")
    return arr


def is_per_point(value: object) -> bool:
    """Whether a field's upsert value is one entry per point (sparse or token vectors, None
    allowed) rather than one (n, dim) matrix."""
    if isinstance(value, np.ndarray) or not isinstance(value, Sequence) or isinstance(value, str):
        return False
    for entry in value:
        if entry is None or is_sparse(entry):
            return True
        if isinstance(entry, np.ndarray):
            return entry.ndim == 2
        # A list of rows is one point's token vectors; a list of numbers is a dense row.
        return isinstance(entry, Sequence) and bool(entry) and isinstance(entry[0], Sequence)
    return False


def batch_vectors(vectors: ArrayLike | Mapping[str, ArrayLike], n: int) -> dict[str, Any]:
    """Field name -> (n, dim) array, or (sparse and multi-vector fields) a list of n per-point
    values with None for points without one. A bare array is the field "default"."""
    if isinstance(vectors, Mapping):
        out: dict[str, Any] = {}
        for name, v in vectors.items():
            key, where = check_name(name, "vectors key"), f"vectors[{name!r}]"
            if is_per_point(v):
                if len(v) != n:  # type: ignore[arg-type]
                    raise _bad(where, f"has {len(v)} entries for {n} ids")  # type: ignore[arg-type]
                out[key] = list(v)  # type: ignore[arg-type]
            else:
                out[key] = matrix(v, n, where)
        return out
    return {"default": matrix(vectors, n, "vectors")}


def with_vectors(value: bool | Sequence[str], where: str = "with_vectors") -> common_pb.WithVectors:
    """True: every field; False or []: none; a name or a list of names: those fields."""
    if isinstance(value, (bool, np.bool_)):
        return common_pb.WithVectors(enable=bool(value))
    if isinstance(value, str):
        names = [value]
    elif isinstance(value, Iterable):
        names = list(value)
    else:
        raise _bad(where, f"must be a bool or a list of field names, got {value!r}")
    for i, name in enumerate(names):
        check_name(name, f"{where}[{i}]")
    return common_pb.WithVectors(enable=bool(names), fields=names)


# -- payloads and texts ---------------------------------------------------------------------------


def _json_default(obj: object) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def payload_json(payload: object, where: str) -> str:
    """A payload dict as compact JSON ("" for None); numpy scalars and arrays are allowed."""
    if payload is None:
        return ""
    if not isinstance(payload, Mapping):
        raise _bad(where, f"a payload is a dict (a JSON object), got {type(payload).__name__}")
    try:
        return json.dumps(
            payload,
            allow_nan=False,
            ensure_ascii=False,
            separators=(",", ":"),
            default=_json_default,
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise _bad(where, f"payload is not JSON-serializable: {exc}") from None


def payload_from_json(text: str) -> models.Payload | None:
    if not text:
        return None
    payload: models.Payload = json.loads(text)  # the server stores JSON objects only
    return payload


def text_value(text: object, where: str) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise _bad(where, f"must be a str or None, got {type(text).__name__}")
    return text


def texts_list(values: object, where: str = "texts") -> list[str]:
    """Texts to encode or to query with: a non-empty sequence of str (a bare str is refused: it
    would otherwise read as one text per character)."""
    if isinstance(values, str):
        raise _bad(where, "pass a list of strings, not one string")
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, (bytes, Mapping)) or not isinstance(values, Sequence):
        raise _bad(where, f"must be a list of strings, got {type(values).__name__}")
    if not values:
        raise _bad(where, "pass at least one text")
    for i, text in enumerate(values):
        if not isinstance(text, str):
            raise _bad(f"{where}[{i}]", f"must be a str, got {type(text).__name__}")
    return list(values)


def models_map(
    value: Mapping[str, str] | None, fields: Iterable[str], where: str = "models"
) -> dict[str, str]:
    """Field -> the model its supplied vectors came from; only fields given vectors can be named."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _bad(where, f"must be a dict of field name -> model name, got {type(value).__name__}")
    given = set(fields)
    out: dict[str, str] = {}
    for name, model in value.items():
        check_name(name, f"{where} key")
        if not isinstance(model, str) or not model:
            raise _bad(f"{where}[{name!r}]", f"must be a non-empty model name, got {model!r}")
        if name not in given:
            raise _bad(
                f"{where}[{name!r}]",
                "names the model of vectors that were not given for this field "
                f"(vectors were given for: {', '.join(sorted(given)) or 'no field'})",
            )
        out[name] = model
    return out


def column(values: Sequence[Any] | None, n: int, where: str) -> Sequence[Any] | None:
    """A per-point column (payloads, texts): None, or exactly n entries."""
    if values is None:
        return None
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
        raise _bad(where, f"must be a sequence with one entry per id, got {type(values).__name__}")
    if len(values) != n:
        raise _bad(where, f"has {len(values)} entries for {n} ids")
    return values


# -- filters --------------------------------------------------------------------------------------

_CLAUSES = ("must", "should", "must_not")
_BOUNDS = ("gt", "gte", "lt", "lte")


def build_filter(value: Mapping[str, Any] | None, where: str = "filter") -> common_pb.Filter | None:
    """A Qdrant-style filter dict as a wire Filter (None stays None).

    {"must": [...], "should": [...], "must_not": [...]}, each a list of conditions:
    {"key": k, "match": {"value": v}} (v: str, int or bool), {"key": k, "match": {"any": [...]}}
    (all str or all int), {"key": k, "range": {"gte": 1, "lt": 10}}, {"has_id": [ids]},
    {"is_empty": {"key": k}}, or a nested filter (a dict of must / should / must_not).
    """
    if value is None:
        return None
    return _filter(value, where)


def _filter(value: object, where: str) -> common_pb.Filter:
    if not isinstance(value, Mapping):
        raise _bad(where, f"a filter is a dict of must / should / must_not lists, got {value!r}")
    for key in value:
        if key not in _CLAUSES:
            raise _bad(where, f"unknown key {key!r}; a filter has must, should, must_not")
    out = common_pb.Filter()
    for clause in _CLAUSES:
        items = value.get(clause)
        if items is None:
            continue
        target = getattr(out, clause)
        if isinstance(items, Mapping):  # one condition instead of a list of one
            target.append(_condition(items, f"{where}.{clause}"))
        elif isinstance(items, (list, tuple)):
            target.extend(_condition(c, f"{where}.{clause}[{i}]") for i, c in enumerate(items))
        else:
            raise _bad(f"{where}.{clause}", f"must be a list of conditions, got {items!r}")
    return out


def _only(cond: Mapping[str, Any], allowed: tuple[str, ...], where: str, what: str) -> None:
    for key in cond:
        if key not in allowed:
            raise _bad(where, f"unknown key {key!r} in {what}; expected {', '.join(allowed)}")


def _condition(cond: object, where: str) -> common_pb.Condition:
    if not isinstance(cond, Mapping):
        raise _bad(where, f"a condition is a dict, got {cond!r}")
    if "key" in cond:
        return common_pb.Condition(field=_field_condition(cond, where))
    if "has_id" in cond:
        _only(cond, ("has_id",), where, "a has_id condition")
        ids = cond["has_id"]
        if isinstance(ids, (str, bytes)) or not isinstance(ids, (list, tuple, set, frozenset)):
            raise _bad(f"{where}.has_id", f"must be a list of point ids, got {ids!r}")
        return common_pb.Condition(
            has_id=common_pb.HasIdCondition(ids=point_ids(list(ids), f"{where}.has_id"))
        )
    if "is_empty" in cond:
        _only(cond, ("is_empty",), where, "an is_empty condition")
        body = cond["is_empty"]
        if not isinstance(body, Mapping) or set(body) != {"key"}:
            raise _bad(f"{where}.is_empty", f'must be {{"key": "<payload key>"}}, got {body!r}')
        key = _key(body["key"], f"{where}.is_empty.key")
        return common_pb.Condition(is_empty=common_pb.IsEmptyCondition(key=key))
    if cond and all(k in _CLAUSES for k in cond):
        return common_pb.Condition(filter=_filter(cond, where))
    raise _bad(
        where,
        f"unknown condition {dict(cond)!r}; expected key + match / range, has_id, is_empty, "
        "or a nested filter of must / should / must_not",
    )


def _key(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(
            where, f"must be a non-empty str (a payload path like 'meta.author'), got {value!r}"
        )
    return value


def _field_condition(cond: Mapping[str, Any], where: str) -> common_pb.FieldCondition:
    _only(cond, ("key", "match", "range"), where, "a field condition")
    key = _key(cond["key"], f"{where}.key")
    tests = [t for t in ("match", "range") if t in cond]
    if len(tests) != 1:
        raise _bad(where, "a field condition needs exactly one of match, range beside key")
    if tests[0] == "range":
        return common_pb.FieldCondition(key=key, range=_range(cond["range"], f"{where}.range"))
    match, mwhere = cond["match"], f"{where}.match"
    if (
        not isinstance(match, Mapping)
        or len(match) != 1
        or next(iter(match)) not in ("value", "any")
    ):
        raise _bad(mwhere, f'must be {{"value": v}} or {{"any": [v, ...]}}, got {match!r}')
    if "value" in match:
        return common_pb.FieldCondition(
            key=key, match=_match_value(match["value"], f"{mwhere}.value")
        )
    return common_pb.FieldCondition(key=key, any=_match_any(match["any"], f"{mwhere}.any"))


def _match_value(value: object, where: str) -> common_pb.MatchValue:
    if isinstance(value, (bool, np.bool_)):  # before int: bool is an int in Python
        return common_pb.MatchValue(boolean=bool(value))
    if isinstance(value, numbers.Integral):
        return common_pb.MatchValue(integer=_int64(value, where))
    if isinstance(value, str):
        return common_pb.MatchValue(keyword=value)
    raise _bad(where, f"must be a str, int or bool (use range for floats), got {value!r}")


def _int64(value: numbers.Integral, where: str) -> int:
    num = int(value)
    if not _I64_MIN <= num <= _I64_MAX:
        raise _bad(where, f"{num} does not fit a 64-bit signed integer")
    return num


def _match_any(values: object, where: str) -> common_pb.MatchAny:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, set, frozenset)):
        raise _bad(where, f"must be a list of str or a list of int, got {values!r}")
    items = list(values)
    if not items:
        raise _bad(where, "needs at least one value")
    if all(isinstance(v, str) for v in items):
        return common_pb.MatchAny(keywords=items)
    if all(_is_int(v) for v in items):
        return common_pb.MatchAny(
            integers=[_int64(v, f"{where}[{i}]") for i, v in enumerate(items)]
        )
    want = str if isinstance(items[0], str) else int
    i = next(
        i for i, v in enumerate(items) if not (isinstance(v, str) if want is str else _is_int(v))
    )
    raise _bad(f"{where}[{i}]", f"values must be all str or all int, got {items[i]!r}")


def _range(body: object, where: str) -> common_pb.Range:
    if not isinstance(body, Mapping):
        raise _bad(where, f"must be a dict of gt, gte, lt, lte, got {body!r}")
    _only(body, _BOUNDS, where, "a range")
    bounds: dict[str, float] = {}
    for name in _BOUNDS:
        bound = body.get(name)
        if bound is None:
            continue
        bounds[name] = real(bound, f"{where}.{name}")
    if not bounds:
        raise _bad(where, "needs at least one of gt, gte, lt, lte")
    return common_pb.Range(**bounds)


# -- collections ----------------------------------------------------------------------------------

_METRICS = {"cosine": coll_pb.COSINE, "dot": coll_pb.DOT, "l2": coll_pb.L2}
_METRIC_NAMES = {v: k for k, v in _METRICS.items()} | {coll_pb.METRIC_UNSPECIFIED: "cosine"}
_STORAGE = {"float32": common_pb.FLOAT32, "float16": common_pb.FLOAT16}
_STORAGE_NAMES = {v: k for k, v in _STORAGE.items()} | {common_pb.DTYPE_UNSPECIFIED: "float32"}
_INDEX_TYPES = {
    "keyword": coll_pb.KEYWORD,
    "integer": coll_pb.INTEGER,
    "float": coll_pb.FLOAT,
    "bool": coll_pb.BOOL,
}
_INDEX_NAMES = {v: k for k, v in _INDEX_TYPES.items()}


def _choice(value: object, table: Mapping[str, E], where: str) -> E:
    if isinstance(value, str) and value.lower() in table:
        return table[value.lower()]
    raise _bad(where, f"{value!r} is not one of {', '.join(table)}")


def _text_source_message(value: object, where: str) -> coll_pb.TextSource:
    if not isinstance(value, models.TextSource):
        raise _bad(where, f"must be a TextSource or None, got {type(value).__name__}")
    for attr in ("model", "payload_key", "model_hash"):
        if not isinstance(getattr(value, attr), str):
            raise _bad(f"{where}.{attr}", f"must be a str, got {getattr(value, attr)!r}")
    return coll_pb.TextSource(
        model=value.model, payload_key=value.payload_key, model_hash=value.model_hash
    )


_BINARY_METHODS = {
    "threshold": coll_pb.BinaryQuantization.THRESHOLD,
    "recurrent_residual": coll_pb.BinaryQuantization.RECURRENT_RESIDUAL,
}
_BINARY_METHOD_NAMES = {v: k for k, v in _BINARY_METHODS.items()}
_QUERY_MODES = {
    "": coll_pb.QuantizationParams.QUERY_MODE_UNSPECIFIED,
    "symmetric": coll_pb.QuantizationParams.SYMMETRIC,
    "asymmetric": coll_pb.QuantizationParams.ASYMMETRIC,
}
_QUERY_MODE_NAMES = {v: k for k, v in _QUERY_MODES.items()}


def _quantization_message(q: object, where: str) -> coll_pb.QuantizationParams:
    if not isinstance(q, models.QuantizationParams):
        raise _bad(where, f"must be a QuantizationParams, got {type(q).__name__}")
    if not isinstance(q.oversampling, (int, float)) or not (
        q.oversampling == 0 or 1 <= q.oversampling <= 100
    ):
        raise _bad(f"{where}.oversampling", f"must be 0 (default) or in [1, 100], got {q.oversampling!r}")
    msg = coll_pb.QuantizationParams(
        oversampling=float(q.oversampling),
        rescore=bool(q.rescore),
        query_mode=_choice(q.query_mode, _QUERY_MODES, f"{where}.query_mode"),
    )
    if q.method == "int8":
        msg.int8.SetInParent()
    elif q.method == "binary":
        msg.binary.bits = uint32(q.bits, f"{where}.bits")
        msg.binary.method = _choice(q.binary_method, _BINARY_METHODS, f"{where}.binary_method")
    else:
        raise _bad(f"{where}.method", f"must be 'binary' or 'int8', got {q.method!r}")
    return msg


def _quantization_params(msg: coll_pb.QuantizationParams) -> models.QuantizationParams:
    method = msg.WhichOneof("method") or "binary"
    return models.QuantizationParams(
        method=method,
        bits=msg.binary.bits if method == "binary" else 8,
        binary_method=_BINARY_METHOD_NAMES.get(msg.binary.method, "threshold"),
        oversampling=msg.oversampling,
        rescore=msg.rescore if msg.HasField("rescore") else True,
        query_mode=_QUERY_MODE_NAMES.get(msg.query_mode, ""),
    )


def _hnsw_message(h: models.HnswParams, where: str) -> coll_pb.HnswParams:
    return coll_pb.HnswParams(
        m=uint32(h.m, f"{where}.m"),
        ef_construct=uint32(h.ef_construct, f"{where}.ef_construct"),
        ef=uint32(h.ef, f"{where}.ef"),
    )


def _multivector_config(name: str, params: models.MultiVectorParams, where: str) -> coll_pb.VectorFieldConfig:
    dim = uint32(params.dim, f"{where}.dim")
    if dim == 0 and params.text_source is None:
        raise _bad(f"{where}.dim", "must be at least 1 (0, the model's dimension, needs a text_source)")
    mv = coll_pb.MultiVectorParams(
        dim=dim,
        metric=_choice(params.metric, _METRICS, f"{where}.metric"),
        storage_dtype=_choice(params.storage_dtype, _STORAGE, f"{where}.storage_dtype"),
    )
    if params.muvera is not None:
        m, w = params.muvera, f"{where}.muvera"
        mv.muvera.CopyFrom(coll_pb.MuveraParams(
            reps=uint32(m.reps, f"{w}.reps"), k_sim=uint32(m.k_sim, f"{w}.k_sim"),
            final_dim=uint32(m.final_dim, f"{w}.final_dim"), candidates=uint32(m.candidates, f"{w}.candidates"),
        ))
        if m.d_proj is not None:
            mv.muvera.d_proj = uint32(m.d_proj, f"{w}.d_proj")
        if m.seed is not None:
            mv.muvera.seed = uint32(m.seed, f"{w}.seed")
    if params.hnsw is not None:
        mv.hnsw.CopyFrom(_hnsw_message(params.hnsw, f"{where}.hnsw"))
    return coll_pb.VectorFieldConfig(name=name, multivector=mv)


def _sparse_config(name: str, params: models.SparseParams, where: str) -> coll_pb.VectorFieldConfig:
    modifiers = {"none": coll_pb.SparseParams.MODIFIER_UNSPECIFIED, "bm25": coll_pb.SparseParams.BM25}
    sp = coll_pb.SparseParams(modifier=_choice(params.modifier, modifiers, f"{where}.modifier"))
    if params.bm25 is not None:
        b, w = params.bm25, f"{where}.bm25"
        if not isinstance(b, models.Bm25Params):
            raise _bad(w, f"must be a Bm25Params, got {type(b).__name__}")
        sp.bm25.CopyFrom(coll_pb.Bm25Params(
            k1=real(b.k1, f"{w}.k1"), b=real(b.b, f"{w}.b"), text_key=str(b.text_key),
            lowercase=bool(b.lowercase), stopwords=str(b.stopwords), stemmer=str(b.stemmer),
        ))
    return coll_pb.VectorFieldConfig(name=name, sparse=sp)


def field_config(name: str, params: object, where: str) -> coll_pb.VectorFieldConfig:
    if isinstance(params, (models.MultiVectorParams, models.SparseParams)):
        build = _multivector_config if isinstance(params, models.MultiVectorParams) else _sparse_config
        config = build(name, params, where)  # type: ignore[arg-type]
        if params.text_source is not None:
            config.text_source.CopyFrom(_text_source_message(params.text_source, f"{where}.text_source"))
        return config
    if not isinstance(params, models.VectorParams):
        raise _bad(
            where, f"must be a VectorParams, MultiVectorParams or SparseParams, got {type(params).__name__}"
        )
    dim = uint32(params.dim, f"{where}.dim")
    if dim == 0 and params.text_source is None:
        raise _bad(
            f"{where}.dim",
            "must be at least 1 (0, the model's dimension, needs a text_source)",
        )
    dense = coll_pb.DenseParams(
        dim=dim,
        metric=_choice(params.metric, _METRICS, f"{where}.metric"),
        storage_dtype=_choice(params.storage_dtype, _STORAGE, f"{where}.storage_dtype"),
    )
    if params.hnsw is not None:
        dense.hnsw.CopyFrom(_hnsw_message(params.hnsw, f"{where}.hnsw"))
    if params.quantization is not None:
        dense.quantization.CopyFrom(_quantization_message(params.quantization, f"{where}.quantization"))
    config = coll_pb.VectorFieldConfig(name=name, dense=dense)
    if params.text_source is not None:
        config.text_source.CopyFrom(
            _text_source_message(params.text_source, f"{where}.text_source")
        )
    return config


def create_request(
    name: str,
    vectors: models.FieldParams | Mapping[str, models.FieldParams],
    payload_indexes: Mapping[str, str] | None,
) -> coll_pb.CreateCollectionRequest:
    single = (models.VectorParams, models.MultiVectorParams, models.SparseParams)
    fields = {"default": vectors} if isinstance(vectors, single) else vectors
    if not isinstance(fields, Mapping):
        raise _bad("vectors", "must be field parameters or a dict of field name -> parameters")
    return coll_pb.CreateCollectionRequest(
        name=check_name(name, "name"),
        vectors=[
            field_config(check_name(f, "vectors key"), p, f"vectors[{f!r}]")
            for f, p in fields.items()
        ],
        payload_indexes=[
            coll_pb.PayloadIndexConfig(
                key=_key(k, "payload_indexes key"),
                type=_choice(t, _INDEX_TYPES, f"payload_indexes[{k!r}]"),
            )
            for k, t in (payload_indexes or {}).items()
        ],
    )


def _vector_params(cfg: coll_pb.VectorFieldConfig) -> models.FieldParams:
    kind = cfg.WhichOneof("kind")
    text_source = None
    if cfg.HasField("text_source"):
        ts = cfg.text_source
        text_source = models.TextSource(ts.model, ts.payload_key, ts.model_hash)
    if kind == "multivector":
        mv, m = cfg.multivector, cfg.multivector.muvera
        return models.MultiVectorParams(
            dim=mv.dim,
            metric=_METRIC_NAMES.get(mv.metric, str(mv.metric)),
            storage_dtype=_STORAGE_NAMES.get(mv.storage_dtype, str(mv.storage_dtype)),
            muvera=models.MuveraParams(m.reps, m.k_sim, m.d_proj, m.final_dim, m.seed, m.candidates),
            hnsw=models.HnswParams(mv.hnsw.m, mv.hnsw.ef_construct, mv.hnsw.ef),
            text_source=text_source,
        )
    if kind == "sparse":
        sp = cfg.sparse
        bm25 = None
        if sp.modifier == coll_pb.SparseParams.BM25:
            b = sp.bm25
            bm25 = models.Bm25Params(b.k1, b.b, b.text_key, b.lowercase, b.stopwords, b.stemmer)
        return models.SparseParams(
            modifier="bm25" if bm25 is not None else "none", bm25=bm25, text_source=text_source
        )
    if kind != "dense":
        raise Unimplemented(f"vector field {cfg.name!r} is a {kind or 'unknown'} field, unknown to this SDK version")
    d = cfg.dense
    hnsw = (
        models.HnswParams(d.hnsw.m, d.hnsw.ef_construct, d.hnsw.ef) if d.HasField("hnsw") else None
    )
    return models.VectorParams(
        dim=d.dim,
        metric=_METRIC_NAMES.get(d.metric, str(d.metric)),
        storage_dtype=_STORAGE_NAMES.get(d.storage_dtype, str(d.storage_dtype)),
        hnsw=hnsw,
        text_source=text_source,
        quantization=_quantization_params(d.quantization) if d.HasField("quantization") else None,
    )


def collection_info(msg: coll_pb.CollectionInfo) -> models.CollectionInfo:
    return models.CollectionInfo(
        name=msg.name,
        vectors={cfg.name: _vector_params(cfg) for cfg in msg.vectors},
        payload_indexes={p.key: _INDEX_NAMES.get(p.type, str(p.type)) for p in msg.payload_indexes},
        points_count=msg.points_count,
        sequence=msg.sequence,
    )


# -- results --------------------------------------------------------------------------------------


def record(msg: common_pb.Record) -> models.Record:
    return models.Record(
        id=id_from_wire(msg.id),
        payload=payload_from_json(msg.payload_json),
        vectors=decode_vectors(msg.vectors),
        text=msg.text or None,
    )


def hits(msg: common_pb.ScoredPoints) -> models.Hits:
    """A query's column-wise results: packed ids and scores become a list and an array at once."""
    ids: list[models.PointId] = list(msg.num_ids)
    if msg.uuid_ids:
        for pos, uuid_id in msg.uuid_ids.items():
            ids[pos] = uuid_id
    return models.Hits(
        ids=ids,
        scores=np.fromiter(msg.scores, dtype=np.float32, count=len(msg.scores)),
        payloads=[payload_from_json(p) for p in msg.payloads_json] if msg.payloads_json else None,
        vectors={name: decode_vector(v, f"vectors[{name!r}]") for name, v in msg.vectors.items()}
        if msg.vectors
        else {},
        texts=[t or None for t in msg.texts] if msg.texts else None,
    )


def update_result(msg: common_pb.UpdateResult) -> models.UpdateResult:
    return models.UpdateResult(
        sequence=msg.sequence, count=msg.count, truncated=[int(i) for i in msg.truncated]
    )


# -- encoder --------------------------------------------------------------------------------------

ENCODE_KINDS = {"dense": enc_pb.DENSE, "multi": enc_pb.MULTI, "sparse": enc_pb.SPARSE}
_KIND_NAMES = {v: k for k, v in ENCODE_KINDS.items()} | {enc_pb.ENCODE_KIND_UNSPECIFIED: "dense"}
TEXT_ROLES = {"document": enc_pb.DOCUMENT, "query": enc_pb.QUERY}


def encode_request(
    texts: object, kind: object, model: object, role: object
) -> enc_pb.EncodeRequest:
    if model is not None and not isinstance(model, str):
        raise _bad("model", f"must be a str or None, got {type(model).__name__}")
    return enc_pb.EncodeRequest(
        texts=texts_list(texts),
        kind=_choice(kind, ENCODE_KINDS, "kind"),
        model=model or "",
        role=_choice(role, TEXT_ROLES, "role"),
    )


def sparse_vector(msg: common_pb.SparseVector) -> models.SparseVector:
    indices = np.fromiter(msg.indices, dtype=np.uint32, count=len(msg.indices))
    values = np.fromiter(msg.values, dtype=np.float32, count=len(msg.values))
    if indices.shape != values.shape:  # a malformed response
        raise Internal(f"sparse vector: {indices.size} indices but {values.size} values")
    return models.SparseVector(indices=indices, values=values)


def encoded_vector(vi: common_pb.VectorInput, where: str) -> np.ndarray | models.SparseVector:
    """An encoded text's vector: a dense (dim,) or multi (n_tokens, dim) array, or a SparseVector."""
    kind = vi.WhichOneof("kind")
    if kind == "dense":
        return decode_vector(vi.dense, where)
    if kind == "multi":
        return decode_vector(vi.multi, where)
    if kind == "sparse":
        return sparse_vector(vi.sparse)
    raise Internal(f"{where}: the server sent no vector")


def encode_response(msg: enc_pb.EncodeResponse, n_texts: int) -> list[models.Encoded]:
    if len(msg.results) != n_texts:  # a malformed response
        raise Internal(f"encode: {len(msg.results)} results for {n_texts} texts")
    return [
        models.Encoded(
            vector=encoded_vector(r.vector, f"results[{i}].vector"),
            truncated=bool(r.truncated),
            n_tokens=int(r.n_tokens),
            model=msg.model,
            model_hash=msg.model_hash,
        )
        for i, r in enumerate(msg.results)
    ]


def model_info(msg: enc_pb.ModelInfo) -> models.ModelInfo:
    return models.ModelInfo(
        name=msg.name,
        hash=msg.hash,
        dim=msg.dim,
        max_tokens=msg.max_tokens,
        kinds=[_KIND_NAMES.get(k, str(k)) for k in msg.kinds],
        device=msg.device,
    )


def server_info(msg: admin_pb.ServerInfoResponse) -> models.ServerInfo:
    return models.ServerInfo(
        version=msg.version,
        data_dir=msg.data_dir,
        capabilities=list(msg.capabilities),
        max_limit=msg.max_limit,
        max_message_bytes=msg.max_message_bytes,
    )


def field_stats(f: admin_pb.FieldStats) -> models.FieldStats:
    return collection_stats(admin_pb.CollectionStats(fields=[f])).fields[0]


def collection_stats(msg: admin_pb.CollectionStats) -> models.CollectionStats:
    return models.CollectionStats(
        name=msg.name,
        points_count=msg.points_count,
        sequence=msg.sequence,
        disk_bytes=msg.disk_bytes,
        fields=[
            models.FieldStats(
                name=f.name,
                kind=f.kind,
                indexed_points=f.indexed_points,
                index_capacity=f.index_capacity,
                ram_bytes=f.ram_bytes,
                checkpoint_sequence=f.checkpoint_sequence,
                vector_ram_bytes=f.vector_ram_bytes,
                float32_bytes=f.float32_bytes,
                codebook=json.loads(f.codebook_json) if f.codebook_json else None,
            )
            for f in msg.fields
        ],
    )


# -- grpc.health.v1 -------------------------------------------------------------------------------
# HealthCheckRequest {string service = 1;} and HealthCheckResponse {ServingStatus status = 1;},
# encoded by hand so the SDK does not need grpcio-health-checking (a server-side package).

HEALTH_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def encode_health_request(service: str) -> bytes:
    data = service.encode("utf-8")
    return b"\x0a" + _varint(len(data)) + data if data else b""


def decode_health_status(buf: bytes) -> str:
    """The `status` field (1) of a HealthCheckResponse, as its enum name."""
    pos, status = 0, 0
    while pos < len(buf):
        tag, pos = _read_varint(buf, pos)
        field_no, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, pos = _read_varint(buf, pos)
            if field_no == 1:
                status = value
        elif wire_type == 1:
            pos += 8
        elif wire_type == 2:
            length, pos = _read_varint(buf, pos)
            pos += length
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
    if pos > len(buf):
        raise ValueError("truncated message")
    return HEALTH_STATUS.get(status, "UNKNOWN")
