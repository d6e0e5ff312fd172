"""The typed registry of index backends: one name per implementation, no if-chains.

Kept apart from `base.py` so that backends can import the contract without importing each
other.
"""

from __future__ import annotations

from typing import Any

from vecdb.index.base import VectorIndex
from vecdb.index.flat import FlatIndex
from vecdb.index.hnsw import HnswIndex
from vecdb.index.quantized import QuantizedIndex
from vecdb.kernels import Metric

__all__ = ["INDEX_TYPES", "create_index"]

INDEX_TYPES: dict[str, type[VectorIndex]] = {
    "hnsw": HnswIndex,
    "flat": FlatIndex,
    "quantized": QuantizedIndex,
}
"""Backend name -> class. Each class takes (dim, metric, config) and has a `load` classmethod."""


def create_index(kind: str, *, dim: int, metric: Metric, config: Any = None) -> VectorIndex:
    """A new empty index of backend `kind` (config: HnswIndexConfig, FlatIndexConfig or None)."""
    try:
        cls = INDEX_TYPES[kind]
    except KeyError:
        choices = sorted(INDEX_TYPES)
        raise ValueError(f"unknown index kind {kind!r}; choose one of {choices}") from None
    return cls(dim, Metric(metric), config)
