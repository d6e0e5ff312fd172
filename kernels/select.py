"""Top-k selection shared by every kernel family's CPU path.

Scores arrive as (q, n) matrices; `select_topk` keeps the best `min(k, n)` columns of each row,
best first, and `merge_topk` folds a new block's winners into a running result, so a scan over
millions of rows holds only (q, k) between blocks. NaN scores rank last in both directions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RunningTopK", "as_candidates", "merge_topk", "select_topk"]


def select_topk(scores: np.ndarray, k: int, largest: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Column indices (int64) and scores (float32) of the best `min(k, n)` per row, best first.

    `largest` says whether higher scores are better. Ties are broken arbitrarily, so compare
    results by score, not by index.
    """
    s = np.asarray(scores, dtype=np.float32)
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D array (queries, candidates), got shape {s.shape}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    q, n = s.shape
    kk = min(int(k), n)
    if kk == 0:
        return np.empty((q, 0), dtype=np.int64), np.empty((q, 0), dtype=np.float32)
    keys = -s if largest else s
    if kk < n:
        part = np.argpartition(keys, kk - 1, axis=1)[:, :kk]
    else:
        part = np.broadcast_to(np.arange(n), (q, n))
    order = np.argsort(np.take_along_axis(keys, part, axis=1), axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    return idx, np.take_along_axis(s, idx, axis=1)


def merge_topk(
    best_idx: np.ndarray,
    best_scores: np.ndarray,
    idx: np.ndarray,
    scores: np.ndarray,
    k: int,
    largest: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The best `k` of two (q, *) candidate sets given as (ids, scores); ids are carried along."""
    all_idx = np.concatenate([best_idx, idx], axis=1)
    all_scores = np.concatenate([best_scores, scores], axis=1)
    sel, top = select_topk(all_scores, k, largest)
    return np.take_along_axis(all_idx, sel, axis=1), top


class RunningTopK:
    """The best `k` per query over blocks of columns pushed one after another.

    Once a query holds k results, a new block is first compared with that query's current
    k-th score: only columns that beat it are selected and merged, so the per-block cost after
    the first blocks is one vectorized comparison instead of a partition of the whole block.
    Ties with the k-th score do not displace it (tie order is unspecified anyway).
    """

    def __init__(self, num_queries: int, k: int, largest: bool = True) -> None:
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        self.k, self.largest = int(k), largest
        self.idx = np.empty((num_queries, 0), dtype=np.int64)
        self.scores = np.empty((num_queries, 0), dtype=np.float32)

    def push(self, block: np.ndarray, first_column: int) -> None:
        """Fold in a (q, m) float32 block whose column j is global column first_column + j."""
        if self.k == 0 or block.shape[1] == 0:
            return
        if self.idx.shape[1] < self.k:
            idx, top = select_topk(block, self.k, self.largest)
            self.idx, self.scores = merge_topk(
                self.idx, self.scores, idx + first_column, top, self.k, self.largest
            )
            return
        worst = self.scores[:, -1:]
        worst = np.where(np.isnan(worst), -np.inf if self.largest else np.inf, worst)
        beats = block > worst if self.largest else block < worst
        rows = np.flatnonzero(beats.any(axis=1))
        for r in rows.tolist():
            cols = np.flatnonzero(beats[r])
            merged_idx = np.concatenate([self.idx[r], cols + first_column])
            merged = np.concatenate([self.scores[r], block[r, cols]])
            sel, top = select_topk(merged[None, :], self.k, self.largest)
            self.idx[r], self.scores[r] = merged_idx[sel[0]], top[0]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices int64 (q, k'), scores float32 (q, k')), best first."""
        return self.idx, self.scores


def as_candidates(candidates: np.ndarray, num_queries: int, num_rows: int) -> np.ndarray:
    """Candidate row ids as an int64 (q, c) array.

    A 1-D list is shared by every query. -1 marks padding (a shorter list in a ragged batch):
    its score is NaN, which ranks last. Any other id outside [0, num_rows) is an error.
    """
    cand = np.asarray(candidates)
    if cand.dtype.kind not in "iu":
        raise ValueError(f"candidates must be integer row ids, got dtype {cand.dtype}")
    cand = cand.astype(np.int64, copy=False)
    if cand.ndim == 1:
        cand = np.broadcast_to(cand, (num_queries, cand.shape[0]))
    if cand.ndim != 2 or cand.shape[0] != num_queries:
        raise ValueError(
            f"candidates must have shape (c,) or (queries={num_queries}, c), got {cand.shape}"
        )
    bad = (cand < -1) | (cand >= num_rows)
    if bad.any():
        raise ValueError(
            f"candidate id {int(cand[bad][0])} is out of range for {num_rows} rows "
            "(use -1 for padding)"
        )
    return cand
