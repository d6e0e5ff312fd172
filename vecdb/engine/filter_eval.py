"""Evaluating a payload `Filter` to the set of internal ids it admits.

Conditions narrow a candidate set step by step: indexed conditions first (one posting lookup),
then scanned ones over what is left, so a selective indexed condition keeps the scans small.
All id sets are sorted unique uint64 arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from vecdb.engine.filters import Condition, Filter, HasId, IsEmpty, Match, MatchAny, Range
from vecdb.engine.payload import split_key, values_at
from vecdb.engine.payload_index import PayloadTable
from vecdb.engine.types import PointId

__all__ = ["Predicate", "select"]

Predicate = Callable[[dict[str, Any] | None], bool]
ResolveIds = Callable[[Iterable[PointId]], np.ndarray]


def select(filt: Filter, candidates: np.ndarray, table: PayloadTable, resolve_ids: ResolveIds) -> np.ndarray:
    """The subset of `candidates` (internal ids) that satisfies `filt`."""
    return _Evaluator(table, resolve_ids).filter(filt, candidates)


class _Evaluator:
    def __init__(self, table: PayloadTable, resolve_ids: ResolveIds) -> None:
        self.table = table
        self.resolve_ids = resolve_ids

    def filter(self, filt: Filter, candidates: np.ndarray) -> np.ndarray:
        for cond in sorted(filt.must, key=self._cost):
            if candidates.size == 0:
                return candidates
            candidates = self.condition(cond, candidates)
        if filt.should:
            parts = [self.condition(cond, candidates) for cond in filt.should]
            candidates = np.unique(np.concatenate(parts)) if parts else candidates
        for cond in filt.must_not:
            if candidates.size == 0:
                return candidates
            excluded = self.condition(cond, candidates)
            candidates = np.setdiff1d(candidates, excluded, assume_unique=True)
        return candidates

    def _cost(self, cond: Condition) -> int:
        """Cheap conditions first: id lists and index lookups, then nested filters, then scans."""
        if isinstance(cond, HasId):
            return 0
        if self._index_lookup(cond) is not None:
            return 1
        return 3 if isinstance(cond, Filter) else 2

    def condition(self, cond: Condition, candidates: np.ndarray) -> np.ndarray:
        if isinstance(cond, Filter):
            return self.filter(cond, candidates)
        if isinstance(cond, HasId):
            return np.intersect1d(candidates, self.resolve_ids(cond.ids), assume_unique=True)
        lookup = self._index_lookup(cond)
        if lookup is not None:
            return np.intersect1d(candidates, lookup(), assume_unique=True)
        predicate = compile_predicate(cond)
        kept = [iid for iid, payload in self.table.items(candidates.tolist()) if predicate(payload)]
        return np.array(kept, dtype=np.uint64)

    def _index_lookup(self, cond: Condition) -> Callable[[], np.ndarray] | None:
        key = getattr(cond, "key", None)
        index = self.table.indexes.get(key) if key is not None else None
        if index is None:
            return None
        if isinstance(cond, Match) and index.serves_match(cond.value):
            return lambda: index.match([cond.value])
        if isinstance(cond, MatchAny) and all(index.serves_match(v) for v in cond.values):
            return lambda: index.match(cond.values)
        if isinstance(cond, Range) and index.serves_range():
            return lambda: index.range(cond.gt, cond.gte, cond.lt, cond.lte)
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _equals(stored: Any, wanted: Any) -> bool:
    """JSON equality: bools only equal bools, numbers compare by value (3 == 3.0)."""
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return isinstance(wanted, bool) and isinstance(stored, bool) and stored == wanted
    if isinstance(wanted, str):
        return isinstance(stored, str) and stored == wanted
    return _is_number(stored) and stored == wanted


def compile_predicate(cond: Condition) -> Predicate:
    """A payload -> bool test for one leaf condition (HasId and nested filters excluded)."""
    if isinstance(cond, Match):
        path, wanted = split_key(cond.key), cond.value
        return lambda p: any(_equals(v, wanted) for v in values_at(p, path))
    if isinstance(cond, MatchAny):
        path, options = split_key(cond.key), cond.values
        return lambda p: any(_equals(v, w) for v in values_at(p, path) for w in options)
    if isinstance(cond, Range):
        path = split_key(cond.key)
        r = cond

        def in_range(p: dict[str, Any] | None) -> bool:
            for v in values_at(p, path):
                if not _is_number(v):
                    continue
                if (r.gt is None or v > r.gt) and (r.gte is None or v >= r.gte) and (
                    r.lt is None or v < r.lt) and (r.lte is None or v <= r.lte):
                    return True
            return False

        return in_range
    if isinstance(cond, IsEmpty):
        path = split_key(cond.key)
        return lambda p: all(v is None for v in values_at(p, path))
    raise TypeError(f"no predicate for condition {cond!r}")
