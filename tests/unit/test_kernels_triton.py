"""Every Triton kernel against its reference, run by the Triton interpreter on the CPU.

Without a CUDA device, TRITON_INTERPRET=1 is set before the Triton modules are imported (triton
reads it when a kernel is defined), so the kernels run on CPU tensors; on a GPU machine the same
tests run on the GPU. Sizes are small and drawn fresh each run (the seed is printed: replay with
VECDB_TEST_SEED=<seed>); every output buffer is poisoned (NaN / the largest integer) before
each launch so an element a kernel fails to write shows up; top-k is compared tie-tolerantly
(returned ids' true scores, and the sorted best scores position by position, within a bound
set by the storage dtype). The kernels are reached through the registries' "cuda" entries, so
the dispatcher's wiring is tested too.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("triton") is None:
    pytest.skip("triton is not installed (pip install 'vecdb[gpu]')", allow_module_level=True)
torch = pytest.importorskip("torch", reason="torch is not installed (the server extra)")

GPU = torch.cuda.is_available()
# triton decides interpreter-or-compiler when a kernel is *defined*, including its own standard
# library at `import triton`. If this process imported triton before TRITON_INTERPRET was set
# (sentence-transformers does, so the encoder tests can), in-process kernels cannot run on the
# CPU; the tests then run in a fresh interpreter instead (`test_in_a_fresh_process`).
STALE = not GPU and "triton" in sys.modules and os.environ.get("TRITON_INTERPRET") != "1"
if not GPU and not STALE:
    os.environ["TRITON_INTERPRET"] = "1"

in_process = pytest.mark.skipif(
    STALE, reason="triton was imported before TRITON_INTERPRET=1; run by test_in_a_fresh_process"
)
if not STALE:
    from vecdb.kernels import (
        DENSE_RESCORE_BACKENDS,
        DENSE_TOPK_BACKENDS,
        HAMMING_DISTANCE_BACKENDS,
        HAMMING_TOPK_BACKENDS,
        LUT_SCORE_BACKENDS,
        LUT_TOPK_BACKENDS,
        MAXSIM_BACKENDS,
        Metric,
        binary,
        maxsim,
        scores,
        triton_common,
        triton_dense,
    )
    from vecdb.kernels.dense import rescore_reference
else:
    from vecdb.kernels import Metric  # parametrization only


RTOL = {np.float32: 1e-5, np.float16: 2e-3}
"""Error bound relative to the scale of the inputs: float32 storage is scored in IEEE float32,
float16 storage with float16 operands (the query rounded to float16) and float32 accumulation."""


@pytest.fixture
def rng() -> np.random.Generator:
    seed = int(os.environ.get("VECDB_TEST_SEED") or secrets.randbits(32))
    print(f"random seed {seed} (replay with VECDB_TEST_SEED={seed})")
    return np.random.default_rng(seed)


@pytest.fixture(autouse=True)
def poisoned() -> object:
    if STALE:
        yield
        return
    with triton_common.poison_outputs():
        yield


@pytest.mark.skipif(not STALE, reason="the Triton tests ran in this process")
def test_in_a_fresh_process() -> None:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path(__file__))],
        env=env, capture_output=True, text=True, timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]


@in_process
def test_runs_where_expected() -> None:
    assert triton_common.INTERPRET == (not torch.cuda.is_available())


@in_process
def test_poisoned_outputs_are_filled_with_sentinels() -> None:
    f = triton_common.empty((3,), torch.float32, torch.device("cpu"))
    i = triton_common.empty((3,), torch.int64, torch.device("cpu"))
    assert torch.isnan(f).all() and (i == torch.iinfo(torch.int64).max).all()


def check_topk(
    idx: np.ndarray, top: np.ndarray, ref: np.ndarray, k: int, largest: bool,
    score_tol: float, select_tol: float,
) -> None:
    """Tie-tolerant top-k check against a reference score matrix."""
    q, n = ref.shape
    kk = min(k, n)
    assert idx.shape == top.shape == (q, kk), (idx.shape, top.shape, (q, kk))
    assert idx.dtype == np.int64 and top.dtype == np.float32
    assert not np.isnan(top).any(), "unwritten (poisoned) or NaN scores in the result"
    assert ((idx >= 0) & (idx < n)).all(), f"ids out of range: {idx}"
    assert all(len(set(row)) == kk for row in idx.tolist()), "duplicate ids"
    true = np.take_along_axis(ref, idx, axis=1)
    np.testing.assert_allclose(top, true, atol=score_tol, rtol=0,
                               err_msg="returned scores differ from the ids' true scores")
    ordered = np.sort(ref, axis=1)
    want = ordered[:, ::-1][:, :kk] if largest else ordered[:, :kk]
    np.testing.assert_allclose(top, want, atol=select_tol, rtol=0,
                               err_msg="not the best scores (beyond tolerance)")
    step = np.diff(top, axis=1)
    assert ((-step if largest else step) >= -score_tol).all(), "not sorted best-first"


def _dense_case(rng: np.random.Generator, dtype: type, num_q: int) -> tuple[np.ndarray, np.ndarray]:
    n, d = int(rng.integers(150, 300)), int(rng.integers(20, 80))
    v = (rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0)).astype(dtype)
    q = rng.standard_normal((num_q, d)).astype(np.float32)
    return q, v


def _tolerances(q: np.ndarray, v: np.ndarray, metric: Metric, dtype: type) -> tuple[float, float]:
    rtol = RTOL[dtype]
    mq = float(np.linalg.norm(q, axis=1).max())
    mv = float(np.linalg.norm(v.astype(np.float32), axis=1).max())
    if metric is Metric.COSINE:
        return rtol, rtol
    if metric is Metric.DOT:
        return rtol * mq * mv, rtol * mq * mv
    # l2: final scores are recomputed exactly; selection saw sqrt(|q|^2 + |v|^2 - 2 q.v)
    return 1e-5 * (mq + mv), rtol * (mq + mv) ** 2


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["fp32", "fp16"])
@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("num_q", [1, 5])
@in_process
def test_dense_topk(dtype: type, metric: Metric, num_q: int, rng: np.random.Generator) -> None:
    q, v = _dense_case(rng, dtype, num_q)
    k = int(rng.integers(1, 20))
    idx, top = DENSE_TOPK_BACKENDS["cuda"](q, v, k, metric)
    ref = scores(q, v.astype(np.float32), metric)
    check_topk(idx, top, ref, k, metric.higher_is_better, *_tolerances(q, v, metric, dtype))


@pytest.mark.parametrize("metric", list(Metric))
@in_process
def test_dense_topk_unfused_large_k_and_k_beyond_n(
    metric: Metric, rng: np.random.Generator
) -> None:
    q, v = _dense_case(rng, np.float32, 2)
    ref = scores(q, v, metric)
    tol = _tolerances(q, v, metric, np.float32)
    k = triton_common.MAX_FUSED_K + 5  # full score matrix + torch.topk
    check_topk(*DENSE_TOPK_BACKENDS["cuda"](q, v, k, metric), ref, k, metric.higher_is_better, *tol)
    small = v[:9]
    check_topk(*DENSE_TOPK_BACKENDS["cuda"](q, small, 16, metric), scores(q, small, metric), 16,
               metric.higher_is_better, *tol)
    idx, top = DENSE_TOPK_BACKENDS["cuda"](q, v, 0, metric)
    assert idx.shape == top.shape == (2, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["fp32", "fp16"])
@pytest.mark.parametrize("metric", list(Metric))
@in_process
def test_dense_full_scores(dtype: type, metric: Metric, rng: np.random.Generator) -> None:
    q, v = _dense_case(rng, dtype, 3)
    got = triton_dense.dense_scores_tensors(q, v, metric).cpu().numpy()
    ref = scores(q, v.astype(np.float32), metric)
    rtol = RTOL[dtype]
    mq = float(np.linalg.norm(q, axis=1).max())
    mv = float(np.linalg.norm(v.astype(np.float32), axis=1).max())
    # l2 here is the unrefined sqrt(|q|^2 + |v|^2 - 2 q.v): bound its error at the distance
    tol = {Metric.COSINE: rtol, Metric.DOT: rtol * mq * mv,
           Metric.L2: rtol * (mq + mv) ** 2 / max(float(ref.min()), 1.0)}[metric]
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got, ref, atol=tol, rtol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["fp32", "fp16"])
@pytest.mark.parametrize("metric", list(Metric))
@in_process
def test_dense_rescore(dtype: type, metric: Metric, rng: np.random.Generator) -> None:
    q, v = _dense_case(rng, dtype, 3)
    cand = rng.integers(-1, v.shape[0], size=(3, int(rng.integers(1, 70))))
    got = DENSE_RESCORE_BACKENDS["cuda"](q, v, cand, metric)
    ref = rescore_reference(q, v, cand, metric)
    assert np.array_equal(np.isnan(got), cand < 0)
    # rows are widened to float32 and the query stays float32: float32 accuracy for both dtypes
    tol = _tolerances(q, v, metric, np.float32)[0]
    np.testing.assert_allclose(got[cand >= 0], ref[cand >= 0], atol=tol, rtol=0)


@pytest.mark.parametrize("n_bytes", [48, 7])
@pytest.mark.parametrize("num_q", [1, 3])
@in_process
def test_hamming(n_bytes: int, num_q: int, rng: np.random.Generator) -> None:
    n = int(rng.integers(100, 260))
    codes = rng.integers(0, 256, size=(n, n_bytes), dtype=np.uint8)
    codes[: n // 4] = codes[0]  # a block of exact ties
    queries = rng.integers(0, 256, size=(num_q, n_bytes), dtype=np.uint8)
    ref = binary.hamming_reference(queries, codes)
    got = HAMMING_DISTANCE_BACKENDS["cuda"](queries, codes)
    assert got.dtype == np.int32 and np.array_equal(got, ref)
    k = int(rng.integers(1, 40))
    check_topk(*HAMMING_TOPK_BACKENDS["cuda"](queries, codes, k), ref.astype(np.float32), k,
               False, 0.0, 0.0)


@in_process
def test_hamming_unfused_large_k(rng: np.random.Generator) -> None:
    codes = rng.integers(0, 256, size=(200, 12), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(2, 12), dtype=np.uint8)
    ref = binary.hamming_reference(queries, codes).astype(np.float32)
    k = triton_common.MAX_FUSED_K + 1
    check_topk(*HAMMING_TOPK_BACKENDS["cuda"](queries, codes, k), ref, k, False, 0.0, 0.0)


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("num_q", [1, 3])
@in_process
def test_lut(largest: bool, with_bias: bool, num_q: int, rng: np.random.Generator) -> None:
    n, nb = int(rng.integers(100, 260)), int(rng.integers(1, 40))
    codes = rng.integers(0, 256, size=(n, nb), dtype=np.uint8)
    luts = rng.standard_normal((num_q, nb, 256)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
    ref = binary.lut_scores_reference(luts, codes, bias)
    tol = 1e-5 * (float(np.abs(luts).max()) * nb + 1.0)
    got = LUT_SCORE_BACKENDS["cuda"](luts, codes, bias)
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got, ref, atol=tol, rtol=0)
    k = int(rng.integers(1, 20))
    check_topk(*LUT_TOPK_BACKENDS["cuda"](luts, codes, k, bias, largest), ref, k, largest, tol, tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["fp32", "fp16"])
@pytest.mark.parametrize("rerank", [False, True], ids=["exhaustive", "rerank"])
@in_process
def test_maxsim(dtype: type, rerank: bool, rng: np.random.Generator) -> None:
    n_docs, d, lq = int(rng.integers(10, 30)), int(rng.integers(8, 40)), int(rng.integers(1, 20))
    lengths = rng.integers(0, 40, size=n_docs)
    lengths[rng.integers(0, n_docs)] = 0
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    toks = rng.standard_normal((int(offsets[-1]), d)).astype(dtype)
    q = rng.standard_normal((2, lq, d)).astype(np.float32)
    cand = None
    if rerank:
        cand = rng.integers(-1, n_docs, size=(2, int(rng.integers(1, 12))))
    got = MAXSIM_BACKENDS["cuda"](q, toks, offsets, cand)
    ref = maxsim.maxsim_reference(q, toks, offsets, cand)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.array_equal(np.isnan(got), np.isnan(ref)), "NaN only for padding (or unwritten)"
    assert np.array_equal(np.isneginf(got), np.isneginf(ref)), "-inf exactly for empty documents"
    finite = np.isfinite(ref)
    mq = float(np.linalg.norm(q, axis=2).max())
    mt = float(np.linalg.norm(toks.astype(np.float32), axis=1).max())
    np.testing.assert_allclose(got[finite], ref[finite], atol=RTOL[dtype] * lq * mq * mt, rtol=0)
