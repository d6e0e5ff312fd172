"""The contract every dense vector index honours, its result type and input validation.

An index maps uint64 point ids to float32 vectors of one dimension and answers k-nearest-
neighbour queries in the scores of its `Metric` (cosine/dot similarity, l2 distance — never
squared). Indexes are derived state: the engine rebuilds them from LMDB, so `load` failing
with `IndexLoadError` is a signal to rebuild, not a data-loss event.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from vecdb.kernels.metrics import Metric

__all__ = [
    "MISSING_ID",
    "IndexLoadError",
    "Neighbors",
    "VectorIndex",
    "as_ids",
    "as_queries",
    "as_vectors",
    "check_k",
    "dedupe_last",
]

MISSING_ID = np.uint64(2**64 - 1)
"""Pads `Neighbors.ids` past a row's count; reserved, so it can never be a point id."""


class IndexLoadError(Exception):
    """A saved index file is missing, truncated, corrupt or does not fit the expected schema."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(
            f"cannot load index from {self.path}: {reason}; "
            "delete the file and rebuild the index from the stored points"
        )


@dataclass(frozen=True)
class Neighbors:
    """Search results for a batch of q queries, best first in every row.

    `ids` (q, w) uint64 and `scores` (q, w) float32 are padded with `MISSING_ID` and NaN past
    `counts[i]`; the width w is at most the requested k (it shrinks when fewer points qualify).
    """

    ids: np.ndarray
    scores: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        if self.ids.ndim != 2 or self.ids.shape != self.scores.shape:
            raise ValueError(
                f"ids {self.ids.shape} and scores {self.scores.shape} must be equal 2-D shapes"
            )
        if self.counts.shape != (self.ids.shape[0],):
            raise ValueError(
                f"counts must have shape ({self.ids.shape[0]},), got {self.counts.shape}"
            )

    @classmethod
    def empty(cls, num_queries: int) -> Neighbors:
        """No results for each of `num_queries` queries."""
        return cls(
            ids=np.empty((num_queries, 0), dtype=np.uint64),
            scores=np.empty((num_queries, 0), dtype=np.float32),
            counts=np.zeros(num_queries, dtype=np.int64),
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The real (unpadded) ids and scores of query `i`."""
        n = int(self.counts[i])
        return self.ids[i, :n], self.scores[i, :n]


@runtime_checkable
class VectorIndex(Protocol):
    """A mutable k-NN index over (uint64 id, float32 vector) points.

    Every method is safe to call from many threads at once: searches run concurrently,
    mutations are exclusive. Implementations are chosen through `vecdb.index.INDEX_TYPES`.
    """

    dim: int
    metric: Metric

    def __init__(self, dim: int, metric: Metric, config: Any = None) -> None: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace points; an id removed earlier may be added again."""

    def remove(self, ids: np.ndarray) -> None:
        """Delete points; ids not in the index are ignored."""

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        ef: int | None = None,
        exact: bool = False,
    ) -> Neighbors:
        """The best min(k, candidates) live points for each query, best first.

        `allowed` limits results to those ids; `ef` overrides the search breadth of
        approximate indexes; `exact` forces a brute-force scan.
        """
        ...

    def get_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors (n, dim) float32 in the order of `ids`; KeyError for an unknown id."""
        ...

    def live_ids(self) -> np.ndarray:
        """Every id currently in the index, uint64, in no particular order."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, point_id: object) -> bool: ...

    def save(self, path: Path) -> None:
        """Write the index to exactly `path`, flushed and fsynced; temp file and rename are the
        caller's job."""

    @classmethod
    def load(cls, path: Path, *, dim: int, metric: Metric, config: Any = None) -> VectorIndex:
        """Read an index written by `save`; `IndexLoadError` when the file is unusable."""
        ...

    @property
    def capacity(self) -> int:
        """Points the index holds before it must grow."""
        ...

    @property
    def ram_bytes(self) -> int:
        """Estimated bytes of vector data, graph and bookkeeping held in memory."""
        ...


def as_ids(ids: object) -> np.ndarray:
    """`ids` as a 1-D uint64 array; ValueError for negative, non-integer or reserved ids."""
    arr = np.asarray(ids)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"ids must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        return np.empty(0, dtype=np.uint64)
    if arr.dtype.kind == "i":
        if (arr < 0).any():
            raise ValueError(f"ids must be non-negative, got {int(arr.min())}")
    elif arr.dtype.kind != "u":
        raise ValueError(f"ids must be unsigned 64-bit integers, got dtype {arr.dtype}")
    out = arr.astype(np.uint64, copy=False)
    if (out == MISSING_ID).any():
        raise ValueError(f"id {int(MISSING_ID)} (2**64-1) is reserved as the padding id")
    return out


def as_vectors(vectors: object, dim: int, count: int) -> np.ndarray:
    """`vectors` as a C-contiguous (count, dim) float32 array of finite values."""
    arr = np.ascontiguousarray(vectors, dtype=np.float32)
    if arr.ndim == 1 and count == 1:
        arr = arr.reshape(1, -1)
    if arr.shape != (count, dim):
        raise ValueError(
            f"vectors must have shape ({count}, {dim}) to match the ids, got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError("vectors contain NaN or infinity; every component must be finite")
    return arr


def as_queries(queries: object, dim: int) -> np.ndarray:
    """Queries as a C-contiguous (q, dim) float32 array; a single (dim,) query becomes (1, dim)."""
    arr = np.ascontiguousarray(queries, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"queries must have shape (q, {dim}), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("queries contain NaN or infinity; every component must be finite")
    return arr


def check_k(k: int) -> int:
    """`k` as an int >= 1 (larger than the index is fine: results are clamped)."""
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def dedupe_last(ids: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop all but the last occurrence of each id, as an upsert batch applied in order would."""
    if ids.size < 2:
        return ids, vectors
    reversed_ids = ids[::-1]
    _, first_in_reversed = np.unique(reversed_ids, return_index=True)
    if first_in_reversed.size == ids.size:
        return ids, vectors
    keep = np.sort(ids.size - 1 - first_in_reversed)
    return ids[keep], vectors[keep]
