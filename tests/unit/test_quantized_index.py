"""QuantizedIndex and its codebooks: exact LUT scoring, recall by bits, filters, persistence.

Recall is measured against brute force over the float vectors the test added, on seeded,
anisotropic clustered data (a shared offset plus clusters, like real embeddings), with the
engine's rescoring simulated by exact float scores of the returned candidates.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecdb.index import (
    INDEX_TYPES,
    MISSING_ID,
    Codebook,
    IndexLoadError,
    QuantizedIndex,
    QuantizedIndexConfig,
    QuantizerConfig,
    VectorIndex,
    create_index,
)
from vecdb.kernels import Metric, normalize, scores, topk
from vecdb.kernels.binary import lut_scores_reference

DIM = 48
QUANTIZERS = [
    QuantizerConfig("binary", bits, method)
    for bits in (1, 2, 3, 4)
    for method in ("threshold", "recurrent_residual")
] + [QuantizerConfig("binary", 2, "threshold", transform="itq"),
       QuantizerConfig("binary", 2, "recurrent_residual", transform="itq"), QuantizerConfig("int8")]


def embeddings(seed: int, n: int, dim: int = DIM, latent: int = 12) -> np.ndarray:
    """Unit vectors near a low-dimensional subspace around a common direction (anisotropic and
    of low intrinsic dimension, like text embeddings)."""
    rng = np.random.default_rng(seed)
    shared = np.random.default_rng(1000).standard_normal(dim)
    mix = np.random.default_rng(1001).standard_normal((latent, dim)) / 3
    x = shared + rng.standard_normal((n, latent)) @ mix + 0.15 * rng.standard_normal((n, dim))
    return normalize(x.astype(np.float32))


def index_config(**overrides: Any) -> QuantizedIndexConfig:
    """Test data is low-dimensional: lower the dimension from which the sign-plane prefilter and
    graph are used, so that these tests cover them."""
    return QuantizedIndexConfig(**{"prefilter_min_dim": 16, **overrides})


def exact_ids(queries: np.ndarray, data: np.ndarray, k: int, metric: Metric) -> np.ndarray:
    return topk(scores(queries, data, metric), k, metric)[0]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / t.size
                          for f, t in zip(found, truth)]))


def rescored(index: QuantizedIndex, data: np.ndarray, queries: np.ndarray, k: int,
             oversampling: int) -> np.ndarray:
    """The engine's path: k x oversampling candidates from the codes, exact rescoring after."""
    found = index.search(queries, k * oversampling)
    out = np.empty((len(queries), k), dtype=np.int64)
    for i in range(len(queries)):
        cand = found.row(i)[0].astype(np.int64)
        exact = scores(queries[i : i + 1], data[cand], index.metric)
        out[i] = cand[topk(exact, k, index.metric)[0][0]]
    return out


# -- codebooks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("quant", QUANTIZERS, ids=[q.label for q in QUANTIZERS])
@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
def test_lut_scores_equal_the_dot_product_of_decoded_vectors(
    quant: QuantizerConfig, symmetric: bool
) -> None:
    data = embeddings(1, 2000, dim=37)  # 37: the last byte of every plane is partly padding
    book = Codebook(quant, 37).fit(data)
    codes = book.encode(data[:300])
    assert codes.shape == (300, book.nbytes) and codes.dtype == np.uint8
    queries = embeddings(2, 5, dim=37)
    luts = book.query_luts(queries, symmetric=symmetric)
    assert luts.shape == (5, book.nbytes, 256)
    q_side = book.decode(book.encode(queries)) if symmetric else queries
    want = q_side.astype(np.float64) @ book.decode(codes).astype(np.float64).T
    np.testing.assert_allclose(lut_scores_reference(luts, codes), want, atol=1e-5, rtol=0)
    if quant.method == "int8":
        np.testing.assert_allclose(book.int8_scores(queries, codes),
                                   queries.astype(np.float64) @ book.decode(codes).T.astype(np.float64),
                                   atol=1e-5, rtol=0)


@pytest.mark.parametrize("quant", QUANTIZERS, ids=[q.label for q in QUANTIZERS])
def test_codes_are_compact_and_decode_close_to_the_input(quant: QuantizerConfig) -> None:
    data = embeddings(3, 3000, dim=64)
    book = Codebook(quant, 64).fit(data)
    codes = book.encode(data)
    assert book.nbytes == (64 if quant.method == "int8" else 8 * quant.bits)
    err = float(np.mean(np.sum((book.decode(codes) - data) ** 2, axis=1)))
    # Centred codes keep the error well below the squared norm of the centred vectors.
    centred = float(np.mean(np.sum((data - data.mean(axis=0)) ** 2, axis=1)))
    assert err < centred * (0.5 ** quant.code_bits) * 1.6
    # The first plane is the sign of the centred vector (int8: up to its rounding).
    signs = np.unpackbits(book.sign_plane(codes)) == np.unpackbits(book.query_signs(data))
    assert signs.mean() == 1.0 if quant.method == "binary" else signs.mean() > 0.97


def test_more_bits_give_smaller_reconstruction_error_for_both_binary_methods() -> None:
    data = embeddings(4, 3000, dim=64)
    for method in ("threshold", "recurrent_residual"):
        errs = []
        for bits in (1, 2, 3, 4):
            book = Codebook(QuantizerConfig("binary", bits, method), 64).fit(data)
            errs.append(float(np.mean((book.decode(book.encode(data)) - data) ** 2)))
        assert errs == sorted(errs, reverse=True) and errs[3] < errs[0] / 8, (method, errs)


def test_codebook_round_trips_through_bytes() -> None:
    data = embeddings(5, 500, dim=20)
    for quant in QUANTIZERS:
        book = Codebook(quant, 20).fit(data)
        again = Codebook.from_bytes(book.to_bytes())
        assert again.config == quant and again.trained_on == 500
        np.testing.assert_array_equal(again.encode(data), book.encode(data))
        np.testing.assert_array_equal(again.decode(book.encode(data)), book.decode(book.encode(data)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "pq"}, "method must be one of"),
        ({"bits": 5}, "bits in 1..4"),
        ({"bits": 0}, "bits in 1..4"),
        ({"binary_method": "itq"}, "binary_method must be one of"),
        ({"clip_quantile": 0.7}, "clip_quantile"),
        ({"transform": "pca"}, "transform must be"),
        ({"method": "int8", "transform": "itq"}, "applies to binary"),
    ],
)
def test_bad_quantizer_settings_are_rejected(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        QuantizerConfig(**kwargs)
    with pytest.raises(ValueError, match=match):
        QuantizedIndexConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"query_mode": "hamming"}, "query_mode"),
        ({"exact_scan_max": -1}, "exact_scan_max"),
        ({"prefilter_factor": 0}, "prefilter_factor"),
        ({"prefilter_min_dim": 0}, "prefilter_min_dim"),
        ({"rebuild_dead_fraction": 0.0}, "rebuild_dead_fraction"),
        ({"kernel_device": "tpu"}, "kernel_device"),
    ],
)
def test_bad_index_settings_are_rejected(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        QuantizedIndexConfig(**kwargs)


def test_unfitted_codebook_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        Codebook(QuantizerConfig(), 8).encode(np.zeros((1, 8), np.float32))


# -- the index ---------------------------------------------------------------------------------


def test_registered_as_a_vector_index() -> None:
    assert INDEX_TYPES["quantized"] is QuantizedIndex
    index = create_index("quantized", dim=8, metric=Metric.DOT,
                         config=QuantizedIndexConfig(bits=2))
    assert isinstance(index, VectorIndex)
    with pytest.raises(TypeError, match="QuantizedIndexConfig"):
        QuantizedIndex(8, Metric.DOT, QuantizerConfig())  # type: ignore[arg-type]


def test_recall_grows_with_bits_and_rescoring_reaches_exact() -> None:
    dim = 128
    data = embeddings(6, 6000, dim)
    queries = embeddings(7, 60, dim)
    truth = exact_ids(queries, data, 10, Metric.COSINE)
    plain, after_rescore = [], []
    for bits in (1, 2, 3, 4):
        index = QuantizedIndex(dim, Metric.COSINE, index_config(bits=bits))
        index.add(np.arange(6000), data)
        plain.append(recall(index.search(queries, 10).ids, truth))
        after_rescore.append(recall(rescored(index, data, queries, 10, 4), truth))
    # Measured with these seeds: plain 0.39 / 0.62 / 0.78 / 0.89, rescored 0.79 / 0.96 / 0.99+.
    assert plain == sorted(plain) and plain[3] > plain[0] + 0.3, plain
    assert after_rescore == sorted(after_rescore), after_rescore
    assert after_rescore[0] >= 0.7 and after_rescore[1] >= 0.9, after_rescore
    int8 = QuantizedIndex(dim, Metric.COSINE, index_config(method="int8"))
    int8.add(np.arange(6000), data)
    assert recall(int8.search(queries, 10).ids, truth) >= plain[3]


@pytest.mark.parametrize("metric", list(Metric), ids=[m.value for m in Metric])
def test_scores_are_the_metric_scores_of_the_decoded_vectors(metric: Metric) -> None:
    rng = np.random.default_rng(8)
    data = (rng.standard_normal((800, DIM)) * 2 + 1).astype(np.float32)
    index = QuantizedIndex(DIM, metric, index_config(bits=3))
    index.add(np.arange(800), data)
    queries = (rng.standard_normal((4, DIM)) * 2).astype(np.float32)
    for result in (index.search(queries, 7), index.search(queries, 7, exact=True)):
        assert result.counts.tolist() == [7] * 4
        for i in range(4):
            ids, got = result.row(i)
            decoded = index.get_vectors(ids)
            # cosine: the normalized query against the decoded (nearly unit) vector
            q = normalize(queries[i : i + 1]) if metric is Metric.COSINE else queries[i : i + 1]
            want = scores(q, decoded, Metric.DOT if metric is Metric.COSINE else metric)[0]
            np.testing.assert_allclose(got, want, atol=2e-4, rtol=1e-4)
            assert np.all(np.diff(metric.sort_key(got)) >= -1e-5)
    # exact=True is the best possible by code score: its k-th score is at least as good.
    approx, exact = index.search(queries, 7), index.search(queries, 7, exact=True)
    assert np.all(metric.sort_key(exact.scores[:, -1]) <= metric.sort_key(approx.scores[:, -1]) + 1e-5)


def test_index_keeps_codes_not_floats() -> None:
    data = embeddings(9, 4096, dim=384)
    for bits, factor in ((1, 32), (2, 16)):
        index = QuantizedIndex(384, Metric.COSINE, index_config(bits=bits, initial_capacity=4096))
        index.add(np.arange(4096), data)
        assert index.vector_ram_bytes * factor <= data.nbytes
        assert index.ram_bytes < data.nbytes / 4
        approx = index.get_vectors(np.arange(5))
        assert not np.allclose(approx, data[:5], atol=1e-3)  # decoded codes, not the originals
    assert index.codebook_info() == {
        "method": "binary", "bits": 2, "binary_method": "threshold", "transform": "none",
        "trained_on": 4096,
        "bytes_per_code": 96, "query_mode": "asymmetric", "fitted": True,
    }


def test_fit_then_add_and_retraining_needs_an_empty_index() -> None:
    data = embeddings(10, 1000)
    index = QuantizedIndex(DIM, Metric.COSINE, index_config(bits=2))
    assert not index.is_fitted
    index.fit(data * 3.0)  # cosine: the index normalizes what it is given
    assert index.is_fitted and index.codebook_info()["trained_on"] == 1000
    index.add(np.arange(10), data[:10])
    assert index.codebook_info()["trained_on"] == 1000  # add did not refit
    with pytest.raises(RuntimeError, match="new QuantizedIndex"):
        index.fit(data)


@pytest.mark.parametrize("graph", [False, True], ids=["scan", "graph"])
def test_allowed_filter_is_exact(graph: bool) -> None:
    data = embeddings(11, 3000)
    index = QuantizedIndex(DIM, Metric.DOT, index_config(bits=2, exact_scan_max=500 if graph else 10**6))
    index.add(np.arange(3000), data)
    assert (index._graph is not None) == graph
    queries = embeddings(12, 5)
    rng = np.random.default_rng(13)
    for size in (40, 1500):
        allowed = rng.choice(3000, size, replace=False).astype(np.uint64)
        got = index.search(queries, 10, allowed=np.append(allowed, np.uint64(99_999)))
        assert got.counts.tolist() == [10] * 5
        assert set(got.ids.ravel().tolist()) <= set(allowed.tolist())
        full = index.search(queries, 10, allowed=allowed, exact=True)
        if size <= index.config.prefilter_min:  # the pool covers the whole filter: code-exact
            np.testing.assert_array_equal(got.scores, full.scores)
        else:
            np.testing.assert_allclose(got.scores[:, 0], full.scores[:, 0], atol=1e-6)
    none = index.search(queries, 10, allowed=np.array([5_000_000], dtype=np.uint64))
    assert none.counts.tolist() == [0] * 5


@pytest.mark.parametrize("graph", [False, True], ids=["scan", "graph"])
def test_remove_replace_and_re_add(graph: bool) -> None:
    data = embeddings(14, 2000)
    index = QuantizedIndex(DIM, Metric.COSINE,
                           index_config(bits=2, exact_scan_max=300 if graph else 10**6,
                                        initial_capacity=64))
    index.add(np.arange(2000), data)
    removed = np.arange(0, 2000, 2, dtype=np.uint64)
    index.remove(np.append(removed, np.uint64(10**12)))
    assert len(index) == 1000 and 0 not in index and 1 in index
    queries = data[1:200:20]
    for result in (index.search(queries, 10), index.search(queries, 500),
                   index.search(queries, 10, exact=True)):
        live = result.ids[result.ids != MISSING_ID]
        assert not np.isin(live, removed).any()
    top = index.search(queries, 10).ids  # the engine rescores these: each query finds itself
    assert all(i in row for i, row in zip(range(1, 200, 20), top.tolist()))
    assert index.search(queries, 5000).counts.tolist() == [1000] * len(queries)
    with pytest.raises(KeyError):
        index.get_vectors(np.array([1, 0], dtype=np.uint64))
    # Replace point 1 with a far-away vector, bring removed ids back, add new ones.
    index.add(np.array([1]), -data[1:2])
    index.add(removed[:300], data[removed[:300].astype(np.int64)])
    index.add(np.arange(5000, 5100), embeddings(15, 100))
    assert len(index) == 1400 and index.capacity <= 2048
    top = index.search(data[[0, 2, 4]], 10).ids.tolist()
    assert all(i in row for i, row in zip([0, 2, 4], top))
    assert 1 not in index.search(data[1:2], 10).ids[0]
    assert 1 in index.search(-data[1:2], 10).ids[0]
    if graph:
        assert index._dead_nodes <= index.config.rebuild_dead_fraction * index._graph.ntotal


@pytest.mark.parametrize("graph", [False, True], ids=["scan", "graph"])
@pytest.mark.parametrize("metric", list(Metric), ids=[m.value for m in Metric])
def test_save_load_gives_identical_results(tmp_path: Path, graph: bool, metric: Metric) -> None:
    config = index_config(bits=2, exact_scan_max=400 if graph else 10**6)
    data = embeddings(16, 1500)
    index = QuantizedIndex(DIM, metric, config)
    index.add(np.arange(1500), data)
    index.remove(np.arange(0, 1500, 7))
    path = tmp_path / "q.idx"
    index.save(path)
    loaded = QuantizedIndex.load(path, dim=DIM, metric=metric, config=config)
    queries = embeddings(17, 20)
    for kwargs in ({}, {"exact": True}, {"allowed": np.arange(0, 1500, 3)}):
        before, after = index.search(queries, 15, **kwargs), loaded.search(queries, 15, **kwargs)
        np.testing.assert_array_equal(after.ids, before.ids)
        np.testing.assert_array_equal(after.scores, before.scores)
    assert sorted(loaded.live_ids().tolist()) == sorted(index.live_ids().tolist())
    assert loaded.codebook_info() == index.codebook_info()
    assert loaded.vector_ram_bytes == index.vector_ram_bytes
    # It keeps working: ids come back into freed slots, new ones are added.
    loaded.add(np.arange(0, 70, 7), data[0:70:7])
    loaded.add(np.array([9000]), data[:1])
    assert len(loaded) == len(index) + 11
    top = loaded.search(data[[0, 14]], 10).ids
    assert 0 in top[0] and 9000 in top[0] and 14 in top[1]


def test_empty_index_saves_and_loads(tmp_path: Path) -> None:
    index = QuantizedIndex(DIM, Metric.L2)
    path = tmp_path / "empty.idx"
    index.save(path)
    loaded = QuantizedIndex.load(path, dim=DIM, metric=Metric.L2, config=None)
    assert len(loaded) == 0 and not loaded.is_fitted
    assert loaded.search(np.zeros((2, DIM), np.float32), 3).counts.tolist() == [0, 0]


@pytest.mark.parametrize(
    "damage",
    ["truncated", "tail_cut", "flipped", "garbage", "empty", "missing", "wrong_dim",
     "wrong_metric", "other_bits"],
)
def test_unusable_file_raises_index_load_error(tmp_path: Path, damage: str) -> None:
    config = index_config(bits=2, exact_scan_max=100)
    index = QuantizedIndex(DIM, Metric.DOT, config)
    index.add(np.arange(300), embeddings(18, 300))
    path = tmp_path / "q.idx"
    index.save(path)
    raw = path.read_bytes()
    dim, metric = DIM, Metric.DOT
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "tail_cut":
        path.write_bytes(raw[:-3])
    elif damage == "flipped":
        flipped = bytearray(raw)
        flipped[len(raw) // 2] ^= 0x40
        path.write_bytes(bytes(flipped))
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, len(raw), np.uint8).tobytes())
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "missing":
        path.unlink()
    elif damage == "wrong_dim":
        dim = DIM + 8
    elif damage == "wrong_metric":
        metric = Metric.L2
    else:
        config = index_config(bits=3)
    with pytest.raises(IndexLoadError) as info:
        QuantizedIndex.load(path, dim=dim, metric=metric, config=config)
    assert info.value.path == path


def test_k_is_clamped_and_bad_input_is_rejected() -> None:
    index = QuantizedIndex(DIM, Metric.L2, index_config(bits=1))
    queries = embeddings(19, 3)
    assert index.search(queries, 10).counts.tolist() == [0, 0, 0]
    index.add(np.arange(5), embeddings(20, 5))
    assert index.search(queries, 50).counts.tolist() == [5, 5, 5]
    with pytest.raises(ValueError, match="k must be"):
        index.search(queries, 0)
    with pytest.raises(ValueError, match="shape"):
        index.add(np.array([1]), np.zeros((1, DIM + 1), np.float32))
    with pytest.raises(ValueError, match="finite"):
        index.add(np.array([1]), np.full((1, DIM), np.nan, np.float32))
    with pytest.raises(ValueError, match="reserved"):
        index.add(np.array([MISSING_ID]), np.zeros((1, DIM), np.float32))
    with pytest.raises(ValueError, match="queries"):
        index.search(np.zeros((1, DIM + 1), np.float32), 1)
    with pytest.raises(ValueError, match="ef"):
        index.search(queries, 1, ef=0)
    assert len(index) == 5


def test_concurrent_searches_while_adding_and_removing() -> None:
    index = QuantizedIndex(DIM, Metric.COSINE, index_config(bits=2, exact_scan_max=600))
    data = embeddings(21, 1600)
    index.add(np.arange(100), data[:100])
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for start in range(100, 1600, 50):
                index.add(np.arange(start, start + 50), data[start : start + 50])
                index.remove(np.arange(start - 100, start - 90))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:
        try:
            while not done.is_set():
                result = index.search(data[:4], 5)
                assert np.all(result.counts == 5)
                index.search(data[:2], 5, allowed=np.arange(0, 1600, 5))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(index) == 1600 - 300 and index._graph is not None


def test_len_contains_live_ids_growth_and_slot_reuse() -> None:
    index = QuantizedIndex(DIM, Metric.DOT, index_config(bits=2, initial_capacity=16))
    data = embeddings(22, 1000)
    big = np.arange(2**63, 2**63 + 20, dtype=np.uint64)
    index.add(big, data[:20])
    index.remove(big[1:2])
    assert len(index) == 19 and 2**63 in index and 2**63 + 1 not in index
    assert -1 not in index and "x" not in index
    assert sorted(index.live_ids().tolist()) == sorted(big[[0, *range(2, 20)]].tolist())
    small = index.vector_ram_bytes
    for start in range(0, 900, 111):  # grows past the initial capacity in batches
        index.add(np.arange(start, min(start + 111, 900)), data[start : min(start + 111, 900)])
    assert len(index) == 919 and index.capacity >= 919
    assert index.vector_ram_bytes >= small + 900 * index._book.nbytes
    capacity = index.capacity
    rng = np.random.default_rng(23)
    next_id = 10_000
    for _ in range(6):  # churn: freed slots are reused, the index does not grow
        gone = rng.choice(index.live_ids(), 100, replace=False)
        index.remove(gone)
        index.add(np.arange(next_id, next_id + 100), data[:100])
        next_id += 100
    assert len(index) == 919 and index.capacity == capacity


def test_low_dimensional_codes_are_scored_in_full() -> None:
    """Below prefilter_min_dim there is no Hamming prefilter and no graph: every code is scored
    by its full code, so a search equals the exact code scan."""
    data = embeddings(24, 2000, dim=24)
    index = QuantizedIndex(24, Metric.COSINE, QuantizedIndexConfig(bits=2, exact_scan_max=100))
    index.add(np.arange(2000), data)
    assert index._graph is None
    queries = embeddings(25, 5, dim=24)
    approx, exact = index.search(queries, 10), index.search(queries, 10, exact=True)
    np.testing.assert_array_equal(approx.scores, exact.scores)
