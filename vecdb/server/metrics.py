"""Observability: Prometheus metrics over HTTP and structured logs that carry request ids.

Metrics live on the server's own `CollectorRegistry` (never prometheus_client's global one, so
several servers in one process — tests — do not collide) and are served by prometheus_client's
threaded HTTP server at `http://<host>:<metrics_port>/metrics`:

- `vecdb_requests_total{method, code}`: finished vecdb.v1 calls by gRPC status code
  (UNAUTHENTICATED, RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED included), counted in the interceptor;
- `vecdb_request_duration_seconds{method}`: their latency (histogram);
- `vecdb_requests_in_flight`: calls holding an admission slot;
- `vecdb_collection_points{collection}`, `vecdb_collection_disk_bytes{collection}`,
  `vecdb_index_ram_bytes{collection, field}`, `vecdb_index_points{collection, field}`: read from
  `Database.stats()` at scrape time (a scrape takes each collection's read lock briefly);
- `vecdb_process_resident_memory_bytes`, `vecdb_process_open_fds`, `vecdb_ready`;
- every metric of the semantic cache (`vecdb_cache_*`), yielded from its own registry.

Logs: `install_request_ids` (a LogRecord factory, installed when the server is built) stamps
every record with `request_id` (the call being served, from the contextvar the interceptor sets
and the executors carry into engine threads; "-" outside a call); `RequestIdFilter` does the same
for records made before it was installed, and `JsonFormatter` writes one JSON object a line (`ts`, `level`, `logger`, `message`,
`request_id`, and `exc` with the traceback). The text format shows the id too.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client import Metric

    from vecdb.engine.database import Database

__all__ = [
    "TEXT_LOG_FORMAT",
    "JsonFormatter",
    "MetricsServer",
    "RequestIdFilter",
    "ServerMetrics",
    "configure_logging",
    "install_request_ids",
]

log = logging.getLogger("vecdb.server")

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServerMetrics:
    """The server's metrics. `observe` is called by the interceptor once per finished call.

    database: returns the open Database or None (while opening / after close).
    cache_registry: returns the semantic cache's CollectorRegistry, or None while it is closed.
    """

    def __init__(
        self,
        database: Callable[[], Database | None] = lambda: None,
        cache_registry: Callable[[], CollectorRegistry | None] = lambda: None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vecdb_requests", "Finished vecdb.v1 calls by method and gRPC status code",
            ["method", "code"], registry=self.registry,
        )
        self.latency = Histogram(
            "vecdb_request_duration_seconds", "Latency of vecdb.v1 calls, by method",
            ["method"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.in_flight = Gauge("vecdb_requests_in_flight", "vecdb.v1 calls holding an admission slot",
                               registry=self.registry)
        self.registry.register(_StateCollector(database))
        self.registry.register(_ForwardingCollector(cache_registry))

    def observe(self, method: str, code: str, seconds: float) -> None:
        name = method.removeprefix("/vecdb.v1.")
        self.requests.labels(name, code).inc()
        self.latency.labels(name).observe(seconds)


class _StateCollector(Collector):
    """Collection sizes, index RAM and process memory, read at scrape time."""

    def __init__(self, database: Callable[[], Database | None]) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        ready = GaugeMetricFamily("vecdb_ready", "1 when the database is open and data calls are served")
        points = GaugeMetricFamily("vecdb_collection_points", "Live points per collection", labels=["collection"])
        disk = GaugeMetricFamily("vecdb_collection_disk_bytes", "LMDB bytes on disk per collection",
                                 labels=["collection"])
        ram = GaugeMetricFamily("vecdb_index_ram_bytes", "In-memory index bytes per vector field",
                                labels=["collection", "field", "kind"])
        indexed = GaugeMetricFamily("vecdb_index_points", "Points in each vector field's index",
                                    labels=["collection", "field", "kind"])
        db = self._database()
        stats = []
        if db is not None:
            try:
                stats = db.stats()
            except Exception:  # closing meanwhile, or a collection deleted mid-scrape
                log.debug("metrics: Database.stats() failed", exc_info=True)
        ready.add_metric([], 1.0 if db is not None else 0.0)
        for c in stats:
            points.add_metric([c.name], float(c.points_count))
            disk.add_metric([c.name], float(c.disk_bytes))
            for f in c.fields:
                ram.add_metric([c.name, f.name, f.kind], float(f.ram_bytes))
                indexed.add_metric([c.name, f.name, f.kind], float(f.indexed_points))
        yield from (ready, points, disk, ram, indexed)
        rss = _resident_bytes()
        if rss is not None:
            yield GaugeMetricFamily("vecdb_process_resident_memory_bytes", "Resident set size of the server",
                                    value=float(rss))
        try:
            fds = len(os.listdir("/proc/self/fd"))
        except OSError:
            return
        yield GaugeMetricFamily("vecdb_process_open_fds", "Open file descriptors", value=float(fds))


class _ForwardingCollector(Collector):
    """Yields every metric of another registry (the semantic cache's) when it exists."""

    def __init__(self, registry: Callable[[], CollectorRegistry | None]) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        registry = self._registry()
        if registry is not None:
            yield from registry.collect()

    def describe(self) -> list[Metric]:
        return []  # the cache's metrics appear only once it is open: nothing to check up front


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # peak, KiB on Linux, bytes on macOS
        return int(peak if sys.platform == "darwin" else peak * 1024)
    except (ImportError, OSError, ValueError):  # pragma: no cover - no resource module
        return None


class MetricsServer:
    """prometheus_client's HTTP server for one registry, on a daemon thread; `stop` closes it."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        from prometheus_client import start_http_server

        self._server, self._thread = start_http_server(port, addr=host.strip("[]"), registry=registry)
        self.port: int = self._server.server_address[1]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# ---- logs ---------------------------------------------------------------------------------------

TEXT_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


_factory_installed = False


def install_request_ids() -> None:
    """Make every LogRecord carry `request_id` from the moment it is created (in the thread and
    context of the code that logs), whatever handler later formats it. Idempotent."""
    global _factory_installed
    if _factory_installed:
        return
    from vecdb.server.errors import request_id

    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not getattr(record, "request_id", None):
            record.request_id = request_id.get() or "-"
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id`: the id of the call being served, "-" outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        from vecdb.server.errors import request_id

        if not getattr(record, "request_id", None):
            record.request_id = request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC ISO 8601), level, logger, message, request_id, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or "-",
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str = "text") -> None:
    """Root logging to stderr at `level`, as text or JSON lines, every record with its request id."""
    install_request_ids()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_LOG_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
