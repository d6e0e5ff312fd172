"""Sparse fields: term ids and weights in an inverted index.

Two kinds share the field type:

* `SparseKind` (modifier "none"): the client's weights, or a SPLADE model's (the server fills
  them from text before the engine sees them). Stored as little-endian uint32 term ids followed
  by float32 weights, sorted by term id; scored by dot product (`SparseIndex`).
* `Bm25Kind` (modifier "bm25"): BM25 over each point's text (its own, or a payload key). The
  text is stored under the field so a rebuild needs nothing else; `Bm25Index` keeps N, document
  frequencies and average length current as points come and go, so IDF is always exact.
  Queries are texts, analyzed like the documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vecdb.engine.errors import InvalidArgument
from vecdb.engine.kinds.base import (
    OriginalsReader,
    OriginalsScan,
    Prepared,
    neighbors_from_rows,
    present_mask,
)
from vecdb.engine.options import EngineOptions
from vecdb.engine.schema import Bm25Config, SparseField
from vecdb.engine.types import SparseVector
from vecdb.index import Neighbors

__all__ = ["Bm25Kind", "SparseKind", "check_sparse"]

MAX_SPARSE_TERMS = 1 << 16
"""Most non-zero terms one sparse vector may have."""

MAX_TERM_ID = 2**32 - 1


def check_sparse(value: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """A sparse vector (SparseVector, (indices, values) pair or {term id: weight} dict) as
    (uint32 term ids sorted, float32 weights), or InvalidArgument naming what is wrong."""
    if isinstance(value, SparseVector) or (hasattr(value, "indices") and hasattr(value, "values")):
        indices, weights = value.indices, value.values
    elif isinstance(value, dict):
        indices, weights = list(value.keys()), list(value.values())
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        indices, weights = value
    else:
        raise InvalidArgument(
            f"{where} must be a sparse vector (indices and values), got {type(value).__name__}"
        )
    try:
        idx = np.asarray(indices)
        val = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{where}: indices must be integers and values numbers") from None
    if idx.ndim != 1 or val.ndim != 1 or idx.size != val.size:
        raise InvalidArgument(
            f"{where}: indices ({idx.size}) and values ({val.size}) must be 1-D lists of the same length"
        )
    if idx.size and idx.dtype.kind not in "iu":
        raise InvalidArgument(f"{where}.indices must be integers, got dtype {idx.dtype}")
    if idx.size > MAX_SPARSE_TERMS:
        raise InvalidArgument(f"{where} has {idx.size} terms, over the limit of {MAX_SPARSE_TERMS}")
    if idx.size and (idx.min() < 0 or idx.max() > MAX_TERM_ID):
        raise InvalidArgument(f"{where}.indices must lie in [0, {MAX_TERM_ID}]")
    if not np.isfinite(val).all():
        raise InvalidArgument(f"{where}.values contain NaN or Inf")
    order = np.argsort(idx, kind="stable")
    idx = idx[order].astype(np.uint32)
    if idx.size > 1 and (np.diff(idx.astype(np.int64)) == 0).any():
        dup = int(idx[np.flatnonzero(np.diff(idx.astype(np.int64)) == 0)[0]])
        raise InvalidArgument(f"{where}.indices repeat term {dup}; each term id appears once")
    return idx, val[order].astype(np.float32)


class _InvertedKind:
    """What both sparse kinds share: exact search and scoring through their inverted index."""

    higher_is_better = True

    def __init__(self, field: SparseField, options: EngineOptions) -> None:
        self.field = field
        self.options = options
        self.name = field.name

    def search(self, index: Any, queries: Sequence[Any], k: int, *, allowed: np.ndarray | None,
               ef: int | None, exact: bool, originals: OriginalsReader, scan: OriginalsScan) -> Neighbors:
        return neighbors_from_rows(index.search_batch(list(queries), k, allowed=allowed))

    def score(self, index: Any, query: Any, iids: np.ndarray, originals: OriginalsReader) -> np.ndarray:
        return np.asarray(index.scores(query, iids), dtype=np.float32)

    def describe(self, index: Any) -> dict[str, Any]:
        return {"vector_ram_bytes": int(index.ram_bytes)}


class SparseKind(_InvertedKind):
    """A sparse field with client- or SPLADE-given weights, scored by dot product."""

    checkpoint_kind = "sparse"

    def new_index(self) -> Any:
        from vecdb.index.sparse import SparseIndex

        return SparseIndex()

    def load_index(self, path: Path) -> Any:
        from vecdb.index.sparse import SparseIndex

        return SparseIndex.load(path)

    def build_index(self, batches: Iterable[tuple[np.ndarray, Any]]) -> Any:
        index = self.new_index()
        for ids, rows in batches:
            index.add(ids, rows)
        return index

    def prepare(self, values: Any, n: int, where: str) -> Prepared:
        if values is None:
            return Prepared(values=[], blobs=[None] * n, present=np.zeros(n, dtype=bool))
        if len(values) != n:
            raise InvalidArgument(f"{where} has {len(values)} entries for {n} ids")
        rows: list[Any] = [None if v is None else check_sparse(v, f"{where}[{i}]") for i, v in enumerate(values)]
        rows = [None if r is None or r[0].size == 0 else r for r in rows]
        blobs = [None if r is None else r[0].astype("<u4").tobytes() + r[1].astype("<f4").tobytes() for r in rows]
        mask = present_mask(rows)
        return Prepared(values=[r for r in rows if r is not None], blobs=blobs, present=mask)

    def decode(self, blobs: list[bytes]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for blob in blobs:
            nnz = len(blob) // 8
            out.append((np.frombuffer(blob, dtype="<u4", count=nnz).astype(np.uint32),
                        np.frombuffer(blob, dtype="<f4", offset=4 * nnz).astype(np.float32)))
        return out

    def output(self, blobs: list[bytes]) -> list[SparseVector]:
        return [SparseVector(i, v) for i, v in self.decode(blobs)]

    def check_query(self, value: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(value, (str, np.ndarray)) or value is None:
            raise InvalidArgument(
                f"{where}: the sparse field {self.name!r} is queried by a sparse vector (indices and values)"
                + (", or by text when it has a text source" if self.field.text_source else "")
            )
        row = check_sparse(value, where)
        if row[0].size == 0:
            raise InvalidArgument(f"{where} is an empty sparse vector: it can match nothing")
        return row



class Bm25Kind(_InvertedKind):
    """A BM25 field over each point's text."""

    checkpoint_kind = "bm25"

    def __init__(self, field: SparseField, options: EngineOptions) -> None:
        super().__init__(field, options)
        self.bm25 = field.bm25 or Bm25Config()
        self.text_key = self.bm25.text_key

    def _config(self) -> Any:
        from vecdb.index.analyzer import AnalyzerConfig
        from vecdb.index.bm25 import Bm25Config as IndexBm25Config

        b = self.bm25
        analyzer = AnalyzerConfig(lowercase=b.lowercase, stopwords=b.stopwords or None, stemmer=b.stemmer or None)
        return IndexBm25Config(k1=b.k1, b=b.b, analyzer=analyzer)

    def new_index(self) -> Any:
        from vecdb.index.bm25 import Bm25Index

        return Bm25Index(self._config())

    def load_index(self, path: Path) -> Any:
        from vecdb.index.bm25 import Bm25Index

        return Bm25Index.load(path, self._config())

    def build_index(self, batches: Iterable[tuple[np.ndarray, Any]]) -> Any:
        index = self.new_index()
        for ids, texts in batches:
            index.add(ids, texts)
        return index

    def prepare(self, values: Any, n: int, where: str) -> Prepared:
        texts = [t if t else None for t in values]
        blobs = [None if t is None else t.encode("utf-8") for t in texts]
        return Prepared(values=[t for t in texts if t is not None], blobs=blobs, present=present_mask(texts))

    def decode(self, blobs: list[bytes]) -> list[str]:
        return [bytes(b).decode("utf-8") for b in blobs]

    def output(self, blobs: list[bytes]) -> list[Any]:
        raise InvalidArgument(
            f"the BM25 field {self.name!r} stores no vector (its weights come from the text); "
            "ask for the payload / text instead"
        )

    def check_query(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidArgument(f"{where}: the BM25 field {self.name!r} is queried by a non-empty text")
        return value
