"""Dense vector indexes: the `VectorIndex` contract, its backends and their registry.

Installed as `vecdb.index`. Depends only on `vecdb.kernels`, numpy and hnswlib: no storage,
no gRPC. Backends: "hnsw" (`HnswIndex`, approximate, hnswlib), "flat" (`FlatIndex`, exact,
numpy) and "quantized" (`QuantizedIndex`, binary or int8 codes only, candidates for exact
rescoring by the engine); pick one with `create_index(kind, dim=..., metric=..., config=...)`.
Hybrid-query helpers over a stage's results: `fusion` (`rrf`, `dbsf`, `weighted` over `Ranking`s)
and `diversity` (`mmr`, `coverage_select`).
"""

from __future__ import annotations

from vecdb.index.analyzer import Analyzer, AnalyzerConfig
from vecdb.index.base import MISSING_ID, IndexLoadError, Neighbors, VectorIndex
from vecdb.index.bm25 import Bm25Config, Bm25Index
from vecdb.index.diversity import coverage_objective, coverage_select, mmr
from vecdb.index.flat import FlatIndex, FlatIndexConfig
from vecdb.index.fusion import FUSION_METHODS, NORMALIZATIONS, Ranking, dbsf, fuse, rrf, weighted
from vecdb.index.hnsw import HnswIndex, HnswIndexConfig
from vecdb.index.locking import RWLock
from vecdb.index.multivector import MultiVectorIndex, MultiVectorIndexConfig
from vecdb.index.muvera import FdeConfig, FdeEncoder
from vecdb.index.quantization import Codebook, QuantizerConfig
from vecdb.index.quantized import QuantizedIndex, QuantizedIndexConfig
from vecdb.index.registry import INDEX_TYPES, create_index
from vecdb.index.sparse import SparseIndex, SparseIndexConfig, SparseRow, as_sparse_row

__all__ = [
    "FUSION_METHODS",
    "INDEX_TYPES",
    "MISSING_ID",
    "NORMALIZATIONS",
    "Analyzer",
    "AnalyzerConfig",
    "Bm25Config",
    "Bm25Index",
    "Codebook",
    "FdeConfig",
    "FdeEncoder",
    "FlatIndex",
    "FlatIndexConfig",
    "HnswIndex",
    "HnswIndexConfig",
    "IndexLoadError",
    "MultiVectorIndex",
    "MultiVectorIndexConfig",
    "Neighbors",
    "QuantizedIndex",
    "QuantizedIndexConfig",
    "QuantizerConfig",
    "RWLock",
    "Ranking",
    "SparseIndex",
    "SparseIndexConfig",
    "SparseRow",
    "VectorIndex",
    "as_sparse_row",
    "coverage_objective",
    "coverage_select",
    "create_index",
    "dbsf",
    "fuse",
    "mmr",
    "rrf",
    "weighted",
]
