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
    "PointId",
    "Payload",
    "UpsertBatch",
    "Record",
    "ScoredPoint",
    "Hits",
    "NearestQuery",
    "UpdateResult",
    "ScrollPage",
    "CollectionInfo",
    "FieldStats",
    "CollectionStats",
]

PointId = Union[int, str]
Payload = dict[str, Any]


@dataclass(frozen=True)
class UpsertBatch:
    """A column-wise batch of points to insert or replace, all or nothing.

    ids: n point ids, unique. vectors: field name -> array of shape (n, dim); every dense field
    of the collection must be present. payloads / texts: None, or n entries (None = no payload /
    no text). Upserting an existing id replaces the whole point.
    """

    ids: list[PointId]
    vectors: dict[str, np.ndarray]
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


@dataclass(frozen=True)
class NearestQuery:
    """Nearest-neighbour search on one dense field.

    Exactly one of `vector` (shape (dim,)) and `point` (use that point's stored vector) is set.
    `using` may be empty when the collection has one field. `with_vectors` lists the fields
    whose vectors are returned.
    """

    using: str = ""
    vector: np.ndarray | None = None
    point: PointId | None = None
    filter: Filter | None = None
    limit: int = 10
    offset: int = 0
    score_threshold: float | None = None
    with_payload: bool = False
    with_vectors: tuple[str, ...] = ()
    ef: int | None = None
    exact: bool = False


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
    name: str
    kind: str
    indexed_points: int
    index_capacity: int
    ram_bytes: int
    checkpoint_sequence: int


@dataclass(frozen=True)
class CollectionStats:
    name: str
    points_count: int
    sequence: int
    disk_bytes: int
    fields: tuple[FieldStats, ...]
