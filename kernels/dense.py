"""Dense scoring: the reference, the CPU fast path, and the device-dispatched entry points.

The reference (`scores`, `topk`, `rescore_reference`) is what every other kernel (GPU,
quantized) is compared against, so it favours clear numerics over speed tricks: one BLAS matmul
per call, float32 in and out. The CPU fast path blocks the same BLAS scoring over rows so memory
stays bounded and float16 storage is widened a block at a time; the Triton path lives in
`triton_dense`. Scores follow
`Metric`: cosine and dot are similarities (higher is better), l2 is the Euclidean distance
(not squared; lower is better).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vecdb.kernels.dispatch import KernelRegistry
from vecdb.kernels.metrics import Metric
from vecdb.kernels.select import RunningTopK, as_candidates, select_topk

__all__ = [
    "DENSE_BLOCK_SCORES",
    "DENSE_RESCORE_BACKENDS",
    "DENSE_TOPK_BACKENDS",
    "L2_REFINE_RATIO",
    "DenseRescore",
    "DenseTopK",
    "cpu_dense_rescore",
    "cpu_dense_topk",
    "dense_rescore",
    "dense_rescore_topk",
    "dense_topk",
    "normalize",
    "rescore_reference",
    "scores",
    "topk",
]

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
    _check_dims(q, v)
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
    return select_topk(score_matrix, k, Metric(metric).higher_is_better)


def rescore_reference(
    queries: np.ndarray, vectors: np.ndarray, candidates: np.ndarray, metric: Metric
) -> np.ndarray:
    """(q, c) float32 `metric` scores of each query against its own candidate rows.

    The reference for candidate rescoring: gathers each query's rows and scores them directly
    (l2 from the difference vector, so near-duplicates are exact). -1 candidates score NaN.
    """
    q = _as_matrix(queries, "queries")
    v = np.asarray(vectors)
    _check_dims(q, v)
    cand = as_candidates(candidates, q.shape[0], v.shape[0])
    metric = Metric(metric)
    rows = np.asarray(v[np.maximum(cand, 0)], dtype=np.float32)  # (q, c, d)
    if metric is Metric.L2:
        diff = rows - q[:, None, :]
        out = np.sqrt(np.einsum("qcd,qcd->qc", diff, diff))
    else:
        if metric is Metric.COSINE:
            q = normalize(q)
            rows = normalize(rows)
        out = np.matmul(rows, q[:, :, None])[:, :, 0]
    out = np.ascontiguousarray(out, dtype=np.float32)
    out[cand < 0] = np.nan
    return out


def _check_dims(q: np.ndarray, v: np.ndarray) -> None:
    if v.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (rows, dim), got shape {v.shape}")
    if q.shape[1] != v.shape[1]:
        raise ValueError(
            f"queries have dim {q.shape[1]} but vectors have dim {v.shape[1]}; they must match"
        )


# ---------------------------------------------------------------------------------------------
# CPU fast path: blocked BLAS scoring with a running top-k merge.

DENSE_BLOCK_SCORES = 1 << 22
"""Most scores one CPU block materializes (16 MiB of float32); bounds memory for any n."""


def cpu_dense_topk(
    queries: np.ndarray, vectors: np.ndarray, k: int, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k on the CPU: one BLAS matmul per block of rows, merged as it goes.

    float16 storage is widened to float32 one block at a time (numpy has no fp16 BLAS), so the
    scan never holds a float32 copy of the whole matrix; cosine normalizes the queries once.
    """
    metric = Metric(metric)
    q = _as_matrix(queries, "queries")
    v = np.asarray(vectors)
    _check_dims(q, v)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    n = v.shape[0]
    block = max(1024, DENSE_BLOCK_SCORES // max(1, q.shape[0]))
    if n <= block:
        return topk(scores(q, v, metric), k, metric)
    if metric is Metric.COSINE:
        q, metric_block = normalize(q), Metric.COSINE
    else:
        metric_block = metric
    running = RunningTopK(q.shape[0], k, metric.higher_is_better)
    for start in range(0, n, block):
        rows = np.asarray(v[start : start + block], dtype=np.float32)
        if metric_block is Metric.COSINE:
            s = q @ normalize(rows).T
        else:
            s = scores(q, rows, metric_block)
        running.push(s, start)
    return running.result()


def cpu_dense_rescore(
    queries: np.ndarray, vectors: np.ndarray, candidates: np.ndarray, metric: Metric
) -> np.ndarray:
    """Candidate rescoring on the CPU: the gather-then-BLAS reference is already the fast path."""
    return rescore_reference(queries, vectors, candidates, metric)


# ---------------------------------------------------------------------------------------------
# Public entry points: one registry per operation, selected by device.

DenseTopK = Callable[[np.ndarray, np.ndarray, int, Metric], tuple[np.ndarray, np.ndarray]]
"""(queries (q, d), vectors (n, d), k, metric) -> (indices int64, scores float32), both (q, k')."""

DenseRescore = Callable[[np.ndarray, np.ndarray, np.ndarray, Metric], np.ndarray]
"""(queries (q, d), vectors (n, d), candidates (q, c) | (c,), metric) -> scores float32 (q, c)."""

DENSE_TOPK_BACKENDS: KernelRegistry[DenseTopK] = KernelRegistry(
    "dense_topk",
    {"cpu": "vecdb.kernels.dense:cpu_dense_topk", "cuda": "vecdb.kernels.triton_dense:dense_topk"},
)
DENSE_RESCORE_BACKENDS: KernelRegistry[DenseRescore] = KernelRegistry(
    "dense_rescore",
    {
        "cpu": "vecdb.kernels.dense:cpu_dense_rescore",
        "cuda": "vecdb.kernels.triton_dense:dense_rescore",
    },
)


def dense_topk(
    queries: np.ndarray,
    vectors: np.ndarray,
    k: int,
    metric: Metric,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact best-first top-`k` of `vectors` (float32 or float16 storage) for each query.

    Returns (indices int64 (q, k'), scores float32 (q, k')) with k' = min(k, n); scores follow
    `Metric` (cosine/dot similarity, l2 distance). `device` is "cpu", "cuda" or "auto".
    """
    return DENSE_TOPK_BACKENDS.select(device)(queries, vectors, k, Metric(metric))


def dense_rescore(
    queries: np.ndarray,
    vectors: np.ndarray,
    candidates: np.ndarray,
    metric: Metric,
    device: str = "cpu",
) -> np.ndarray:
    """Scores (q, c) float32 of each query against exactly its candidate rows of `vectors`.

    `candidates` is (q, c) (or (c,) shared by all queries) of row ids; -1 is padding and scores
    NaN. Used to rescore an ANN or quantized shortlist from the original vectors.
    """
    return DENSE_RESCORE_BACKENDS.select(device)(queries, vectors, candidates, Metric(metric))


def dense_rescore_topk(
    queries: np.ndarray,
    vectors: np.ndarray,
    candidates: np.ndarray,
    k: int,
    metric: Metric,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """The best `k` of each query's candidates: (row ids int64 (q, k'), scores float32 (q, k')).

    Ids are the candidates' own row ids (not positions in the list); padding ranks last.
    """
    metric = Metric(metric)
    s = dense_rescore(queries, vectors, candidates, metric, device)
    pos, top = topk(s, k, metric)
    cand = np.broadcast_to(np.asarray(candidates, dtype=np.int64), s.shape)
    return np.take_along_axis(cand, pos, axis=1), top
