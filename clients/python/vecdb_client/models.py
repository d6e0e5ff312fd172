"""Typed results and parameters of the vecdb SDK: frozen dataclasses over plain Python and numpy.

Nothing here is a protobuf type; the private `_wire` module converts to and from the wire.
Vectors come back as numpy arrays (read-only views of the received bytes); payloads as dicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, overload

import numpy as np

__all__ = [
    "CollectionInfo",
    "CollectionStats",
    "Encoded",
    "FieldStats",
    "Hits",
    "HnswParams",
    "ModelInfo",
    "Payload",
    "PointId",
    "Record",
    "ScoredPoint",
    "ScrollPage",
    "ServerInfo",
    "SparseVector",
    "TextSource",
    "UpdateResult",
    "VectorParams",
]

PointId = int | str
"""A point id: an int in 0 .. 2**64-1, or a UUID string (returned in canonical lower-case form)."""

Payload = dict[str, Any]
"""A point's payload: a JSON object."""


def _values_equal(a: object, b: object) -> bool:
    """Equality that also works for numpy arrays and dicts of them."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and bool(np.array_equal(a, b))
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_equal(a[k], b[k]) for k in a)
    return bool(a == b)


class _ArrayEq:
    """Mixin: field-wise `==` that compares numpy arrays by value instead of raising."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(
            _values_equal(getattr(self, f.name), getattr(other, f.name))
            for f in fields(self)  # type: ignore[arg-type]
        )

    __hash__ = None  # type: ignore[assignment]  # holds dicts and arrays: not hashable


@dataclass(frozen=True)
class HnswParams:
    """HNSW graph parameters of a dense field. 0 means the server default.

    m: links per node (default 16); ef_construct: build breadth (default 200);
    ef: search breadth (default 64; a query can override it with `ef=`).
    """

    m: int = 0
    ef_construct: int = 0
    ef: int = 0


@dataclass(frozen=True)
class TextSource:
    """Where a field's vectors come from when the server computes them from text.

    model: an encoder model the server knows (`Client.list_models`); "" for the server's default.
    payload_key: the payload key that holds the text; "" for the point's own `text`.
    model_hash: the content hash of the model's weights, recorded by the server when the field is
    created (ignored on create). Writes and queries are refused once the server's model of that
    name no longer has this hash, so vectors of two models never mix in one field.

    >>> TextSource("all-MiniLM-L6-v2", payload_key="body")
    """

    model: str = ""
    payload_key: str = ""
    model_hash: str = ""


@dataclass(frozen=True)
class VectorParams:
    """A dense vector field: dimension, metric and storage.

    metric: "cosine" | "dot" | "l2". For cosine and dot a higher score is better; for l2 the score
    is the Euclidean distance (lower is better).
    storage_dtype: "float32" | "float16" — how the original vectors are stored on disk.
    hnsw: graph parameters; None for the server defaults.
    text_source: the server computes the field's vectors from text with this encoder model
    (None: the client sends vectors). With a text source `dim` may be 0: the model's dimension.

    >>> VectorParams(384, metric="cosine", hnsw=HnswParams(m=32))
    >>> VectorParams(text_source=TextSource("all-MiniLM-L6-v2"))  # dim: the model's
    """

    dim: int = 0
    metric: str = "cosine"
    storage_dtype: str = "float32"
    hnsw: HnswParams | None = None
    text_source: TextSource | None = None


@dataclass(frozen=True)
class CollectionInfo:
    """A collection's schema and counters.

    vectors: field name -> parameters (with the server-filled dimension, and the recorded
    `model_hash` of each field's text source). payload_indexes: payload key -> "keyword" | "integer" |
    "float" | "bool". sequence: the sequence number of the last committed mutation.
    """

    name: str
    vectors: dict[str, VectorParams]
    payload_indexes: dict[str, str]
    points_count: int
    sequence: int


@dataclass(frozen=True, eq=False)
class Record(_ArrayEq):
    """A stored point as read back by `get` or `scroll`.

    payload is None unless asked for (or when the point has none); vectors holds only the fields
    asked for, each a numpy array of shape (dim,); text is the point's source text, if any.
    """

    id: PointId
    payload: Payload | None = None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    text: str | None = None


@dataclass(frozen=True, eq=False)
class ScoredPoint(_ArrayEq):
    """A query hit. For cosine and dot fields `score` is the similarity (higher is better); for l2
    fields it is the Euclidean distance (lower is better)."""

    id: PointId
    score: float
    payload: Payload | None = None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    text: str | None = None


@dataclass(frozen=True, eq=False)
class Hits(Sequence[ScoredPoint]):
    """The results of one query, best first: a sequence of ScoredPoint over columns.

    `hits[0].id`, `for hit in hits` and `len(hits)` work as on a list; the columns are there
    for bulk use without a Python object per result: `ids` (a list), `scores` (a float32 array),
    `payloads` and `texts` (lists, or None when the query did not ask for payloads) and
    `vectors` (field -> an (n, dim) array, for the fields asked for).

    >>> hits = client.query("docs", q, limit=3)
    >>> hits.ids, hits.scores
    ([7, 2, 9], array([0.98, 0.91, 0.90], dtype=float32))
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
    def __getitem__(self, i: slice) -> list[ScoredPoint]: ...
    def __getitem__(self, i: int | slice) -> ScoredPoint | list[ScoredPoint]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self.ids)))]
        return ScoredPoint(
            id=self.ids[i],
            score=float(self.scores[i]),
            payload=None if self.payloads is None else self.payloads[i],
            vectors={name: arr[i] for name, arr in self.vectors.items()},
            text=None if self.texts is None else self.texts[i],
        )

    def __iter__(self) -> Iterator[ScoredPoint]:
        return (self[i] for i in range(len(self.ids)))

    def __eq__(self, other: object) -> bool:
        """Equal to another Hits or to a list of ScoredPoint with the same results."""
        if not isinstance(other, (Hits, list)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        more = "..." if len(self.ids) > 5 else ""
        return f"Hits({len(self.ids)} results, ids={self.ids[:5]}{more})"


@dataclass(frozen=True)
class UpdateResult:
    """The result of a write: `sequence` is the collection's sequence number after the commit (the
    write is durable when this returns); `count` is the number of points written or deleted.

    truncated: the positions (0-based, in the order the points were given) of the points whose
    text was longer than the model window and was cut before the server encoded it; for `upload`
    positions within the whole upload.

    >>> client.upsert("docs", [1, 2], texts=["short", long_text])
    UpdateResult(sequence=7, count=2, truncated=[1])
    """

    sequence: int
    count: int
    truncated: list[int] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class SparseVector(_ArrayEq):
    """A sparse vector: term ids (uint32) and their weights (float32), parallel arrays.

    >>> sv = client.encode(["red shoes"], kind="sparse")[0].vector
    >>> dict(zip(sv.indices.tolist(), sv.values.tolist()))
    {2417: 1.31, 6007: 1.12, ...}
    """

    indices: np.ndarray
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class Encoded(_ArrayEq):
    """One text encoded by the server's encoder (`Client.encode`).

    vector: "dense": a normalized (dim,) float32 array; "multi": (n_tokens, dim), one normalized
    vector per token; "sparse": a SparseVector of term weights.
    truncated: the text was longer than the model window and was cut. n_tokens: tokens the model
    saw. model / model_hash: the model that encoded it (pass `model` as `upsert(models=...)` when
    writing these vectors to a field with a text source).

    >>> e = client.encode(["hello world"])[0]
    >>> e.vector.shape, e.truncated, e.n_tokens
    ((384,), False, 4)
    """

    vector: np.ndarray | SparseVector
    truncated: bool
    n_tokens: int
    model: str = ""
    model_hash: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """An encoder model the server serves (`Client.list_models`).

    hash: content hash of the weights; dim: the dense dimension (the vocabulary size for a sparse
    model); max_tokens: the model window (longer texts are truncated); kinds: what it can encode
    ("dense", "multi", "sparse"); device: "cpu" or "cuda".

    >>> [(m.name, m.dim) for m in client.list_models()]
    [('all-MiniLM-L6-v2', 384)]
    """

    name: str
    hash: str
    dim: int
    max_tokens: int
    kinds: list[str]
    device: str


@dataclass(frozen=True, eq=False)
class ScrollPage(_ArrayEq):
    """One page of `scroll`. Pass `next_offset` as `offset` to get the next page; it is None on the
    last page."""

    records: list[Record]
    next_offset: PointId | None


@dataclass(frozen=True)
class ServerInfo:
    """What the server is and what it can do."""

    version: str
    data_dir: str
    capabilities: list[str]
    max_limit: int
    max_message_bytes: int


@dataclass(frozen=True)
class FieldStats:
    """Index statistics of one vector field."""

    name: str
    kind: str
    indexed_points: int
    index_capacity: int
    ram_bytes: int
    checkpoint_sequence: int


@dataclass(frozen=True)
class CollectionStats:
    """Statistics of one collection."""

    name: str
    points_count: int
    sequence: int
    disk_bytes: int
    fields: list[FieldStats]
