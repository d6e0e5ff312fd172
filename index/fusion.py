"""Fusion of several prefetch stages' results into one ranking: RRF, DBSF and weighted sums.

A hybrid `Query` runs prefetch stages (dense, quantized, multi-vector, sparse), each returning
its own best-first list of (id, score). Fusion merges those lists into one `Ranking`:

* `rrf` — reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), rank 1-based in stage
  i's order. Looks at positions only, so stages on incomparable scales (BM25 vs cosine) mix.
* `dbsf` — distribution-based score fusion as in Qdrant: each stage's scores are mapped to [0, 1]
  with mean - 3 std -> 0 and mean + 3 std -> 1 (sample std, ddof=1, as Qdrant), then summed with
  weights. Unlike Qdrant, values past 3 std are clipped to [0, 1] so one outlier cannot dominate.
* `weighted` — weighted sum of per-stage normalized scores; "minmax" (best -> 1, worst -> 0) or
  "zscore" ((s - mean) / population std, unbounded).

Conventions shared by all three:

* A lower-is-better stage (l2 distances) is flipped (negated) before normalizing, so its best
  result always normalizes highest. The fused `Ranking` is always higher-is-better.
* An id missing from a stage contributes 0 from that stage. For "zscore" 0 is that stage's mean,
  so prefer "minmax" or `dbsf` when stages return different ids (the usual hybrid case).
* A stage whose scores cannot be told apart (one result, or all equal) gives each of its results
  0.5 under `dbsf` and "minmax" (Qdrant's choice) and 0 under "zscore".
* weights: one non-negative finite float per stage, default all 1.
* Ties in the fused score are broken by the best (smallest) 1-based position the id reached in
  any stage, then by the smaller id; so the output is a pure function of the inputs. Fused scores
  are accumulated in float64 in stage order, and ties mean equal floats: sums that are equal on
  paper but rounded differently (e.g. 0.1 + 0.2 vs 0.3) are ordered by their float values.
* `limit` keeps only the best `limit` fused results (None: all of them).

Everything here is pure numpy over ids and scores: no index, storage or gRPC.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from vecdb.index.base import Neighbors, as_ids
from vecdb.kernels.metrics import Metric

__all__ = [
    "FUSION_METHODS",
    "NORMALIZATIONS",
    "Ranking",
    "dbsf",
    "fuse",
    "rrf",
    "weighted",
]

NORMALIZATIONS = ("minmax", "zscore")
"""Per-stage score normalizations `weighted` accepts."""

_FLAT_SCORE = 0.5
"""What `dbsf` and "minmax" give every result of a stage whose scores are all equal."""


@dataclass(frozen=True)
class Ranking:
    """One stage's results, or a fusion's output: ids best first and their scores.

    `ids` (n,) uint64, unique; `scores` (n,) float64, finite; `higher_is_better` says which
    direction of `scores` is better (False for l2 distances). `rrf` reads only the order of
    `ids`; `dbsf` and `weighted` read only the scores. Use `from_scores` when the results are
    not sorted yet, `from_neighbors` to take one query's row of an index search.
    """

    ids: np.ndarray
    scores: np.ndarray
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        ids = as_ids(self.ids)
        scores = np.asarray(self.scores, dtype=np.float64)
        if scores.ndim == 0:
            scores = scores.reshape(1)
        if scores.shape != ids.shape:
            raise ValueError(
                f"scores must have one value per id: ids {ids.shape}, scores {scores.shape}"
            )
        if not np.isfinite(scores).all():
            raise ValueError("scores contain NaN or infinity; every score must be finite")
        if ids.size > 1 and np.unique(ids).size != ids.size:
            raise ValueError("ids must be unique within one ranking; drop the duplicates first")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "higher_is_better", bool(self.higher_is_better))

    @classmethod
    def from_scores(cls, ids: object, scores: object, higher_is_better: bool = True) -> Ranking:
        """A ranking of unsorted results: sorted best first, equal scores by smaller id."""
        raw = cls(ids, scores, higher_is_better)
        key = -raw.scores if raw.higher_is_better else raw.scores
        order = np.lexsort((raw.ids, key))
        return cls(raw.ids[order], raw.scores[order], raw.higher_is_better)

    @classmethod
    def from_neighbors(cls, neighbors: Neighbors, row: int, metric: Metric | str) -> Ranking:
        """Query `row` of an index search (padding dropped), scored in `metric`'s direction."""
        ids, scores = neighbors.row(row)
        return cls(ids, scores, Metric(metric).higher_is_better)

    @classmethod
    def empty(cls) -> Ranking:
        return cls(np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.float64))

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def rrf(
    rankings: Sequence[Ranking],
    *,
    k: int = 60,
    weights: Sequence[float] | None = None,
    limit: int | None = None,
) -> Ranking:
    """Reciprocal rank fusion: score(d) = sum_i weights[i] / (k + rank_i(d)), rank 1-based.

    `k` (an integer >= 0; 60 as in Cormack et al. and Qdrant) damps the lead of top positions:
    a larger k makes an id found by several stages beat an id ranked first by only one.
    """
    stages = _check_rankings(rankings)
    w = _check_weights(weights, len(stages))
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    contributions = [
        1.0 / (int(k) + np.arange(1, len(stage) + 1, dtype=np.float64)) for stage in stages
    ]
    return _combine(stages, contributions, w, limit)


def dbsf(
    rankings: Sequence[Ranking],
    *,
    weights: Sequence[float] | None = None,
    limit: int | None = None,
) -> Ranking:
    """Distribution-based score fusion: per stage, scores (flipped when lower is better) map to
    clip((s - (mean - 3 std)) / (6 std), 0, 1) with the sample std; then a weighted sum.

    A stage with one result, or with all scores equal, gives each result 0.5.
    """
    stages = _check_rankings(rankings)
    w = _check_weights(weights, len(stages))
    return _combine(stages, [_distribution_normalize(s) for s in stages], w, limit)


def weighted(
    rankings: Sequence[Ranking],
    *,
    weights: Sequence[float] | None = None,
    normalization: str = "minmax",
    limit: int | None = None,
) -> Ranking:
    """Weighted sum of per-stage normalized scores; an id missing from a stage gets 0 there.

    normalization "minmax": (s - worst) / (best - worst), in [0, 1], 0.5 for a flat stage;
    "zscore": (s - mean) / std with the population std, 0 for a flat stage. Lower-is-better
    stages are flipped first in both.
    """
    stages = _check_rankings(rankings)
    w = _check_weights(weights, len(stages))
    if normalization == "minmax":
        normalize = _minmax_normalize
    elif normalization == "zscore":
        normalize = _zscore_normalize
    else:
        raise ValueError(
            f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}"
        )
    return _combine(stages, [normalize(s) for s in stages], w, limit)


FUSION_METHODS: dict[str, Callable[..., Ranking]] = {
    "rrf": rrf,
    "dbsf": dbsf,
    "weighted": weighted,
}
"""Fusion functions by the name a Query uses; each takes (rankings, *, weights, limit, ...)."""


def fuse(method: str, rankings: Sequence[Ranking], **params: object) -> Ranking:
    """Run the fusion named `method` ("rrf", "dbsf", "weighted") with its keyword parameters."""
    try:
        fn = FUSION_METHODS[method]
    except KeyError:
        raise ValueError(
            f"fusion method must be one of {', '.join(FUSION_METHODS)}, got {method!r}"
        ) from None
    return fn(rankings, **params)


def _check_rankings(rankings: Sequence[Ranking]) -> list[Ranking]:
    stages = list(rankings)
    if not stages:
        raise ValueError("rankings must hold at least one stage's results")
    for i, stage in enumerate(stages):
        if not isinstance(stage, Ranking):
            raise TypeError(
                f"rankings[{i}] must be a Ranking, got {type(stage).__name__}; "
                "wrap ids and scores in Ranking(ids, scores, higher_is_better)"
            )
    return stages


def _check_weights(weights: Sequence[float] | None, count: int) -> np.ndarray:
    if weights is None:
        return np.ones(count, dtype=np.float64)
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"weights must be a sequence of numbers, got {weights!r}") from None
    if w.shape != (count,):
        raise ValueError(
            f"weights must hold one number per ranking ({count}), got {w.size}: {list(w)}"
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"weights must be finite and >= 0, got {list(w)}")
    return w


def _check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 0:
        raise ValueError(f"limit must be an integer >= 0 or None, got {limit!r}")
    return int(limit)


def _oriented(stage: Ranking) -> np.ndarray:
    """Scores with higher always better."""
    return stage.scores if stage.higher_is_better else -stage.scores


def _distribution_normalize(stage: Ranking) -> np.ndarray:
    x = _oriented(stage)
    if x.size == 0 or x.max() == x.min():
        return np.full(x.size, _FLAT_SCORE)
    std = float(x.std(ddof=1))
    low = float(x.mean()) - 3.0 * std
    return np.clip((x - low) / (6.0 * std), 0.0, 1.0)


def _minmax_normalize(stage: Ranking) -> np.ndarray:
    x = _oriented(stage)
    if x.size == 0 or x.max() == x.min():
        return np.full(x.size, _FLAT_SCORE)
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo)


def _zscore_normalize(stage: Ranking) -> np.ndarray:
    x = _oriented(stage)
    if x.size == 0 or x.max() == x.min():
        return np.zeros(x.size)
    return (x - x.mean()) / x.std()


def _combine(
    stages: list[Ranking],
    contributions: list[np.ndarray],
    weights: np.ndarray,
    limit: int | None,
) -> Ranking:
    """Sum weights[i] * contributions[i] per id; order by fused score, best position, id."""
    limit = _check_limit(limit)
    all_ids = np.concatenate([s.ids for s in stages])
    if all_ids.size == 0:
        return Ranking.empty()
    unique_ids, inverse = np.unique(all_ids, return_inverse=True)
    fused = np.zeros(unique_ids.size, dtype=np.float64)
    best_position = np.full(unique_ids.size, np.iinfo(np.int64).max, dtype=np.int64)
    start = 0
    for stage, contribution, weight in zip(stages, contributions, weights):
        n = len(stage)
        slot = inverse[start : start + n]
        start += n
        fused[slot] += weight * contribution  # ids are unique within a stage
        best_position[slot] = np.minimum(best_position[slot], np.arange(1, n + 1))
    order = np.lexsort((unique_ids, best_position, -fused))
    if limit is not None:
        order = order[:limit]
    return Ranking(unique_ids[order], fused[order], higher_is_better=True)
