"""The gRPC application: assemble, start, serve and stop the vecdb server.

Start-up order matters: the port is bound and the server started first, with health reporting
NOT_SERVING, and only then is the database opened (recovery may replay many mutations) in the
write executor. When it is open, health turns SERVING for "" and every vecdb.v1 service. The
semantic cache (vecdb.v1.Cache) opens after the database when models are preloaded, and its
health turns SERVING only once it is open (else it opens on the first cache call); expired cache
entries are swept in the background like the periodic checkpoints. Stop runs in reverse: health
NOT_SERVING, grpc stops taking calls and lets in-flight ones finish within the grace period, the
executors drain, and the cache and the database close (checkpointing indexes).

Security and observability (issue 9): API keys with roles are checked in the interceptor
(`vecdb.server.auth`); with `tls_cert_file` / `tls_key_file` the port speaks TLS only (and
requires client certificates signed by `tls_client_ca_file` when that is set). Prometheus
metrics are served on `metrics_port` (`vecdb.server.metrics`) from start to stop; a port that
cannot be bound is logged and the server runs without metrics. Logs are text or JSON lines, each
carrying the request id of the call that wrote it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from vecdb.server.admin import AdminService
from vecdb.server.auth import Authenticator
from vecdb.server.cache import CACHE_SERVICE, CacheService, ServerCache
from vecdb.server.collections import CollectionsService
from vecdb.server.convert_to_proto import SERVICE_NAMES
from vecdb.server.encoder import EncoderService
from vecdb.server.errors import ServerUnavailable, VecdbInterceptor
from vecdb.server.executors import Executors, run_in
from vecdb.server.metrics import MetricsServer, ServerMetrics, install_request_ids
from vecdb.server.metrics import configure_logging as _configure_logging
from vecdb.server.points import PointsService
from vecdb.server.query import QueryService
from vecdb.server.settings import Settings, format_address
from vecdb.server.state import ServerState
from vecdb.v1.admin_service_pb2_grpc import add_AdminServicer_to_server
from vecdb.v1.cache_service_pb2_grpc import add_CacheServicer_to_server
from vecdb.v1.collections_service_pb2_grpc import add_CollectionsServicer_to_server
from vecdb.v1.encoder_service_pb2_grpc import add_EncoderServicer_to_server
from vecdb.v1.points_service_pb2_grpc import add_PointsServicer_to_server
from vecdb.v1.query_service_pb2_grpc import add_QueryServicer_to_server

if TYPE_CHECKING:
    from vecdb.engine.database import Database
    from vecdb.server.text_fields import TextFields

__all__ = ["VecdbServer", "build_server", "configure_logging", "run_forever"]

log = logging.getLogger("vecdb.server")

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class VecdbServer:
    """One running vecdb gRPC server.

    `database`: an already open Database to serve (tests); the caller keeps ownership and closes
    it. Without one, the server opens `settings.data_dir` after binding and closes it on stop.
    """

    def __init__(self, settings: Settings, *, database: Database | None = None) -> None:
        self.settings = settings
        install_request_ids()  # every log record names the call it was written for
        # Raises ValueError (naming the file and line, never a key) for a bad key file.
        self.authenticator = Authenticator.from_settings(
            settings.api_keys, settings.api_keys_file, settings.auth_exempt_health, settings.auth_exempt_reflection
        )
        self._server_credentials = _server_credentials(settings)
        self._executors = Executors.create(
            search_workers=settings.search_workers, write_workers=settings.write_workers
        )
        self._state = ServerState(settings, self._executors)
        self._cache = ServerCache(self._state, self._set_cache_health)
        self._given_database = database
        self._owns_database = database is None
        self._health = health.aio.HealthServicer()
        self.metrics = ServerMetrics(
            database=lambda: self._state.database_or_none if self._state.ready else None,
            cache_registry=self._cache_registry,
        )
        self._metrics_server: MetricsServer | None = None
        self._server = aio.server(
            interceptors=[VecdbInterceptor(settings.max_concurrent_rpcs, authenticator=self.authenticator,
                                           metrics=self.metrics)],
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
                # Without this a second server on the same port starts silently and the kernel
                # splits connections between the two (and their views of the data).
                ("grpc.so_reuseport", 0),
            ],
        )
        self._port: int | None = None
        self._ready = asyncio.Event()
        self._open_error: BaseException | None = None
        self._open_task: asyncio.Task[None] | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._terminated = asyncio.Event()
        self._register()

    def _register(self) -> None:
        add_CollectionsServicer_to_server(CollectionsService(self._state), self._server)
        add_PointsServicer_to_server(PointsService(self._state), self._server)
        add_QueryServicer_to_server(QueryService(self._state), self._server)
        add_AdminServicer_to_server(AdminService(self._state, cache_env=self._cache.lmdb_env), self._server)
        add_EncoderServicer_to_server(EncoderService(self._state), self._server)
        add_CacheServicer_to_server(CacheService(self._state, self._cache), self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            self._server,
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (the real one when settings.port is 0)."""
        if self._port is None:
            raise RuntimeError("the server has not been started")
        return self._port

    @property
    def address(self) -> str:
        return format_address(self.settings.host, self.port)

    @property
    def metrics_port(self) -> int | None:
        """The port serving /metrics, or None when metrics are off or could not be bound."""
        return None if self._metrics_server is None else self._metrics_server.port

    def _cache_registry(self) -> object | None:
        return self._cache.metrics_registry

    @property
    def ready(self) -> bool:
        """Whether the database is open and data calls are served."""
        return self._state.ready

    async def start(self) -> int:
        """Bind, start serving (health NOT_SERVING), and begin opening the database. Returns the port."""
        for service in ("", *SERVICE_NAMES):
            await self._health.set(service, _NOT_SERVING)
        address = format_address(self.settings.host, self.settings.port)
        try:
            if self._server_credentials is not None:
                port: int = self._server.add_secure_port(address, self._server_credentials)
            else:
                port = self._server.add_insecure_port(address)
        except RuntimeError as exc:
            raise OSError(f"cannot bind {address}: {exc}") from exc
        if port == 0:
            raise OSError(f"cannot bind {address}: the port is in use or the address is not local")
        self._port = port
        self._state.set_text_fields(_text_fields(self.settings, self._executors))
        await self._server.start()
        self._start_metrics()
        if self.authenticator.enabled:
            log.info("API keys: %d configured; health %s, reflection %s", len(self.authenticator.keys),
                     "open" if self.settings.auth_exempt_health else "needs a key",
                     "open" if self.settings.auth_exempt_reflection else "needs a key")
        else:
            log.info("API keys: none configured, authentication is off")
        self._open_task = asyncio.create_task(self._open(), name="vecdb-open-database")
        return port

    def _start_metrics(self) -> None:
        if self.settings.metrics_port == 0:
            return
        try:
            self._metrics_server = MetricsServer(self.metrics.registry, self.settings.host, self.settings.metrics_port)
        except OSError as exc:
            log.warning("metrics are off: cannot bind %s for /metrics (%s); set metrics_port to a free port, "
                        "or 0 to disable metrics", format_address(self.settings.host, self.settings.metrics_port), exc)
            return
        log.info("metrics on http://%s/metrics", format_address(self.settings.host, self._metrics_server.port))

    async def _open(self) -> None:
        try:
            db = self._given_database
            if db is None:
                db = await run_in(self._executors.write, _open_database, self.settings)
            if self.settings.preload_models:
                # Health says SERVING only once the default model answers too.
                await self._state.text_fields.model(None)
            self._state.set_database(db)
            cache_serving = await self._open_cache()
            for service in ("", *SERVICE_NAMES):
                serving = cache_serving if service == CACHE_SERVICE else True
                await self._health.set(service, _SERVING if serving else _NOT_SERVING)
            if self.settings.checkpoint_interval_s > 0:
                self._checkpoint_task = asyncio.create_task(self._checkpoint_loop(), name="vecdb-checkpoints")
            if self.settings.cache_enabled and self.settings.cache_sweep_interval_s > 0:
                self._sweep_task = asyncio.create_task(
                    self._cache.sweep_loop(self.settings.cache_sweep_interval_s), name="vecdb-cache-sweep"
                )
            log.info("database open at %s; serving on %s", self.settings.data_dir, self.address)
        except Exception as exc:
            self._open_error = exc
            self._state.set_failed(f"{type(exc).__name__}: {exc}")
            log.exception("opening the database at %s failed", self.settings.data_dir)
        finally:
            self._ready.set()

    async def _open_cache(self) -> bool:
        """Open the semantic cache now when models are preloaded; whether Cache is SERVING.

        A cache that fails to open leaves the rest of the server serving: its calls answer
        UNAVAILABLE with the reason and its health is NOT_SERVING. Without preloading the cache
        opens on its first call (loading the encoder model then).
        """
        if not self.settings.cache_enabled:
            return False
        if not self.settings.preload_models:
            return True
        try:
            await self._cache.open()
        except ServerUnavailable:
            return False  # open() logged the reason and keeps answering it
        return True

    async def _set_cache_health(self, serving: bool) -> None:
        await self._health.set(CACHE_SERVICE, _SERVING if serving else _NOT_SERVING)

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until the database is open; re-raise the error if opening failed."""
        await asyncio.wait_for(self._ready.wait(), timeout)
        if self._open_error is not None:
            raise RuntimeError(f"the database failed to open: {self._open_error}") from self._open_error

    async def _checkpoint_loop(self) -> None:
        """Checkpoint every collection's indexes periodically; the engine skips unchanged ones."""
        while True:
            await asyncio.sleep(self.settings.checkpoint_interval_s)
            try:
                await run_in(self._executors.write, self._state.database.checkpoint_all)
            except Exception:
                log.exception("background checkpoint failed")

    async def stop(self, grace: float | None = None) -> None:
        """Stop gracefully: in-flight calls get `grace` seconds (default settings.grace_period_s).

        Safe to call more than once and concurrently; later calls wait for the first.
        """
        if self._stop_task is None:
            self._stop_task = asyncio.create_task(self._stop(self.settings.grace_period_s if grace is None else grace))
        await asyncio.shield(self._stop_task)

    async def _stop(self, grace: float) -> None:
        try:
            await self._health.enter_graceful_shutdown()
            if self._checkpoint_task is not None:
                self._checkpoint_task.cancel()
            if self._sweep_task is not None:
                self._sweep_task.cancel()
            await self._server.stop(grace)
            self._state.set_closing()
            await self._state.text_fields.batcher.close()
            if self._open_task is not None:
                await self._open_task  # an open in progress finishes before close
            loop = asyncio.get_running_loop()
            # Drain both pools first (calls cancelled by the grace deadline may still be running
            # in them), so the database closes with no engine call in flight.
            await loop.run_in_executor(None, self._executors.shutdown)
            try:
                await loop.run_in_executor(None, self._cache.close)
            except Exception:
                log.exception("closing the semantic cache failed")
            db = self._state.database_or_none
            if db is not None and self._owns_database:
                try:
                    await loop.run_in_executor(None, db.close)
                except Exception:
                    log.exception("closing the database failed")
        finally:
            metrics_server, self._metrics_server = self._metrics_server, None
            if metrics_server is not None:
                await asyncio.get_running_loop().run_in_executor(None, metrics_server.stop)
            self._terminated.set()
        log.info("vecdb stopped")

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        """Wait until `stop` has finished; True if `timeout` ran out first.

        Cancelling this wait is safe. (Cancelling grpc's own Server.wait_for_termination cancels
        the server's shared shutdown future and breaks a later stop, so it is not used.)
        """
        try:
            await asyncio.wait_for(self._terminated.wait(), timeout)
        except TimeoutError:
            return True
        return False


def _text_fields(settings: Settings, executors: Executors) -> TextFields:
    """The encoder: a registry that loads models on first use, and the micro-batcher in front."""
    from vecdb.encoder import EncoderLimits, MicroBatcher, ModelRegistry, ModelSpec
    from vecdb.server.text_fields import TextFields

    registry = ModelRegistry(
        [ModelSpec(name=name, source=source, kind=kind) for name, source, kind in settings.model_specs()],
        default=settings.default_model,
        device=settings.device,
        limits=EncoderLimits(max_texts=settings.max_texts_per_call, max_text_bytes=settings.max_text_bytes),
    )
    batcher = MicroBatcher(registry, executors.encoder, max_batch=settings.encoder_max_batch,
                           max_wait_ms=settings.encoder_max_wait_ms)
    return TextFields(registry, batcher, executors.encoder)


def _read_pem(path: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"setting {setting} = {path!r}: cannot read the file ({exc.strerror})") from None


def _server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials from the PEM files the settings name; None without TLS."""
    if not settings.tls_enabled:
        return None
    chain = _read_pem(settings.tls_cert_file, "tls_cert_file")
    key = _read_pem(settings.tls_key_file, "tls_key_file")
    client_ca = _read_pem(settings.tls_client_ca_file, "tls_client_ca_file") if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def _open_database(settings: Settings) -> Database:
    from vecdb.engine.database import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(settings.data_dir, settings.engine_options())


async def build_server(settings: Settings, *, database: Database | None = None) -> VecdbServer:
    """Create and start a server; `.port` is the bound port (bind port 0 in tests).

    The database opens in the background: await `server.wait_ready()` before data calls, or poll
    the health service.
    """
    server = VecdbServer(settings, database=database)
    await server.start()
    return server


# ---- process entry ---------------------------------------------------------------------------

def configure_logging(level: str, fmt: str = "text") -> None:
    """Root logging to stderr: text or JSON lines, each with the request id (see metrics.py)."""
    _configure_logging(level, fmt)


def run_forever(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then stop gracefully. Used by `vecdb serve`.

    Exits with status 1 when the database cannot be opened or the port cannot be bound.
    """
    configure_logging(settings.log_level, settings.log_format)
    code = asyncio.run(_serve(settings))
    if code:
        raise SystemExit(code)


async def _serve(settings: Settings) -> int:
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop_requested.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on this platform
            pass

    try:
        server = await build_server(settings)
    except (OSError, ValueError) as exc:  # a port in use, an unreadable key or certificate file
        log.error("%s", exc)
        return 1
    log.info("listening on %s; opening the database at %s", server.address, settings.data_dir)

    ready = asyncio.create_task(server.wait_ready())
    stopped = asyncio.create_task(stop_requested.wait())
    await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if ready.done():
        if ready.exception() is not None:
            await server.stop(0)
            stopped.cancel()
            return 1
        print(f"vecdb listening on {server.address} (data: {settings.data_dir})", flush=True)
        await stopped
    else:
        ready.cancel()
    log.info("stopping (grace period %.1f s)", settings.grace_period_s)
    await server.stop(settings.grace_period_s)
    stopped.cancel()
    return 0

