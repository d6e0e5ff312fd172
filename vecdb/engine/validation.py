"""Turning caller input into checked, encoded writes and queries before any lock is taken.

Everything here is pure: it reads the collection config and the request and either returns
prepared arrays and bytes or raises InvalidArgument naming the field and the value at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from vecdb.engine.errors import FieldNotFound, InvalidArgument
from vecdb.engine.ids import encode_point_id, parse_point_id
from vecdb.engine.payload import encode_payload
from vecdb.engine.schema import CollectionConfig, DenseField, StorageDType
from vecdb.engine.types import NearestQuery, PointId, UpsertBatch
from vecdb.kernels.metrics import Metric

__all__ = ["PreparedUpsert", "prepare_upsert", "check_query_vector", "check_vector_fields", "storage_dtype", "point_keys"]

_STORAGE = {StorageDType.FLOAT32: np.dtype("<f4"), StorageDType.FLOAT16: np.dtype("<f2")}


def storage_dtype(field: DenseField) -> np.dtype[Any]:
    return _STORAGE[field.storage_dtype]


@dataclass(frozen=True)
class PreparedUpsert:
    ids: list[PointId]
    keys: list[bytes]
    vectors: dict[str, np.ndarray]          # float32 (n, dim), what the index gets
    stored: dict[str, np.ndarray]           # storage dtype (n, dim), what LMDB gets
    payload_json: list[bytes]
    payloads: list[dict[str, Any] | None]
    texts: list[str | None]

    def __len__(self) -> int:
        return len(self.ids)


def point_keys(ids: list[Any], where: str = "ids") -> tuple[list[PointId], list[bytes]]:
    parsed = [parse_point_id(v, f"{where}[{i}]") for i, v in enumerate(ids)]
    return parsed, [encode_point_id(p) for p in parsed]


def prepare_upsert(config: CollectionConfig, batch: UpsertBatch, *, max_points: int, max_payload_bytes: int) -> PreparedUpsert:
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
    dense = {f.name: f for f in config.vectors if isinstance(f, DenseField)}
    for name in batch.vectors:
        if name not in dense:
            raise FieldNotFound(
                f"vectors[{name!r}]: collection {config.name!r} has no vector field {name!r}; its fields are {list(dense)}"
            )
    vectors: dict[str, np.ndarray] = {}
    stored: dict[str, np.ndarray] = {}
    for name, field in dense.items():
        if name not in batch.vectors:
            raise InvalidArgument(f"vectors[{name!r}] is missing: every point needs a vector for each dense field")
        vectors[name] = _check_matrix(batch.vectors[name], field, n, f"vectors[{name!r}]")
        with np.errstate(over="ignore"):  # overflow is reported below, with the row
            stored[name] = vectors[name].astype(storage_dtype(field))
        if field.storage_dtype is StorageDType.FLOAT16:
            if not np.isfinite(stored[name]).all():
                row = int(np.flatnonzero(~np.isfinite(stored[name]).all(axis=1))[0])
                raise InvalidArgument(f"vectors[{name!r}][{row}] has values outside the float16 range (|x| > 65504)")
            # Index what is stored, so scores do not shift when a restart rebuilds from disk.
            vectors[name] = stored[name].astype(np.float32)
    payload_json, payloads = _check_payloads(batch.payloads, n, max_payload_bytes)
    texts = _check_texts(batch.texts, n)
    return PreparedUpsert(ids, keys, vectors, stored, payload_json, payloads, texts)


def _check_matrix(value: Any, field: DenseField, n: int, where: str) -> np.ndarray:
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
    return _check_matrix(arr[None, :], field, 1, where)[0]


def check_query_matrix(field: DenseField, vectors: Any, where: str) -> np.ndarray:
    """Many query vectors as float32 (q, dim), or InvalidArgument naming the first bad row."""
    arr = np.asarray(vectors)
    if arr.ndim != 2:
        raise InvalidArgument(f"{where} has shape {list(arr.shape)}; expected [q, {field.dim}]")
    return _check_matrix(arr, field, arr.shape[0], where)


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
    if target and (q.vector is None) == (q.point is None):
        raise InvalidArgument(f"{where}: give exactly one of a query vector or a point id")
    if not target and (q.vector is not None or q.point is not None):
        raise InvalidArgument(f"{where}: a batch template carries no vector or point; the rows of `vectors` are the queries")
