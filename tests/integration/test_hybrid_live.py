"""Sparse, BM25, multi-vector and quantized fields and hybrid queries through a real server:
the SDK and the CLI against in-process expectations, across a restart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vecdb_client import (
    Bm25Params,
    Client,
    Diversity,
    Fusion,
    MultiVectorParams,
    MuveraParams,
    Prefetch,
    QuantizationParams,
    Rerank,
    SparseParams,
    SparseVector,
    VectorParams,
    errors,
)

from .server_process import ServerProcess
from .test_cli_live import vecdb

DIM = 8
TEXTS = [
    "the quick brown fox jumps over the lazy dog",
    "a lazy afternoon with the dog",
    "foxes are quick and clever animals",
    "sorting a list in python with sorted",
    "rust ownership and borrowing rules",
    "python list comprehension examples",
    "the brown bear sleeps in winter",
    "quick sort versus merge sort in python",
]
FIELDS = {
    "dense": VectorParams(DIM, metric="cosine"),
    "codes": VectorParams(DIM, metric="cosine", quantization=QuantizationParams("binary", bits=2, oversampling=4)),
    "bm25": SparseParams(modifier="bm25", bm25=Bm25Params(text_key="body")),
    "splade": SparseParams(),
    "colbert": MultiVectorParams(DIM, metric="cosine", muvera=MuveraParams(reps=4, k_sim=3, d_proj=0)),
}


def _maxsim(q: np.ndarray, d: np.ndarray) -> float:
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    dn = d / np.linalg.norm(d, axis=1, keepdims=True)
    return float((qn @ dn.T).max(axis=1).sum())


@pytest.fixture(scope="module")
def data(server: ServerProcess) -> dict[str, object]:
    rng = np.random.default_rng(11)
    n = len(TEXTS)
    dense = rng.standard_normal((n, DIM)).astype(np.float32)
    splade = [{int(t): float(w) for t, w in zip(rng.choice(40, 4, replace=False), rng.uniform(0.1, 2, 4))}
              for _ in range(n)]
    splade[2] = None
    colbert = [rng.standard_normal((int(rng.integers(2, 5)), DIM)).astype(np.float32) for _ in range(n)]
    with Client(server.address) as client:
        client.create_collection("mixed", FIELDS, payload_indexes={"lang": "keyword"})
        client.upsert("mixed", list(range(n)),
                      {"dense": dense, "codes": dense, "splade": splade, "colbert": colbert},
                      payloads=[{"body": t, "lang": "en" if i % 2 == 0 else "de"} for i, t in enumerate(TEXTS)])
    return {"dense": dense, "splade": splade, "colbert": colbert}


def test_schema_round_trips_every_field_kind(server: ServerProcess, data: dict[str, object]) -> None:
    with Client(server.address) as client:
        info = client.get_collection("mixed")
        assert isinstance(info.vectors["bm25"], SparseParams) and info.vectors["bm25"].modifier == "bm25"
        assert info.vectors["bm25"].bm25.text_key == "body"
        assert isinstance(info.vectors["colbert"], MultiVectorParams) and info.vectors["colbert"].muvera.reps == 4
        assert info.vectors["codes"].quantization.bits == 2
        stats = {f.name: f for f in client.stats("mixed")[0].fields}
        assert stats["codes"].vector_ram_bytes < stats["dense"].vector_ram_bytes
        assert stats["codes"].codebook and stats["codes"].codebook.get("bits") == 2


def test_each_kind_answers_through_the_sdk(server: ServerProcess, data: dict[str, object]) -> None:
    with Client(server.address) as client:
        bm25 = client.query("mixed", text="python list", using="bm25", limit=3)
        assert set(bm25.ids) <= {3, 5, 7} and bm25.ids[0] in (3, 5)
        q = {7: 1.0, 3: 0.5}
        sparse = client.query("mixed", SparseVector(np.array([7, 3], np.uint32), np.array([1.0, 0.5], np.float32)),
                              using="splade", limit=8)
        expected = sorted(((sum(w * (d or {}).get(t, 0.0) for t, w in q.items()), i)
                           for i, d in enumerate(data["splade"])), key=lambda t: (-t[0], t[1]))
        assert list(sparse.ids) == [i for s, i in expected if s > 0][:8]
        tokens = data["colbert"][4]
        multi = client.query("mixed", tokens, using="colbert", limit=3)
        truth = sorted(range(len(TEXTS)), key=lambda i: -_maxsim(tokens, data["colbert"][i]))[:3]
        assert list(multi.ids) == truth
        codes = client.query("mixed", data["dense"][6], using="codes", limit=3)
        plain = client.query("mixed", data["dense"][6], using="dense", limit=3, exact=True)
        assert list(codes.ids) == list(plain.ids)
        assert codes.scores == pytest.approx(plain.scores, abs=1e-5)  # rescored from the originals
        rec = client.get("mixed", [0, 2], with_vectors=["splade", "colbert"])
        assert isinstance(rec[0].vectors["splade"], SparseVector) and "splade" not in rec[1].vectors
        assert rec[0].vectors["colbert"].shape == data["colbert"][0].shape


def test_hybrid_queries_through_the_sdk(server: ServerProcess, data: dict[str, object]) -> None:
    with Client(server.address) as client:
        stages = [Prefetch(using="bm25", text="quick python", limit=8),
                  Prefetch(using="dense", vector=data["dense"][3], limit=8)]
        a = list(client.query("mixed", text="quick python", using="bm25", limit=8).ids)
        b = list(client.query("mixed", data["dense"][3], using="dense", limit=8).ids)
        scores: dict[int, float] = {}
        for ranking in (a, b):
            for rank, pid in enumerate(ranking, 1):
                scores[pid] = scores.get(pid, 0.0) + 1 / (60 + rank)
        fused = client.query("mixed", prefetch=stages, fusion="rrf", limit=4)
        assert list(fused.ids) == sorted(scores, key=lambda p: -scores[p])[:4]
        tokens = data["colbert"][0]
        reranked = client.query("mixed", prefetch=stages, rerank=Rerank(using="colbert", vector=tokens), limit=3)
        assert list(reranked.ids) == sorted(scores, key=lambda p: -_maxsim(tokens, data["colbert"][p]))[:3]
        same = client.query("mixed", prefetch=stages, diversity=Diversity("mmr", 1.0, using="dense"), limit=4)
        assert list(same.ids) == list(fused.ids)
        german = client.query("mixed", prefetch=stages, fusion=Fusion("dbsf"), filter={
            "must": [{"key": "lang", "match": {"value": "de"}}]}, limit=8, with_payload=True)
        assert german.ids and all(p["lang"] == "de" for p in german.payloads)
        with pytest.raises(errors.InvalidArgument, match="rerank reorders prefetch candidates"):
            client.query("mixed", data["dense"][0], using="dense", rerank=Rerank(using="colbert", vector=tokens))


def test_cli_hybrid_search_and_quantized_create(server: ServerProcess, data: dict[str, object], tmp_path: Path) -> None:
    out = vecdb(server, "search", "mixed", "--text", "quick python", "--hybrid", "bm25", "--limit", "3", "--json")
    hits = json.loads(out.stdout)
    assert [h["id"] for h in hits] and all(h["id"] in (0, 2, 3, 5, 7) for h in hits)
    bad = vecdb(server, "search", "mixed", "--vector", "[1, 2]", "--rerank", "colbert", check=False)
    assert bad.returncode != 0 and "--rerank goes with --hybrid" in bad.stderr
    vecdb(server, "collection", "create", "packed", "--dim", "8", "--quantize", "binary:1", "--oversampling", "3")
    info = json.loads(vecdb(server, "collection", "info", "packed", "--json").stdout)
    assert info["collection"]["vectors"]["default"]["quantization"]["bits"] == 1


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    dense = rng.standard_normal((64, DIM)).astype(np.float32)
    colbert = [rng.standard_normal((3, DIM)).astype(np.float32) for _ in range(64)]
    payloads = [{"body": f"document {i} about {'cats' if i % 3 else 'dogs'}"} for i in range(64)]
    queries = [{"vector": dense[5], "using": "codes"}, {"text": "dogs", "using": "bm25"},
               {"vector": colbert[7], "using": "colbert"}]
    with ServerProcess(tmp_path) as proc, Client(proc.address) as client:
        client.create_collection("r", FIELDS)
        client.upsert("r", list(range(64)), {"dense": dense, "codes": dense, "colbert": colbert},
                      payloads=payloads)
        before = [list(client.query("r", limit=5, **q).ids) for q in queries]
    with ServerProcess(tmp_path) as proc, Client(proc.address) as client:
        assert [list(client.query("r", limit=5, **q).ids) for q in queries] == before
        stats = client.retrain_quantization("r", "codes")
        assert stats.codebook["trained_on"] == 64
        assert list(client.query("r", limit=5, **queries[0]).ids) == before[0]
