"""Turning caller input into checked, encoded writes and queries before any lock is taken.

Everything here is pure: it reads the collection config and the request and either returns
prepared arrays and bytes or raises InvalidArgument naming the field and the value at fault.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from vecdb.engine.errors import FieldNotFound, InvalidArgument
from vecdb.engine.ids import encode_point_id, parse_point_id
from vecdb.engine.payload import encode_payload, split_key, values_at
from vecdb.engine.schema import CollectionConfig, DenseField, StorageDType
from vecdb.engine.types import NearestQuery, PointId, UpsertBatch
from vecdb.kernels.metrics import Metric

__all__ = [
    "PreparedUpsert",
    "check_matrix",
    "check_query_vector",
    "check_vector_fields",
    "point_keys",
    "prepare_upsert",
    "storage_dtype",
]

_STORAGE = {StorageDType.FLOAT32: np.dtype("<f4"), StorageDType.FLOAT16: np.dtype("<f2")}


def storage_dtype(field: Any) -> np.dtype[Any]:
    return _STORAGE[field.storage_dtype]


@dataclass(frozen=True)
class PreparedUpsert:
    ids: list[PointId]
    keys: list[bytes]
    fields: dict[str, Any]                  # field name -> kinds.base.Prepared
    payload_json: list[bytes]
    payloads: list[dict[str, Any] | None]
    texts: list[str | None]

    def __len__(self) -> int:
        return len(self.ids)


def point_keys(ids: list[Any], where: str = "ids") -> tuple[list[PointId], list[bytes]]:
    parsed = [parse_point_id(v, f"{where}[{i}]") for i, v in enumerate(ids)]
    return parsed, [encode_point_id(p) for p in parsed]


def prepare_upsert(config: CollectionConfig, kinds: Mapping[str, Any], batch: UpsertBatch, *, max_points: int,
                   max_payload_bytes: int) -> PreparedUpsert:
    """Check a batch and encode it for LMDB and the indexes; `kinds` are the collection's field
    kinds (vecdb.engine.kinds), which check their own values."""
    n = len(batch.ids)
    if n == 0:
        raise InvalidArgument("upsert needs at least one point")
    if n > max_points:
        raise InvalidArgument(f"upsert has {n} points, over the limit of {max_points} per call; split it into batches")
    ids, keys = point_keys(list(batch.ids))
    if len(set(keys)) != n:
        seen: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key in seen:
                raise InvalidArgument(f"ids[{i}] = {ids[i]!r} repeats ids[{seen[key]}]; ids in one upsert must be unique")
            seen[key] = i
    for name in batch.vectors:
        if name not in kinds:
            raise FieldNotFound(
                f"vectors[{name!r}]: collection {config.name!r} has no vector field {name!r}; its fields are {list(kinds)}"
            )
    payload_json, payloads = _check_payloads(batch.payloads, n, max_payload_bytes)
    texts = _check_texts(batch.texts, n)
    fields = {}
    for name, kind in kinds.items():
        text_key = getattr(kind, "text_key", None)
        if text_key is not None:  # a BM25 field reads the point's text, not `vectors`
            if name in batch.vectors:
                raise InvalidArgument(
                    f"vectors[{name!r}]: the BM25 field {name!r} computes its weights from text; send the "
                    f"text ({'payload key ' + repr(text_key) if text_key else 'the point text'}) instead"
                )
            values: Any = [_text_at(texts[i], payloads[i], text_key) for i in range(n)]
        else:
            values = batch.vectors.get(name)
        fields[name] = kind.prepare(values, n, f"vectors[{name!r}]")
    return PreparedUpsert(ids, keys, fields, payload_json, payloads, texts)


def _text_at(text: str | None, payload: dict[str, Any] | None, key: str) -> str | None:
    if not key:
        return text
    found = [v for v in values_at(payload or {}, split_key(key)) if isinstance(v, str)]
    return " ".join(found) if found else None


def check_matrix(value: Any, field: Any, n: int, where: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except ValueError:
        raise InvalidArgument(f"{where} is ragged: every vector must have {field.dim} numbers") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InvalidArgument(f"{where} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != n:
        raise InvalidArgument(f"{where} has shape {list(arr.shape)}; expected [{n}, {field.dim}] (one row per id)")
    if arr.shape[1] != field.dim:
        raise InvalidArgument(f"{where}: dimension {arr.shape[1]} does not match field {field.name!r} (dim {field.dim})")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise InvalidArgument(f"{where}[{row}] contains NaN or Inf")
    if field.metric is Metric.COSINE:
        zero = ~np.any(arr, axis=1)
        if zero.any():
            row = int(np.flatnonzero(zero)[0])
            raise InvalidArgument(f"{where}[{row}] is all zeros; cosine similarity needs a non-zero vector")
    return arr


def _check_payloads(payloads: Any, n: int, max_bytes: int) -> tuple[list[bytes], list[dict[str, Any] | None]]:
    if payloads is None:
        return [b""] * n, [None] * n
    if len(payloads) != n:
        raise InvalidArgument(f"payloads has {len(payloads)} entries for {n} ids")
    encoded = [b"" if p is None else encode_payload(p, f"payloads[{i}]", max_bytes) for i, p in enumerate(payloads)]
    # The stored copy is what a restart would read back, so memory and disk never disagree.
    return encoded, [json.loads(e) if e else None for e in encoded]


def _check_texts(texts: Any, n: int) -> list[str | None]:
    if texts is None:
        return [None] * n
    if len(texts) != n:
        raise InvalidArgument(f"texts has {len(texts)} entries for {n} ids")
    for i, t in enumerate(texts):
        if t is not None and not isinstance(t, str):
            raise InvalidArgument(f"texts[{i}] must be a string, got {type(t).__name__}")
    return list(texts)


def check_query_vector(field: DenseField, vector: Any, where: str) -> np.ndarray:
    """A single query vector as float32 (dim,), or InvalidArgument."""
    arr = np.asarray(vector)
    if arr.ndim != 1:
        raise InvalidArgument(f"{where} has shape {list(arr.shape)}; a query vector has shape [{field.dim}]")
    return check_matrix(arr[None, :], field, 1, where)[0]


def check_query_matrix(field: DenseField, vectors: Any, where: str) -> np.ndarray:
    """Many query vectors as float32 (q, dim), or InvalidArgument naming the first bad row."""
    arr = np.asarray(vectors)
    if arr.ndim != 2:
        raise InvalidArgument(f"{where} has shape {list(arr.shape)}; expected [q, {field.dim}]")
    return check_matrix(arr, field, arr.shape[0], where)


def check_vector_fields(config: CollectionConfig, names: tuple[str, ...]) -> None:
    for name in names:
        config.field(name)


def check_query_shape(q: NearestQuery, max_limit: int, where: str, *, target: bool = True) -> None:
    """Limits and search parameters of a query; with `target`, also that it names exactly one
    of a vector and a point (a batch template names neither)."""
    if not 1 <= q.limit <= max_limit:
        raise InvalidArgument(f"{where}.limit = {q.limit} is out of range [1, {max_limit}] (the server maximum)")
    if q.offset < 0 or q.offset + q.limit > max_limit:
        raise InvalidArgument(f"{where}.offset = {q.offset}: offset + limit must be at most {max_limit}")
    if q.ef is not None and not 1 <= q.ef <= 65536:
        raise InvalidArgument(f"{where}.ef = {q.ef} is out of range [1, 65536]")
    if target and sum(x is not None for x in (q.vector, q.point, q.text)) != 1:
        raise InvalidArgument(f"{where}: give exactly one of a query vector, a point id or a text")
    if not target and q.has_target:
        raise InvalidArgument(f"{where}: a batch template carries no vector or point; the rows of `vectors` are the queries")
