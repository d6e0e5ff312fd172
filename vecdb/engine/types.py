"""Domain types of the engine: what goes in and comes out of a collection.

No protobuf here: the server's convert layer maps the wire messages onto these.
Point ids are `int` (0 .. 2**64-1) or `str` (a canonical lower-case UUID); see `ids.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from vecdb.engine.filters import Filter
from vecdb.engine.schema import CollectionConfig

__all__ = [
    "PointId",
    "Payload",
    "UpsertBatch",
    "Record",
    "ScoredPoint",
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
