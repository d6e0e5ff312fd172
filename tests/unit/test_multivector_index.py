"""MultiVectorIndex: exact MaxSim against a brute-force einsum over padded sets, FDE search plus
rerank against exhaustive MaxSim, filters, deletes and updates, persistence and input errors."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from vecdb.index import IndexLoadError, MultiVectorIndex, MultiVectorIndexConfig
from vecdb.index.muvera import FdeConfig
from vecdb.kernels import Metric

DIM = 24
SMALL_FDE = FdeConfig(reps=10, k_sim=3, d_proj=8)


def config(**kw: object) -> MultiVectorIndexConfig:
    base: dict[str, object] = {"fde": SMALL_FDE, "kernel_device": "cpu", "exhaustive_max": 0,
                               "candidates": 60, "ef_construct": 64, "initial_tokens": 64}
    base.update(kw)
    return MultiVectorIndexConfig(**base)  # type: ignore[arg-type]


class Corpus:
    """Clustered token sets: each point draws its tokens from a few of 40 topic centres."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.centers = self.rng.standard_normal((40, DIM)).astype(np.float32)

    def token_set(self, n: int | None = None) -> np.ndarray:
        n = int(self.rng.integers(2, 16)) if n is None else n
        topics = self.rng.choice(40, size=3, replace=False)
        t = self.centers[self.rng.choice(topics, n)] + 0.35 * self.rng.standard_normal((n, DIM))
        return t.astype(np.float32)

    def sets(self, count: int, n: int | None = None) -> list[np.ndarray]:
        return [self.token_set(n) for _ in range(count)]


def brute_force(query: np.ndarray, docs: dict[int, np.ndarray], cosine: bool) -> dict[int, float]:
    """MaxSim of every doc by one einsum over zero-padded sets, padding masked to -inf."""
    def norm(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=-1, keepdims=True) if cosine else x

    ids = sorted(docs)
    longest = max(len(docs[i]) for i in ids)
    padded = np.zeros((len(ids), longest, DIM), dtype=np.float64)
    mask = np.zeros((len(ids), longest), dtype=bool)
    for row, i in enumerate(ids):
        padded[row, : len(docs[i])] = norm(docs[i].astype(np.float64))
        mask[row, : len(docs[i])] = True
    sims = np.einsum("qd,ntd->nqt", norm(query.astype(np.float64)), padded)
    sims[~np.broadcast_to(mask[:, None, :], sims.shape)] = -np.inf
    return dict(zip(ids, sims.max(axis=2).sum(axis=1).tolist()))


def assert_topk_matches(ids: np.ndarray, scores: np.ndarray, truth: dict[int, float], k: int) -> None:
    """Tie-tolerant: returned scores are the true ones and no better point was left out."""
    best = sorted(truth.values(), reverse=True)[:k]
    assert len(ids) == len(best)
    for i, s in zip(ids.tolist(), scores.tolist()):
        assert s == pytest.approx(truth[i], rel=2e-3, abs=2e-3)
    np.testing.assert_allclose(sorted(scores.tolist(), reverse=True), best, rtol=2e-3, atol=2e-3)
    assert list(scores) == sorted(scores, reverse=True)


@pytest.fixture(scope="module")
def corpus_docs() -> tuple[Corpus, dict[int, np.ndarray]]:
    corpus = Corpus(0)
    docs = dict(zip(range(1000, 1400), corpus.sets(400)))
    return corpus, docs


@pytest.mark.parametrize("metric", [Metric.DOT, Metric.COSINE])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_exact_search_equals_padded_einsum(corpus_docs, metric: Metric, dtype: str) -> None:
    corpus, docs = corpus_docs
    index = MultiVectorIndex(DIM, metric, config(storage_dtype=dtype))
    index.add(np.array(list(docs)), list(docs.values()))
    queries = corpus.sets(5, n=6)
    found = index.search(queries, 10, exact=True)
    for i, q in enumerate(queries):
        ids, scores = found.row(i)
        assert_topk_matches(ids, scores, brute_force(q, docs, metric is Metric.COSINE), 10)


def test_fde_candidates_reranked_give_the_exhaustive_top10(corpus_docs) -> None:
    corpus, docs = corpus_docs
    index = MultiVectorIndex(DIM, Metric.COSINE, config(storage_dtype="float32"))
    index.add(np.array(list(docs)), list(docs.values()))
    queries = [docs[i][:4] + 0.2 * corpus.rng.standard_normal((min(4, len(docs[i])), DIM)).astype(np.float32)
               for i in corpus.rng.choice(list(docs), 20)]
    approx = index.search(queries, 10)
    exact = index.search(queries, 10, exact=True)
    hits = 0
    for i, q in enumerate(queries):
        truth = brute_force(q, docs, True)
        ids, scores = approx.row(i)
        for j, s in zip(ids.tolist(), scores.tolist()):  # always exact MaxSim scores
            assert s == pytest.approx(truth[j], rel=1e-4, abs=1e-4)
        hits += len(set(ids.tolist()) & set(exact.row(i)[0].tolist()))
    assert hits / (10 * len(queries)) >= 0.95
    # FDE candidates alone are a different ranking: the rerank is doing work
    fde_only = index.fde_candidates(queries, 10)
    assert not np.array_equal(fde_only.ids, approx.ids)


def test_small_collections_are_scanned_exhaustively(corpus_docs) -> None:
    corpus, docs = corpus_docs
    index = MultiVectorIndex(DIM, Metric.DOT, config(exhaustive_max=1000, candidates=1))
    index.add(np.array(list(docs)), list(docs.values()))
    q = corpus.token_set(5)
    ids, scores = index.search([q], 10).row(0)  # one candidate would miss most of the top 10
    assert_topk_matches(ids, scores, brute_force(q, docs, False), 10)


def test_allowed_limits_results_exactly(corpus_docs) -> None:
    corpus, docs = corpus_docs
    index = MultiVectorIndex(DIM, Metric.COSINE, config(candidates=20))
    index.add(np.array(list(docs)), list(docs.values()))
    q = corpus.token_set(5)
    for allowed in (np.arange(1000, 1400, 37), np.arange(1000, 1400, 2)):  # scan path, graph path
        allowed_set = set(allowed.tolist())
        ids, scores = index.search([q], 10, allowed=np.append(allowed, 99_999)).row(0)
        assert set(ids.tolist()) <= allowed_set
        truth = brute_force(q, {i: docs[i] for i in allowed_set}, True)
        if len(allowed_set) <= 20:
            assert_topk_matches(ids, scores, truth, 10)
        else:
            assert len(ids) == 10
    assert index.search([q], 5, allowed=np.array([5, 6])).counts.tolist() == [0]


def test_rerank_scores_given_ids_and_drops_unknown(corpus_docs) -> None:
    corpus, docs = corpus_docs
    index = MultiVectorIndex(DIM, Metric.DOT, config())
    index.add(np.array(list(docs)), list(docs.values()))
    q = corpus.token_set(7)
    cands = np.array([1005, 1100, 77, 1399, 1005, 1200])
    ids, scores = index.rerank(q, cands, 3)
    truth = brute_force(q, {i: docs[i] for i in (1005, 1100, 1399, 1200)}, False)
    assert_topk_matches(ids, scores, truth, 3)
    ids, _ = index.rerank(q, np.array([5, 6], dtype=np.uint64), 3)
    assert ids.size == 0


def test_updates_and_deletes_are_seen_and_compacted() -> None:
    corpus = Corpus(1)
    index = MultiVectorIndex(DIM, Metric.DOT, config(exhaustive_max=0))
    model: dict[int, np.ndarray] = {}
    for step in range(12):
        ids = corpus.rng.choice(300, 80, replace=False)
        sets = corpus.sets(80)
        index.add(ids, sets)
        model.update(zip(ids.tolist(), sets))
        gone = corpus.rng.choice(300, 30, replace=False)
        index.remove(gone)
        for g in gone.tolist():
            model.pop(g, None)
        assert len(index) == len(model)
    assert set(index.live_ids().tolist()) == set(model)
    for i in list(model)[:20]:
        assert i in index
        np.testing.assert_allclose(index.get_tokens(np.array([i]))[0], model[i], rtol=1e-3, atol=1e-3)
    # tombstones are bounded: dead tokens never exceed half the live ones for long
    assert index.token_count == sum(len(v) for v in model.values())
    assert index.token_ram_bytes <= 2 * 2 * index.token_count * DIM * 2 + 64 * DIM * 2
    q = corpus.token_set(5)
    ids, scores = index.search([q], 10, exact=True).row(0)
    assert_topk_matches(ids, scores, brute_force(q, model, False), 10)
    ids, _ = index.search([q], 10).row(0)
    assert set(ids.tolist()) <= set(model)
    with pytest.raises(KeyError):
        index.get_tokens(np.array([10_000]))


def test_duplicate_ids_in_one_batch_keep_the_last() -> None:
    corpus = Corpus(2)
    index = MultiVectorIndex(DIM, Metric.DOT, config())
    a, b = corpus.token_set(3), corpus.token_set(5)
    index.add(np.array([7, 7]), [a, b])
    assert len(index) == 1
    np.testing.assert_allclose(index.get_tokens(np.array([7]))[0], b, rtol=1e-3, atol=1e-3)


def test_save_load_round_trip_and_corruption(tmp_path: Path, corpus_docs) -> None:
    corpus, docs = corpus_docs
    cfg = config()
    index = MultiVectorIndex(DIM, Metric.COSINE, cfg)
    index.add(np.array(list(docs)), list(docs.values()))
    index.remove(np.arange(1000, 1100))
    path = tmp_path / "mv.index"
    index.save(path)
    loaded = MultiVectorIndex.load(path, dim=DIM, metric=Metric.COSINE, config=cfg)
    assert set(loaded.live_ids().tolist()) == set(index.live_ids().tolist())
    queries = corpus.sets(4, n=5)
    for exact in (True, False):
        a, b = index.search(queries, 10, exact=exact), loaded.search(queries, 10, exact=exact)
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
    loaded.add(np.array([5]), [corpus.token_set(4)])  # still mutable after load
    assert 5 in loaded and len(loaded) == len(index) + 1

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.index"
    bad.write_bytes(bytes(data))
    with pytest.raises(IndexLoadError, match="checksum"):
        MultiVectorIndex.load(bad, dim=DIM, metric=Metric.COSINE, config=cfg)
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IndexLoadError):
        MultiVectorIndex.load(bad, dim=DIM, metric=Metric.COSINE, config=cfg)
    with pytest.raises(IndexLoadError, match="fde"):
        MultiVectorIndex.load(path, dim=DIM, metric=Metric.COSINE,
                              config=config(fde=FdeConfig(reps=10, k_sim=3, d_proj=8, seed=1)))
    with pytest.raises(IndexLoadError, match="metric"):
        MultiVectorIndex.load(path, dim=DIM, metric=Metric.DOT, config=cfg)
    with pytest.raises(IndexLoadError):
        MultiVectorIndex.load(tmp_path / "missing", dim=DIM, metric=Metric.COSINE, config=cfg)


def test_float16_store_halves_token_bytes() -> None:
    corpus = Corpus(3)
    sets = corpus.sets(50)
    sizes = {}
    for dtype in ("float16", "float32"):
        index = MultiVectorIndex(DIM, Metric.DOT, config(storage_dtype=dtype, initial_tokens=1))
        index.add(np.arange(50), sets)
        sizes[dtype] = index.token_ram_bytes
        assert index.ram_bytes > index.token_ram_bytes
    assert sizes["float16"] * 2 == sizes["float32"]


def test_concurrent_searches_and_writes() -> None:
    corpus = Corpus(4)
    index = MultiVectorIndex(DIM, Metric.DOT, config())
    index.add(np.arange(200), corpus.sets(200))
    queries = corpus.sets(3, n=4)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(15):
                found = index.search(queries, 5)
                assert (found.counts == 5).all()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for step in range(10):
        index.add(np.arange(200 + 10 * step, 210 + 10 * step), corpus.sets(10))
        index.remove(np.arange(10 * step, 10 * step + 5))
    for t in threads:
        t.join()
    assert not errors


def test_bad_input_is_rejected_with_a_reason() -> None:
    index = MultiVectorIndex(DIM, Metric.COSINE, config())
    with pytest.raises(ValueError, match="one set per id"):
        index.add(np.array([1, 2]), [np.ones((2, DIM))])
    with pytest.raises(ValueError, match="n_tokens >= 1"):
        index.add(np.array([1]), [np.ones((0, DIM))])
    with pytest.raises(ValueError, match=f"{DIM}"):
        index.add(np.array([1]), [np.ones((2, DIM + 1))])
    with pytest.raises(ValueError, match="zero token"):
        index.add(np.array([1]), [np.zeros((2, DIM))])
    with pytest.raises(ValueError, match="finite"):
        index.search([np.full((2, DIM), np.inf)], 3)
    with pytest.raises(ValueError, match="k must"):
        index.search([np.ones((2, DIM))], 0)
    with pytest.raises(ValueError, match="dot or cosine"):
        MultiVectorIndex(DIM, Metric.L2)
    with pytest.raises(ValueError, match="storage_dtype"):
        MultiVectorIndexConfig(storage_dtype="bfloat16")
    with pytest.raises(ValueError, match="candidates"):
        MultiVectorIndexConfig(candidates=0)
    assert len(index) == 0 and index.search([np.ones((2, DIM))], 3).counts.tolist() == [0]
