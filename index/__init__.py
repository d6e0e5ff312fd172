"""Dense vector indexes: the `VectorIndex` contract, its backends and their registry.

Installed as `vecdb.index`. Depends only on `vecdb.kernels`, numpy and hnswlib: no storage,
no gRPC. Backends: "hnsw" (`HnswIndex`, approximate, hnswlib) and "flat" (`FlatIndex`, exact,
numpy); pick one with `create_index(kind, dim=..., metric=..., config=...)`.
"""

from __future__ import annotations

from vecdb.index.base import MISSING_ID, IndexLoadError, Neighbors, VectorIndex
from vecdb.index.flat import FlatIndex, FlatIndexConfig
from vecdb.index.hnsw import HnswIndex, HnswIndexConfig
from vecdb.index.locking import RWLock
from vecdb.index.registry import INDEX_TYPES, create_index

__all__ = [
    "INDEX_TYPES",
    "MISSING_ID",
    "FlatIndex",
    "FlatIndexConfig",
    "HnswIndex",
    "HnswIndexConfig",
    "IndexLoadError",
    "Neighbors",
    "RWLock",
    "VectorIndex",
    "create_index",
]
