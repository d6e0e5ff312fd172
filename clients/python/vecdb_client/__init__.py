"""vecdb_client: the Python SDK of vecdb, a vector database served over gRPC.

Quick start::

    import numpy as np
    from vecdb_client import Client, VectorParams

    with Client("localhost:6334") as client:
        client.create_collection("docs", VectorParams(dim=4, metric="cosine"),
                                 payload_indexes={"lang": "keyword"})
        client.upsert("docs", ids=[1, 2, 3], vectors=np.random.rand(3, 4),
                      payloads=[{"lang": "en"}, {"lang": "de"}, None])
        hits = client.query("docs", [0.1, 0.2, 0.3, 0.4], limit=2, with_payload=True,
                            filter={"must": [{"key": "lang", "match": {"value": "en"}}]})
        for hit in hits:
            print(hit.id, hit.score, hit.payload)

Text in, vectors computed by the server's embedded encoder::

    from vecdb_client import TextSource

    client.create_collection("notes", VectorParams(text_source=TextSource("all-MiniLM-L6-v2")))
    client.upsert("notes", ids=[1, 2], texts=["buy milk", "the car is on level 3"])
    client.query("notes", text="where did I park?", limit=1).ids   # [2]
    client.encode(["any text"], kind="dense")[0].vector.shape       # (384,)

A semantic cache for LLM answers, by category::

    from vecdb_client import CachePolicy

    client.cache_set_policy(CachePolicy("code", threshold=0.95, ttl_seconds=30 * 86400))
    client.cache_store("How do I reverse a list in Python?", "xs[::-1]", category="code", model="gpt-4o")
    client.cache_lookup("how to reverse a python list", category="code", model="gpt-4o").answer

The same methods exist as coroutines on `AsyncClient` (``async with AsyncClient(...)``).

- Vectors go in as numpy arrays or (nested) lists and come back as numpy arrays. A bare (n, dim)
  array in `upsert` / `upload` is the vectors of the field named "default" (the field a single
  `VectorParams` creates); use a dict {field: array} for named fields.
- Point ids are ints in 0..2**64-1 or UUID strings; payloads are JSON-serializable dicts.
- Filters are Qdrant-style dicts: ``{"must": [...], "should": [...], "must_not": [...]}`` with
  conditions ``{"key": k, "match": {"value": v}}``, ``{"key": k, "match": {"any": [...]}}``,
  ``{"key": k, "range": {"gte": 1, "lt": 10}}``, ``{"has_id": [...]}``,
  ``{"is_empty": {"key": k}}`` and nested filters.
- Every failure raises a subclass of `errors.VecdbError` with `code`, `message`, `request_id`
  and `error_name`; UNAVAILABLE is retried with backoff (`retries=`), and every call has a
  deadline (`timeout=`, per client and per call).
"""

from __future__ import annotations

from vecdb_client import errors, models
from vecdb_client.aio import AsyncClient
from vecdb_client.client import Client
from vecdb_client.errors import (
    AlreadyExists,
    CollectionNotFound,
    DeadlineExceeded,
    FailedPrecondition,
    FieldNotFound,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    VecdbError,
)
from vecdb_client.models import (  # the semantic cache (issue 7)
    Bm25Params,
    CacheCategoryStats,
    CacheEntryRef,
    CacheLoadAdaptation,
    CacheLookup,
    CachePolicy,
    CollectionInfo,
    CollectionStats,
    Diversity,
    Encoded,
    FieldStats,
    Fusion,
    Hits,
    HnswParams,
    ModelInfo,
    MultiVectorParams,
    MuveraParams,
    PointId,
    Prefetch,
    QuantizationParams,
    Record,
    Rerank,
    ScoredPoint,
    ScrollPage,
    ServerInfo,
    SparseParams,
    SparseVector,
    TextSource,
    UpdateResult,
    VectorParams,
)

__all__ = [
    "AlreadyExists",
    "AsyncClient",
    "Bm25Params",
    "CacheCategoryStats",
    "CacheEntryRef",
    "CacheLoadAdaptation",
    "CacheLookup",
    "CachePolicy",
    "Client",
    "CollectionInfo",
    "CollectionNotFound",
    "CollectionStats",
    "DeadlineExceeded",
    "Diversity",
    "Encoded",
    "FailedPrecondition",
    "FieldNotFound",
    "FieldStats",
    "Fusion",
    "Hits",
    "HnswParams",
    "Internal",
    "InvalidArgument",
    "ModelInfo",
    "MultiVectorParams",
    "MuveraParams",
    "NotFound",
    "PermissionDenied",
    "PointId",
    "Prefetch",
    "QuantizationParams",
    "Record",
    "Rerank",
    "ResourceExhausted",
    "ScoredPoint",
    "ScrollPage",
    "ServerInfo",
    "SparseParams",
    "SparseVector",
    "TextSource",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "UpdateResult",
    "VecdbError",
    "VectorParams",
    "errors",
    "models",
]

from vecdb_client.models import (  # snapshots (issue 9)
    RestoredCollection,
    SnapshotCollection,
    SnapshotInfo,
)

__all__ += ["RestoredCollection", "SnapshotCollection", "SnapshotInfo"]
