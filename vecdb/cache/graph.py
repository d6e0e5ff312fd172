"""In-memory HNSW graphs of the cache: one per (category, model) scope, holding ids only.

Each scope has its own `vecdb.index.HnswIndex` (cosine) whose labels are small integers the
cache maps to entry ids; vectors live in the graph and in LMDB, answers only in LMDB. A
separate graph per scope is what makes "a hit never crosses models" structural rather than a
filter. `HnswIndex` handles what a cache does all day: removing points (eviction, expiry,
invalidation) marks them deleted in hnswlib and later adds reuse those slots, so removing
entries never leaves the graph empty of live points or unable to take new ones. A scope whose
last entry is removed drops its graph.
"""

from __future__ import annotations

import numpy as np

from vecdb.index import HnswIndex, HnswIndexConfig
from vecdb.kernels import Metric

__all__ = ["Scope", "ScopedGraphs"]

Scope = tuple[str, str]
"""(category, model)"""


class ScopedGraphs:
    """Graphs by scope. Not locked itself: the cache holds its write lock for add/remove and
    its read lock for search (HnswIndex adds its own lock on top)."""

    def __init__(self, dim: int, config: HnswIndexConfig) -> None:
        self.dim = dim
        self.config = config
        self._graphs: dict[Scope, HnswIndex] = {}

    def add(self, scope: Scope, labels: np.ndarray, vectors: np.ndarray) -> None:
        graph = self._graphs.get(scope)
        if graph is None:
            graph = self._graphs[scope] = HnswIndex(self.dim, Metric.COSINE, self.config)
        graph.add(np.asarray(labels, dtype=np.uint64), np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))

    def remove(self, scope: Scope, labels: list[int]) -> None:
        graph = self._graphs.get(scope)
        if graph is None:
            return
        graph.remove(np.asarray(labels, dtype=np.uint64))
        if len(graph) == 0:
            del self._graphs[scope]

    def search(self, scope: Scope, vector: np.ndarray, k: int) -> tuple[list[int], list[float]]:
        """Labels and cosine similarities of up to k nearest live points, best first."""
        graph = self._graphs.get(scope)
        if graph is None or len(graph) == 0:
            return [], []
        found = graph.search(vector.reshape(1, self.dim), k)
        n = int(found.counts[0])
        return found.ids[0, :n].tolist(), np.minimum(found.scores[0, :n], 1.0).tolist()

    def size(self, scope: Scope) -> int:
        graph = self._graphs.get(scope)
        return 0 if graph is None else len(graph)

    def scopes(self) -> list[Scope]:
        return list(self._graphs)

    def ram_bytes(self) -> int:
        return sum(g.ram_bytes for g in self._graphs.values())
