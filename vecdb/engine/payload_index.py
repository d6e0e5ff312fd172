"""In-memory payload table and the optional per-key payload indexes.

The table holds every live point's parsed payload by internal id: derived state, rebuilt from
LMDB at start-up. A payload index over one key answers match / range conditions without
scanning every payload; the filter evaluator uses one when the condition's type fits it.
Values found at a key (lists flattened) are indexed by JSON type: keyword indexes take strings,
integer and float indexes take every number (so 3 and 3.0 agree, as they do in a scan), bool
indexes take booleans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from vecdb.engine.payload import split_key, values_at
from vecdb.engine.schema import PayloadIndexConfig, PayloadIndexType

__all__ = ["EMPTY_IDS", "KeyIndex", "PayloadTable", "ids_array"]

EMPTY_IDS = np.empty(0, dtype=np.uint64)


def ids_array(ids: Iterable[int]) -> np.ndarray:
    """Sorted unique uint64 array of internal ids."""
    arr = np.fromiter(ids, dtype=np.uint64)
    return np.unique(arr)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class KeyIndex:
    """Value -> internal ids for one payload key, plus sorted arrays for numeric ranges."""

    def __init__(self, config: PayloadIndexConfig) -> None:
        self.config = config
        self.path = split_key(config.key)
        self._postings: dict[Any, set[int]] = defaultdict(set)
        self._values_of: dict[int, tuple[Any, ...]] = {}
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None

    def _accepts(self, value: Any) -> bool:
        kind = self.config.type
        if kind is PayloadIndexType.KEYWORD:
            return isinstance(value, str)
        if kind is PayloadIndexType.BOOL:
            return isinstance(value, bool)
        return _is_number(value)

    def add(self, iid: int, payload: dict[str, Any] | None) -> None:
        values = tuple({v for v in values_at(payload, self.path) if self._accepts(v)})
        if not values:
            return
        self._values_of[iid] = values
        for v in values:
            self._postings[v].add(iid)
        self._sorted = None

    def remove(self, iid: int) -> None:
        for v in self._values_of.pop(iid, ()):
            posting = self._postings[v]
            posting.discard(iid)
            if not posting:
                del self._postings[v]
        self._sorted = None

    def serves_match(self, value: Any) -> bool:
        return self._accepts(value)

    def serves_range(self) -> bool:
        return self.config.type in (PayloadIndexType.INTEGER, PayloadIndexType.FLOAT)

    def match(self, values: Iterable[Any]) -> np.ndarray:
        found: set[int] = set()
        for v in values:
            found |= self._postings.get(v, set())
        return ids_array(found)

    def range(self, gt: float | None, gte: float | None, lt: float | None, lte: float | None) -> np.ndarray:
        vals, ids = self._sorted_arrays()
        lo, hi = 0, len(vals)
        if gte is not None:
            lo = max(lo, int(np.searchsorted(vals, gte, side="left")))
        if gt is not None:
            lo = max(lo, int(np.searchsorted(vals, gt, side="right")))
        if lte is not None:
            hi = min(hi, int(np.searchsorted(vals, lte, side="right")))
        if lt is not None:
            hi = min(hi, int(np.searchsorted(vals, lt, side="left")))
        return np.unique(ids[lo:hi]) if lo < hi else EMPTY_IDS

    def _sorted_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._sorted is None:
            pairs = [(float(v), iid) for iid, values in self._values_of.items() for v in values]
            vals = np.array([p[0] for p in pairs], dtype=np.float64)
            ids = np.array([p[1] for p in pairs], dtype=np.uint64)
            order = np.argsort(vals, kind="stable")
            self._sorted = (vals[order], ids[order])
        return self._sorted


class PayloadTable:
    """Every live point's id and payload by internal id, with the collection's payload indexes.

    Queries that return neither payloads nor vectors are answered from here alone, without an
    LMDB read per hit. Not thread-safe by itself: the collection's read-write lock guards it.
    """

    def __init__(self, index_configs: Iterable[PayloadIndexConfig]) -> None:
        self._payloads: dict[int, dict[str, Any] | None] = {}
        self.point_ids: dict[int, Any] = {}  # internal id -> PointId
        self.indexes: dict[str, KeyIndex] = {cfg.key: KeyIndex(cfg) for cfg in index_configs}
        self._ids_cache: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._payloads)

    def __contains__(self, iid: int) -> bool:
        return iid in self._payloads

    def set(self, iid: int, point_id: Any, payload: dict[str, Any] | None) -> None:
        self.point_ids[iid] = point_id
        if iid in self._payloads:
            for index in self.indexes.values():
                index.remove(iid)
        else:
            self._ids_cache = None
        self._payloads[iid] = payload
        for index in self.indexes.values():
            index.add(iid, payload)

    def remove(self, iid: int) -> None:
        if self._payloads.pop(iid, _MISSING) is not _MISSING:
            del self.point_ids[iid]
            self._ids_cache = None
            for index in self.indexes.values():
                index.remove(iid)

    def get(self, iid: int) -> dict[str, Any] | None:
        return self._payloads.get(iid)

    def all_ids(self) -> np.ndarray:
        """Sorted uint64 array of every live internal id."""
        if self._ids_cache is None:
            self._ids_cache = ids_array(self._payloads.keys())
        return self._ids_cache

    def items(self, iids: Iterable[int]) -> Iterator[tuple[int, dict[str, Any] | None]]:
        payloads = self._payloads
        for iid in iids:
            yield iid, payloads.get(iid)


_MISSING = object()
