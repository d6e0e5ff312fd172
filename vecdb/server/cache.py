"""The Cache service: the semantic cache for LLM answers (issue 7) over gRPC.

`ServerCache` owns the server's one `vecdb.cache.SemanticCache`, kept at <data_dir>/cache and
fed by the server's default encoder model (its vectors are only comparable with that model's,
so the cache records "<model name>@<weights hash>" and drops stored vectors when it changes). It
opens at start-up when models are preloaded (health reports "vecdb.v1.Cache" SERVING only once
it answers), else on the first cache call, like the encoder's models. Expired entries are swept
periodically (setting cache_sweep_interval_s) and the cache closes after the executors drain.

Prompts are encoded by the servicer before the executor hop, through the server's
micro-batcher (the encoder executor, batched with every other encode call), as text queries
are: no search or write thread waits for the encoder. The cache also gets a synchronous encoder
for the texts it encodes itself (policy examples, for the classifier): it runs the same
micro-batcher from the executor thread and waits.

`CacheService` is thin: parse (convert_cache), encode a text prompt, one executor hop for the
cache call and the answer's conversion, return. Lookups run in the search executor; writes, stats and policy work
in the write executor.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import numpy as np
from grpc import aio

from vecdb.engine.errors import FailedPrecondition
from vecdb.server import convert_cache as convert
from vecdb.server.errors import ServerUnavailable
from vecdb.server.executors import run_in
from vecdb.server.state import ServerState
from vecdb.v1.cache_service_pb2_grpc import CacheServicer

if TYPE_CHECKING:
    from vecdb.cache.cache import CacheOptions, SemanticCache

__all__ = ["CACHE_FOLDER", "CACHE_SERVICE", "CacheService", "ServerCache"]

log = logging.getLogger("vecdb.server.cache")

CACHE_FOLDER = "cache"
"""The cache's folder under the server's data_dir."""

CACHE_SERVICE = "vecdb.v1.Cache"

HealthSetter = Callable[[bool], Awaitable[None]]


class ServerCache:
    """The server's semantic cache: opened once, swept periodically, closed on stop.

    `set_health(serving)` is awaited when the cache's availability changes (the server points
    it at the health service).
    """

    def __init__(self, state: ServerState, set_health: HealthSetter | None = None) -> None:
        self._state = state
        self._set_health = set_health
        self._cache: SemanticCache | None = None
        self._failure: str | None = None
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._model_name: str | None = None
        self._closed = False

    @property
    def enabled(self) -> bool:
        return self._state.settings.cache_enabled

    def lmdb_env(self) -> Any:
        """The open cache's LMDB environment (for whole-server snapshots); None when closed."""
        return None if self._cache is None or self._closed else self._cache.store_backend().env

    @property
    def metrics_registry(self) -> Any:
        """The open cache's Prometheus CollectorRegistry; None while it is closed or disabled."""
        return None if self._cache is None else self._cache.metrics.registry

    @functools.cached_property
    def options(self) -> CacheOptions:
        """The cache options implied by the server settings."""
        from vecdb.cache.cache import CacheOptions
        from vecdb.cache.policy import CachePolicy

        s = self._state.settings
        return CacheOptions(
            max_answer_bytes=s.cache_max_answer_bytes,
            default_policy=CachePolicy("default", threshold=s.cache_default_threshold,
                                       ttl_seconds=s.cache_default_ttl_s),
        )

    async def get(self) -> SemanticCache:
        """The open cache, opening it on first use; the errors a call should answer otherwise."""
        if not self.enabled:
            raise FailedPrecondition(
                "the semantic cache is disabled on this server (setting cache_enabled = false); "
                "start it with VECDB_CACHE_ENABLED=1"
            )
        self._state.database  # noqa: B018 -- UNAVAILABLE while the server opens or stops
        if self._closed:
            raise ServerUnavailable("the server is shutting down; retry against another instance or later")
        cache = self._cache
        if cache is not None:
            return cache
        return await self.open()

    async def open(self) -> SemanticCache:
        """Open the cache (once; concurrent callers wait for the same open). A failure is kept
        and answered as UNAVAILABLE with the reason, and health turns NOT_SERVING."""
        async with self._lock:
            if self._cache is not None:
                return self._cache
            if self._failure is not None:
                raise ServerUnavailable(f"the semantic cache failed to open: {self._failure}; see the server log")
            try:
                self._cache = await self._open()
            except Exception as exc:
                self._failure = f"{type(exc).__name__}: {exc}"
                log.exception("opening the semantic cache failed")
                if self._set_health is not None:
                    await self._set_health(False)
                raise ServerUnavailable(f"the semantic cache failed to open: {self._failure}; see the server log") from exc
            return self._cache

    async def _open(self) -> SemanticCache:
        from vecdb.cache.cache import SemanticCache

        self._loop = asyncio.get_running_loop()
        text_fields = self._state.text_fields
        model = await text_fields.model(None)  # loads the default model in the encoder executor
        info = model.info
        self._model_name = info.name
        path = self._state.settings.data_dir / CACHE_FOLDER
        options = self.options
        encoder = self._encoder()

        def build() -> SemanticCache:
            return SemanticCache(path, dim=info.dim, encoder=encoder, encoder_id=f"{info.name}@{info.hash}",
                                 options=options)

        cache = await run_in(self._state.executors.write, build)
        log.info("semantic cache open at %s (encoder %s, %d-d)", path, info.name, info.dim)
        return cache

    async def encode(self, texts: list[str]) -> np.ndarray:
        """texts -> (n, dim) float32 with the cache's encoder (the default model, as queries),
        through the server's micro-batcher in slices it accepts. Call on the event loop."""
        from vecdb.encoder import EncodeKind, TextRole

        text_fields = self._state.text_fields
        name = self._model_name or text_fields.registry.resolve(None)
        step = text_fields.registry.limits.max_texts
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), step):
            encoded = await text_fields.batcher.encode(name, texts[start:start + step], {EncodeKind.DENSE},
                                                       TextRole.QUERY)
            rows += [e.dense for e in encoded]  # type: ignore[misc]
        return np.stack(rows).astype(np.float32, copy=False) if rows else np.empty((0, 0), np.float32)

    def _encoder(self) -> Callable[[list[str]], np.ndarray]:
        """The synchronous encoder the cache calls from executor threads: it runs `encode` on the
        event loop and waits (never call it on the loop itself)."""

        def encode(texts: list[str]) -> np.ndarray:
            loop = self._loop
            if loop is None or loop.is_closed():
                raise ServerUnavailable("the encoder is not running")
            future: Future[np.ndarray] = asyncio.run_coroutine_threadsafe(self.encode(list(texts)), loop)
            return future.result()

        return encode

    async def sweep_loop(self, interval_s: float) -> None:
        """Remove expired entries every `interval_s` seconds (only once the cache is open)."""
        while True:
            await asyncio.sleep(interval_s)
            cache = self._cache
            if cache is None or self._closed:
                continue
            try:
                removed = await run_in(self._state.executors.write, cache.sweep)
                if removed:
                    log.info("cache sweep removed %s expired entries", removed)
            except Exception:
                log.exception("background cache sweep failed")

    def close(self) -> None:
        """Close the cache; blocking (LMDB). Call after the executors have drained."""
        self._closed = True
        cache, self._cache = self._cache, None
        if cache is not None:
            cache.close()


class CacheService(CacheServicer):
    def __init__(self, state: ServerState, cache: ServerCache) -> None:
        self._state = state
        self._cache = cache

    async def _write(self, fn: Callable[[], Any]) -> Any:
        return await run_in(self._state.executors.write, fn)

    async def Lookup(self, request: Any, context: aio.ServicerContext) -> Any:
        """A text prompt is encoded here first (as query.py does), so no search thread waits for
        the encoder; the cache still tries the exact match before the vector. A category that
        matches exactly only needs no vector at all."""
        args = convert.lookup_args(request, max_prompt_bytes=self._cache.options.max_prompt_bytes)
        cache = await self._cache.get()
        vector = args.vector
        if vector is None and not (args.category and cache.get_policy(args.category).exact_match_only):
            assert args.prompt is not None
            vector = (await self._cache.encode([args.prompt]))[0]

        def lookup() -> Any:
            return convert.lookup_response(
                cache.lookup(args.prompt, vector=vector, category=args.category, model=args.model)
            )

        return await run_in(self._state.executors.search, lookup)

    async def Store(self, request: Any, context: aio.ServicerContext) -> Any:
        """The prompt is encoded here, before the write executor: the one write thread (shared
        with collection writes) never waits for the encoder."""
        options = self._cache.options
        args = convert.store_args(request, max_prompt_bytes=options.max_prompt_bytes,
                                  max_answer_bytes=options.max_answer_bytes,
                                  max_metadata_bytes=options.max_metadata_bytes)
        cache = await self._cache.get()
        vector = args.vector
        if vector is None:
            vector = (await self._cache.encode([args.prompt]))[0]
        return await self._write(lambda: convert.store_response(cache.store(
            args.prompt, args.answer, category=args.category, model=args.model, metadata=args.metadata,
            vector=vector,
        )))

    async def Invalidate(self, request: Any, context: aio.ServicerContext) -> Any:
        args = convert.invalidate_args(request)
        cache = await self._cache.get()
        return await self._write(lambda: convert.invalidate_response(cache.invalidate(
            entry_id=args.entry_id, category=args.category, model=args.model, filter=args.filter,
        )))

    async def Stats(self, request: Any, context: aio.ServicerContext) -> Any:
        only = convert.stats_category(request)
        cache = await self._cache.get()

        def stats() -> Any:
            return convert.stats_response([s for s in cache.stats() if only is None or s.category == only])

        return await self._write(stats)

    async def GetPolicy(self, request: Any, context: aio.ServicerContext) -> Any:
        category = convert.get_policy_category(request)
        cache = await self._cache.get()
        return await self._write(lambda: convert.policy_message(cache.get_policy(category)))

    async def SetPolicy(self, request: Any, context: aio.ServicerContext) -> Any:
        policy = convert.policy(request)
        cache = await self._cache.get()
        return await self._write(lambda: convert.policy_message(cache.set_policy(policy)))

    async def ReportLoad(self, request: Any, context: aio.ServicerContext) -> Any:
        model, load = convert.load_report(request)
        cache = await self._cache.get()
        await self._write(lambda: cache.report_load(model, load))
        return convert.report_load_response()

    async def ReportFalseHit(self, request: Any, context: aio.ServicerContext) -> Any:
        entry_id = convert.false_hit_entry(request)
        cache = await self._cache.get()
        await self._write(lambda: cache.report_false_hit(entry_id))
        return convert.report_false_hit_response()
