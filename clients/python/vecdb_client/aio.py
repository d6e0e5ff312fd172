"""The asyncio client: `AsyncClient`, the same methods as `Client` as coroutines over grpc.aio.

Each method is one line over `_ops` and `_transport`, exactly as in `Client`; only the waiting
differs. See `Client` for what every method does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc
import grpc.aio
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

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """An asyncio vecdb client over one grpc.aio channel; the arguments are those of `Client`.

    The channel is opened on the first call, on the running event loop; use the client from that
    loop only.

    >>> async with AsyncClient("localhost:6334") as client:
    ...     hits = await client.query("docs", q, limit=5)
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
        self._channel: grpc.aio.Channel | None = None
        self._callables: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"AsyncClient({self.address!r})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel; calls in flight are cancelled.

        >>> await client.close()
        """
        channel, self._channel = self._channel, None
        self._callables.clear()
        if channel is not None:
            await channel.close()

    # -- transport --------------------------------------------------------------------------------

    def _callable(self, rpc: _ops.Rpc, streaming: bool = False) -> Any:
        key = f"{rpc.path}#stream" if streaming else rpc.path
        fn = self._callables.get(key)
        if fn is None:
            if self._channel is None:
                self._channel = _transport.open_aio_channel(
                    self.address, self._settings.max_message_bytes, self._settings.security
                )
            factory = self._channel.stream_unary if streaming else self._channel.unary_unary
            fn = factory(
                rpc.path, request_serializer=rpc.serialize, response_deserializer=rpc.deserialize
            )
            self._callables[key] = fn
        return fn

    async def _unary(self, call: _ops.Call[T], timeout: Timeout) -> T:
        fn = self._callable(call.rpc)
        attempts = _transport.Attempts(self._settings, timeout)
        while True:
            try:
                response = await fn(
                    call.request, timeout=attempts.remaining(), metadata=attempts.metadata
                )
            except grpc.RpcError as exc:
                err = _transport.error_from_rpc(exc, attempts.request_id)
                delay = attempts.retry_delay(err)
                if delay is None:
                    raise err from None
                await asyncio.sleep(delay)
            else:
                return call.parse(response)

    async def _stream(
        self, upload: _ops.Upload, progress: Callable[[int], None] | None, timeout: Timeout
    ) -> UpdateResult:
        attempts = _transport.Attempts(self._settings, timeout)
        call = self._callable(upload.rpc, streaming=True)(
            timeout=attempts.remaining(), metadata=attempts.metadata
        )
        sent = 0
        try:
            for request, n in upload.requests():
                try:
                    await call.write(request)
                except asyncio.InvalidStateError:
                    break  # the call already ended; awaiting it below raises its error
                sent = n
                if progress is not None:
                    progress(sent)
            else:
                await call.done_writing()
            response = await call
        except grpc.RpcError as exc:
            err = _transport.error_from_rpc(exc, attempts.request_id)
            raise _transport.upload_error(err, sent, upload.total) from None
        except BaseException as exc:
            # Cancel rather than half-close, which would read as a finished upload.
            call.cancel()
            if isinstance(exc, VecdbError):
                _transport.upload_error(exc, sent, upload.total)
            raise
        return upload.parse(response)

    # -- health and admin -------------------------------------------------------------------------

    async def health(self, service: str = "", *, timeout: Timeout = ...) -> str:
        """The grpc.health.v1 status of the server (service ""): "SERVING", "NOT_SERVING" or
        "UNKNOWN" ("SERVICE_UNKNOWN" is possible for a named `service`).

        >>> await client.health()
        'SERVING'
        """
        return await self._unary(_ops.health(service), timeout)

    async def server_info(self, *, timeout: Timeout = ...) -> ServerInfo:
        """The server's version, data directory, capabilities and limits.

        >>> (await client.server_info()).version
        '0.1.0'
        """
        return await self._unary(_ops.server_info(), timeout)

    async def stats(
        self, collection: str | None = None, *, timeout: Timeout = ...
    ) -> list[CollectionStats]:
        """Statistics of one collection, or of every collection when `collection` is None.

        >>> await client.stats("docs")
        [CollectionStats(name='docs', points_count=1000, ...)]
        """
        return await self._unary(_ops.stats(collection), timeout)

    async def checkpoint(self, collection: str, *, timeout: Timeout = ...) -> int:
        """Write every index checkpoint of a collection now; returns the sequence they reflect.

        >>> await client.checkpoint("docs")
        42
        """
        return await self._unary(_ops.checkpoint(collection), timeout)

    async def retrain_quantization(
        self, collection: str, field: str, *, timeout: Timeout = ...
    ) -> FieldStats:
        """Re-train a quantized field's codebook on every stored original and rebuild its codes
        (after a bulk load, or when the data has drifted); returns the field's new statistics.

        >>> await client.retrain_quantization("docs", "embedding").codebook["trained_on"]
        100000
        """
        return await self._unary(_ops.retrain_quantization(collection, field), timeout)

    # -- collections ------------------------------------------------------------------------------

    async def create_collection(
        self,
        name: str,
        vectors: VectorParams | dict[str, VectorParams],
        *,
        payload_indexes: dict[str, str] | None = None,
        timeout: Timeout = ...,
    ) -> CollectionInfo:
        """Create a collection. A single VectorParams makes one field named "default".

        >>> await client.create_collection("docs", VectorParams(384))
        CollectionInfo(name='docs', ...)
        """
        return await self._unary(_ops.create_collection(name, vectors, payload_indexes), timeout)

    async def get_collection(self, name: str, *, timeout: Timeout = ...) -> CollectionInfo:
        """A collection's schema and counters; raises CollectionNotFound if it does not exist.

        >>> (await client.get_collection("docs")).points_count
        1000
        """
        return await self._unary(_ops.get_collection(name), timeout)

    async def list_collections(self, *, timeout: Timeout = ...) -> list[CollectionInfo]:
        """Every collection.

        >>> [c.name for c in await client.list_collections()]
        ['docs']
        """
        return await self._unary(_ops.list_collections(), timeout)

    async def delete_collection(self, name: str, *, timeout: Timeout = ...) -> bool:
        """Drop a collection and its data; False if it did not exist.

        >>> await client.delete_collection("docs")
        True
        """
        return await self._unary(_ops.delete_collection(name), timeout)

    async def collection_exists(self, name: str, *, timeout: Timeout = ...) -> bool:
        """Whether a collection exists.

        >>> await client.collection_exists("docs")
        True
        """
        return await self._unary(_ops.collection_exists(name), timeout)

    # -- points -----------------------------------------------------------------------------------

    async def upsert(
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
        """Insert or replace points in one atomic request (a bare array is the field "default";
        vectors=None when every field takes its vectors from `texts` or a payload key).

        >>> await client.upsert("docs", [1, 2], np.random.rand(2, 384))
        UpdateResult(sequence=7, count=2, truncated=[])
        >>> await client.upsert("notes", [1, 2], texts=["first note", "second note"])
        UpdateResult(sequence=8, count=2, truncated=[])
        """
        return await self._unary(
            _ops.upsert(collection, ids, vectors, payloads, texts, models, chunking), timeout
        )

    async def upload(
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

        `progress(points_sent_so_far)` runs on the event loop after each batch is written. The
        timeout covers the whole stream; the stream is never retried. `models` goes with every
        batch; `truncated` positions are within the whole upload.

        >>> await client.upload("docs", ids, vectors, batch_size=5000, timeout=None)
        UpdateResult(sequence=20, count=100000, truncated=[])
        """
        plan = _ops.upload(collection, ids, vectors, payloads, texts, batch_size, models)
        return await self._stream(plan, progress, timeout)

    async def get(
        self,
        collection: str,
        ids: Sequence[int | str],
        *,
        with_payload: bool = True,
        with_vectors: bool | Sequence[str] = False,
        timeout: Timeout = ...,
    ) -> list[Record]:
        """Points by id, in request order; ids that do not exist are left out.

        >>> [r.id for r in await client.get("docs", [1, 2, 99])]
        [1, 2]
        """
        return await self._unary(_ops.get(collection, ids, with_payload, with_vectors), timeout)

    async def delete(
        self,
        collection: str,
        ids: Sequence[int | str] | None = None,
        *,
        filter: dict[str, Any] | None = None,
        timeout: Timeout = ...,
    ) -> UpdateResult:
        """Delete points by id or by filter (exactly one of the two); missing ids are ignored.

        >>> await client.delete("docs", [1, 2])
        UpdateResult(sequence=8, count=2)
        """
        return await self._unary(_ops.delete(collection, ids, filter), timeout)

    async def count(
        self, collection: str, filter: dict[str, Any] | None = None, *, timeout: Timeout = ...
    ) -> int:
        """The number of points, or of points matching `filter`.

        >>> await client.count("docs")
        1000
        """
        return await self._unary(_ops.count(collection, filter), timeout)

    async def scroll(
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

        >>> page = await client.scroll("docs", limit=100)
        """
        return await self._unary(
            _ops.scroll(collection, filter, limit, offset, with_payload, with_vectors), timeout
        )

    # -- query ------------------------------------------------------------------------------------

    async def query(
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
        """Nearest neighbours of `vector`, of the stored vector of `point`, or of `text`
        (encoded by the server with the field's model), best first; exactly one of the three.
        Hybrid queries (prefetch, fusion, rerank, diversity) work as in `Client.query`.

        >>> hits = await client.query("docs", q, limit=5, with_payload=True)
        >>> hits = await client.query("notes", text="where did I park?", limit=3)
        """
        return await self._unary(
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

    async def query_batch(
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
        """Many queries in one call, answers in order: one per row of `vectors` (q, dim), or one
        per text of `texts` (exactly one of the two).

        >>> batches = await client.query_batch("docs", np.random.rand(3, 384), limit=5)
        >>> batches = await client.query_batch("notes", texts=["parking", "lunch"], limit=2)
        """
        return await self._unary(
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

    async def encode(
        self,
        texts: Sequence[str],
        *,
        kind: str = "dense",
        model: str | None = None,
        role: str = "document",
        timeout: Timeout = ...,
    ) -> list[Encoded]:
        """Encode texts with the server's embedded encoder; one `Encoded` per text, in order.

        kind: "dense" | "multi" | "sparse"; model: None for the server's default; role:
        "document" | "query". texts must be a list of str.

        >>> [e.vector.shape for e in await client.encode(["a short text", "another"])]
        [(384,), (384,)]
        """
        return await self._unary(_ops.encode(texts, kind, model, role), timeout)

    async def list_models(self, *, timeout: Timeout = ...) -> list[ModelInfo]:
        """The encoder models the server serves, with their dimension, window and content hash.

        >>> [m.name for m in await client.list_models()]
        ['all-MiniLM-L6-v2']
        """
        return await self._unary(_ops.list_models(), timeout)

    # -- semantic cache (issue 7) -----------------------------------------------------------------

    async def cache_lookup(
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

        >>> r = await client.cache_lookup("How do I reverse a list in Python?", category="code", model="gpt-4o")
        >>> r.answer if r.hit else r.similarity
        'Use xs[::-1] or xs.reverse().'
        """
        return await self._unary(_cache_ops.lookup(prompt, vector, category, model), timeout)

    async def cache_store(
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

        >>> await client.cache_store("How do I reverse a list in Python?", "Use xs[::-1].",
        ...                    category="code", model="gpt-4o", metadata={"lang": "python"})
        CacheEntryRef(entry_id='3f0c…', category='code')
        """
        return await self._unary(
            _cache_ops.store(prompt, answer, category, model, metadata, vector), timeout
        )

    async def cache_invalidate(
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

        >>> await client.cache_invalidate(filter={"must": [{"key": "lang", "match": {"value": "perl"}}]})
        3
        """
        return await self._unary(_cache_ops.invalidate(entry_id, category, model, filter), timeout)

    async def cache_stats(
        self, category: str | None = None, *, timeout: Timeout = ...
    ) -> list[CacheCategoryStats]:
        """Per-category counters (hits, misses, near-misses, false hits, evictions, expiries),
        sizes, effective threshold and TTL (after load adaptation) and lookup latency.

        >>> [(s.category, s.hits, s.misses) for s in await client.cache_stats()]
        [('code', 12, 40), ('default', 3, 9)]
        """
        return await self._unary(_cache_ops.stats(category), timeout)

    async def cache_get_policy(self, category: str, *, timeout: Timeout = ...) -> CachePolicy:
        """A category's cache policy (a category without one answers the default policy).

        >>> await client.cache_get_policy("code").threshold
        0.95
        """
        return await self._unary(_cache_ops.get_policy(category), timeout)

    async def cache_set_policy(self, policy: CachePolicy, *, timeout: Timeout = ...) -> CachePolicy:
        """Replace a category's cache policy as a whole; returns it as stored. A threshold
        outside [0, 1] or a negative TTL raises InvalidArgument and changes nothing.

        >>> await client.cache_set_policy(CachePolicy("prices", threshold=0.97, ttl_seconds=300,
        ...                                     exact_match_only=True))
        """
        return await self._unary(_cache_ops.set_policy(policy), timeout)

    async def cache_report_load(self, model: str, load: float, *, timeout: Timeout = ...) -> None:
        """Report an LLM's current load in [0, 1]: above the policies' high watermark its
        categories relax their thresholds and extend their TTLs, within bounds; below the low
        watermark they revert. `cache_stats` shows the effect.

        >>> await client.cache_report_load("gpt-4o", 0.93)
        """
        return await self._unary(_cache_ops.report_load(model, load), timeout)

    async def cache_report_false_hit(self, entry_id: str, *, timeout: Timeout = ...) -> None:
        """Report that a hit's answer did not fit its prompt (counted as a false hit of its
        category). An unknown entry id raises NotFound.

        >>> await client.cache_report_false_hit(r.entry_id)
        """
        return await self._unary(_cache_ops.report_false_hit(entry_id), timeout)

    # -- snapshots (issue 9) ------------------------------------------------------------------------

    async def create_snapshot(self, collection: str | None = None, *, timeout: Timeout = ...) -> SnapshotInfo:
        """Snapshot one collection, or (None) every collection, into one file on the server, while
        reads and writes go on; each collection is copied at one point in time.

        >>> info = await client.create_snapshot("docs")
        """
        return await self._unary(_snapshot_ops.create(collection), timeout)

    async def list_snapshots(self, collection: str | None = None, *, timeout: Timeout = ...) -> list[SnapshotInfo]:
        """The server's snapshots, oldest first; with `collection`, those holding it.

        >>> [s.name for s in await client.list_snapshots("docs")]
        """
        return await self._unary(_snapshot_ops.list_snapshots(collection), timeout)

    async def delete_snapshot(self, name: str, *, timeout: Timeout = ...) -> None:
        """Remove a snapshot; NotFound for an unknown name.

        >>> await client.delete_snapshot(info.name)
        """
        return await self._unary(_snapshot_ops.delete(name), timeout)

    async def restore_snapshot(
        self, name: str, *, collection: str | None = None, overwrite: bool = False, timeout: Timeout = ...
    ) -> RestoredCollection:
        """Restore a collection from a snapshot into the running server, under its own name
        (see `Client.restore_snapshot`).

        >>> (await client.restore_snapshot(info.name, overwrite=True)).points_count
        """
        return await self._unary(_snapshot_ops.restore(name, collection, overwrite), timeout)

    async def download_snapshot(
        self, name: str, path: str | os.PathLike[str], *, chunk_bytes: int = 0, timeout: Timeout = ...
    ) -> SnapshotInfo:
        """Download a snapshot file to `path`, checked against its size and SHA-256 (see
        `Client.download_snapshot`). File writes happen on the event loop's thread in chunks of
        `chunk_bytes` (1 MiB by default).

        >>> await client.download_snapshot(info.name, "backups/")
        """
        plan = _snapshot_ops.download(name, path, chunk_bytes)
        key = f"{plan.rpc.path}#download"
        fn = self._callables.get(key)
        if fn is None:
            self._callable(_snapshot_ops.CREATE_SNAPSHOT)  # opens the channel on this loop
            assert self._channel is not None
            fn = self._channel.unary_stream(
                plan.rpc.path, request_serializer=plan.rpc.serialize, response_deserializer=plan.rpc.deserialize
            )
            self._callables[key] = fn
        attempts = _transport.Attempts(self._settings, timeout)
        sink = _snapshot_ops.Download(plan.path)
        try:
            async for chunk in fn(plan.request, timeout=attempts.remaining(), metadata=attempts.metadata):
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
