"""What every vector field kind provides to the collection, and helpers they share.

A kind turns the values an upsert carries for its field into (index input, LMDB bytes), turns
stored bytes back into index input (rebuild, replay, `with_vectors`), checks and answers
queries, and scores given candidates exactly (fusion reranks, hybrid queries). Values are
per kind: a dense field takes an (n, dim) matrix; the others take one entry per point, where
None means "this point has no vector in this field" (it is neither stored nor indexed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from vecdb.engine.options import EngineOptions
from vecdb.index import MISSING_ID, Neighbors

__all__ = [
    "FieldKind",
    "OriginalsReader",
    "OriginalsScan",
    "Prepared",
    "neighbors_from_rows",
    "present_mask",
    "scores_in_order",
]

OriginalsReader = Callable[[np.ndarray], Any]
"""Internal ids (m,) uint64 -> their stored values decoded, in that order (every id stored)."""

OriginalsScan = Callable[[int], Iterator[tuple[np.ndarray, Any]]]
"""Chunk size -> every stored (ids, decoded values) chunk of the field (an exact scan)."""


@dataclass(frozen=True)
class Prepared:
    """One field's part of a checked upsert batch.

    values: the index input for the points that have a vector (a matrix for dense fields, a
    list otherwise); present: which of the batch's points those are (None: all of them);
    blobs: the LMDB bytes per point of the batch (None where the point has no vector).
    """

    values: Any
    blobs: list[bytes | None]
    present: np.ndarray | None = None


class FieldKind(Protocol):
    """The engine's view of one vector field."""

    name: str
    options: EngineOptions
    checkpoint_kind: str
    higher_is_better: bool

    def new_index(self) -> Any: ...

    def load_index(self, path: Path) -> Any: ...

    def build_index(self, batches: Iterable[tuple[np.ndarray, Any]]) -> Any:
        """A new index holding every (ids, decoded values) batch."""

    def prepare(self, values: Any, n: int, where: str) -> Prepared:
        """Check the batch's values for this field (n points); InvalidArgument naming the row."""

    def decode(self, blobs: list[bytes]) -> Any:
        """Stored bytes -> index input (for rebuild and replay) in the order given."""

    def output(self, blobs: list[bytes]) -> list[Any]:
        """Stored bytes -> what `with_vectors` returns, one entry per blob."""

    def check_query(self, value: Any, where: str) -> Any:
        """A query's target for this field in the form `search` takes, or InvalidArgument."""

    def search(self, index: Any, queries: Sequence[Any], k: int, *, allowed: np.ndarray | None,
               ef: int | None, exact: bool, originals: OriginalsReader, scan: OriginalsScan) -> Neighbors:
        """The best `k` points of each query, best first."""

    def score(self, index: Any, query: Any, iids: np.ndarray, originals: OriginalsReader) -> np.ndarray:
        """Exact scores (m,) float32 of the query against exactly these points (NaN where a point
        has no vector in this field)."""

    def describe(self, index: Any) -> dict[str, Any]:
        """Extra statistics of the field (keyword arguments of FieldStats)."""


def neighbors_from_rows(rows: Sequence[tuple[np.ndarray, np.ndarray]]) -> Neighbors:
    """Per-query (ids, scores) results, best first, packed as Neighbors (padded)."""
    width = max((len(ids) for ids, _ in rows), default=0)
    ids = np.full((len(rows), width), MISSING_ID, dtype=np.uint64)
    scores = np.full((len(rows), width), np.nan, dtype=np.float32)
    counts = np.zeros(len(rows), dtype=np.int64)
    for i, (row_ids, row_scores) in enumerate(rows):
        n = len(row_ids)
        ids[i, :n] = row_ids
        scores[i, :n] = row_scores
        counts[i] = n
    return Neighbors(ids, scores, counts)


def present_mask(values: Sequence[Any]) -> np.ndarray | None:
    """Which entries are not None (None when all are)."""
    mask = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    return None if mask.all() else mask


def scores_in_order(ids: np.ndarray, scores: np.ndarray, iids: np.ndarray) -> np.ndarray:
    """The scores of `iids`, given (ids, scores) results that may cover a subset; NaN where absent."""
    out = np.full(iids.size, np.nan, dtype=np.float32)
    lookup = dict(zip(np.asarray(ids).tolist(), np.asarray(scores).tolist()))
    for i, iid in enumerate(iids.tolist()):
        score = lookup.get(iid)
        if score is not None:
            out[i] = score
    return out
