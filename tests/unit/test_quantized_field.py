"""Quantized dense fields through the engine: codes in memory, originals on disk, exact
rescoring of only the candidates, restart, retraining and the RAM the stats report."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from vecdb.engine.errors import FailedPrecondition, InvalidArgument
from vecdb.engine.schema import CollectionConfig, DenseField, HnswConfig, QuantizationConfig
from vecdb.engine.types import NearestQuery, UpsertBatch

from .engine_helpers import open_db, simulate_crash

DIM = 128
N = 3000


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    """Embedding-like data: a 32-d latent structure spread over DIM dimensions, a little noise
    and a shared offset (not centred, so the codebook's mean matters)."""
    basis = np.random.default_rng(99).standard_normal((32, DIM))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 32)) @ basis + 0.3 * rng.standard_normal((n, DIM)) + 1.5
    return x.astype(np.float32)


def _config(q: QuantizationConfig) -> CollectionConfig:
    return CollectionConfig(name="q", vectors=(
        DenseField("v", DIM, quantization=q, hnsw=HnswConfig(m=16, ef_construct=100, ef=64)),))


def _exact_top(x: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    return list(np.argsort(-(xn @ (q / np.linalg.norm(q))))[:k])


def _recall(db, x: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    c = db.collection("q")
    found = 0
    for q in queries:
        found += len(set(c.query(NearestQuery(using="v", vector=q, limit=k)).ids) & set(_exact_top(x, q, k)))
    return found / (k * len(queries))


@pytest.mark.parametrize("q", [
    QuantizationConfig("binary", bits=1),
    QuantizationConfig("binary", bits=2, binary_method="recurrent_residual"),
    QuantizationConfig("int8"),
])
def test_rescored_results_are_exact_and_read_only_the_candidates(tmp_path: Path, q: QuantizationConfig) -> None:
    x = _clustered(N)
    db = open_db(tmp_path)
    try:
        db.create_collection(_config(q))
        c = db.collection("q")
        c.upsert(UpsertBatch(ids=list(range(N)), vectors={"v": x}))
        queries = _clustered(20, seed=1)
        assert _recall(db, x, queries) >= 0.8
        store = c._store
        before = store.vector_reads
        hits = c.query(NearestQuery(using="v", vector=queries[0], limit=10))
        reads = store.vector_reads - before
        assert 10 <= reads <= int(np.ceil(10 * q.oversampling))  # only the candidates' originals
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        exact = xn[hits.ids] @ (queries[0] / np.linalg.norm(queries[0]))
        np.testing.assert_allclose(hits.scores, exact, rtol=1e-5, atol=1e-6)  # scores from the originals
        stats = c.stats().fields[0]
        assert stats.float32_bytes == N * DIM * 4
        assert stats.vector_ram_bytes <= stats.float32_bytes // (4 if q.method == "int8" else 16)
        assert stats.codebook and stats.codebook.get("trained_on", 0) > 0
    finally:
        db.close()


def test_recall_grows_with_bits(tmp_path: Path) -> None:
    x = _clustered(N)
    queries = _clustered(25, seed=2)
    recalls = []
    for bits in (1, 2, 4):
        db = open_db(tmp_path / str(bits))
        try:
            db.create_collection(_config(QuantizationConfig("binary", bits=bits, oversampling=1.0, rescore=False)))
            db.collection("q").upsert(UpsertBatch(ids=list(range(N)), vectors={"v": x}))
            recalls.append(_recall(db, x, queries))
        finally:
            db.close()
    assert recalls[0] < recalls[1] < recalls[2], recalls


def test_results_identical_after_restart_crash_and_retrain(tmp_path: Path) -> None:
    x = _clustered(N)
    queries = _clustered(10, seed=3)
    db = open_db(tmp_path)
    db.create_collection(_config(QuantizationConfig("binary", bits=2)))
    c = db.collection("q")
    # The codebook's sample: a third of the data, so the collection does not grow fourfold
    # past it and retrain itself in the background (tested below).
    c.upsert(UpsertBatch(ids=list(range(1000)), vectors={"v": x[:1000]}))
    c.upsert(UpsertBatch(ids=list(range(1000, N)), vectors={"v": x[1000:]}))
    c.delete_ids(list(range(50)))
    answer = [list(c.query(NearestQuery(using="v", vector=q, limit=10)).ids) for q in queries]
    db.close()
    db = open_db(tmp_path)
    c = db.collection("q")
    assert [list(c.query(NearestQuery(using="v", vector=q, limit=10)).ids) for q in queries] == answer
    c.upsert(UpsertBatch(ids=[9999], vectors={"v": x[:1] * 1.01}))  # after the checkpoint: replayed
    simulate_crash(db)
    db = open_db(tmp_path)
    try:
        c = db.collection("q")
        assert c.query(NearestQuery(using="v", vector=x[0], limit=2)).ids[0] in (0, 9999)
        trained_before = c.stats().fields[0].codebook["trained_on"]
        stats = c.retrain("v")
        assert stats.codebook["trained_on"] == N - 50 + 1 > trained_before
        exact = [_exact_top(np.delete(x, range(50), axis=0), q, 10) for q in queries]
        got = [list(c.query(NearestQuery(using="v", vector=q, limit=10)).ids) for q in queries]
        hits = sum(len(set(g) & {i + 50 for i in e}) for g, e in zip(got, exact))
        assert hits / (10 * len(queries)) >= 0.8
    finally:
        db.close()


def test_a_codebook_trained_on_a_small_first_batch_retrains_itself_as_the_field_grows(tmp_path: Path) -> None:
    x = _clustered(N)
    db = open_db(tmp_path)
    try:
        db.create_collection(_config(QuantizationConfig("binary", bits=1)))
        c = db.collection("q")
        c.upsert(UpsertBatch(ids=list(range(20)), vectors={"v": x[:20]}))
        assert c.stats().fields[0].codebook["trained_on"] == 20
        c.upsert(UpsertBatch(ids=list(range(20, N)), vectors={"v": x[20:]}))
        deadline = time.monotonic() + 60
        while c.stats().fields[0].codebook["trained_on"] < N and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.stats().fields[0].codebook["trained_on"] == N
    finally:
        db.close()


def test_exact_flag_scans_the_originals(tmp_path: Path) -> None:
    x = _clustered(500)
    db = open_db(tmp_path)
    try:
        db.create_collection(_config(QuantizationConfig("binary", bits=1, oversampling=1.0, rescore=False)))
        c = db.collection("q")
        c.upsert(UpsertBatch(ids=list(range(500)), vectors={"v": x}))
        for q in _clustered(5, seed=4):
            assert list(c.query(NearestQuery(using="v", vector=q, limit=5, exact=True)).ids) == _exact_top(x, q, 5)
    finally:
        db.close()


def test_bad_quantization_settings_and_retrain_of_a_plain_field_are_refused(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    try:
        for q, fragment in ((QuantizationConfig("binary", bits=5), "bits = 5"),
                            (QuantizationConfig("int4"), "method = 'int4'"),
                            (QuantizationConfig(oversampling=0.5), "oversampling = 0.5")):
            with pytest.raises(InvalidArgument, match=fragment):
                db.create_collection(_config(q))
        db.create_collection(CollectionConfig(name="plain", vectors=(DenseField("v", 4),)))
        with pytest.raises(FailedPrecondition, match="not quantized"):
            db.collection("plain").retrain("v")
    finally:
        db.close()
