"""The synchronous client: `Client`, one method per operation over a blocking gRPC channel.

Each method is one line over `_ops` (request building and response parsing, shared with
`AsyncClient`) and `_transport` (request ids, deadlines, retries, typed errors).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc
from numpy.typing import ArrayLike

from vecdb_client import _cache_ops, _ops, _transport
from vecdb_client._transport import Timeout
from vecdb_client.errors import VecdbError
from vecdb_client.models import (
    CacheCategoryStats,
    CacheEntryRef,
    CacheLookup,
    CachePolicy,
    CollectionInfo,
    CollectionStats,
    Diversity,
    Encoded,
    FieldStats,
    Fusion,
    Hits,
    ModelInfo,
    Prefetch,
    Record,
    Rerank,
    ScrollPage,
    ServerInfo,
    UpdateResult,
    VectorParams,
)

__all__ = ["Client"]

T = TypeVar("T")


class Client:
    """A blocking vecdb client over one gRPC channel. Thread-safe; use it as a context manager.

    timeout: default deadline in seconds of every call, retries included (None: no deadline);
    each method's `timeout=` overrides it. retries: how many times UNAVAILABLE (and
    RESOURCE_EXHAUSTED with a retry-after hint) is retried, with exponential backoff.
    request_id_prefix: prepended to the uuid4 request id sent as "vecdb-request-id" metadata.
    max_message_bytes: the channel's send and receive message limit.
    api_key: sent with every call as "authorization: Bearer <key>" (servers with API keys answer
    UNAUTHENTICATED without one, PERMISSION_DENIED when its role does not allow the call).
    tls: connect over TLS (system roots). root_certificates: PEM bytes or a file path of the CA
    (or self-signed certificate) to trust; implies tls. client_certificate / client_key: PEM for
    servers that require mutual TLS. tls_server_name: the name the server certificate must carry
    when it differs from the address's host.

    >>> with Client("localhost:6334") as client:
    ...     client.health()
    'SERVING'
    """

    def __init__(
        self,
        address: str = "localhost:6334",
        *,
        timeout: float | None = 30.0,
        retries: int = 3,
        request_id_prefix: str | None = None,
        max_message_bytes: int = 64 * 2**20,
        api_key: str | None = None,
        tls: bool = False,
        root_certificates: _transport.Pem | None = None,
        client_certificate: _transport.Pem | None = None,
        client_key: _transport.Pem | None = None,
        tls_server_name: str | None = None,
    ) -> None:
        self.address = address
        security = _transport.Security.create(
            api_key, tls, root_certificates, client_certificate, client_key, tls_server_name
        )
        security.warn_if_exposed(address)
        self._settings = _transport.Settings(
            timeout, retries, request_id_prefix, max_message_bytes, security
        )
        self._channel = _transport.open_channel(address, max_message_bytes, security)
        self._callables: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"Client({self.address!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel; calls in flight are cancelled.

        >>> client.close()
        """
        self._channel.close()

    # -- transport --------------------------------------------------------------------------------

    def _callable(self, rpc: _ops.Rpc, streaming: bool = False) -> Any:
        key = f"{rpc.path}#stream" if streaming else rpc.path
        fn = self._callables.get(key)
        if fn is None:
            factory = self._channel.stream_unary if streaming else self._channel.unary_unary
            fn = factory(
                rpc.path, request_serializer=rpc.serialize, response_deserializer=rpc.deserialize
            )
            self._callables[key] = fn
        return fn

    def _unary(self, call: _ops.Call[T], timeout: Timeout) -> T:
        fn = self._callable(call.rpc)
        attempts = _transport.Attempts(self._settings, timeout)
        while True:
            try:
                response = fn(
                    call.request, timeout=attempts.remaining(), metadata=attempts.metadata
                )
            except grpc.RpcError as exc:
                err = _transport.error_from_rpc(exc, attempts.request_id)
                delay = attempts.retry_delay(err)
                if delay is None:
                    raise err from None
                time.sleep(delay)
            else:
                return call.parse(response)

    def _stream(
        self, upload: _ops.Upload, progress: Callable[[int], None] | None, timeout: Timeout
    ) -> UpdateResult:
        # grpc consumes the request iterator on its own thread: `progress` runs there, after each
        # batch went out. An exception there (a bad payload, a failing callback) cancels the call
        # (rather than half-closing it, which would read as a finished upload) and is re-raised
        # here.
        attempts = _transport.Attempts(self._settings, timeout)
        state: dict[str, Any] = {"sent": 0}
        started = threading.Event()

        def requests() -> Iterator[Any]:
            try:
                for request, sent in upload.requests():
                    yield request
                    state["sent"] = sent
                    if progress is not None:
                        progress(sent)
            except GeneratorExit:
                raise
            except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                state["error"] = exc
                started.wait()
                if "future" in state:
                    state["future"].cancel()

        try:
            state["future"] = future = self._callable(upload.rpc, streaming=True).future(
                requests(), timeout=attempts.remaining(), metadata=attempts.metadata
            )
        finally:
            started.set()
        try:
            response = future.result()
        except grpc.FutureCancelledError:
            error = state.get("error") or VecdbError("upload cancelled")
            if isinstance(error, VecdbError):
                _transport.upload_error(error, state["sent"], upload.total)
            raise error from None
        except grpc.RpcError as exc:
            err = _transport.error_from_rpc(exc, attempts.request_id)
            raise _transport.upload_error(err, state["sent"], upload.total) from None
        except BaseException:
            future.cancel()
            raise
        if "error" in state:  # the server answered before the cancel landed
            raise state["error"]
        return upload.parse(response)

    # -- health and admin -------------------------------------------------------------------------

    def health(self, service: str = "", *, timeout: Timeout = ...) -> str:
        """The grpc.health.v1 status of the server (service ""): "SERVING", "NOT_SERVING" or
        "UNKNOWN" ("SERVICE_UNKNOWN" is possible for a named `service`).

        >>> client.health()
        'SERVING'
        """
        return self._unary(_ops.health(service), timeout)

    def server_info(self, *, timeout: Timeout = ...) -> ServerInfo:
        """The server's version, data directory, capabilities and limits.

        >>> client.server_info().capabilities
        ['dense', 'filters']
        """
        return self._unary(_ops.server_info(), timeout)

    def stats(
        self, collection: str | None = None, *, timeout: Timeout = ...
    ) -> list[CollectionStats]:
        """Statistics of one collection, or of every collection when `collection` is None.

        >>> [s.points_count for s in client.stats("docs")]
        [1000]
        """
        return self._unary(_ops.stats(collection), timeout)

    def checkpoint(self, collection: str, *, timeout: Timeout = ...) -> int:
        """Write every index checkpoint of a collection now; returns the sequence they reflect.

        >>> client.checkpoint("docs")
        42
        """
        return self._unary(_ops.checkpoint(collection), timeout)

    def retrain_quantization(
        self, collection: str, field: str, *, timeout: Timeout = ...
    ) -> FieldStats:
        """Re-train a quantized field's codebook on every stored original and rebuild its codes
        (after a bulk load, or when the data has drifted); returns the field's new statistics.

        >>> client.retrain_quantization("docs", "embedding").codebook["trained_on"]
        100000
        """
        return self._unary(_ops.retrain_quantization(collection, field), timeout)

    # -- collections ------------------------------------------------------------------------------

    def create_collection(
        self,
        name: str,
        vectors: VectorParams | dict[str, VectorParams],
        *,
        payload_indexes: dict[str, str] | None = None,
        timeout: Timeout = ...,
    ) -> CollectionInfo:
        """Create a collection. A single VectorParams makes one field named "default".

        payload_indexes: payload key -> "keyword" | "integer" | "float" | "bool".

        >>> client.create_collection("docs", VectorParams(384, metric="cosine"),
        ...                          payload_indexes={"lang": "keyword"})
        CollectionInfo(name='docs', vectors={'default': VectorParams(dim=384, ...)}, ...)
        """
        return self._unary(_ops.create_collection(name, vectors, payload_indexes), timeout)

    def get_collection(self, name: str, *, timeout: Timeout = ...) -> CollectionInfo:
        """A collection's schema and counters; raises CollectionNotFound if it does not exist.

        >>> client.get_collection("docs").points_count
        1000
        """
        return self._unary(_ops.get_collection(name), timeout)

    def list_collections(self, *, timeout: Timeout = ...) -> list[CollectionInfo]:
        """Every collection.

        >>> [c.name for c in client.list_collections()]
        ['docs']
        """
        return self._unary(_ops.list_collections(), timeout)

    def delete_collection(self, name: str, *, timeout: Timeout = ...) -> bool:
        """Drop a collection and its data; False if it did not exist.

        >>> client.delete_collection("docs")
        True
        """
        return self._unary(_ops.delete_collection(name), timeout)

    def collection_exists(self, name: str, *, timeout: Timeout = ...) -> bool:
        """Whether a collection exists.

        >>> client.collection_exists("docs")
        True
        """
        return self._unary(_ops.collection_exists(name), timeout)

    # -- points -----------------------------------------------------------------------------------

    def upsert(
        self,
        collection: str,
        ids: Sequence[int | str],
        vectors: ArrayLike | Mapping[str, ArrayLike] | None = None,
        *,
        payloads: Sequence[dict[str, Any] | None] | None = None,
        texts: Sequence[str | None] | None = None,
        models: Mapping[str, str] | None = None,
        chunking: tuple[int, int] | None = None,
        timeout: Timeout = ...,
    ) -> UpdateResult:
        """Insert or replace points in one atomic request.

        vectors: an (n, dim) array for the field "default", or {field name: (n, dim) array};
        None when every field takes its vectors from text (a field with a text source left out
        of `vectors` is encoded by the server from `texts`, or from the payload key it names).
        ids: ints in 0..2**64-1 or UUID strings. payloads / texts: one entry per id (or None).
        models: for vectors given for a field with a text source, {field: the model they came
        from}; it must be the field's model. The result's `truncated` lists the positions of the
        points whose text was cut to the model window. chunking: (window_tokens, overlap_tokens)
        stores each text as overlapping windows, one point per window, with the document's id in
        the payload key "_document" (see docs/api.md, "Chunking").

        >>> client.upsert("docs", [1, 2], np.random.rand(2, 384), payloads=[{"lang": "en"}, None])
        UpdateResult(sequence=7, count=2, truncated=[])
        >>> client.upsert("notes", [1, 2], texts=["first note", "second note"])
        UpdateResult(sequence=8, count=2, truncated=[])
        """
        return self._unary(_ops.upsert(collection, ids, vectors, payloads, texts, models, chunking), timeout)

    def upload(
        self,
        collection: str,
        ids: Sequence[int | str],
        vectors: ArrayLike | Mapping[str, ArrayLike] | None = None,
        *,
        payloads: Sequence[dict[str, Any] | None] | None = None,
        texts: Sequence[str | None] | None = None,
        models: Mapping[str, str] | None = None,
        batch_size: int = 1000,
        progress: Callable[[int], None] | None = None,
        timeout: Timeout = ...,
    ) -> UpdateResult:
        """Bulk-load points over one client stream, `batch_size` points per atomic batch.

        Arguments as for `upsert`; `models` goes with every batch. `progress(points_sent_so_far)`
        is called after each batch (on a gRPC thread). The timeout covers the whole stream: pass
        timeout=None for long loads. The stream is not retried; if it fails, the batches
        committed before stay committed. `truncated` positions are within the whole upload.

        >>> client.upload("docs", ids, vectors, batch_size=5000, progress=print, timeout=None)
        UpdateResult(sequence=20, count=100000, truncated=[])
        >>> client.upload("notes", ids, texts=texts, batch_size=256, timeout=None).truncated
        [1021, 4410]
        """
        plan = _ops.upload(collection, ids, vectors, payloads, texts, batch_size, models)
        return self._stream(plan, progress, timeout)

    def get(
        self,
        collection: str,
        ids: Sequence[int | str],
        *,
        with_payload: bool = True,
        with_vectors: bool | Sequence[str] = False,
        timeout: Timeout = ...,
    ) -> list[Record]:
        """Points by id, in request order; ids that do not exist are left out.

        with_vectors: True for every field, or a list of field names.

        >>> client.get("docs", [1, 2], with_vectors=True)[0].vectors["default"].shape
        (384,)
        """
        return self._unary(_ops.get(collection, ids, with_payload, with_vectors), timeout)

    def delete(
        self,
        collection: str,
        ids: Sequence[int | str] | None = None,
        *,
        filter: dict[str, Any] | None = None,
        timeout: Timeout = ...,
    ) -> UpdateResult:
        """Delete points by id or by filter (exactly one of the two); missing ids are ignored.

        >>> client.delete("docs", filter={"must": [{"key": "lang", "match": {"value": "de"}}]})
        UpdateResult(sequence=9, count=120)
        """
        return self._unary(_ops.delete(collection, ids, filter), timeout)

    def count(
        self, collection: str, filter: dict[str, Any] | None = None, *, timeout: Timeout = ...
    ) -> int:
        """The number of points, or of points matching `filter`.

        >>> client.count("docs", {"must": [{"key": "year", "range": {"gte": 2020}}]})
        412
        """
        return self._unary(_ops.count(collection, filter), timeout)

    def scroll(
        self,
        collection: str,
        *,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int | str | None = None,
        with_payload: bool = True,
        with_vectors: bool | Sequence[str] = False,
        timeout: Timeout = ...,
    ) -> ScrollPage:
        """One page of points in id order (ints before UUIDs); continue from `next_offset`.

        >>> page = client.scroll("docs", limit=100)
        >>> while page.next_offset is not None:
        ...     page = client.scroll("docs", limit=100, offset=page.next_offset)
        """
        return self._unary(
            _ops.scroll(collection, filter, limit, offset, with_payload, with_vectors), timeout
        )

    # -- query ------------------------------------------------------------------------------------

    def query(
        self,
        collection: str,
        vector: ArrayLike | None = None,
        *,
        text: str | None = None,
        model: str | None = None,
        using: str = "",
        point: int | str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        score_threshold: float | None = None,
        with_payload: bool = False,
        with_vectors: bool | Sequence[str] = False,
        ef: int | None = None,
        exact: bool = False,
        prefetch: Sequence[Prefetch] = (),
        fusion: Fusion | str | None = None,
        rerank: Rerank | None = None,
        diversity: Diversity | None = None,
        timeout: Timeout = ...,
    ) -> Hits:
        """Nearest neighbours of `vector`, of the stored vector of `point`, or of `text`, best
        first; exactly one of the three. `vector` is a dense vector (dim,), token vectors
        (n, dim) for a multi-vector field, or a SparseVector / {term id: weight} dict.

        Hybrid: `prefetch` stages (each a field, a query and a limit) are fused by `fusion`
        ("rrf" by default, "dbsf", "weighted" or a Fusion), then optionally rescored exactly by
        `rerank` (or by `vector`/`text`/`point` given alongside), then optionally picked for
        variety by `diversity`.

        >>> client.query("docs", prefetch=[Prefetch(using="dense", text="red fox"),
        ...                                Prefetch(using="bm25", text="red fox")],
        ...              fusion="rrf", limit=10)

        text: encoded by the server, as a query, with the model of the field's text source.
        model: the model a query `vector` came from (`encode(..., role="query")`); when set, the
        server checks it is the field's model. using: the vector field ("" when the collection
        has one). score_threshold: minimum score for cosine / dot, maximum distance for l2.
        ef: HNSW search breadth; exact: brute force.

        >>> hits = client.query("docs", q, limit=5, filter={"must": [{"key": "lang",
        ...                     "match": {"value": "en"}}]}, with_payload=True)
        >>> [(h.id, round(h.score, 3)) for h in hits]
        [(17, 0.912), (3, 0.874), ...]
        >>> client.query("notes", text="where did I park?", limit=3).ids
        [12, 40, 7]
        """
        return self._unary(
            _ops.query(
                collection,
                vector,
                using=using,
                point=point,
                text=text,
                model=model,
                filter=filter,
                limit=limit,
                offset=offset,
                score_threshold=score_threshold,
                with_payload=with_payload,
                with_vectors=with_vectors,
                ef=ef,
                exact=exact,
                prefetch=prefetch,
                fusion=fusion,
                rerank=rerank,
                diversity=diversity,
            ),
            timeout,
        )

    def query_batch(
        self,
        collection: str,
        vectors: ArrayLike | None = None,
        *,
        texts: Sequence[str] | None = None,
        model: str | None = None,
        using: str = "",
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        score_threshold: float | None = None,
        with_payload: bool = False,
        with_vectors: bool | Sequence[str] = False,
        ef: int | None = None,
        exact: bool = False,
        timeout: Timeout = ...,
    ) -> list[Hits]:
        """Many queries in one call, answers in order: one per row of a (q, dim) array
        `vectors`, or one per text of `texts` (exactly one of the two); the other arguments are
        shared, as in `query`.

        >>> [len(hits) for hits in client.query_batch("docs", np.random.rand(3, 384), limit=5)]
        [5, 5, 5]
        >>> [h.ids for h in client.query_batch("notes", texts=["parking", "lunch"], limit=2)]
        [[12, 40], [3, 8]]
        """
        return self._unary(
            _ops.query_batch(
                collection,
                vectors,
                using=using,
                texts=texts,
                model=model,
                filter=filter,
                limit=limit,
                offset=offset,
                score_threshold=score_threshold,
                with_payload=with_payload,
                with_vectors=with_vectors,
                ef=ef,
                exact=exact,
            ),
            timeout,
        )

    # -- encoder ----------------------------------------------------------------------------------

    def encode(
        self,
        texts: Sequence[str],
        *,
        kind: str = "dense",
        model: str | None = None,
        role: str = "document",
        timeout: Timeout = ...,
    ) -> list[Encoded]:
        """Encode texts with the server's embedded encoder; one `Encoded` per text, in order.

        kind: "dense" (one normalized (dim,) vector), "multi" (one per token, (n_tokens, dim)) or
        "sparse" (term weights). model: a name from `list_models` (None: the server's default).
        role: "document" or "query" (models with query / document prefixes use it). texts must
        be a list of str; a text longer than the model window is cut (`truncated` is True).

        >>> [e.vector.shape for e in client.encode(["a short text", "another"])]
        [(384,), (384,)]
        >>> client.encode(["red shoes"], role="query")[0].truncated
        False
        """
        return self._unary(_ops.encode(texts, kind, model, role), timeout)

    def list_models(self, *, timeout: Timeout = ...) -> list[ModelInfo]:
        """The encoder models the server serves, with their dimension, window and content hash.

        >>> [(m.name, m.dim, m.max_tokens) for m in client.list_models()]
        [('all-MiniLM-L6-v2', 384, 256)]
        """
        return self._unary(_ops.list_models(), timeout)

    # -- semantic cache (issue 7) -----------------------------------------------------------------

    def cache_lookup(
        self,
        prompt: str | None = None,
        *,
        vector: ArrayLike | None = None,
        category: str = "",
        model: str = "",
        timeout: Timeout = ...,
    ) -> CacheLookup:
        """Look a prompt up in the semantic cache: its text (encoded by the server's default
        encoder model) or a vector of that model; exactly one of the two.

        category: whose policy and entries apply ("": the server's classifier picks one from the
        policies' examples, else "default"; an unknown category uses the default policy).
        model: the LLM the answer must come from; hits never cross models. A miss still says
        how similar the nearest entry was (`similarity`, NaN when there is none).

        >>> r = client.cache_lookup("How do I reverse a list in Python?", category="code", model="gpt-4o")
        >>> r.answer if r.hit else r.similarity
        'Use xs[::-1] or xs.reverse().'
        """
        return self._unary(_cache_ops.lookup(prompt, vector, category, model), timeout)

    def cache_store(
        self,
        prompt: str,
        answer: str,
        *,
        category: str = "",
        model: str = "",
        metadata: dict[str, Any] | None = None,
        vector: ArrayLike | None = None,
        timeout: Timeout = ...,
    ) -> CacheEntryRef:
        """Store an LLM's answer to a prompt; durable when it returns. vector: the prompt's
        embedding if you have it (the server's default encoder model), else the server encodes
        the prompt. metadata: a JSON object returned on hits and matched by invalidate filters.

        >>> client.cache_store("How do I reverse a list in Python?", "Use xs[::-1].",
        ...                    category="code", model="gpt-4o", metadata={"lang": "python"})
        CacheEntryRef(entry_id='3f0c…', category='code')
        """
        return self._unary(
            _cache_ops.store(prompt, answer, category, model, metadata, vector), timeout
        )

    def cache_invalidate(
        self,
        *,
        entry_id: str | None = None,
        category: str | None = None,
        model: str | None = None,
        filter: dict[str, Any] | None = None,
        timeout: Timeout = ...,
    ) -> int:
        """Remove cache entries by exactly one selector: an entry id, a category, an LLM model,
        or a Qdrant-style filter on the entries' metadata. Returns how many were removed.

        >>> client.cache_invalidate(filter={"must": [{"key": "lang", "match": {"value": "perl"}}]})
        3
        """
        return self._unary(_cache_ops.invalidate(entry_id, category, model, filter), timeout)

    def cache_stats(
        self, category: str | None = None, *, timeout: Timeout = ...
    ) -> list[CacheCategoryStats]:
        """Per-category counters (hits, misses, near-misses, false hits, evictions, expiries),
        sizes, effective threshold and TTL (after load adaptation) and lookup latency.

        >>> [(s.category, s.hits, s.misses) for s in client.cache_stats()]
        [('code', 12, 40), ('default', 3, 9)]
        """
        return self._unary(_cache_ops.stats(category), timeout)

    def cache_get_policy(self, category: str, *, timeout: Timeout = ...) -> CachePolicy:
        """A category's cache policy (a category without one answers the default policy).

        >>> client.cache_get_policy("code").threshold
        0.95
        """
        return self._unary(_cache_ops.get_policy(category), timeout)

    def cache_set_policy(self, policy: CachePolicy, *, timeout: Timeout = ...) -> CachePolicy:
        """Replace a category's cache policy as a whole; returns it as stored. A threshold
        outside [0, 1] or a negative TTL raises InvalidArgument and changes nothing.

        >>> client.cache_set_policy(CachePolicy("prices", threshold=0.97, ttl_seconds=300,
        ...                                     exact_match_only=True))
        """
        return self._unary(_cache_ops.set_policy(policy), timeout)

    def cache_report_load(self, model: str, load: float, *, timeout: Timeout = ...) -> None:
        """Report an LLM's current load in [0, 1]: above the policies' high watermark its
        categories relax their thresholds and extend their TTLs, within bounds; below the low
        watermark they revert. `cache_stats` shows the effect.

        >>> client.cache_report_load("gpt-4o", 0.93)
        """
        return self._unary(_cache_ops.report_load(model, load), timeout)

    def cache_report_false_hit(self, entry_id: str, *, timeout: Timeout = ...) -> None:
        """Report that a hit's answer did not fit its prompt (counted as a false hit of its
        category). An unknown entry id raises NotFound.

        >>> client.cache_report_false_hit(r.entry_id)
        """
        return self._unary(_cache_ops.report_false_hit(entry_id), timeout)

    # -- snapshots (issue 9) ------------------------------------------------------------------------

    def create_snapshot(self, collection: str | None = None, *, timeout: Timeout = ...) -> SnapshotInfo:
        """Snapshot one collection, or (None) every collection, into one file on the server, while
        reads and writes go on; each collection is copied at one point in time.

        >>> info = client.create_snapshot("docs")
        >>> info.name, info.collections[0].points_count
        ('docs.20260101T120000Z.0a1b2c3d', 1000)
        """
        return self._unary(_snapshot_ops.create(collection), timeout)

    def list_snapshots(self, collection: str | None = None, *, timeout: Timeout = ...) -> list[SnapshotInfo]:
        """The server's snapshots, oldest first; with `collection`, those holding it.

        >>> [s.name for s in client.list_snapshots("docs")]
        """
        return self._unary(_snapshot_ops.list_snapshots(collection), timeout)

    def delete_snapshot(self, name: str, *, timeout: Timeout = ...) -> None:
        """Remove a snapshot; NotFound for an unknown name.

        >>> client.delete_snapshot(info.name)
        """
        return self._unary(_snapshot_ops.delete(name), timeout)

    def restore_snapshot(
        self, name: str, *, collection: str | None = None, overwrite: bool = False, timeout: Timeout = ...
    ) -> RestoredCollection:
        """Restore a collection from a snapshot into the running server, under its own name.
        AlreadyExists when it exists, unless overwrite=True (which replaces it). For a
        whole-server snapshot name the collection; the whole server is restored offline
        (`vecdb snapshot restore-offline`).

        >>> client.restore_snapshot(info.name, overwrite=True).points_count
        1000
        """
        return self._unary(_snapshot_ops.restore(name, collection, overwrite), timeout)

    def download_snapshot(
        self, name: str, path: str | os.PathLike[str], *, chunk_bytes: int = 0, timeout: Timeout = ...
    ) -> SnapshotInfo:
        """Download a snapshot file to `path` (a folder: `<path>/<name>.tar`). The bytes go to
        `<path>.part` and are renamed into place only when size and SHA-256 match the server's;
        otherwise SnapshotMismatch is raised and nothing is left. Not retried: call it again.

        >>> client.download_snapshot(info.name, "backups/")
        """
        plan = _snapshot_ops.download(name, path, chunk_bytes)
        key = f"{plan.rpc.path}#download"
        fn = self._callables.get(key)
        if fn is None:
            fn = self._channel.unary_stream(
                plan.rpc.path, request_serializer=plan.rpc.serialize, response_deserializer=plan.rpc.deserialize
            )
            self._callables[key] = fn
        attempts = _transport.Attempts(self._settings, timeout)
        sink = _snapshot_ops.Download(plan.path)
        try:
            for chunk in fn(plan.request, timeout=attempts.remaining(), metadata=attempts.metadata):
                sink.add(chunk)
        except grpc.RpcError as exc:
            sink.abort()
            raise _transport.error_from_rpc(exc, attempts.request_id) from None
        except BaseException:
            sink.abort()
            raise
        return sink.finish()


import os  # the snapshot block (issue 9) is appended as a unit, its imports with it

from vecdb_client import _snapshot_ops
from vecdb_client.models import RestoredCollection, SnapshotInfo
