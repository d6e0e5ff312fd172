"""The pieces of a hybrid query that are not search: checks, filter composition, fusion,
rerank ordering and diversity selection.

The collection runs each prefetch stage against its field's index (see `Collection._run_hybrid`)
and hands the per-stage results here as `Ranking`s (`vecdb.index.fusion`):

* one stage and no fusion: its ranking passes through unchanged (scores in the field's scale);
* otherwise `fusion` (RRF by default) merges them into one higher-is-better ranking;
* a rerank replaces the scores with exact ones from another field (candidates without a vector
  in that field are dropped: they cannot be scored);
* diversity picks the final results by MMR or coverage over a dense field's vectors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vecdb.engine.errors import InvalidArgument
from vecdb.engine.filters import Filter
from vecdb.engine.types import Fusion, HybridQuery, NearestQuery
from vecdb.index.diversity import coverage_select, mmr
from vecdb.index.fusion import FUSION_METHODS, Ranking
from vecdb.kernels import Metric

__all__ = ["MAX_PREFETCH_DEPTH", "Ranking", "both", "check_hybrid", "fuse", "rank_order", "select_diverse"]

MAX_PREFETCH_DEPTH = 4
"""How deeply prefetch stages may nest."""

MAX_STAGES = 16
"""Most prefetch stages one query level may have."""

DIVERSITY_METHODS = ("mmr", "coverage")


def both(a: Filter | None, b: Filter | None) -> Filter | None:
    """A filter that holds where both hold (None is "everything")."""
    if a is None:
        return b
    if b is None:
        return a
    return Filter(must=(a, b))


def check_hybrid(q: HybridQuery, max_limit: int, where: str = "query", depth: int = 1) -> None:
    """Shape checks of a hybrid query and its stages, with messages naming the place."""
    if depth > MAX_PREFETCH_DEPTH:
        raise InvalidArgument(f"{where}: prefetch nests deeper than {MAX_PREFETCH_DEPTH} levels")
    if not q.prefetch:
        raise InvalidArgument(f"{where}.prefetch is empty: give at least one stage")
    if len(q.prefetch) > MAX_STAGES:
        raise InvalidArgument(f"{where}.prefetch has {len(q.prefetch)} stages, over the limit of {MAX_STAGES}")
    if not 1 <= q.limit <= max_limit:
        raise InvalidArgument(f"{where}.limit = {q.limit} is out of range [1, {max_limit}] (the server maximum)")
    if q.offset < 0 or q.offset + q.limit > max_limit:
        raise InvalidArgument(f"{where}.offset = {q.offset}: offset + limit must be at most {max_limit}")
    if q.fusion is not None:
        f = q.fusion
        if f.method not in FUSION_METHODS:
            raise InvalidArgument(f"{where}.fusion.method = {f.method!r}; choose one of {sorted(FUSION_METHODS)}")
        if f.k < 0:
            raise InvalidArgument(f"{where}.fusion.k = {f.k} must be >= 0")
        if f.weights and len(f.weights) != len(q.prefetch):
            raise InvalidArgument(
                f"{where}.fusion.weights has {len(f.weights)} entries for {len(q.prefetch)} prefetch stages"
            )
        if any(not math.isfinite(w) or w < 0 for w in f.weights):
            raise InvalidArgument(f"{where}.fusion.weights must be finite and >= 0, got {list(f.weights)}")
    if q.diversity is not None:
        d = q.diversity
        if d.method not in DIVERSITY_METHODS:
            raise InvalidArgument(f"{where}.diversity.method = {d.method!r}; choose one of {list(DIVERSITY_METHODS)}")
        if not 0.0 <= d.lambda_ <= 1.0:
            raise InvalidArgument(f"{where}.diversity.lambda = {d.lambda_} is out of range [0, 1]")
    if q.rerank is not None and not q.rerank.query.has_target:
        raise InvalidArgument(f"{where}.rerank.query is not set: give a vector, a point id or a text")
    for i, stage in enumerate(q.prefetch):
        if isinstance(stage, HybridQuery):
            check_hybrid(stage, max_limit, f"{where}.prefetch[{i}]", depth + 1)
        elif not isinstance(stage, NearestQuery):
            raise InvalidArgument(f"{where}.prefetch[{i}] is a {type(stage).__name__}, not a stage")


def fuse(rankings: Sequence[Ranking], fusion: Fusion | None) -> Ranking:
    """One ranking from the stages' (a single stage without fusion passes through)."""
    if fusion is None and len(rankings) == 1:
        return rankings[0]
    fusion = fusion or Fusion()
    weights = list(fusion.weights) or None
    if fusion.method == "rrf":
        return FUSION_METHODS["rrf"](rankings, k=fusion.k, weights=weights)
    return FUSION_METHODS[fusion.method](rankings, weights=weights)


def rank_order(scores: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Positions of the finite scores, best first (stable: equal scores keep their order)."""
    finite = np.flatnonzero(np.isfinite(scores))
    key = -scores[finite] if higher_is_better else scores[finite]
    return finite[np.argsort(key, kind="stable")]


def select_diverse(method: str, relevance: np.ndarray, vectors: np.ndarray, limit: int, lambda_: float,
                   metric: Metric) -> np.ndarray:
    """Positions of the chosen candidates in selection order."""
    keep = np.flatnonzero(np.isfinite(relevance))
    pick = mmr if method == "mmr" else coverage_select
    chosen = pick(relevance[keep], vectors[keep], limit, lambda_=lambda_, metric=metric)
    return keep[chosen]
