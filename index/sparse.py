"""SparseIndex: exact top-k over sparse vectors (term id -> weight) in an inverted index.

Sparse fields hold user-supplied or SPLADE vectors; the score of a document for a query is the
dot product of the two. The inverted-index machinery (slots, forward rows, segments, exact
term-at-a-time search, the file format) lives in `vecdb.index.inverted` and is shared with
`Bm25Index` (vecdb.index.bm25).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vecdb.index.base import IndexLoadError, as_ids, check_k
from vecdb.index.inverted import (
    SparseIndexConfig,
    SparseRow,
    _InvertedBase,
    _Segment,
    as_sparse_row,
    last_occurrence,
    read_index_file,
    write_index_file,
)

__all__ = ["SparseIndex", "SparseIndexConfig", "SparseRow", "as_sparse_row"]


class SparseIndex(_InvertedBase):
    """Exact inverted index for user / SPLADE sparse vectors; score = dot product.

    Thread-safe (concurrent searches, exclusive writes). Results hold only points that share
    at least one term with the query, best first (ties: smaller id first).
    """

    _MAGIC = b"VECDBSPR"

    def __init__(self, config: SparseIndexConfig | None = None) -> None:
        if config is None:
            config = SparseIndexConfig()
        if not isinstance(config, SparseIndexConfig):
            raise TypeError(
                f"SparseIndex takes a SparseIndexConfig or None, got {type(config).__name__}"
            )
        config.validate()
        self.config = config
        super().__init__(config)

    # -- mutation ----------------------------------------------------------------------------

    def add(self, ids: np.ndarray, rows: Sequence[SparseRow]) -> None:
        """Insert or replace points (a later duplicate id in one batch wins)."""
        id_arr = as_ids(ids)
        if len(rows) != id_arr.size:
            raise ValueError(f"got {id_arr.size} ids but {len(rows)} sparse rows")
        canon = [as_sparse_row(r, name=f"sparse vector {i}") for i, r in enumerate(rows)]
        keep = last_occurrence(id_arr)
        if keep is not None:
            id_arr = id_arr[keep]
            canon = [canon[i] for i in keep.tolist()]
        if id_arr.size == 0:
            return
        with self._lock.write():
            self._put_rows(
                id_arr,
                np.fromiter((t.size for t, _ in canon), dtype=np.int64, count=len(canon)),
                np.concatenate([t for t, _ in canon]),
                np.concatenate([w for _, w in canon]),
            )

    # -- queries -----------------------------------------------------------------------------

    def search(
        self, query: SparseRow, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best min(k, matching) points: (ids uint64, scores float32), best first.

        Exact. `allowed` restricts results to those ids (unknown ids are ignored).
        """
        qterms, qw = as_sparse_row(query, name="query")
        k = check_k(k)
        allowed_ids = None if allowed is None else as_ids(allowed)
        with self._lock.read():
            slots = self._allowed_slots(allowed_ids)
            return self._search_terms(qterms, qw.astype(np.float64), k, slots)

    def search_batch(
        self, queries: Sequence[SparseRow], k: int, *, allowed: np.ndarray | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search` for each query (one lock acquisition for the batch)."""
        canon = [as_sparse_row(q, name=f"query {i}") for i, q in enumerate(queries)]
        k = check_k(k)
        allowed_ids = None if allowed is None else as_ids(allowed)
        with self._lock.read():
            slots = self._allowed_slots(allowed_ids)
            return [
                self._search_terms(t, w.astype(np.float64), k, slots) for t, w in canon
            ]

    def scores(self, query: SparseRow, ids: np.ndarray) -> np.ndarray:
        """Exact float32 dot products of `query` with the points `ids`, in order; 0 for a point
        that shares no term or is not in the index."""
        qterms, qw = as_sparse_row(query, name="query")
        id_arr = as_ids(ids)
        with self._lock.read():
            slots = np.fromiter(
                (self._slot_of.get(i, -1) for i in id_arr.tolist()), dtype=np.int64,
                count=id_arr.size,
            )
            found = slots >= 0
            out = np.zeros(id_arr.size, dtype=np.float32)
            if found.any() and qterms.size:
                acc, _ = self._score_slots(slots[found], qterms, qw.astype(np.float64))
                out[found] = acc
            return out

    def get_rows(self, ids: np.ndarray) -> list[SparseRow]:
        """Stored rows (term ids, weights) in the order of `ids`; KeyError for an unknown id."""
        id_arr = as_ids(ids)
        with self._lock.read():
            return [(t, w) for _, t, w in self._rows_of(id_arr)]

    # -- scoring hooks -----------------------------------------------------------------------

    def _posting_scores(self, seg: _Segment, pos: np.ndarray) -> np.ndarray:
        return seg.vals

    def _row_scores(self, slots: np.ndarray, terms: np.ndarray, vals: np.ndarray) -> np.ndarray:
        return vals.astype(np.float64)

    # -- persistence -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the live rows to exactly `path` and fsync it (postings are rebuilt on load)."""
        with self._lock.read():
            _, ids, lens, terms, vals = self._live_rows()
            write_index_file(
                Path(path), self._MAGIC, {"kind": "sparse"},
                {"ids": ids, "lens": lens.astype(np.uint32), "terms": terms, "vals": vals},
            )

    @classmethod
    def load(cls, path: Path, config: SparseIndexConfig | None = None) -> SparseIndex:
        """Read a file written by `save`; IndexLoadError when it is unusable."""
        path = Path(path)
        _, arrays = read_index_file(path, cls._MAGIC)
        try:
            ids = arrays["ids"].astype(np.uint64)
            lens = arrays["lens"].astype(np.int64)
            terms = arrays["terms"].astype(np.uint32)
            vals = arrays["vals"].astype(np.float32)
        except KeyError as exc:
            raise IndexLoadError(path, f"missing array {exc}") from exc
        if ids.size != lens.size:
            raise IndexLoadError(path, "ids and row lengths differ in count")
        index = cls(config)
        index._restore_rows(path, ids, lens, terms, vals)
        return index
