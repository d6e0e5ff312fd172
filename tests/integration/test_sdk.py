"""The SDK against a real server on loopback: the whole dense surface, errors and congruence
with the in-process engine."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import numpy as np
import pytest

from vecdb_client import AsyncClient, Client, HnswParams, VectorParams, errors

from .server_process import ServerProcess

DIM = 16


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Client:
    with Client(server.address, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def docs(client: Client) -> np.ndarray:
    """A collection of 500 points with payloads; returns their vectors."""
    client.create_collection(
        "docs", VectorParams(dim=DIM, metric="cosine", hnsw=HnswParams(m=16, ef_construct=100, ef=64)),
        payload_indexes={"group": "keyword", "rank": "integer"},
    )
    vectors = np.random.default_rng(1).standard_normal((500, DIM)).astype(np.float32)
    payloads = [{"group": ["a", "b", "c"][i % 3], "rank": i, "meta": {"even": i % 2 == 0}} for i in range(500)]
    result = client.upload("docs", list(range(500)), vectors, payloads=payloads, batch_size=128)
    assert result.count == 500
    return vectors


def _exact(vectors: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[int]:
    sims = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
    order = np.argsort(-sims)[:k]
    return [int(i) for i in order if np.isfinite(sims[i])]


def test_health_and_server_info(client: Client) -> None:
    assert client.health() == "SERVING"
    info = client.server_info()
    assert "dense" in info.capabilities and info.max_limit > 0


def test_collection_info_and_listing(client: Client, docs: np.ndarray) -> None:
    info = client.get_collection("docs")
    assert info.points_count == 500 and info.vectors["default"].dim == DIM
    assert info.payload_indexes == {"group": "keyword", "rank": "integer"}
    assert "docs" in [c.name for c in client.list_collections()]
    assert client.collection_exists("docs") and not client.collection_exists("nope")


def test_query_finds_exact_neighbours(client: Client, docs: np.ndarray) -> None:
    q = docs[10] + 0.01
    hits = client.query("docs", q, limit=10, with_payload=True)
    assert [h.id for h in hits] == _exact(docs, q, 10)
    assert hits[0].payload["rank"] == 10


def test_filtered_query_and_count(client: Client, docs: np.ndarray) -> None:
    flt = {"must": [{"key": "group", "match": {"value": "b"}}, {"key": "rank", "range": {"lt": 100}}]}
    mask = np.array([(i % 3 == 1) and i < 100 for i in range(500)])
    hits = client.query("docs", docs[0], limit=5, filter=flt)
    assert [h.id for h in hits] == _exact(docs, docs[0], 5, mask)
    assert client.count("docs", flt) == int(mask.sum())
    nested = {"must": [{"key": "meta.even", "match": {"value": True}}], "must_not": [{"has_id": [0, 2]}]}
    assert client.count("docs", nested) == 248


def test_batch_query_equals_single_queries(client: Client, docs: np.ndarray) -> None:
    qs = docs[:8] + 0.05
    batch = client.query_batch("docs", qs, limit=5)
    single = [client.query("docs", q, limit=5) for q in qs]
    assert [[h.id for h in r] for r in batch] == [[h.id for h in r] for r in single]


def test_get_scroll_with_vectors(client: Client, docs: np.ndarray) -> None:
    [rec] = client.get("docs", [7], with_vectors=True)
    np.testing.assert_allclose(rec.vectors["default"], docs[7])
    page = client.scroll("docs", limit=200)
    ids = [r.id for r in page.records]
    while page.next_offset is not None:
        page = client.scroll("docs", limit=200, offset=page.next_offset)
        ids += [r.id for r in page.records]
    assert ids == list(range(500))


def test_uuid_ids_and_delete(client: Client) -> None:
    client.create_collection("uuids", VectorParams(dim=4, metric="dot"))
    u = uuid.uuid4()
    client.upsert("uuids", [str(u).upper(), 5], [[1, 0, 0, 0], [0, 1, 0, 0]], payloads=[{"k": "x"}, None])
    hits = client.query("uuids", [1, 0, 0, 0], limit=1)
    assert hits[0].id == str(u)
    assert client.delete("uuids", [str(u)]).count == 1
    assert client.delete("uuids", filter={"must": [{"has_id": [5]}]}).count == 1
    assert client.count("uuids") == 0
    assert client.delete_collection("uuids")


@pytest.mark.parametrize("call,error,message", [
    (lambda c: c.query("missing", [0.0] * DIM), errors.CollectionNotFound, "'missing' does not exist"),
    (lambda c: c.query("docs", [1.0] * (DIM - 1)), errors.InvalidArgument, "dimension 15"),
    (lambda c: c.query("docs", [float("nan")] * DIM), errors.InvalidArgument, "NaN"),
    (lambda c: c.query("docs", [1.0] * DIM, limit=10**6), errors.InvalidArgument, "limit"),
    (lambda c: c.query("docs", [1.0] * DIM, using="other"), errors.NotFound, "no vector field 'other'"),
    (lambda c: c.upsert("docs", [1, 2], [[1.0] * DIM]), errors.InvalidArgument, "one row per id"),
    (lambda c: c.upsert("docs", [1], [[np.inf] * DIM]), errors.InvalidArgument, "NaN or Inf"),
    (lambda c: c.upsert("docs", [-1], [[1.0] * DIM]), errors.InvalidArgument, "-1"),
    (lambda c: c.create_collection("docs", VectorParams(dim=DIM)), errors.AlreadyExists, "already exists"),
    (lambda c: c.create_collection("bad/name", VectorParams(dim=DIM)), errors.InvalidArgument, "collection name"),
    (lambda c: c.create_collection("zero", VectorParams(dim=0)), errors.InvalidArgument, "dim"),
    (lambda c: c.count("docs", {"must": [{"key": "rank", "range": {}}]}), errors.InvalidArgument, "range"),
])
def test_bad_input_gets_a_clear_error_and_the_server_keeps_serving(
    client: Client, docs: np.ndarray, call: object, error: type, message: str
) -> None:
    before = client.count("docs")
    with pytest.raises(error, match=message):
        call(client)  # type: ignore[operator]
    assert client.count("docs") == before and client.health() == "SERVING"


def test_server_errors_carry_the_request_id(client: Client) -> None:
    with pytest.raises(errors.CollectionNotFound) as info:
        client.count("no-such-collection")
    assert info.value.request_id and info.value.code == "NOT_FOUND"


def test_payload_that_is_not_a_json_object_is_refused(client: Client, docs: np.ndarray) -> None:
    with pytest.raises(errors.InvalidArgument):
        client.upsert("docs", [9999], [[1.0] * DIM], payloads=[{"x": {1, 2}}])  # type: ignore[list-item]
    assert client.get("docs", [9999]) == []


def test_oversized_message_is_resource_exhausted(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, VECDB_MAX_MESSAGE_BYTES=str(1 << 20)) as small, \
            Client(small.address, max_message_bytes=64 * 2**20, retries=0) as big:
        big.create_collection("docs", VectorParams(dim=DIM))
        huge = np.ones((40_000, DIM), np.float32)  # 2.5 MB of vectors: over the server's 1 MiB
        with pytest.raises(errors.ResourceExhausted):
            big.upsert("docs", list(range(40_000)), huge)
        assert big.count("docs") == 0 and big.health() == "SERVING"


def test_capabilities_list_every_built_feature(server: ServerProcess) -> None:
    with Client(server.address) as c:
        expected = {"dense", "quantization", "multivector", "sparse", "bm25", "hybrid", "snapshots", "cache"}
        assert expected <= set(c.server_info().capabilities)


def test_async_client_matches_sync(server: ServerProcess, docs: np.ndarray, client: Client) -> None:
    async def run() -> list[list[int]]:
        async with AsyncClient(server.address) as ac:
            results = await asyncio.gather(*(ac.query("docs", docs[i], limit=3) for i in range(5)))
            return [[h.id for h in r] for r in results]

    assert asyncio.run(run()) == [[h.id for h in client.query("docs", docs[i], limit=3)] for i in range(5)]


def test_a_request_that_does_not_parse_gets_invalid_argument(server: ServerProcess) -> None:
    """Bytes that are not a valid message (here a string field holding invalid UTF-8) are
    answered INVALID_ARGUMENT with the reason, and the server keeps serving."""
    import grpc

    with grpc.insecure_channel(server.address) as channel:
        count = channel.unary_unary("/vecdb.v1.Points/Count", request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
        bad_utf8 = b"\x0a\x02\xff\xfe"  # field 1 (collection), 2 bytes that are not UTF-8
        with pytest.raises(grpc.RpcError) as info:
            count(bad_utf8, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "valid UTF-8" in info.value.details()
    with Client(server.address) as c:
        assert c.health() == "SERVING"


def test_asking_for_cuda_kernels_without_a_gpu_stops_the_server_with_the_reason(tmp_path: Path) -> None:
    if os.path.exists("/dev/nvidia0"):
        pytest.skip("this machine has a GPU")
    proc = ServerProcess(tmp_path, VECDB_KERNEL_DEVICE="cuda")
    with pytest.raises(RuntimeError) as info:
        proc.start(timeout=60)
    assert "kernel device 'cuda' was requested" in str(info.value)
