"""Security and guardrails against a real server on loopback: API keys and roles, protected
health and reflection, TLS (and mutual TLS) with a certificate made here, keys never logged,
limits answered with clear statuses, deadlines, retry-after backoff and graceful shutdown."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from vecdb.cli.main import main as cli_main
from vecdb.v1 import collections_service_pb2 as coll_pb
from vecdb.v1 import collections_service_pb2_grpc as coll_grpc
from vecdb.v1 import points_service_pb2, points_service_pb2_grpc
from vecdb_client import AsyncClient, Client, VectorParams, errors

from .server_process import ServerProcess

ADMIN_KEY = "adm-Zq81xLk3Pw0"
WRITER_KEY = "rw-Jc4Tt9Ve2Ma"
READER_KEY = "ro-Hb7Ns5Qy6Ud"
KEYS = f"admin:{ADMIN_KEY},read-write:{WRITER_KEY},read-only:{READER_KEY}"
DIM = 8


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def _assert_no_key_in(output: str) -> None:
    for key in (ADMIN_KEY, WRITER_KEY, READER_KEY):
        assert key not in output, "an API key appeared in the server's log"


# ---- API keys and roles ----------------------------------------------------------------------------


FILE_KEY = "ro-file-Lm2Wd8Rk"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with three keys from the environment and one from a key file, health protected,
    logging at DEBUG to catch any leak."""
    folder = tmp_path_factory.mktemp("keyed")
    keys_file = folder / "keys.txt"
    keys_file.write_text(f"# role key\nread-only {FILE_KEY}\n")
    with ServerProcess(folder / "data", VECDB_API_KEYS=KEYS, VECDB_API_KEYS_FILE=str(keys_file),
                       VECDB_AUTH_EXEMPT_HEALTH="false", VECDB_LOG_LEVEL="DEBUG", VECDB_METRICS_PORT="0",
                       VECDB_CACHE_ENABLED="0") as proc:
        yield proc


def test_no_key_is_unauthenticated(keyed: ServerProcess) -> None:
    with Client(keyed.address, retries=0) as anonymous:
        with pytest.raises(errors.Unauthenticated) as info:
            anonymous.list_collections()
        assert "API key" in info.value.message and "api_key=" in info.value.message
        with pytest.raises(errors.Unauthenticated):
            anonymous.health()  # auth_exempt_health = false
    with grpc.insecure_channel(keyed.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=10)
        with pytest.raises(grpc.RpcError) as rpc_info:
            next(iter(watch))
        assert rpc_info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with Client(keyed.address, retries=0, api_key=FILE_KEY) as reader:
        assert reader.health() == "SERVING"
        assert isinstance(reader.list_collections(), list)


def test_wrong_key_is_unauthenticated_without_echoing_it(keyed: ServerProcess) -> None:
    wrong = ADMIN_KEY[:-1] + "9"
    with Client(keyed.address, retries=0, api_key=wrong) as client, pytest.raises(errors.Unauthenticated) as info:
        client.list_collections()
    assert wrong not in info.value.message and "not valid" in info.value.message


def test_roles_allow_and_deny(keyed: ServerProcess) -> None:
    vectors = _vectors(20)
    with (Client(keyed.address, retries=0, api_key=ADMIN_KEY) as admin,
          Client(keyed.address, retries=0, api_key=WRITER_KEY) as writer,
          Client(keyed.address, retries=0, api_key=READER_KEY) as reader):
        with pytest.raises(errors.PermissionDenied) as denied:
            writer.create_collection("roles", VectorParams(dim=DIM, metric="cosine"))
        assert "admin" in denied.value.message and "read-write" in denied.value.message
        admin.create_collection("roles", VectorParams(dim=DIM, metric="cosine"))

        with pytest.raises(errors.PermissionDenied) as denied:
            reader.upsert("roles", list(range(20)), vectors)
        assert "Points/Upsert" in denied.value.message and "read-only" in denied.value.message
        assert writer.upsert("roles", list(range(20)), vectors).count == 20
        assert admin.upsert("roles", [100], vectors[:1]).count == 1  # admin includes read-write

        assert reader.count("roles") == 21  # read-only reads
        hits = reader.query("roles", vectors[3], limit=1)
        assert hits.ids == [3]
        with pytest.raises(errors.PermissionDenied):
            reader.delete("roles", ids=[3])
        with pytest.raises(errors.PermissionDenied):
            writer.delete_collection("roles")
        assert writer.delete("roles", ids=[100]).count >= 0
        assert reader.count("roles") == 20
        admin.delete_collection("roles")
    _assert_no_key_in("".join(keyed.output))


def test_x_api_key_metadata_and_reflection_protected(keyed: ServerProcess) -> None:
    with grpc.insecure_channel(keyed.address) as channel:
        stub = coll_grpc.CollectionsStub(channel)
        stub.List(coll_pb.ListCollectionsRequest(), metadata=[("x-api-key", READER_KEY)], timeout=10)
        with pytest.raises(grpc.RpcError) as info:
            stub.List(coll_pb.ListCollectionsRequest(), metadata=[("authorization", f"Basic {READER_KEY}")],
                      timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED

        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.RpcError) as info:
            list(reflect.ServerReflectionInfo(iter([request]), timeout=10))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED  # auth_exempt_reflection: false
        answers = list(reflect.ServerReflectionInfo(iter([request]), timeout=10,
                                                    metadata=[("authorization", f"Bearer {READER_KEY}")]))
        names = {s.name for s in answers[0].list_services_response.service}
        assert "vecdb.v1.Points" in names


def test_cli_takes_the_key_from_flag_or_environment(keyed: ServerProcess, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("VECDB_API_KEY", raising=False)
    assert cli_main(["--address", keyed.address, "collection", "list"]) == 1
    err = capsys.readouterr().err
    assert "API key" in err
    assert cli_main(["--address", keyed.address, "--api-key", READER_KEY, "collection", "list"]) == 0
    monkeypatch.setenv("VECDB_API_KEY", READER_KEY)
    assert cli_main(["--address", keyed.address, "--json", "collection", "list"]) == 0
    out = capsys.readouterr()
    assert READER_KEY not in out.out + out.err


# ---- TLS ---------------------------------------------------------------------------------------------


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, both signed
    by the CA (EC P-256: fast to make)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-days", "2",
             "-subj", "/CN=vecdb test CA")
    ext = d / "server.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, extra in (("server", ["-extfile", str(ext)]), ("client", [])):
        _openssl("req", *ec, "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"),
                 "-subj", f"/CN=vecdb test {name}")
        _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
                 str(d / "ca.key"), "-CAcreateserial", "-out", str(d / f"{name}.pem"), "-days", "2", *extra)
    return {p.stem + p.suffix.replace(".", "_"): p for p in d.iterdir()}


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Path]) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("tls"), VECDB_TLS_CERT_FILE=str(pki["server_pem"]),
                       VECDB_TLS_KEY_FILE=str(pki["server_key"]), VECDB_API_KEYS=KEYS,
                       VECDB_METRICS_PORT="0", VECDB_CACHE_ENABLED="0") as proc:
        yield proc


def test_tls_client_with_private_ca(tls_server: ServerProcess, pki: dict[str, Path]) -> None:
    with Client(tls_server.address, retries=0, root_certificates=pki["ca_pem"]) as anonymous:
        assert anonymous.health() == "SERVING"  # auth_exempt_health defaults to true
        with pytest.raises(errors.Unauthenticated):
            anonymous.list_collections()
    with Client(tls_server.address, retries=0, api_key=ADMIN_KEY, root_certificates=pki["ca_pem"]) as client:
        client.create_collection("secure", VectorParams(dim=DIM, metric="l2"))
        assert client.upsert("secure", [1, 2], _vectors(2)).count == 2
    # The same with PEM bytes and the name the certificate carries.
    with Client(f"localhost:{tls_server.port}", retries=0, api_key=READER_KEY,
                root_certificates=pki["ca_pem"].read_bytes()) as client:
        assert client.count("secure") == 2


def test_tls_refuses_plaintext_and_unknown_ca(tls_server: ServerProcess, pki: dict[str, Path]) -> None:
    with Client(tls_server.address, retries=0, timeout=5, api_key=READER_KEY) as plain, \
            pytest.raises(errors.Unavailable):
        plain.list_collections()
    # Trusting the server's own leaf certificate as a root is not trusting its CA: the chain fails.
    with Client(tls_server.address, retries=0, timeout=5, api_key=READER_KEY,
                root_certificates=pki["client_pem"]) as wrong_ca, pytest.raises(errors.Unavailable):
        wrong_ca.list_collections()


def test_async_client_tls(tls_server: ServerProcess, pki: dict[str, Path]) -> None:
    async def go() -> int:
        async with AsyncClient(tls_server.address, retries=0, api_key=READER_KEY,
                               root_certificates=pki["ca_pem"]) as client:
            assert await client.health() == "SERVING"
            return len(await client.list_collections())

    assert asyncio.run(go()) >= 0


def test_cli_tls_ca(tls_server: ServerProcess, pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECDB_API_KEY", raising=False)
    monkeypatch.delenv("VECDB_TLS_CA", raising=False)
    assert cli_main(["--address", tls_server.address, "--tls-ca", str(pki["ca_pem"]), "health"]) == 0
    assert cli_main(["--address", tls_server.address, "--timeout", "5", "health"]) == 1


def test_mutual_tls(tmp_path: Path, pki: dict[str, Path]) -> None:
    with ServerProcess(tmp_path / "data", VECDB_TLS_CERT_FILE=str(pki["server_pem"]),
                       VECDB_TLS_KEY_FILE=str(pki["server_key"]), VECDB_TLS_CLIENT_CA_FILE=str(pki["ca_pem"]),
                       VECDB_METRICS_PORT="0", VECDB_CACHE_ENABLED="0") as proc:
        with Client(proc.address, retries=0, timeout=5, root_certificates=pki["ca_pem"]) as no_cert, \
                pytest.raises(errors.Unavailable):
            no_cert.list_collections()
        with Client(proc.address, retries=0, root_certificates=pki["ca_pem"], client_certificate=pki["client_pem"],
                    client_key=pki["client_key"]) as client:
            assert client.list_collections() == []


# ---- guardrails ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with small limits, one admission slot and JSON logs."""
    env = {"VECDB_MAX_MESSAGE_BYTES": str(256 * 1024), "VECDB_MAX_BATCH_POINTS": "50", "VECDB_MAX_LIMIT": "100",
           "VECDB_MAX_PAYLOAD_BYTES": "1024", "VECDB_MAX_CONCURRENT_RPCS": "1", "VECDB_METRICS_PORT": "0",
           "VECDB_CACHE_ENABLED": "0", "VECDB_LOG_FORMAT": "json", "VECDB_GRACE_PERIOD_S": "10"}
    with ServerProcess(tmp_path_factory.mktemp("small"), **env) as proc:
        with Client(proc.address) as c:
            c.create_collection("g", VectorParams(dim=DIM, metric="cosine"))
            c.upsert("g", list(range(40)), _vectors(40))
        yield proc


def test_limits_answer_clear_statuses(small: ServerProcess) -> None:
    with Client(small.address, retries=0) as c:
        with pytest.raises(errors.InvalidArgument, match="100"):
            c.query("g", _vectors(1)[0], limit=101)
        with pytest.raises(errors.InvalidArgument, match="50"):
            c.upsert("g", list(range(1000, 1051)), _vectors(51))
        with pytest.raises(errors.InvalidArgument, match="1024|payload"):
            c.upsert("g", [2000], _vectors(1), payloads=[{"text": "x" * 2000}])
        deep: dict[str, object] = {"must": [{"key": "a", "match": {"value": 1}}]}
        for _ in range(20):
            deep = {"must": [deep]}
        with pytest.raises(errors.InvalidArgument, match="deeper"):
            c.count("g", filter=deep)
        with pytest.raises(errors.ResourceExhausted) as big:
            c.upsert("g", list(range(3000, 3049)), np.ones((49, 2000), np.float32))
        assert big.value.retry_after_s is None  # a size limit: retrying cannot help
        assert c.count("g") == 40  # nothing partial was written
        with pytest.raises(errors.InvalidArgument, match="ef = 1000000 is out of range"):
            c.query("g", _vectors(1)[0], limit=5, ef=1_000_000)
        # ef up to the limit is fine even far beyond the collection's size.
        assert len(c.query("g", _vectors(1)[0], limit=5, ef=65536)) == 5


def _upsert_request(collection: str, point_id: int) -> points_service_pb2.UpsertRequest:
    """One wire UpsertRequest, built by the SDK's own request builder."""
    from vecdb_client import _ops

    request: points_service_pb2.UpsertRequest = _ops.upsert(
        collection, [point_id], np.ones((1, DIM), np.float32), None, None
    ).request
    return request


class HeldStream:
    """An UpsertStream that sends one batch, then keeps the call open (holding an admission slot)
    until `finish()` sends one more batch and half-closes, or the deadline passes."""

    def __init__(self, address: str, collection: str, *, timeout: float = 60.0) -> None:
        self.release = threading.Event()
        self.sent = threading.Event()
        self.result: list[object] = []
        self._address, self._collection, self._timeout = address, collection, timeout
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.sent.wait(20)
        time.sleep(0.3)  # the server has taken the first message (and the slot)

    def _requests(self) -> Iterator[points_service_pb2.UpsertRequest]:
        yield _upsert_request(self._collection, 9000)
        self.sent.set()
        if self.release.wait(self._timeout + 5):
            yield _upsert_request(self._collection, 9001)

    def _run(self) -> None:
        with grpc.insecure_channel(self._address) as channel:
            try:
                self.result.append(points_service_pb2_grpc.PointsStub(channel).UpsertStream(
                    self._requests(), timeout=self._timeout))
            except grpc.RpcError as exc:
                self.result.append(exc)

    def finish(self) -> object:
        self.release.set()
        self.thread.join(30)
        assert self.result, "the held stream never finished"
        return self.result[0]


def test_overload_answers_retry_after_and_the_sdk_waits_for_it(small: ServerProcess) -> None:
    held = HeldStream(small.address, "g")
    try:
        with Client(small.address, retries=0) as c, pytest.raises(errors.ResourceExhausted) as busy:
            c.count("g")
        assert busy.value.retry_after_s == pytest.approx(0.1)
        assert "max_concurrent_rpcs" in busy.value.message

        # With a retry the SDK waits at least the hint (100 ms) before it, then gives up. (Its own
        # backoff before a first retry is 25-50 ms, so a shorter wait means the hint was ignored.)
        with Client(small.address, retries=1) as c:
            started = time.monotonic()
            with pytest.raises(errors.ResourceExhausted):
                c.count("g")
            assert time.monotonic() - started >= 0.1

        # A retry that finds the slot free succeeds: free it after the first refusal.
        with Client(small.address, retries=10) as patient:
            threading.Timer(0.05, held.release.set).start()
            assert patient.count("g") >= 40
    finally:
        result = held.finish()
    assert not isinstance(result, grpc.RpcError), result


def test_deadline_stops_a_long_stream_and_frees_its_slot(small: ServerProcess) -> None:
    held = HeldStream(small.address, "g", timeout=1.0)
    held.thread.join(10)
    assert held.result and isinstance(held.result[0], grpc.RpcError)
    assert held.result[0].code() == grpc.StatusCode.DEADLINE_EXCEEDED
    with Client(small.address, retries=3) as c:
        # The slot is free again: the server stopped the call at the deadline, and the batch
        # it had received before stays committed.
        assert c.count("g") >= 40
        assert [r.id for r in c.get("g", [9000])] == [9000]


def test_logs_are_json_with_request_ids(small: ServerProcess) -> None:
    with Client(small.address, retries=0, request_id_prefix="sec-test-") as c, pytest.raises(errors.NotFound):
        c.count("no-such-collection")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in small.output if line.startswith("{")]
        mine = [e for e in lines if e["request_id"].startswith("sec-test-")]
        if mine:
            break
        time.sleep(0.05)
    assert mine and "no-such-collection" in mine[0]["message"] and mine[0]["level"] == "INFO"
    assert {"ts", "level", "logger", "message", "request_id"} <= set(mine[0])
    assert all(e["request_id"] == "-" for e in lines if "listening on" in e["message"])


def test_graceful_stop_finishes_in_flight_calls_and_checkpoints(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, VECDB_METRICS_PORT="0", VECDB_CACHE_ENABLED="0", VECDB_GRACE_PERIOD_S="20")
    with proc:
        with Client(proc.address) as c:
            c.create_collection("g", VectorParams(dim=DIM, metric="cosine"))
            c.upsert("g", list(range(30)), _vectors(30))
        held = HeldStream(proc.address, "g")
        assert proc.proc is not None
        proc.proc.send_signal(15)  # SIGTERM while the stream is open
        time.sleep(0.5)
        assert proc.proc.poll() is None, "the server must wait for the in-flight call"
        result = held.finish()
        assert not isinstance(result, grpc.RpcError), result
        assert proc.proc.wait(30) == 0
        log = "".join(proc.output)
        assert "vecdb stopped" in log
    manifests = list(tmp_path.rglob("manifest.json"))
    assert manifests, "stopping must checkpoint the indexes"
    # The checkpoint covers every write, the one finished during the stop included.
    sequences = [json.loads(m.read_text())["sequence"] for m in manifests]
    with ServerProcess(tmp_path, VECDB_METRICS_PORT="0", VECDB_CACHE_ENABLED="0") as again,             Client(again.address) as c:
        assert c.count("g") == 32
        assert {r.id for r in c.get("g", [9000, 9001])} == {9000, 9001}
        assert c.stats("g")[0].sequence == max(sequences)


# ---- the interceptor on a server-streaming method (Admin.DownloadSnapshot's shape) ----------------


def test_server_streaming_methods_are_authenticated_and_counted() -> None:
    """A fake vecdb.v1 server-streaming method behind the real interceptor: keys and roles apply
    (a method the role table does not name needs admin), errors map, and metrics count it."""
    from vecdb.engine.errors import NotFound
    from vecdb.server.auth import ApiKeys, Authenticator
    from vecdb.server.errors import VecdbInterceptor, request_id
    from vecdb.server.metrics import ServerMetrics

    seen_ids: list[str] = []

    async def chunks(request: bytes, context: grpc.aio.ServicerContext) -> Iterator[bytes]:
        seen_ids.append(request_id.get())
        if request == b"missing":
            raise NotFound("snapshot 'missing' does not exist")
        for i in range(3):
            yield b"chunk%d" % i

    async def scenario() -> None:
        metrics = ServerMetrics()
        auth = Authenticator(ApiKeys.load(KEYS))
        server = grpc.aio.server(interceptors=[VecdbInterceptor(4, authenticator=auth, metrics=metrics)])
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            "vecdb.v1.Fake", {"Download": grpc.unary_stream_rpc_method_handler(chunks)})])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                download = channel.unary_stream("/vecdb.v1.Fake/Download")

                async def fetch(request: bytes, key: str | None) -> list[bytes]:
                    md = [("vecdb-request-id", "stream-rid")] + ([("x-api-key", key)] if key else [])
                    return [c async for c in download(request, metadata=md, timeout=10)]

                for key, code in ((None, grpc.StatusCode.UNAUTHENTICATED),
                                  (READER_KEY, grpc.StatusCode.PERMISSION_DENIED),
                                  (WRITER_KEY, grpc.StatusCode.PERMISSION_DENIED)):
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        await fetch(b"snap", key)
                    assert info.value.code() == code
                assert seen_ids == [], "a refused call must not reach the handler"
                assert await fetch(b"snap", ADMIN_KEY) == [b"chunk0", b"chunk1", b"chunk2"]
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await fetch(b"missing", ADMIN_KEY)
                assert info.value.code() == grpc.StatusCode.NOT_FOUND and "missing" in info.value.details()
                assert seen_ids == ["stream-rid", "stream-rid"]
        finally:
            await server.stop(0)

        def count(code: str) -> float:
            return metrics.registry.get_sample_value(
                "vecdb_requests_total", {"method": "Fake/Download", "code": code}) or 0.0

        assert (count("OK"), count("NOT_FOUND"), count("UNAUTHENTICATED"), count("PERMISSION_DENIED")) == (1, 1, 1, 2)
        assert metrics.registry.get_sample_value("vecdb_requests_in_flight") == 0

    asyncio.run(scenario())
