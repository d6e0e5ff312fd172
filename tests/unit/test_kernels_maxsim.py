"""MaxSim over variable-length token sets: the reference against a float64 brute force, and
the blocked CPU path against the reference for exhaustive scans and candidate reranking
(empty documents, padding, float16 tokens). Fresh random inputs each run; the seed is printed."""

from __future__ import annotations

import os
import secrets

import numpy as np
import pytest

from vecdb.kernels import maxsim, maxsim_scores, maxsim_topk


@pytest.fixture
def rng() -> np.random.Generator:
    seed = int(os.environ.get("VECDB_TEST_SEED") or secrets.randbits(32))
    print(f"random seed {seed} (replay with VECDB_TEST_SEED={seed})")
    return np.random.default_rng(seed)


def _collection(
    rng: np.random.Generator, n_docs: int, dim: int, dtype: type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    lengths = rng.integers(0, 30, size=n_docs)
    lengths[rng.integers(0, n_docs)] = 0  # at least one empty document
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return rng.standard_normal((int(offsets[-1]), dim)).astype(dtype), offsets


def _brute(q: np.ndarray, toks: np.ndarray, off: np.ndarray, doc: int) -> float:
    best = [max((float(np.dot(t.astype(np.float64), u.astype(np.float64)))
                 for u in toks[off[doc] : off[doc + 1]]), default=-np.inf) for t in q]
    return float(np.sum(best))


def _close(got: np.ndarray, want: np.ndarray, tol: float) -> None:
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], atol=tol, rtol=0)


def test_reference_matches_brute_force(rng: np.random.Generator) -> None:
    toks, off = _collection(rng, 12, 6)
    q = rng.standard_normal((4, 6)).astype(np.float32)
    got = maxsim.maxsim_reference(q, toks, off)
    want = np.array([[_brute(q, toks, off, d) for d in range(12)]])
    _close(got, want.astype(np.float32), 1e-5)
    assert np.isneginf(got[0, np.diff(off) == 0]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cpu_exhaustive_matches_reference(
    dtype: type, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maxsim, "_BLOCK_SCORES", 300)  # many blocks of whole documents
    toks, off = _collection(rng, 80, 16, dtype)
    q = rng.standard_normal((3, 5, 16)).astype(np.float32)
    ref = maxsim.maxsim_reference(q, toks, off)
    _close(maxsim_scores(q, toks, off), ref, 1e-4)
    ids, top = maxsim_topk(q, toks, off, 6)
    assert ids.shape == (3, 6)
    np.testing.assert_allclose(np.take_along_axis(ref, ids, axis=1), top, atol=1e-4)
    np.testing.assert_allclose(top, np.sort(ref, axis=1)[:, ::-1][:, :6], atol=1e-4)


def test_cpu_rerank_candidates_with_padding(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maxsim, "_BLOCK_SCORES", 200)
    toks, off = _collection(rng, 50, 8)
    q = rng.standard_normal((2, 4, 8)).astype(np.float32)
    cand = rng.integers(0, 50, size=(2, 15))
    cand[0, 3] = cand[1, 14] = -1
    ref = maxsim.maxsim_reference(q, toks, off, cand)
    got = maxsim_scores(q, toks, off, cand)
    _close(got, ref, 1e-4)
    assert np.isnan(got[0, 3]) and np.isnan(got[1, 14])
    ids, top = maxsim_topk(q, toks, off, 4, cand)
    assert np.isin(ids, cand).all() and (ids >= 0).all()
    full = maxsim.maxsim_reference(q, toks, off)
    np.testing.assert_allclose(np.take_along_axis(full, ids, axis=1), top, atol=1e-4)


def test_single_query_matrix_is_a_batch_of_one(rng: np.random.Generator) -> None:
    toks, off = _collection(rng, 5, 4)
    q = rng.standard_normal((3, 4)).astype(np.float32)
    assert maxsim_scores(q, toks, off).shape == (1, 5)


def test_bad_offsets_say_what_is_wrong() -> None:
    toks = np.zeros((5, 2), np.float32)
    q = np.zeros((1, 2), np.float32)
    with pytest.raises(ValueError, match="end at the token count 5"):
        maxsim_scores(q, toks, np.array([0, 2, 4]))
    with pytest.raises(ValueError, match="never decrease"):
        maxsim_scores(q, toks, np.array([0, 3, 2, 5]))
    with pytest.raises(ValueError, match=r"\(T, 3\)"):
        maxsim_scores(np.zeros((1, 3), np.float32), toks, np.array([0, 5]))
