"""Dense fields: one float vector per point.

Stored in LMDB as little-endian `storage_dtype` bytes. Two forms:

* plain: float vectors in an HNSW graph (`HnswIndex`); the stored originals are read only for
  `with_vectors` and point queries.
* quantized (issue 4): compact codes in a `QuantizedIndex` instead of floats; the originals stay
  on disk. A query asks the codes for `ceil(limit x oversampling)` candidates and, with
  `rescore` on, reads the originals of exactly those candidates and rescores them exactly.
  `exact=True` scans every original (streamed from LMDB): the recall baseline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vecdb.engine.errors import InvalidArgument
from vecdb.engine.kinds.base import OriginalsReader, OriginalsScan, Prepared
from vecdb.engine.options import EngineOptions
from vecdb.engine.schema import DenseField, QuantizationConfig, StorageDType
from vecdb.engine.validation import check_matrix, storage_dtype
from vecdb.index import INDEX_TYPES, MISSING_ID, HnswIndexConfig, Neighbors, VectorIndex
from vecdb.index.exact import chunk_rows, exact_search, scoring_form
from vecdb.kernels import Metric, dense_rescore, dense_rescore_topk

__all__ = ["DenseKind"]

_FIT_SAMPLE = 65_536
"""Originals a quantized field's codebook is trained on when it is rebuilt or retrained."""


class DenseKind:
    """A dense field, plain (HNSW over floats) or quantized (codes in memory, originals on disk)."""

    def __init__(self, field: DenseField, options: EngineOptions) -> None:
        self.field = field
        self.options = options
        self.dtype = storage_dtype(field)
        self.quantization: QuantizationConfig | None = field.quantization
        self.checkpoint_kind = "quantized" if self.quantization is not None else "hnsw"
        self.name = field.name
        self.higher_is_better = field.metric.higher_is_better

    # ---- the index --------------------------------------------------------------------------

    def index_config(self) -> Any:
        f, o = self.field, self.options
        if self.quantization is None:
            return HnswIndexConfig(
                m=f.hnsw.m, ef_construct=f.hnsw.ef_construct, ef=f.hnsw.ef, num_threads=o.search_threads,
                max_exact_candidates=o.exact_scan_threshold, kernel_device=o.kernel_device,
            )
        from vecdb.index.quantized import QuantizedIndexConfig

        q = self.quantization
        extra = {"query_mode": q.query_mode} if q.query_mode else {}
        return QuantizedIndexConfig(
            method=q.method, bits=q.bits, binary_method=q.binary_method, m=f.hnsw.m,
            ef_construct=f.hnsw.ef_construct, ef=f.hnsw.ef, num_threads=o.search_threads,
            kernel_device=o.kernel_device, **extra,
        )

    def new_index(self) -> VectorIndex:
        cls = INDEX_TYPES[self.checkpoint_kind]
        return cls(self.field.dim, self.field.metric, self.index_config())

    def load_index(self, path: Path) -> VectorIndex:
        cls = INDEX_TYPES[self.checkpoint_kind]
        return cls.load(path, dim=self.field.dim, metric=self.field.metric, config=self.index_config())

    def build_index(self, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> VectorIndex:
        """A new index holding every (ids, float32 vectors) batch; a quantized index trains its
        codebook on the first `_FIT_SAMPLE` vectors first."""
        index = self.new_index()
        if self.quantization is None:
            for ids, vectors in batches:
                index.add(ids, vectors)
            return index
        pending_ids: list[np.ndarray] = []
        pending: list[np.ndarray] = []
        held = 0
        for ids, vectors in batches:
            if not index.is_fitted:  # type: ignore[attr-defined]
                pending_ids.append(ids)
                pending.append(vectors)
                held += len(ids)
                if held < _FIT_SAMPLE:
                    continue
                self._fit_and_add(index, pending_ids, pending)
                continue
            index.add(ids, vectors)
        if not index.is_fitted and pending:  # type: ignore[attr-defined]
            self._fit_and_add(index, pending_ids, pending)
        return index

    @staticmethod
    def _fit_and_add(index: Any, ids: list[np.ndarray], vectors: list[np.ndarray]) -> None:
        sample = np.concatenate(vectors)
        index.fit(sample)
        index.add(np.concatenate(ids), sample)
        ids.clear()
        vectors.clear()

    # ---- values and stored bytes -------------------------------------------------------------

    def prepare(self, values: Any, n: int, where: str) -> Prepared:
        if values is None:
            raise InvalidArgument(f"{where} is missing: every point needs a vector for each dense field")
        vectors = check_matrix(values, self.field, n, where)
        with np.errstate(over="ignore"):  # overflow is reported below, with the row
            stored = vectors.astype(self.dtype)
        if self.field.storage_dtype is StorageDType.FLOAT16:
            if not np.isfinite(stored).all():
                row = int(np.flatnonzero(~np.isfinite(stored).all(axis=1))[0])
                raise InvalidArgument(f"{where}[{row}] has values outside the float16 range (|x| > 65504)")
            # Index what is stored, so scores do not shift when a restart rebuilds from disk.
            vectors = stored.astype(np.float32)
        return Prepared(values=vectors, blobs=[row.tobytes() for row in stored])

    def decode(self, blobs: list[bytes]) -> np.ndarray:
        """Stored vectors (as LMDB holds them) -> float32 (n, dim)."""
        data = b"".join(blobs)
        return np.frombuffer(data, dtype=self.dtype).reshape(-1, self.field.dim).astype(np.float32)

    def output(self, blobs: list[bytes]) -> np.ndarray:
        return self.decode(blobs)

    def check_query(self, value: Any, where: str) -> np.ndarray:
        arr = np.asarray(value) if not isinstance(value, (str, bytes)) else np.asarray([])
        if arr.ndim != 1 or arr.dtype == object:
            raise InvalidArgument(
                f"{where} has shape {list(arr.shape)}; a query on the dense field {self.name!r} is one "
                f"vector of shape [{self.field.dim}]"
            )
        return check_matrix(arr[None, :], self.field, 1, where)[0]

    def stack(self, queries: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack(queries) if len(queries) else np.empty((0, self.field.dim), np.float32)

    # ---- search -----------------------------------------------------------------------------

    def search(self, index: VectorIndex, queries: Any, k: int, *, allowed: np.ndarray | None,
               ef: int | None, exact: bool, originals: OriginalsReader, scan: OriginalsScan) -> Neighbors:
        """The best `k` points per query row, scored exactly unless the field is quantized with
        rescoring off."""
        queries = queries if isinstance(queries, np.ndarray) else self.stack(queries)
        q = self.quantization
        if q is None:
            return index.search(queries, k, allowed=allowed, ef=ef, exact=exact)
        metric = self.field.metric
        if exact:
            return self._exact_scan(queries, k, allowed, scan)
        wanted = max(k, math.ceil(k * q.oversampling))
        found = index.search(queries, wanted, allowed=allowed, ef=max(ef or 0, wanted) or None)
        if not q.rescore:
            width = min(k, found.ids.shape[1])
            return Neighbors(found.ids[:, :width], found.scores[:, :width], np.minimum(found.counts, width))
        unique, rows = np.unique(found.ids, return_inverse=True)
        live = unique != MISSING_ID
        vectors = np.zeros((unique.size, self.field.dim), dtype=np.float32)
        if live.any():
            vectors[live] = originals(unique[live])
        candidates = rows.reshape(found.ids.shape).astype(np.int64)
        padded = found.ids == MISSING_ID
        candidates[padded] = -1
        positions, scores = dense_rescore_topk(queries, vectors, candidates, min(k, max(1, candidates.shape[1])),
                                               metric, device=self.options.kernel_device)
        counts = np.minimum(found.counts, positions.shape[1])
        ids = np.where(positions >= 0, unique[np.maximum(positions, 0)], MISSING_ID)
        return Neighbors(ids.astype(np.uint64), scores.astype(np.float32), counts.astype(np.int64))

    def _exact_scan(self, queries: np.ndarray, k: int, allowed: np.ndarray | None, scan: OriginalsScan) -> Neighbors:
        """Brute force over every stored original (or those `allowed`), streamed in chunks."""
        form, kernel_metric = scoring_form(queries, self.field.metric)
        rows = chunk_rows(len(queries))
        if allowed is not None:
            keep = np.sort(allowed.astype(np.uint64))

            def chunks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
                for ids, vectors in scan(rows):
                    mask = np.isin(ids, keep, assume_unique=True)
                    if mask.any():
                        yield ids[mask], _scoring_rows(vectors[mask], self.field.metric)
        else:

            def chunks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
                for ids, vectors in scan(rows):
                    yield ids, _scoring_rows(vectors, self.field.metric)

        return exact_search(form, chunks(), k, kernel_metric, device=self.options.kernel_device)

    def score(self, index: VectorIndex, query: np.ndarray, iids: np.ndarray, originals: OriginalsReader) -> np.ndarray:
        """Exact scores of `query` against the stored originals of `iids`."""
        if iids.size == 0:
            return np.empty(0, dtype=np.float32)
        vectors = originals(iids)
        out = dense_rescore(query[None, :], vectors, np.arange(len(iids)), self.field.metric,
                            device=self.options.kernel_device)
        return out[0].astype(np.float32)

    def describe(self, index: VectorIndex) -> dict[str, Any]:
        """What stats report about the field beyond counts: RAM of the vector data and, for a
        quantized field, its codebook."""
        float32_bytes = len(index) * self.field.dim * 4
        if self.quantization is None:  # hnswlib holds float32 rows for every allocated slot
            return {"vector_ram_bytes": index.capacity * self.field.dim * 4, "float32_bytes": float32_bytes}
        info = dict(index.codebook_info())  # type: ignore[attr-defined]
        return {"vector_ram_bytes": int(index.vector_ram_bytes), "float32_bytes": float32_bytes,  # type: ignore[attr-defined]
                "codebook": info}


def _scoring_rows(vectors: np.ndarray, metric: Metric) -> np.ndarray:
    if metric is Metric.COSINE:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)
    return vectors
