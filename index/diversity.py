"""Diverse selection from a query's candidates: MMR and coverage-aware (submodular) greedy.

Both take the candidates' relevance (higher is better: similarities or fused scores; a caller
holding l2 distances passes their negation) and their vectors, and return indices into the
candidates in selection order. `lambda_` trades relevance (1) against diversity (0); at
`lambda_=1` both return exactly the plain top-k, `np.argsort(-relevance, kind="stable")[:limit]`.

Similarity between candidates follows `metric`: cosine (vectors normalized here), dot, or for
l2 the bounded similarity 1 / (1 + distance). Relevance and similarity are added together, so
they should live on comparable scales (cosine similarity to the query is the natural relevance).

* `mmr` — maximal marginal relevance (Carbonell & Goldstein 1998): pick next the candidate
  maximizing lambda * rel(i) - (1 - lambda) * max_{s in S} sim(i, s); the first pick is the most
  relevant one. One similarity row per pick keeps a running max: O(limit * n * d).
* `coverage_select` — greedy maximization of
  f(S) = lambda * sum_{s in S} rel(s) + (1 - lambda) * sum_{c in candidates} max(0, max_{s in S} sim(c, s)),
  a modular relevance term plus facility-location coverage of the whole candidate set. The
  coverage term is monotone submodular, so for non-negative relevance greedy reaches at least
  (1 - 1/e) of the best size-`limit` set (Nemhauser et al. 1978). Adding a constant to every
  relevance shifts every size-k set's value by the same amount, so greedy picks the same set:
  the guarantee holds for the shifted, non-negative objective. Greedy here is exact (every
  candidate's marginal gain is known at every step) and incremental: the candidates' similarity
  matrix is computed once (O(n^2 * d); kept whole up to 5792 candidates, recomputed by row blocks
  past that), and after a pick s only the candidates c that s covers better than before
  (sim(c, s) > covered(c)) change anyone's gain, so a step costs O(|those c| * n), shrinking as
  coverage grows (about n / |S| of them on clustered data), plus O(n) for the argmax.

Ties in either objective go to the more relevant candidate, then to the smaller index.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from vecdb.kernels import Metric, normalize, scores

__all__ = ["coverage_objective", "coverage_select", "mmr"]

_MATRIX_ENTRIES = 1 << 25
"""coverage_select keeps the whole (n, n) float32 similarity matrix up to this many entries
(128 MiB, n <= 5792); past it, rows are recomputed from the vectors when needed."""

_CHUNK_ENTRIES = 1 << 22
"""Most similarity entries one block of coverage_select's gain updates holds (16 MiB)."""


def mmr(
    relevance: np.ndarray,
    vectors: np.ndarray,
    limit: int,
    *,
    lambda_: float = 0.5,
    metric: Metric | str = Metric.COSINE,
) -> np.ndarray:
    """Indices (int64) of min(limit, n) candidates in maximal-marginal-relevance order.

    `relevance` (n,) higher is better; `vectors` (n, d) the candidates' vectors; `lambda_` in
    [0, 1] (1: plain top-k by relevance, 0: the most relevant first, then maximally dissimilar).
    """
    rel, x, metric, limit, lam = _prepare(relevance, vectors, limit, lambda_, metric)
    count = min(limit, rel.size)
    out = np.empty(count, dtype=np.int64)
    available = np.ones(rel.size, dtype=bool)
    max_sim: np.ndarray | None = None
    for t in range(count):
        score = lam * rel if max_sim is None else lam * rel - (1.0 - lam) * max_sim
        pick = _best(score, rel, available)
        out[t] = pick
        available[pick] = False
        if t + 1 < count:
            sim = _similarity(x, np.array([pick]), metric)[0]
            max_sim = sim if max_sim is None else np.maximum(max_sim, sim)
    return out


def coverage_select(
    relevance: np.ndarray,
    vectors: np.ndarray,
    limit: int,
    *,
    lambda_: float = 0.5,
    metric: Metric | str = Metric.COSINE,
    coverage_scale: float = 1.0,
) -> np.ndarray:
    """Indices (int64) of min(limit, n) candidates picked greedily for relevance + coverage.

    Maximizes f(S) (see the module docstring and `coverage_objective`) one pick at a time;
    `lambda_=1` is plain top-k by relevance, `lambda_=0` pure coverage of the candidate set.

    `coverage_scale` multiplies the coverage term. At 1 (the definition) that term sums over
    all n candidates while relevance sums over the `limit` picks, so coverage dominates unless
    `lambda_` is close to 1 (on 200 MiniLM candidates, k=10, lambda 0.7 still gives up 19% of
    the mean relevance); `coverage_scale=limit / n` puts both terms on the scale of `limit`
    scores, so mid-range lambdas trade off gently (0.5 then gives up 3%; see
    bench/bench_diversity.py). Any positive scale keeps the objective monotone submodular and
    `lambda_=1` plain top-k.
    """
    rel, x, metric, limit, lam = _prepare(relevance, vectors, limit, lambda_, metric)
    scale = _check_scale(coverage_scale)
    n = rel.size
    count = min(limit, n)
    out = np.empty(count, dtype=np.int64)
    if count == 0:
        return out
    sim = _SimilarityRows(x, metric)
    chunk = max(1, _CHUNK_ENTRIES // n)
    # coverage[i]: sum_c max(0, sim(c, i) - covered[c]), the coverage gain of adding i
    coverage = np.zeros(n, dtype=np.float64)
    for start in range(0, n, chunk):
        block = sim.rows(np.arange(start, min(n, start + chunk)))
        coverage += np.maximum(block, 0.0).sum(axis=0, dtype=np.float64)
    covered = np.zeros(n, dtype=np.float32)  # max(0, max_{s in S} sim(c, s)) per candidate c
    available = np.ones(n, dtype=bool)
    for t in range(count):
        pick = _best(lam * rel + (1.0 - lam) * scale * coverage, rel, available)
        out[t] = pick
        available[pick] = False
        if t + 1 == count:
            break
        column = sim.rows(np.array([pick]))[0]  # sim(c, pick) for every c (symmetric)
        gained = np.flatnonzero(column > covered)
        for start in range(0, gained.size, chunk):
            c = gained[start : start + chunk]
            block = sim.rows(c)  # sim(c, i) for every i
            old = np.maximum(block - covered[c, None], 0.0)
            new = np.maximum(block - column[c, None], 0.0)
            coverage -= (old - new).sum(axis=0, dtype=np.float64)
        covered[gained] = column[gained]
    return out


def coverage_objective(
    relevance: np.ndarray,
    vectors: np.ndarray,
    selected: Sequence[int] | np.ndarray,
    *,
    lambda_: float = 0.5,
    metric: Metric | str = Metric.COSINE,
    coverage_scale: float = 1.0,
) -> float:
    """f(S) = lambda * sum_{s in S} rel(s)
    + (1 - lambda) * coverage_scale * sum_c max(0, max_{s in S} sim(c, s)),
    the value `coverage_select` greedily maximizes, for the candidate indices `selected`."""
    rel, x, metric, _, lam = _prepare(relevance, vectors, 0, lambda_, metric)
    scale = _check_scale(coverage_scale)
    sel = np.asarray(selected, dtype=np.int64).reshape(-1)
    if sel.size and (sel.min() < 0 or sel.max() >= rel.size):
        raise ValueError(f"selected must index the {rel.size} candidates, got {sel.tolist()}")
    if np.unique(sel).size != sel.size:
        raise ValueError(f"selected must not repeat a candidate, got {sel.tolist()}")
    if sel.size == 0:
        return 0.0
    covered = np.maximum(_similarity(x, sel, metric).max(axis=0), 0.0)
    return float(lam * rel[sel].sum() + (1.0 - lam) * scale * covered.sum(dtype=np.float64))


def _prepare(
    relevance: object, vectors: object, limit: object, lambda_: object, metric: object
) -> tuple[np.ndarray, np.ndarray, Metric, int, float]:
    """Validated (relevance float64, vectors in similarity form float32, metric, limit, lambda)."""
    rel = np.asarray(relevance, dtype=np.float64)
    if rel.ndim != 1:
        raise ValueError(
            f"relevance must be a 1-D array (one score per candidate), got {rel.shape}"
        )
    if not np.isfinite(rel).all():
        raise ValueError("relevance contains NaN or infinity; every score must be finite")
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != rel.size:
        raise ValueError(
            f"vectors must have shape ({rel.size}, d), one row per relevance score, got {x.shape}"
        )
    if not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or infinity; every component must be finite")
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 0:
        raise ValueError(f"limit must be an integer >= 0, got {limit!r}")
    if (
        isinstance(lambda_, bool)
        or not isinstance(lambda_, numbers.Real)
        or not 0.0 <= float(lambda_) <= 1.0
    ):
        raise ValueError(f"lambda_ must be a number in [0, 1], got {lambda_!r}")
    try:
        m = Metric(metric)
    except ValueError:
        raise ValueError(
            f"metric must be one of {', '.join(v.value for v in Metric)}, got {metric!r}"
        ) from None
    if m is Metric.COSINE:
        x = normalize(x)
    return rel, x, m, int(limit), float(lambda_)


class _SimilarityRows:
    """Rows of the candidates' (n, n) similarity matrix: all of it computed once when it fits in
    `_MATRIX_ENTRIES`, otherwise each requested row block computed on demand."""

    def __init__(self, x: np.ndarray, metric: Metric) -> None:
        self.x, self.metric = x, metric
        n = x.shape[0]
        self.matrix = _similarity(x, np.arange(n), metric) if n * n <= _MATRIX_ENTRIES else None

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """(len(idx), n) float32 similarities of candidates `idx` to every candidate."""
        if self.matrix is not None:
            return self.matrix[idx]
        return _similarity(self.x, idx, self.metric)


def _check_scale(coverage_scale: object) -> float:
    if (
        isinstance(coverage_scale, bool)
        or not isinstance(coverage_scale, numbers.Real)
        or not 0.0 < float(coverage_scale) < np.inf
    ):
        raise ValueError(f"coverage_scale must be a finite number > 0, got {coverage_scale!r}")
    return float(coverage_scale)


def _similarity(x: np.ndarray, idx: np.ndarray, metric: Metric) -> np.ndarray:
    """(len(idx), n) float32 similarities of candidates `idx` to every candidate (see module doc)."""
    if metric is Metric.L2:
        dist = scores(x[idx], x, Metric.L2)
        return np.divide(1.0, 1.0 + dist, out=dist)
    # cosine vectors were normalized in _prepare, so cosine is a dot product here
    return scores(x[idx], x, Metric.DOT)


def _best(score: np.ndarray, rel: np.ndarray, available: np.ndarray) -> int:
    """The available index with the highest score, then the highest relevance, then smallest."""
    masked = np.where(available, score, -np.inf)
    tied = np.flatnonzero(masked == masked.max())
    if tied.size > 1:
        r = rel[tied]
        tied = tied[r == r.max()]
    return int(tied[0])
