"""Typed results and parameters of the vecdb SDK: frozen dataclasses over plain Python and numpy.

Nothing here is a protobuf type; the private `_wire` module converts to and from the wire.
Vectors come back as numpy arrays (read-only views of the received bytes); payloads as dicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Union, overload

import numpy as np

__all__ = [
    "Bm25Params",
    "CollectionInfo",
    "CollectionStats",
    "Diversity",
    "Encoded",
    "FieldParams",
    "FieldStats",
    "Fusion",
    "Hits",
    "HnswParams",
    "ModelInfo",
    "MultiVectorParams",
    "MuveraParams",
    "Payload",
    "PointId",
    "Prefetch",
    "QuantizationParams",
    "QueryTarget",
    "Record",
    "Rerank",
    "ScoredPoint",
    "ScrollPage",
    "ServerInfo",
    "SparseParams",
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
class QuantizationParams:
    """Compact codes in the server's memory instead of float vectors; the originals stay on disk.

    method: "binary" (`bits` 1-4 per dimension) or "int8". binary_method: "threshold" (each
    dimension centred on the collection mean, cut into 2**bits levels) or "recurrent_residual"
    (BEBR bit-planes over the residual, one scale per plane). oversampling: a query draws
    ceil(limit x oversampling) candidates from the codes; rescore: they are rescored exactly from
    the stored originals. query_mode: "symmetric" | "asymmetric" | "" (the server's default).

    >>> VectorParams(384, quantization=QuantizationParams("binary", bits=2))
    """

    method: str = "binary"
    bits: int = 1
    binary_method: str = "threshold"
    oversampling: float = 0.0
    rescore: bool = True
    query_mode: str = ""


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
    quantization: keep compact codes in memory instead of floats (None: floats).

    >>> VectorParams(384, metric="cosine", hnsw=HnswParams(m=32))
    >>> VectorParams(text_source=TextSource("all-MiniLM-L6-v2"))  # dim: the model's
    """

    dim: int = 0
    metric: str = "cosine"
    storage_dtype: str = "float32"
    hnsw: HnswParams | None = None
    text_source: TextSource | None = None
    quantization: QuantizationParams | None = None


@dataclass(frozen=True)
class MuveraParams:
    """MUVERA encodings of a multi-vector field (0 / None: the server default).

    reps: repetitions (20); k_sim: hyperplanes per repetition, 2**k_sim buckets (5); d_proj:
    inner projection per bucket (16; 0 = none); final_dim: final projection (0 = none);
    seed: shared by documents and queries (42); candidates: encoding candidates reranked by
    exact MaxSim (200).
    """

    reps: int = 0
    k_sim: int = 0
    d_proj: int | None = None
    final_dim: int = 0
    seed: int | None = None
    candidates: int = 0


@dataclass(frozen=True)
class MultiVectorParams:
    """A multi-vector (late interaction) field: token vectors per point, scored by MaxSim.

    metric: "dot" | "cosine". storage_dtype: "float16" (default) | "float32". With a
    text_source the server fills it with the model's per-token vectors (dim 0: the model's).

    >>> MultiVectorParams(text_source=TextSource("all-MiniLM-L6-v2"))
    """

    dim: int = 0
    metric: str = "dot"
    storage_dtype: str = "float16"
    muvera: MuveraParams | None = None
    hnsw: HnswParams | None = None
    text_source: TextSource | None = None


@dataclass(frozen=True)
class Bm25Params:
    """BM25 over each point's text (its own `text`, or the payload key `text_key`).

    stopwords / stemmer: "english" or "" for none.
    """

    k1: float = 1.2
    b: float = 0.75
    text_key: str = ""
    lowercase: bool = True
    stopwords: str = "english"
    stemmer: str = "english"


@dataclass(frozen=True)
class SparseParams:
    """A sparse field: term ids and weights, scored by dot product.

    modifier "none": weights from the client (`SparseVector`) or, with a text_source, from a
    SPLADE model; "bm25": computed by the server from text (see `bm25`); query it with `text=`.

    >>> SparseParams(modifier="bm25")
    >>> SparseParams(text_source=TextSource("splade"))
    """

    modifier: str = "none"
    bm25: Bm25Params | None = None
    text_source: TextSource | None = None


FieldParams = Union[VectorParams, MultiVectorParams, SparseParams]
"""The parameters of any kind of vector field."""


@dataclass(frozen=True)
class CollectionInfo:
    """A collection's schema and counters.

    vectors: field name -> parameters (with the server-filled dimension, and the recorded
    `model_hash` of each field's text source). payload_indexes: payload key -> "keyword" | "integer" |
    "float" | "bool". sequence: the sequence number of the last committed mutation.
    """

    name: str
    vectors: dict[str, FieldParams]
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


QueryTarget = Union[np.ndarray, Sequence[float], SparseVector, dict]
"""What a query stage searches with: a dense vector (dim,), token vectors (n, dim) for a
multi-vector field, or a SparseVector / {term id: weight} dict for a sparse field."""


@dataclass(frozen=True, eq=False)
class Prefetch(_ArrayEq):
    """One stage of a hybrid query: a search of one field, or nested stages fused.

    Give one of `vector`, `text` (encoded by the field's model; a BM25 field analyzes it) or
    `point` (that point's stored vector), or nested `prefetch` stages (then `vector`/`text`
    optionally rescores their fused candidates). limit: candidates the stage contributes
    (0: 100). filter: on top of the query's filter.

    >>> Prefetch(using="dense", text="red fox", limit=50)
    >>> Prefetch(using="bm25", text="red fox")
    """

    using: str = ""
    vector: Any = None
    text: str | None = None
    point: int | str | None = None
    filter: dict[str, Any] | None = None
    limit: int = 0
    score_threshold: float | None = None
    ef: int | None = None
    exact: bool = False
    prefetch: Sequence[Prefetch] = ()
    fusion: Fusion | str | None = None


@dataclass(frozen=True)
class Fusion:
    """How stages' candidates merge: "rrf" (k, weights), "dbsf" or "weighted" (weights)."""

    method: str = "rrf"
    k: int = 60
    weights: Sequence[float] = ()


@dataclass(frozen=True, eq=False)
class Rerank(_ArrayEq):
    """Rescore the fused candidates exactly with one field (MaxSim for a multi-vector field).

    >>> Rerank(using="colbert", text="red fox")
    """

    using: str = ""
    vector: Any = None
    text: str | None = None
    point: int | str | None = None


@dataclass(frozen=True)
class Diversity:
    """Pick the results for relevance and variety: method "mmr" or "coverage"; lambda_ 1.0 is
    relevance only (the plain top-k), lower adds variety; using: the dense field whose vectors
    measure similarity; candidates: without prefetch, how many the plain query draws (0: 10 x
    limit)."""

    method: str = "mmr"
    lambda_: float = 0.5
    using: str = ""
    candidates: int = 0


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
    """Index statistics of one vector field.

    ram_bytes: vector data + graph in the server's memory; vector_ram_bytes: the vector data
    alone (codes, for a quantized field); float32_bytes: the same vectors as float32.
    codebook: a quantized field's codebook (method, bits, trained_on, ...).
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
    """Statistics of one collection."""

    name: str
    points_count: int
    sequence: int
    disk_bytes: int
    fields: list[FieldStats]


# -- semantic cache (issue 7) ---------------------------------------------------------------------

__all__ += [
    "CacheCategoryStats",
    "CacheEntryRef",
    "CacheLoadAdaptation",
    "CacheLookup",
    "CachePolicy",
]


@dataclass(frozen=True)
class CacheLookup:
    """The answer of `cache_lookup`.

    hit: a stored answer matched. category: the category used (the server's classifier picks
    one when the call named none). similarity: cosine similarity, on a hit the entry's, on a
    miss the nearest entry's (NaN when the category holds no entry for the model). answer: the
    stored answer on a hit, None on a miss. entry_id: the entry (on a miss the nearest one, ""
    when none). age_seconds: how old the hit is. metadata: the entry's metadata on a hit.
    threshold: the effective threshold used (after load adaptation). near_miss: a miss whose
    nearest entry was within the policy's near_miss_margin of the threshold.

    >>> r = client.cache_lookup("how do I reverse a list in python?", category="code", model="gpt-4o")
    >>> (r.hit, r.answer if r.hit else round(r.similarity, 3))
    (True, 'Use reversed(xs) or xs[::-1].')
    """

    hit: bool
    category: str
    similarity: float
    answer: str | None = None
    entry_id: str = ""
    age_seconds: float = 0.0
    metadata: dict[str, Any] | None = None
    threshold: float = 0.0
    near_miss: bool = False


@dataclass(frozen=True)
class CacheEntryRef:
    """A stored cache entry: its id (for invalidate / report_false_hit) and its category."""

    entry_id: str
    category: str


@dataclass(frozen=True)
class CacheCategoryStats:
    """One cache category's counters (since the server started), sizes and effective policy.

    threshold / ttl_seconds: effective, after load adaptation; base_threshold /
    base_ttl_seconds: the policy's. adaptation_level: 0 none, n relaxed by n steps.
    near_misses: misses within the policy's near_miss_margin of the threshold. bytes: prompt +
    answer + metadata bytes stored. lookup_p50_ms / lookup_p99_ms: recent lookup latency inside
    the cache (NaN before the first lookup). invalidations: entries removed by invalidate.
    """

    category: str
    entries: int
    bytes: int
    hits: int
    misses: int
    near_misses: int
    false_hits: int
    evictions: int
    expiries: int
    threshold: float
    ttl_seconds: float
    base_threshold: float
    base_ttl_seconds: float
    adaptation_level: int
    lookup_p50_ms: float
    lookup_p99_ms: float
    invalidations: int = 0


@dataclass(frozen=True)
class CacheLoadAdaptation:
    """How a cache category follows its LLM's reported load (`cache_report_load`).

    Each report above high_watermark relaxes the threshold by threshold_step, never more than
    max_threshold_relax below the policy's, and grows the TTL multiplier by ttl_factor_step up to
    max_ttl_factor; a report below low_watermark reverts.
    """

    high_watermark: float = 0.85
    low_watermark: float = 0.6
    threshold_step: float = 0.02
    max_threshold_relax: float = 0.06
    ttl_factor_step: float = 0.5
    max_ttl_factor: float = 3.0


@dataclass(frozen=True)
class CachePolicy:
    """A cache category's policy (`cache_get_policy` / `cache_set_policy`).

    threshold: cosine similarity in [0, 1] a hit needs. ttl_seconds: entry lifetime, 0 never
    expires. max_entries / max_bytes: quota (0: none), LRU-evicted within the category only.
    exact_match_only: hits only for the same normalized prompt text. enabled: a disabled
    category never hits. near_miss_margin: misses this close to the threshold count as
    near-misses. examples: labelled example prompts that route unlabelled lookups to this
    category. adaptation: load-adaptive relaxation bounds.

    >>> client.cache_set_policy(CachePolicy("code", threshold=0.95, ttl_seconds=30 * 86400,
    ...                                     examples=("how do I sort a dict in python?",)))
    """

    category: str
    threshold: float = 0.92
    ttl_seconds: float = 86400.0
    max_entries: int = 0
    max_bytes: int = 0
    exact_match_only: bool = False
    enabled: bool = True
    near_miss_margin: float = 0.05
    examples: tuple[str, ...] = ()
    adaptation: CacheLoadAdaptation = field(default_factory=CacheLoadAdaptation)


# -- snapshots (issue 9) --------------------------------------------------------------------------

__all__ += ["RestoredCollection", "SnapshotCollection", "SnapshotInfo"]


@dataclass(frozen=True)
class SnapshotCollection:
    """One collection inside a snapshot: its name, and its sequence number and point count at
    the moment it was copied."""

    name: str
    sequence: int
    points_count: int


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot (`create_snapshot`, `list_snapshots`, `download_snapshot`).

    name: generated, e.g. "docs.20260101T120000Z.0a1b2c3d" ("_server." for the whole server).
    collection: the snapshot's collection, None for a whole-server snapshot. created_at: unix
    seconds. sha256: hex digest of the whole file (downloads are checked against it).
    collections: what it holds. with_cache: the semantic cache was copied too.

    >>> info = client.create_snapshot("docs")
    >>> info.collections[0].points_count
    1000
    """

    name: str
    collection: str | None
    created_at: float
    size_bytes: int
    sha256: str
    vecdb_version: str
    collections: tuple[SnapshotCollection, ...]
    with_cache: bool = False


@dataclass(frozen=True)
class RestoredCollection:
    """The answer of `restore_snapshot`: the collection restored, its point count and sequence."""

    name: str
    points_count: int
    sequence: int
