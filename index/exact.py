"""Exact (brute-force) k-NN over candidate vectors that arrive in chunks.

Every index needs an exact path: flat search, selective filters, `exact=True`, and the fallback
when hnswlib cannot fill k results. Chunking bounds the (queries x candidates) score matrix, so
an exact scan over millions of points costs time, not memory; a running top-k merge keeps the
answer identical to one big scan.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from vecdb.index.base import Neighbors
from vecdb.kernels import Metric, dense_topk, normalize, topk

__all__ = ["SCORE_BUDGET", "chunk_rows", "exact_search", "scoring_form"]

SCORE_BUDGET = 1 << 24
"""Most float32 scores one chunk may materialize (64 MiB)."""


def chunk_rows(num_queries: int) -> int:
    """Candidates per chunk so that one chunk's score matrix stays within `SCORE_BUDGET`."""
    return max(1024, SCORE_BUDGET // max(1, num_queries))


def scoring_form(queries: np.ndarray, metric: Metric) -> tuple[np.ndarray, Metric]:
    """Queries and kernel metric to score against stored vectors.

    Indexes store cosine vectors normalized, so cosine reduces to a dot product with normalized
    queries and the kernel need not renormalize every stored vector on every query.
    """
    if metric is Metric.COSINE:
        return normalize(queries), Metric.DOT
    return queries, metric


def exact_search(
    queries: np.ndarray,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    k: int,
    metric: Metric,
    device: str = "cpu",
) -> Neighbors:
    """The exact best-first top-`k` over all (ids uint64 (m,), vectors (m, d)) chunks, scored by
    the `vecdb.kernels` backend of `device` ("cpu" or "cuda").

    `queries` and `metric` are in scoring form (see `scoring_form`); the result width is
    min(k, total candidates) and every row is full.
    """
    num_queries = queries.shape[0]
    best_ids = np.empty((num_queries, 0), dtype=np.uint64)
    best_scores = np.empty((num_queries, 0), dtype=np.float32)
    for ids, vectors in chunks:
        if ids.size == 0:
            continue
        idx, scores = dense_topk(queries, vectors, k, metric, device=device)
        merged_ids = np.concatenate([best_ids, ids[idx]], axis=1)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        sel, best_scores = topk(merged_scores, k, metric)
        best_ids = np.take_along_axis(merged_ids, sel, axis=1)
    counts = np.full(num_queries, best_ids.shape[1], dtype=np.int64)
    return Neighbors(ids=best_ids, scores=best_scores, counts=counts)
