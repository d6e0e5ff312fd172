"""Vector field kinds: how each kind of field is stored, indexed and searched.

The collection keeps one kind object per vector field and stays kind-agnostic itself: it runs
the write path, recovery and locking, and asks the kind for the rest (see `base.FieldKind`).

    dense         DenseKind        HNSW over floats, or codes with exact rescoring (quantized)
    multivector   MultiVectorKind  MUVERA candidates reranked by exact MaxSim
    sparse        SparseKind       inverted index, dot product (client or SPLADE weights)
    sparse+bm25   Bm25Kind         inverted index, BM25 over the point's text
"""

from __future__ import annotations

from vecdb.engine.kinds.base import FieldKind, OriginalsReader, OriginalsScan, Prepared
from vecdb.engine.kinds.dense import DenseKind
from vecdb.engine.kinds.multivector import MultiVectorKind
from vecdb.engine.kinds.sparse import Bm25Kind, SparseKind, check_sparse
from vecdb.engine.options import EngineOptions
from vecdb.engine.schema import DenseField, MultiVectorField, SparseField, VectorField

__all__ = [
    "Bm25Kind",
    "DenseKind",
    "FieldKind",
    "MultiVectorKind",
    "OriginalsReader",
    "OriginalsScan",
    "Prepared",
    "SparseKind",
    "check_sparse",
    "field_kind",
]


def field_kind(field: VectorField, options: EngineOptions) -> FieldKind:
    """The kind object for a validated field config."""
    if isinstance(field, DenseField):
        return DenseKind(field, options)
    if isinstance(field, MultiVectorField):
        return MultiVectorKind(field, options)
    if isinstance(field, SparseField):
        return Bm25Kind(field, options) if field.modifier == "bm25" else SparseKind(field, options)
    raise TypeError(f"no engine support for {type(field).__name__} fields")
