"""The in-process engine and the gRPC-served engine return the same answers to the same calls."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from vecdb.engine.database import Database, EngineOptions
from vecdb.engine.filters import Filter, Match, MatchAny, Range
from vecdb.engine.schema import (
    CollectionConfig,
    DenseField,
    HnswConfig,
    PayloadIndexConfig,
    PayloadIndexType,
)
from vecdb.engine.types import NearestQuery, UpsertBatch
from vecdb.kernels.metrics import Metric
from vecdb_client import Client, HnswParams, VectorParams

from .server_process import ServerProcess

N, DIM = 400, 24
FILTERS = [
    (None, None),
    (Filter(must=(Match("color", "red"),)), {"must": [{"key": "color", "match": {"value": "red"}}]}),
    (Filter(must=(Range("rank", gte=100, lt=250),), must_not=(MatchAny("color", ("blue",)),)),
     {"must": [{"key": "rank", "range": {"gte": 100, "lt": 250}}], "must_not": [{"key": "color", "match": {"any": ["blue"]}}]}),
    (Filter(should=(Match("tags", "x"), Range("rank", lt=10))),
     {"should": [{"key": "tags", "match": {"value": "x"}}, {"key": "rank", "range": {"lt": 10}}]}),
]


@pytest.fixture(scope="module")
def data() -> tuple[list[int | str], np.ndarray, list[dict]]:
    rng = np.random.default_rng(5)
    ids: list[int | str] = [i for i in range(N - 20)] + [str(uuid.UUID(int=i)) for i in range(20)]
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    payloads = [{"color": ["red", "green", "blue"][i % 3], "rank": i, "tags": ["x"] if i % 7 == 0 else []} for i in range(N)]
    return ids, vectors, payloads


@pytest.fixture(scope="module", params=[Metric.COSINE, Metric.L2])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, data):  # type: ignore[no-untyped-def]
    metric: Metric = request.param
    ids, vectors, payloads = data
    local = Database(tmp_path_factory.mktemp("local"), EngineOptions(search_threads=1))
    local.create_collection(CollectionConfig(
        name="c", vectors=(DenseField("default", DIM, metric=metric, hnsw=HnswConfig(16, 100, 64)),),
        payload_indexes=(PayloadIndexConfig("rank", PayloadIndexType.INTEGER),),
    ))
    local.collection("c").upsert(UpsertBatch(ids=ids, vectors={"default": vectors}, payloads=payloads))
    server = ServerProcess(tmp_path_factory.mktemp("served"), VECDB_SEARCH_THREADS="1").start()
    client = Client(server.address)
    client.create_collection("c", VectorParams(dim=DIM, metric=metric.value, hnsw=HnswParams(16, 100, 64)),
                             payload_indexes={"rank": "integer"})
    client.upload("c", ids, vectors, payloads=payloads, batch_size=150)
    yield local.collection("c"), client
    client.close()
    server.kill()
    local.close()


@pytest.mark.parametrize("filters", FILTERS, ids=["none", "match", "range+must_not", "should"])
def test_queries_agree(pair, data, filters) -> None:  # type: ignore[no-untyped-def]
    coll, client = pair
    _, vectors, _ = data
    domain_filter, dict_filter = filters
    for exact in (False, True):
        for qi in range(0, N, 37):
            q = vectors[qi] * 0.9 + 0.05
            local = coll.query(NearestQuery(vector=q, limit=7, filter=domain_filter, exact=exact, with_payload=True))
            served = client.query("c", q, limit=7, filter=dict_filter, exact=exact, with_payload=True)
            assert [p.id for p in served] == [p.id for p in local]
            np.testing.assert_allclose([p.score for p in served], [p.score for p in local], rtol=1e-6)
            assert [p.payload for p in served] == [p.payload for p in local]


def test_counts_scroll_and_get_agree(pair, data) -> None:  # type: ignore[no-untyped-def]
    coll, client = pair
    ids, _, _ = data
    for domain_filter, dict_filter in FILTERS:
        assert client.count("c", dict_filter) == coll.count(domain_filter)
        local = coll.scroll(filter=domain_filter, limit=50)
        served = client.scroll("c", filter=dict_filter, limit=50)
        assert [r.id for r in served.records] == [r.id for r in local.records]
        assert served.next_offset == local.next_offset
    picked = [ids[i] for i in (0, 5, 390, 399)] + [12345]
    local_records = coll.get(picked, with_payload=True, with_vectors=("default",))
    served_records = client.get("c", picked, with_vectors=True)
    assert [r.id for r in served_records] == [r.id for r in local_records]
    for a, b in zip(served_records, local_records):
        assert a.payload == b.payload
        np.testing.assert_array_equal(a.vectors["default"], b.vectors["default"])
