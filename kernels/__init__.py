"""Scoring kernels behind one dispatcher.

`dense_topk` picks an implementation by device name from `DENSE_TOPK_BACKENDS`; only the
numpy reference ("cpu") exists today, GPU paths register here later and are tested against it.
The reference building blocks (`scores`, `topk`, `normalize`) are exported for callers that
need the full score matrix or merge partial results themselves.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vecdb.kernels.dense import normalize, scores, topk
from vecdb.kernels.metrics import Metric

__all__ = [
    "DENSE_TOPK_BACKENDS",
    "DenseTopK",
    "Metric",
    "dense_topk",
    "normalize",
    "scores",
    "topk",
]

DenseTopK = Callable[[np.ndarray, np.ndarray, int, Metric], tuple[np.ndarray, np.ndarray]]
"""(queries (q, d), vectors (n, d), k, metric) -> (indices int64, scores float32), both (q, k')."""


def _cpu_dense_topk(
    queries: np.ndarray, vectors: np.ndarray, k: int, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    return topk(scores(queries, vectors, metric), k, metric)


DENSE_TOPK_BACKENDS: dict[str, DenseTopK] = {"cpu": _cpu_dense_topk}


def dense_topk(
    queries: np.ndarray,
    vectors: np.ndarray,
    k: int,
    metric: Metric,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact best-first top-`k` of `vectors` for each query, on `device`.

    Returns (indices int64 (q, k'), scores float32 (q, k')) with k' = min(k, n); scores follow
    `Metric` (cosine/dot similarity, l2 distance).
    """
    try:
        backend = DENSE_TOPK_BACKENDS[device]
    except KeyError:
        raise ValueError(
            f"unknown kernel device {device!r}; choose one of {sorted(DENSE_TOPK_BACKENDS)}"
        ) from None
    return backend(queries, vectors, k, Metric(metric))
