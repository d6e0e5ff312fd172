"""Small builders shared by the engine tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vecdb.engine.database import Database, EngineOptions
from vecdb.engine.schema import CollectionConfig, DenseField, HnswConfig, PayloadIndexConfig
from vecdb.kernels.metrics import Metric


def dense_config(name: str = "docs", dim: int = 8, metric: Metric = Metric.COSINE,
                 indexes: tuple[PayloadIndexConfig, ...] = (), **field_kw: object) -> CollectionConfig:
    field = DenseField(name="v", dim=dim, metric=metric, hnsw=HnswConfig(m=8, ef_construct=64, ef=64), **field_kw)  # type: ignore[arg-type]
    return CollectionConfig(name=name, vectors=(field,), payload_indexes=indexes)


def open_db(path: Path, **options: object) -> Database:
    return Database(path, EngineOptions(search_threads=1, **options))  # type: ignore[arg-type]


def random_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def simulate_crash(db: Database) -> None:
    """Drop a database as a killed process would: no checkpoint, no orderly close; the OS
    releases the LMDB environments and the data-folder lock."""
    import os

    db._background.shutdown(wait=True)
    for collection in db._collections.values():
        collection._store.close()
    os.close(db._lock_fd)
