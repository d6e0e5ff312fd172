"""Reference dense scoring on the CPU: normalization, query-by-vector scores and top-k selection.

This is the path every other kernel (GPU, quantized) is compared against, so it favours clear
numerics over speed tricks: one BLAS matmul per call, float32 in and out. Scores follow
`Metric`: cosine and dot are similarities (higher is better), l2 is the Euclidean distance
(not squared; lower is better).
"""

from __future__ import annotations

import numpy as np

from vecdb.kernels.metrics import Metric

__all__ = ["L2_REFINE_RATIO", "normalize", "scores", "topk"]

# Squared distances below this fraction of |q|^2 + |v|^2 lose most of their float32 digits to
# cancellation in |q|^2 + |v|^2 - 2 q.v; such pairs (near-duplicates, usually few) are recomputed
# directly from the difference vector so that a vector's distance to itself is 0, not ~1e-3.
L2_REFINE_RATIO = 1e-2

# Bounds the (pairs, dim) scratch array of the direct l2 recomputation.
_REFINE_CHUNK = 65536


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows, dim), got shape {arr.shape}")
    return arr


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows of `x` scaled to unit L2 norm, as a new float32 array.

    Zero rows stay zero rather than raising: a zero vector then has cosine similarity 0 with
    everything, which is what hnswlib's cosine space does too. Callers that must reject zero
    vectors check `np.linalg.norm(x, axis=-1) == 0` themselves.
    """
    arr = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=-1, keepdims=True)
    return np.divide(arr, norms, out=np.zeros_like(arr), where=norms > 0)


def _l2(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    q_sq = np.einsum("ij,ij->i", queries, queries)[:, None]
    v_sq = np.einsum("ij,ij->i", vectors, vectors)[None, :]
    d2 = q_sq + v_sq - 2.0 * (queries @ vectors.T)
    rows, cols = np.nonzero(d2 < L2_REFINE_RATIO * (q_sq + v_sq))
    for start in range(0, rows.size, _REFINE_CHUNK):
        r = rows[start : start + _REFINE_CHUNK]
        c = cols[start : start + _REFINE_CHUNK]
        diff = queries[r] - vectors[c]
        d2[r, c] = np.einsum("ij,ij->i", diff, diff)
    np.maximum(d2, 0.0, out=d2)
    return np.sqrt(d2, out=d2)


def scores(queries: np.ndarray, vectors: np.ndarray, metric: Metric) -> np.ndarray:
    """The (q, n) float32 matrix of `metric` scores between every query and every vector.

    For cosine both sides are normalized here, so callers may pass raw vectors; a caller that
    already holds unit vectors skips that pass by asking for `Metric.DOT`, which gives the same
    numbers. Zero vectors score 0 under cosine.
    """
    q = _as_matrix(queries, "queries")
    v = _as_matrix(vectors, "vectors")
    if q.shape[1] != v.shape[1]:
        raise ValueError(
            f"queries have dim {q.shape[1]} but vectors have dim {v.shape[1]}; they must match"
        )
    metric = Metric(metric)
    if metric is Metric.COSINE:
        out = normalize(q) @ normalize(v).T
    elif metric is Metric.DOT:
        out = q @ v.T
    else:
        out = _l2(q, v)
    return np.ascontiguousarray(out, dtype=np.float32)


def topk(score_matrix: np.ndarray, k: int, metric: Metric) -> tuple[np.ndarray, np.ndarray]:
    """The best `min(k, n)` columns of each row of a (q, n) score matrix, best first.

    Returns (indices int64 (q, k'), scores float32 (q, k')). "Best" follows
    `metric.higher_is_better`; NaN scores rank last. Among equal scores the order is
    unspecified, so compare results by score, not by index.
    """
    s = np.asarray(score_matrix, dtype=np.float32)
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D array (queries, candidates), got shape {s.shape}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    q, n = s.shape
    kk = min(int(k), n)
    if kk == 0:
        return np.empty((q, 0), dtype=np.int64), np.empty((q, 0), dtype=np.float32)
    keys = Metric(metric).sort_key(s)
    if kk < n:
        part = np.argpartition(keys, kk - 1, axis=1)[:, :kk]
    else:
        part = np.broadcast_to(np.arange(n), (q, n))
    order = np.argsort(np.take_along_axis(keys, part, axis=1), axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    return idx, np.take_along_axis(s, idx, axis=1)
