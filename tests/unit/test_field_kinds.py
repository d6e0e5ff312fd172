"""Sparse, BM25 and multi-vector fields and hybrid queries through the engine: what a user of
one collection relies on, checked against brute force and hand computation, across restarts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vecdb.engine.database import Database
from vecdb.engine.errors import InvalidArgument
from vecdb.engine.filters import Filter, Match
from vecdb.engine.schema import (
    Bm25Config,
    CollectionConfig,
    DenseField,
    HnswConfig,
    MultiVectorField,
    MuveraConfig,
    SparseField,
)
from vecdb.engine.types import (
    Diversity,
    Fusion,
    HybridQuery,
    NearestQuery,
    Rerank,
    SparseVector,
    UpsertBatch,
)
from vecdb.index.analyzer import Analyzer, AnalyzerConfig
from vecdb.kernels.metrics import Metric

from .engine_helpers import open_db, simulate_crash

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


def _config() -> CollectionConfig:
    return CollectionConfig(name="h", vectors=(
        DenseField("dense", DIM, hnsw=HnswConfig(m=8, ef_construct=64, ef=64)),
        SparseField("bm25", modifier="bm25", bm25=Bm25Config(text_key="body")),
        SparseField("splade"),
        MultiVectorField("colbert", DIM, metric=Metric.COSINE, muvera=MuveraConfig(reps=4, k_sim=3, d_proj=0)),
    ))


def _sparse(rng: np.random.Generator, vocab: int = 60) -> SparseVector:
    terms = rng.choice(vocab, size=int(rng.integers(1, 8)), replace=False)
    return SparseVector(terms.astype(np.uint32), rng.uniform(0.1, 2.0, terms.size).astype(np.float32))


def _tokens(rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((int(rng.integers(2, 6)), DIM)).astype(np.float32)


def _fill(db: Database) -> dict[str, list[object]]:
    db.create_collection(_config())
    rng = np.random.default_rng(7)
    n = len(TEXTS)
    data: dict[str, list[object]] = {
        "dense": list(rng.standard_normal((n, DIM)).astype(np.float32)),
        "splade": [_sparse(rng) for _ in range(n)],
        "colbert": [_tokens(rng) for _ in range(n)],
    }
    data["splade"][3] = None  # a point without a sparse vector
    db.collection("h").upsert(UpsertBatch(
        ids=list(range(n)),
        vectors={"dense": np.stack(data["dense"]), "splade": data["splade"], "colbert": data["colbert"]},
        payloads=[{"body": t, "lang": "en" if i % 2 == 0 else "de"} for i, t in enumerate(TEXTS)],
    ))
    return data


@pytest.fixture()
def filled(tmp_path: Path) -> tuple[Database, dict[str, list[object]]]:
    db = open_db(tmp_path)
    data = _fill(db)
    yield db, data
    db.close()


def _sparse_dot(q: SparseVector, d: SparseVector | None) -> float:
    if d is None:
        return 0.0
    weights = dict(zip(d.indices.tolist(), d.values.tolist()))
    return float(sum(w * weights.get(t, 0.0) for t, w in zip(q.indices.tolist(), q.values.tolist())))


def _maxsim(q: np.ndarray, d: np.ndarray) -> float:
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    dn = d / np.linalg.norm(d, axis=1, keepdims=True)
    return float((qn @ dn.T).max(axis=1).sum())


def _bm25(query: list[str], docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """Lucene's BM25 written out by hand (as bm25s computes it): idf = ln(1 + (N - df + 0.5) /
    (df + 0.5)), term weight tf / (tf + k1 (1 - b + b dl / avgdl)) (no (k1 + 1) factor)."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    out = np.zeros(n)
    for term in set(query):
        df = sum(term in d for d in docs)
        if df == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for j, d in enumerate(docs):
            tf = d.count(term)
            out[j] += idf * tf / (tf + k1 * (1 - b + b * len(d) / avgdl))
    return out


def test_sparse_top_k_equals_brute_force_and_skips_points_without_a_vector(filled) -> None:
    db, data = filled
    rng = np.random.default_rng(1)
    c = db.collection("h")
    for _ in range(20):
        q = _sparse(rng)
        hits = c.query(NearestQuery(using="splade", vector=q, limit=5))
        expected = sorted(((_sparse_dot(q, d), i) for i, d in enumerate(data["splade"])), key=lambda t: (-t[0], t[1]))
        expected = [(s, i) for s, i in expected if s > 0][:5]
        assert [round(s, 4) for s, _ in expected] == [round(s, 4) for s in hits.scores.tolist()]
        assert 3 not in hits.ids


def test_bm25_scores_equal_a_hand_computation_and_idf_follows_deletes(filled) -> None:
    db, _ = filled
    c = db.collection("h")
    # Terms come from the field's analyzer (tested on its own); the scoring is checked here.
    analyzer = Analyzer(AnalyzerConfig())
    analyzed = analyzer.tokens_batch(TEXTS)
    query = analyzer.tokens("quick fox")
    hits = c.query(NearestQuery(using="bm25", text="quick fox", limit=8))
    expected = _bm25(query, analyzed)
    got = dict(zip(hits.ids, hits.scores.tolist()))
    for i, score in enumerate(expected):
        if score > 0:
            assert got[i] == pytest.approx(score, rel=1e-5)
        else:
            assert i not in got
    # Deleting documents changes N, df and avgdl: the scores must be those of the smaller corpus.
    c.delete_ids([2, 6])
    keep = [i for i in range(len(TEXTS)) if i not in (2, 6)]
    expected = _bm25(query, [analyzed[i] for i in keep])
    hits = c.query(NearestQuery(using="bm25", text="quick fox", limit=8))
    got = dict(zip(hits.ids, hits.scores.tolist()))
    assert not {2, 6} & set(got)
    for pos, i in enumerate(keep):
        if expected[pos] > 0:
            assert got[i] == pytest.approx(expected[pos], rel=1e-5)


def test_multivector_search_matches_exhaustive_maxsim(filled) -> None:
    db, data = filled
    c = db.collection("h")
    rng = np.random.default_rng(3)
    for _ in range(10):
        q = _tokens(rng)
        truth = sorted(range(len(TEXTS)), key=lambda i: -_maxsim(q, data["colbert"][i]))[:3]
        for exact in (False, True):
            hits = c.query(NearestQuery(using="colbert", vector=q, limit=3, exact=exact))
            assert list(hits.ids) == truth
            assert hits.scores[0] == pytest.approx(_maxsim(q, data["colbert"][truth[0]]), rel=1e-2)


def test_every_kind_survives_restart_and_crash(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    data = _fill(db)
    c = db.collection("h")
    q_sparse = data["splade"][0]
    q_tokens = data["colbert"][1]
    queries = [NearestQuery(using="splade", vector=q_sparse, limit=4),
               NearestQuery(using="bm25", text="python list", limit=4),
               NearestQuery(using="colbert", vector=q_tokens, limit=4)]
    before = [list(c.query(q).ids) for q in queries]
    c.checkpoint()
    c.upsert(UpsertBatch(ids=[100], vectors={"dense": np.ones((1, DIM)), "splade": [q_sparse], "colbert": [q_tokens]},
                         payloads=[{"body": "python list python list"}]))
    after = [list(c.query(q).ids) for q in queries]
    assert all(100 in a[:2] for a in after)  # (ties with the point whose vectors it copies)
    simulate_crash(db)
    reopened = open_db(tmp_path)
    try:
        c = reopened.collection("h")
        assert [list(c.query(q).ids) for q in queries] == after
        rec = c.get([0], with_vectors=("splade", "colbert"))[0]
        assert rec.vectors["splade"].indices.tolist() == sorted(q_sparse.indices.tolist())
        assert rec.vectors["colbert"].shape == data["colbert"][0].shape
        assert before  # the same queries answered before the new point arrived
    finally:
        reopened.close()


def test_rrf_fusion_is_the_hand_computed_order(filled) -> None:
    db, data = filled
    c = db.collection("h")
    a = NearestQuery(using="bm25", text="python list", limit=4)
    b = NearestQuery(using="dense", vector=data["dense"][5], limit=4)
    ra, rb = list(c.query(a).ids), list(c.query(b).ids)
    scores: dict[object, float] = {}
    for ranking, weight in ((ra, 2.0), (rb, 1.0)):
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] = scores.get(pid, 0.0) + weight / (10 + rank)
    expected = sorted(scores, key=lambda p: -scores[p])[:3]
    hits = c.query(HybridQuery(prefetch=(a, b), fusion=Fusion("rrf", k=10, weights=(2.0, 1.0)), limit=3))
    assert list(hits.ids) == expected
    assert hits.scores.tolist() == pytest.approx([scores[p] for p in expected])


def test_rerank_rescores_fused_candidates_exactly(filled) -> None:
    db, data = filled
    c = db.collection("h")
    q = data["colbert"][4]
    stage = NearestQuery(using="bm25", text="python rust sort", limit=10)
    candidates = list(c.query(stage).ids)
    hits = c.query(HybridQuery(prefetch=(stage,), rerank=Rerank(NearestQuery(using="colbert", vector=q)), limit=3))
    expected = sorted(candidates, key=lambda i: -_maxsim(q, data["colbert"][i]))[:3]
    assert list(hits.ids) == expected
    assert hits.scores[0] == pytest.approx(_maxsim(q, data["colbert"][expected[0]]), rel=1e-2)


def test_diversity_with_lambda_one_is_the_plain_top_k_and_lower_lambda_diversifies(filled) -> None:
    db, data = filled
    c = db.collection("h")
    stage = NearestQuery(using="dense", vector=data["dense"][0], limit=8)
    plain = list(c.query(NearestQuery(using="dense", vector=data["dense"][0], limit=4)).ids)
    for method in ("mmr", "coverage"):
        same = c.query(HybridQuery(prefetch=(stage,), diversity=Diversity(method, 1.0, "dense"), limit=4))
        assert list(same.ids) == plain
        varied = c.query(HybridQuery(prefetch=(stage,), diversity=Diversity(method, 0.0, "dense"), limit=4))
        assert len(varied) == 4 and varied.ids[0] == plain[0]


def test_filters_apply_to_every_stage_and_nesting_works(filled) -> None:
    db, data = filled
    c = db.collection("h")
    german = Filter(must=(Match("lang", "de"),))
    inner = HybridQuery(prefetch=(NearestQuery(using="bm25", text="python quick", limit=8),
                                  NearestQuery(using="splade", vector=data["splade"][1], limit=8)),
                        fusion=Fusion("dbsf"), limit=8)
    hits = c.query(HybridQuery(prefetch=(inner, NearestQuery(using="dense", vector=data["dense"][1], limit=8)),
                               filter=german, limit=8, with_payload=True))
    assert len(hits) > 0 and all(p["lang"] == "de" for p in hits.payloads)


def test_bad_hybrid_and_kind_input_is_refused_with_the_place(filled) -> None:
    db, _ = filled
    c = db.collection("h")
    with pytest.raises(InvalidArgument, match="BM25 field 'bm25' is queried by a non-empty text"):
        c.query(NearestQuery(using="bm25", vector=np.ones(DIM)))
    with pytest.raises(InvalidArgument, match="repeat term 3"):
        c.query(NearestQuery(using="splade", vector=SparseVector(np.array([3, 3]), np.array([1.0, 1.0]))))
    with pytest.raises(InvalidArgument, match="fusion.weights has 1 entries for 2"):
        c.query(HybridQuery(prefetch=(NearestQuery(using="bm25", text="x"), NearestQuery(using="bm25", text="y")),
                            fusion=Fusion(weights=(1.0,))))
    with pytest.raises(InvalidArgument, match="colbert.*\\[tokens >= 1, 8\\]"):
        c.upsert(UpsertBatch(ids=[9], vectors={"dense": np.ones((1, DIM)), "colbert": [np.ones(DIM)]}))
    with pytest.raises(InvalidArgument, match="computes its weights from text"):
        c.upsert(UpsertBatch(ids=[9], vectors={"dense": np.ones((1, DIM)), "bm25": [None]}))
    assert c.count() == len(TEXTS)
