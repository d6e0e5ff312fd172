"""Observability of a server started in-process on loopback: health NOT_SERVING until the model
and the database are loaded, Prometheus metrics (per-RPC counts by status and latency, collection
and index sizes, memory, the semantic cache's metrics) and request ids in the logs."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from vecdb.server.app import build_server
from vecdb.server.metrics import JsonFormatter, RequestIdFilter
from vecdb.server.settings import Settings
from vecdb_client import Client, VectorParams, errors

DIM = 8
ADMIN_KEY = "adm-metrics-Qe41"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return sum(v for (n, _labels), v in samples.items() if n == name)


def test_health_metrics_and_request_ids(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Hold the database open (recovery) until the test says so, to look at the server meanwhile.
    from vecdb.server import app

    recovering = threading.Event()
    real_open = app._open_database

    def slow_open(s: Settings) -> object:
        assert recovering.wait(60)
        return real_open(s)

    monkeypatch.setattr(app, "_open_database", slow_open)
    metrics_port = _free_port()
    settings = Settings(data_dir=tmp_path, port=0, metrics_port=metrics_port, preload_models=True,
                        cache_enabled=True, checkpoint_interval_s=0, api_keys=f"admin:{ADMIN_KEY}")
    caplog.set_level(logging.INFO, logger="vecdb")

    async def scenario() -> None:
        server = await build_server(settings)
        try:
            address = server.address
            assert server.metrics_port == metrics_port

            def before_ready() -> tuple[str, float]:
                with Client(address, retries=0, timeout=10, api_key=ADMIN_KEY) as c:
                    with pytest.raises(errors.Unavailable, match="opening"):
                        c.list_collections()
                    return c.health(), _value(_scrape(metrics_port), "vecdb_ready")

            # Nothing is served until the database (and then the model) is loaded: health says
            # so, and so do the metrics.
            assert await asyncio.to_thread(before_ready) == ("NOT_SERVING", 0.0)
            recovering.set()
            await server.wait_ready(120)
            await asyncio.to_thread(exercise, address, metrics_port)
        finally:
            await server.stop(5)
        with pytest.raises(OSError):  # the metrics port is closed with the server
            _scrape(metrics_port)

    asyncio.run(scenario())

    # Every log line written while serving a call names that call's request id.
    tagged = [r for r in caplog.records if getattr(r, "request_id", "-").startswith("metrics-test-")]
    assert any("no-such" in r.getMessage() for r in tagged)
    assert ADMIN_KEY not in caplog.text


def exercise(address: str, metrics_port: int) -> None:
    vectors = np.random.default_rng(3).standard_normal((120, DIM)).astype(np.float32)
    with Client(address, retries=0, api_key=ADMIN_KEY, request_id_prefix="metrics-test-") as c:
        assert c.health() == "SERVING"
        c.create_collection("m", VectorParams(dim=DIM, metric="cosine"))
        for start in range(0, 120, 40):
            c.upsert("m", list(range(start, start + 40)), vectors[start:start + 40])
        for i in range(5):
            assert c.query("m", vectors[i], limit=3).ids[0] == i
        with pytest.raises(errors.NotFound):
            c.count("no-such")
        c.cache_store("what is a vector database?", "a database of vectors", category="faq", model="m1")
        assert c.cache_lookup("what is a vector database?", category="faq", model="m1").hit
    with Client(address, retries=0) as anonymous, pytest.raises(errors.Unauthenticated):
        anonymous.count("m")

    samples = _scrape(metrics_port)
    assert _value(samples, "vecdb_ready") == 1.0
    assert _value(samples, "vecdb_requests_total", method="Points/Upsert", code="OK") == 3
    assert _value(samples, "vecdb_requests_total", method="Query/Query", code="OK") == 5
    assert _value(samples, "vecdb_requests_total", method="Points/Count", code="NOT_FOUND") == 1
    assert _value(samples, "vecdb_requests_total", method="Points/Count", code="UNAUTHENTICATED") == 1
    assert _value(samples, "vecdb_request_duration_seconds_count", method="Query/Query") == 5
    assert _value(samples, "vecdb_request_duration_seconds_sum", method="Query/Query") > 0
    assert _value(samples, "vecdb_requests_in_flight") == 0
    assert _value(samples, "vecdb_collection_points", collection="m") == 120
    assert _value(samples, "vecdb_index_points", collection="m", field="default", kind="dense") == 120
    ram = _value(samples, "vecdb_index_ram_bytes", collection="m", field="default", kind="dense")
    assert ram >= 120 * DIM * 4  # at least the float32 vectors themselves
    assert _value(samples, "vecdb_process_resident_memory_bytes") > 50 * 2**20
    # The semantic cache's own registry is served alongside (an unknown category counts as "default").
    assert _total(samples, "vecdb_cache_stores_total") == 1
    assert _total(samples, "vecdb_cache_hits_total") == 1


def test_log_formatting_carries_request_ids() -> None:
    from vecdb.server.errors import request_id

    record = logging.LogRecord("vecdb.engine", logging.WARNING, __file__, 1, "checkpoint of %r failed", ("c",), None)
    token = request_id.set("rid-42")
    try:
        assert RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    import json

    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "rid-42" and entry["message"] == "checkpoint of 'c' failed"
    assert entry["level"] == "WARNING" and entry["logger"] == "vecdb.engine" and entry["ts"].endswith("Z")

    outside = logging.LogRecord("vecdb", logging.INFO, __file__, 1, "idle", (), None)
    RequestIdFilter().filter(outside)
    assert outside.request_id == "-"
