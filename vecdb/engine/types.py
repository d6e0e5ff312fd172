"""Domain types of the engine: what goes in and comes out of a collection.

No protobuf here: the server's convert layer maps the wire messages onto these.
Point ids are `int` (0 .. 2**64-1) or `str` (a canonical lower-case UUID); see `ids.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Union, overload

import numpy as np

from vecdb.engine.filters import Filter
from vecdb.engine.schema import CollectionConfig

__all__ = [
    "CollectionInfo",
    "CollectionStats",
    "Diversity",
    "FieldStats",
    "Fusion",
    "Hits",
    "HybridQuery",
    "NearestQuery",
    "Payload",
    "PointId",
    "Record",
    "Rerank",
    "ScoredPoint",
    "ScrollPage",
    "SparseVector",
    "UpdateResult",
    "UpsertBatch",
]

PointId = Union[int, str]
Payload = dict[str, Any]


@dataclass(frozen=True)
class UpsertBatch:
    """A column-wise batch of points to insert or replace, all or nothing.

    ids: n point ids, unique. vectors: field name -> for a dense field an array of shape
    (n, dim) (every dense field must be present); for a multi-vector field n (tokens, dim)
    arrays; for a sparse field n SparseVectors (a None entry: the point has no vector there).
    A BM25 field takes its text from `texts` or its payload key, never from `vectors`. payloads / texts: None, or n entries (None = no payload /
    no text). Upserting an existing id replaces the whole point.
    """

    ids: list[PointId]
    vectors: dict[str, Any]
    payloads: list[Payload | None] | None = None
    texts: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Record:
    """A stored point as read back. `vectors` holds only the fields asked for."""

    id: PointId
    payload: Payload | None = None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    text: str | None = None


@dataclass(frozen=True)
class ScoredPoint:
    """A query result. cosine/dot: score is a similarity (higher is better); l2: a distance."""

    id: PointId
    score: float
    payload: Payload | None = None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    text: str | None = None


@dataclass(frozen=True, eq=False)
class Hits(Sequence[ScoredPoint]):
    """One query's results, best first, as columns: entry i of each belongs to result i.

    A sequence of ScoredPoint (indexing and iteration build them on demand), so callers that
    want objects get objects, and callers on the hot path (the server's convert layer) read
    the columns without a Python object per result. `payloads` and `texts` are None unless the
    query asked for payloads; `vectors` maps each requested field to an (n, dim) array.
    """

    ids: list[PointId]
    scores: np.ndarray
    payloads: list[Payload | None] | None = None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    texts: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> ScoredPoint: ...
    @overload
    def __getitem__(self, i: slice) -> Hits: ...
    def __getitem__(self, i: int | slice) -> ScoredPoint | Hits:
        if isinstance(i, slice):
            return Hits(
                ids=self.ids[i], scores=self.scores[i],
                payloads=None if self.payloads is None else self.payloads[i],
                vectors={name: arr[i] for name, arr in self.vectors.items()},
                texts=None if self.texts is None else self.texts[i],
            )
        return ScoredPoint(
            id=self.ids[i], score=float(self.scores[i]),
            payload=None if self.payloads is None else self.payloads[i],
            vectors={name: arr[i] for name, arr in self.vectors.items()},
            text=None if self.texts is None else self.texts[i],
        )

    def __iter__(self) -> Iterator[ScoredPoint]:
        return (self[i] for i in range(len(self.ids)))

    def __repr__(self) -> str:
        return f"Hits({len(self.ids)} results: ids={self.ids[:5]}{'...' if len(self.ids) > 5 else ''})"

    @classmethod
    def empty(cls) -> Hits:
        return cls(ids=[], scores=np.empty(0, dtype=np.float32))


@dataclass(frozen=True, eq=False)
class SparseVector:
    """Term ids (uint32, unique) and their weights (float32), in any order."""

    indices: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.indices.size)


@dataclass(frozen=True)
class NearestQuery:
    """The best points of one vector field for one query: one retrieval stage.

    Exactly one of `vector`, `point` (use that point's stored vector) and `text` is set.
    `vector` is a dense (dim,) array for a dense field, an (n, dim) array of token vectors for a
    multi-vector field, a SparseVector for a sparse field; `text` queries a BM25 field (the
    server turns text for encoder-backed fields into vectors before the engine sees it).
    `using` may be empty when the collection has one field. `with_vectors` lists the fields
    whose vectors are returned.
    """

    using: str = ""
    vector: np.ndarray | SparseVector | None = None
    point: PointId | None = None
    filter: Filter | None = None
    limit: int = 10
    offset: int = 0
    score_threshold: float | None = None
    with_payload: bool = False
    with_vectors: tuple[str, ...] = ()
    ef: int | None = None
    exact: bool = False
    text: str | None = None

    @property
    def has_target(self) -> bool:
        return self.vector is not None or self.point is not None or self.text is not None


@dataclass(frozen=True)
class Fusion:
    """How the candidates of several stages become one ranking.

    method: "rrf" (reciprocal rank fusion: sum of weight / (k + rank)), "dbsf" (distribution-
    based score fusion: each stage's scores normalized by mean +- 3 std, summed) or "weighted"
    (weighted sum of min-max normalized scores). weights: one per stage (empty: all 1).
    """

    method: str = "rrf"
    k: int = 60
    weights: tuple[float, ...] = ()


@dataclass(frozen=True)
class Rerank:
    """Rescore the fused candidates exactly with another field: dense exact scores from the
    stored originals, MaxSim for a multi-vector field, exact sparse / BM25 scores."""

    query: NearestQuery


@dataclass(frozen=True)
class Diversity:
    """Pick the final results for relevance and variety over the candidates' `using` vectors.

    method: "mmr" (maximal marginal relevance) or "coverage" (greedy relevance + facility-
    location coverage, a submodular objective). lambda_: 1.0 is pure relevance (exactly the
    plain top-k), lower trades relevance for variety. using: a dense field (empty: the only one).
    """

    method: str = "mmr"
    lambda_: float = 0.5
    using: str = ""


@dataclass(frozen=True)
class HybridQuery:
    """Prefetch stages, fused, optionally reranked and diversified.

    Each stage is a NearestQuery (its own field, filter and limit) or a nested HybridQuery. The
    stages' candidates are fused (`fusion`; a single stage passes through), then `rerank`
    rescores them exactly, then `diversity` picks `limit` of them. `filter` applies to every
    stage on top of the stage's own.
    """

    prefetch: tuple[NearestQuery | HybridQuery, ...]
    fusion: Fusion | None = None
    rerank: Rerank | None = None
    diversity: Diversity | None = None
    filter: Filter | None = None
    limit: int = 10
    offset: int = 0
    score_threshold: float | None = None
    with_payload: bool = False
    with_vectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpdateResult:
    """A committed mutation: durable on disk and visible to queries."""

    sequence: int
    count: int


@dataclass(frozen=True)
class ScrollPage:
    records: list[Record]
    next_offset: PointId | None


@dataclass(frozen=True)
class CollectionInfo:
    config: CollectionConfig
    points_count: int
    sequence: int


@dataclass(frozen=True)
class FieldStats:
    """One vector field's index in memory.

    ram_bytes: vector data + graph + bookkeeping. vector_ram_bytes: the vector data alone (codes
    for a quantized field). float32_bytes: what the same vectors take as float32, for comparison.
    codebook: a quantized field's codebook (method, bits, how many vectors it was trained on).
    """

    name: str
    kind: str
    indexed_points: int
    index_capacity: int
    ram_bytes: int
    checkpoint_sequence: int
    vector_ram_bytes: int = 0
    float32_bytes: int = 0
    codebook: dict[str, Any] | None = None


@dataclass(frozen=True)
class CollectionStats:
    name: str
    points_count: int
    sequence: int
    disk_bytes: int
    fields: tuple[FieldStats, ...]
