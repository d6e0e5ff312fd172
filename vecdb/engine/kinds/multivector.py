"""Multi-vector (late interaction) fields: a set of token vectors per point, scored by MaxSim.

Stored in LMDB as the point's (tokens, dim) matrix in `storage_dtype` bytes (the token count is
the byte length over dim x itemsize). In memory a `MultiVectorIndex` holds the same tokens plus
an HNSW graph over their MUVERA encodings: a query draws `muvera.candidates` FDE candidates and
reranks them by exact MaxSim; `exact=True` scans every point (the recall baseline).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vecdb.engine.errors import InvalidArgument
from vecdb.engine.kinds.base import (
    OriginalsReader,
    OriginalsScan,
    Prepared,
    present_mask,
    scores_in_order,
)
from vecdb.engine.options import EngineOptions
from vecdb.engine.schema import MultiVectorField, StorageDType
from vecdb.engine.validation import storage_dtype
from vecdb.index import Neighbors
from vecdb.kernels import Metric

__all__ = ["MAX_TOKENS", "MultiVectorKind"]

MAX_TOKENS = 8192
"""Most token vectors one point or query may carry."""


class MultiVectorKind:
    """A multi-vector field: MUVERA candidates, exact MaxSim rerank."""

    checkpoint_kind = "multivector"
    higher_is_better = True

    def __init__(self, field: MultiVectorField, options: EngineOptions) -> None:
        self.field = field
        self.options = options
        self.name = field.name
        self.dtype = storage_dtype(field)

    def _config(self) -> Any:
        from vecdb.index.multivector import MultiVectorIndexConfig
        from vecdb.index.muvera import FdeConfig

        f, m = self.field, self.field.muvera
        return MultiVectorIndexConfig(
            fde=FdeConfig(reps=m.reps, k_sim=m.k_sim, d_proj=m.d_proj, final_dim=m.final_dim, seed=m.seed),
            storage_dtype=f.storage_dtype.value, candidates=m.candidates, m=f.hnsw.m,
            ef_construct=f.hnsw.ef_construct, ef=f.hnsw.ef, num_threads=self.options.search_threads,
            kernel_device=self.options.kernel_device,
        )

    def new_index(self) -> Any:
        from vecdb.index.multivector import MultiVectorIndex

        return MultiVectorIndex(self.field.dim, self.field.metric, self._config())

    def load_index(self, path: Path) -> Any:
        from vecdb.index.multivector import MultiVectorIndex

        return MultiVectorIndex.load(path, dim=self.field.dim, metric=self.field.metric, config=self._config())

    def build_index(self, batches: Iterable[tuple[np.ndarray, Any]]) -> Any:
        index = self.new_index()
        for ids, token_sets in batches:
            index.add(ids, token_sets)
        return index

    def _tokens(self, value: Any, where: str) -> np.ndarray:
        try:
            arr = np.asarray(value)
        except ValueError:
            raise InvalidArgument(f"{where} is ragged: give an array of shape [tokens, {self.field.dim}]") from None
        if arr.ndim != 2 or arr.shape[1] != self.field.dim or arr.shape[0] == 0:
            raise InvalidArgument(
                f"{where} has shape {list(arr.shape)}; the multi-vector field {self.name!r} takes "
                f"[tokens >= 1, {self.field.dim}]"
            )
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise InvalidArgument(f"{where} must hold numbers, got dtype {arr.dtype}")
        if arr.shape[0] > MAX_TOKENS:
            raise InvalidArgument(f"{where} has {arr.shape[0]} token vectors, over the limit of {MAX_TOKENS}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise InvalidArgument(f"{where} contains NaN or Inf")
        if self.field.metric is Metric.COSINE and not np.any(arr, axis=1).all():
            row = int(np.flatnonzero(~np.any(arr, axis=1))[0])
            raise InvalidArgument(f"{where}[{row}] is all zeros; cosine needs non-zero token vectors")
        return arr

    def prepare(self, values: Any, n: int, where: str) -> Prepared:
        if values is None:
            return Prepared(values=[], blobs=[None] * n, present=np.zeros(n, dtype=bool))
        if len(values) != n:
            raise InvalidArgument(f"{where} has {len(values)} entries for {n} ids")
        sets: list[np.ndarray | None] = []
        blobs: list[bytes | None] = []
        for i, v in enumerate(values):
            if v is None:
                sets.append(None)
                blobs.append(None)
                continue
            tokens = self._tokens(v, f"{where}[{i}]")
            with np.errstate(over="ignore"):
                stored = tokens.astype(self.dtype)
            if self.field.storage_dtype is StorageDType.FLOAT16 and not np.isfinite(stored).all():
                raise InvalidArgument(f"{where}[{i}] has values outside the float16 range (|x| > 65504)")
            sets.append(stored.astype(np.float32))  # index what is stored: a rebuild gives the same scores
            blobs.append(stored.tobytes())
        return Prepared(values=[s for s in sets if s is not None], blobs=blobs, present=present_mask(sets))

    def decode(self, blobs: list[bytes]) -> list[np.ndarray]:
        return [np.frombuffer(b, dtype=self.dtype).reshape(-1, self.field.dim).astype(np.float32) for b in blobs]

    def output(self, blobs: list[bytes]) -> list[np.ndarray]:
        return self.decode(blobs)

    def check_query(self, value: Any, where: str) -> np.ndarray:
        if isinstance(value, str) or value is None:
            raise InvalidArgument(f"{where}: the multi-vector field {self.name!r} is queried by token vectors "
                                  f"[tokens, {self.field.dim}]")
        return self._tokens(value, where)

    def search(self, index: Any, queries: Sequence[Any], k: int, *, allowed: np.ndarray | None,
               ef: int | None, exact: bool, originals: OriginalsReader, scan: OriginalsScan) -> Neighbors:
        return index.search(list(queries), k, allowed=allowed, exact=exact)  # type: ignore[no-any-return]

    def score(self, index: Any, query: Any, iids: np.ndarray, originals: OriginalsReader) -> np.ndarray:
        if iids.size == 0:
            return np.empty(0, dtype=np.float32)
        ids, scores = index.rerank(query, iids, int(iids.size))
        return scores_in_order(ids, scores, iids)

    def describe(self, index: Any) -> dict[str, Any]:
        return {"vector_ram_bytes": int(index.token_ram_bytes)}
