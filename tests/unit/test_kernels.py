"""The dense CPU kernels against float64 numpy: scores, top-k selection, rescoring, blocking."""

from __future__ import annotations

import numpy as np
import pytest

from vecdb.kernels import (
    DENSE_TOPK_BACKENDS,
    Metric,
    dense_rescore,
    dense_rescore_topk,
    dense_topk,
    normalize,
    scores,
    topk,
)
from vecdb.kernels import dense as dense_module
from vecdb.kernels.select import RunningTopK, select_topk


def _float64_scores(q: np.ndarray, v: np.ndarray, metric: Metric) -> np.ndarray:
    q64, v64 = q.astype(np.float64), v.astype(np.float64)
    if metric is Metric.COSINE:
        qn = q64 / np.linalg.norm(q64, axis=1, keepdims=True)
        vn = v64 / np.linalg.norm(v64, axis=1, keepdims=True)
        return qn @ vn.T
    if metric is Metric.DOT:
        return q64 @ v64.T
    return np.sqrt(((q64[:, None, :] - v64[None, :, :]) ** 2).sum(axis=2))


@pytest.mark.parametrize("metric", list(Metric))
def test_scores_match_float64(metric: Metric) -> None:
    rng = np.random.default_rng(1)
    vectors = (rng.standard_normal((300, 48)) * 3 + 10).astype(np.float32)
    queries = np.concatenate([vectors[:5], rng.standard_normal((7, 48)).astype(np.float32) + 10])
    got = scores(queries, vectors, metric)
    want = _float64_scores(queries, vectors, metric)
    assert got.dtype == np.float32 and got.shape == (12, 300)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_l2_self_distance_is_zero_despite_large_norms() -> None:
    # |v|^2 ~ 1e4 here; the norms + matmul form alone loses ~1e-3 to cancellation.
    rng = np.random.default_rng(2)
    vectors = (rng.standard_normal((50, 64)) + 12).astype(np.float32)
    near = vectors[:10] + np.float32(1e-3)
    assert np.all(np.diag(scores(vectors, vectors, Metric.L2)) == 0.0)
    np.testing.assert_allclose(
        np.diag(scores(near, vectors[:10], Metric.L2)), np.sqrt(64) * 1e-3, rtol=1e-2
    )


def test_normalize_gives_unit_rows_and_keeps_zero_rows() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    out = normalize(x)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]])
    assert out.dtype == np.float32
    assert np.all(scores(x[1:2], x, Metric.COSINE) == 0.0)


@pytest.mark.parametrize("metric", list(Metric))
def test_topk_is_best_first_and_tie_tolerant(metric: Metric) -> None:
    rng = np.random.default_rng(3)
    # Few distinct values: many ties straddle the k-th position.
    s = rng.integers(0, 6, size=(20, 40)).astype(np.float32)
    idx, top = topk(s, 7, metric)
    assert idx.dtype == np.int64 and top.dtype == np.float32 and idx.shape == (20, 7)
    np.testing.assert_array_equal(np.take_along_axis(s, idx, axis=1), top)
    expected = np.sort(s, axis=1)[:, ::-1][:, :7] if metric.higher_is_better else np.sort(s)[:, :7]
    np.testing.assert_array_equal(top, expected)
    assert all(len(set(row)) == 7 for row in idx.tolist())


@pytest.mark.parametrize("metric", list(Metric))
def test_topk_clamps_k_to_n(metric: Metric) -> None:
    s = np.array([[0.5, 2.0, -1.0]], dtype=np.float32)
    idx, top = topk(s, 10, metric)
    assert idx.shape == (1, 3)
    order = [1, 0, 2] if metric.higher_is_better else [2, 0, 1]
    assert idx[0].tolist() == order
    assert topk(s, 0, metric)[0].shape == (1, 0)
    with pytest.raises(ValueError, match="k must be"):
        topk(s, -1, metric)


def test_topk_ranks_nan_last() -> None:
    s = np.array([[np.nan, 1.0, 3.0]], dtype=np.float32)
    assert topk(s, 3, Metric.DOT)[0][0].tolist() == [2, 1, 0]
    assert topk(s, 3, Metric.L2)[0][0].tolist() == [1, 2, 0]


@pytest.mark.parametrize("metric", list(Metric))
def test_dense_topk_equals_reference(metric: Metric) -> None:
    rng = np.random.default_rng(4)
    v = rng.standard_normal((500, 16)).astype(np.float32)
    q = rng.standard_normal((4, 16)).astype(np.float32)
    idx, top = dense_topk(q, v, 5, metric)
    ref_idx, ref_top = topk(scores(q, v, metric), 5, metric)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(top, ref_top)


def test_dispatcher_rejects_unknown_device_naming_choices() -> None:
    v = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="cpu"):
        dense_topk(v, v, 1, Metric.DOT, device="tpu")
    assert "cpu" in DENSE_TOPK_BACKENDS


def test_scores_reject_mismatched_dims() -> None:
    with pytest.raises(ValueError, match="dim"):
        scores(np.ones((1, 3)), np.ones((2, 4)), Metric.L2)


# --- candidate rescoring and the blocked CPU path -------------------------------------------


@pytest.mark.parametrize("metric", list(Metric))
def test_rescore_reference_matches_float64_and_pads_with_nan(metric: Metric) -> None:
    rng = np.random.default_rng(5)
    v = (rng.standard_normal((120, 24)) + 2).astype(np.float32)
    q = rng.standard_normal((3, 24)).astype(np.float32)
    cand = rng.integers(0, 120, size=(3, 9))
    cand[1, 4] = -1
    got = dense_rescore(q, v, cand, metric)
    full = _float64_scores(q, v, metric)
    want = np.take_along_axis(full, np.maximum(cand, 0), axis=1)
    assert got.dtype == np.float32 and got.shape == (3, 9)
    assert np.isnan(got[1, 4]) and np.isnan(got).sum() == 1
    ok = cand >= 0
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-5, atol=1e-5)
    # a shared 1-D list means the same candidates for every query
    shared = dense_rescore(q, v, cand[0], metric)
    np.testing.assert_allclose(shared, np.take_along_axis(full, np.tile(cand[0], (3, 1)), 1),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("metric", list(Metric))
def test_rescore_topk_returns_candidate_ids_best_first(metric: Metric) -> None:
    rng = np.random.default_rng(6)
    v = rng.standard_normal((60, 8)).astype(np.float32)
    q = rng.standard_normal((2, 8)).astype(np.float32)
    cand = np.array([[5, 17, 3, 44, -1], [0, 1, 2, 3, 4]])
    ids, top = dense_rescore_topk(q, v, cand, 3, metric)
    full = scores(q, v, metric)
    for qi in range(2):
        real = [c for c in cand[qi] if c >= 0]
        order = sorted(real, key=lambda c: -full[qi, c] if metric.higher_is_better else full[qi, c])
        assert ids[qi].tolist() == order[:3]
        np.testing.assert_allclose(top[qi], full[qi, order[:3]], rtol=1e-5)


def test_rescore_rejects_out_of_range_candidates() -> None:
    v = np.ones((4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="out of range"):
        dense_rescore(v[:1], v, np.array([[0, 4]]), Metric.DOT)


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_blocked_cpu_topk_equals_one_shot_reference(
    metric: Metric, dtype: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    # force several blocks and merges on a small matrix; float16 storage widens per block
    monkeypatch.setattr(dense_module, "DENSE_BLOCK_SCORES", 1024)
    rng = np.random.default_rng(7)
    v = rng.standard_normal((5000, 16)).astype(dtype)
    q = rng.standard_normal((3, 16)).astype(np.float32)
    idx, top = dense_module.cpu_dense_topk(q, v, 11, metric)
    ref_idx, ref_top = topk(scores(q, v.astype(np.float32), metric), 11, metric)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(top, ref_top, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("largest", [True, False])
def test_running_topk_over_blocks_equals_one_selection(largest: bool) -> None:
    rng = np.random.default_rng(8)
    s = rng.integers(0, 50, size=(6, 3000)).astype(np.float32)  # many ties across blocks
    s[2, :1000] = np.nan  # NaNs first must not block later real scores
    running = RunningTopK(6, 13, largest)
    for start in range(0, 3000, 700):
        running.push(s[:, start : start + 700], start)
    idx, top = running.result()
    _, want = select_topk(s, 13, largest)
    np.testing.assert_array_equal(top, want)
    np.testing.assert_array_equal(np.take_along_axis(s, idx, axis=1), top)
    assert all(len(set(row)) == 13 for row in idx.tolist())
