"""Binary / multi-bit codes: the byte layout, lookup tables against decoded float64 dot
products, and the CPU Hamming and LUT kernels against their references (tie-tolerant top-k).

Inputs are fresh random draws each run; the seed is printed so a failure can be replayed with
VECDB_TEST_SEED=<seed>."""

from __future__ import annotations

import os
import secrets

import numpy as np
import pytest

from vecdb.kernels import (
    binary,
    build_lut,
    code_bytes,
    decode_codes,
    hamming_distances,
    hamming_topk,
    lut_scores,
    lut_topk,
    pack_bits,
    pack_codes,
    sign_bits,
    unpack_bits,
    unpack_codes,
)


@pytest.fixture
def rng() -> np.random.Generator:
    seed = int(os.environ.get("VECDB_TEST_SEED") or secrets.randbits(32))
    print(f"random seed {seed} (replay with VECDB_TEST_SEED={seed})")
    return np.random.default_rng(seed)


# --- layout ------------------------------------------------------------------------------------


def test_pack_bits_layout_is_lsb_first_per_byte() -> None:
    bits = np.zeros((1, 10), dtype=bool)
    bits[0, [0, 3, 9]] = True
    codes = pack_bits(bits)
    assert codes.dtype == np.uint8 and codes.shape == (1, 2) == (1, code_bytes(10, 1))
    assert codes[0].tolist() == [0b00001001, 0b00000010]
    assert np.array_equal(unpack_bits(codes, 10), bits.astype(np.uint8))
    assert np.array_equal(sign_bits(np.array([[0.5, -1.0, 0.0, 2.0]])), [[0b1001]])


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_pack_codes_roundtrip_and_msb_plane_first(bits: int, rng: np.random.Generator) -> None:
    dim = int(rng.integers(1, 70))
    levels = rng.integers(0, 1 << bits, size=(33, dim))
    codes = pack_codes(levels, bits)
    assert codes.shape == (33, code_bytes(dim, bits)) == (33, bits * ((dim + 7) // 8))
    assert np.array_equal(unpack_codes(codes, dim, bits), levels)
    # the first plane alone is the 1-bit code "level >= 2**(bits-1)"
    plane = (dim + 7) // 8
    assert np.array_equal(codes[:, :plane], pack_bits(levels >= (1 << (bits - 1))))


def test_layout_errors_say_what_to_fix() -> None:
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        pack_codes(np.array([[4]]), 2)
    with pytest.raises(ValueError, match="1..8"):
        pack_codes(np.array([[0]]), 9)
    with pytest.raises(ValueError, match="need 2"):
        unpack_codes(np.zeros((1, 3), np.uint8), 9, 1)


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_lut_score_equals_dot_with_decoded_vector(bits: int, rng: np.random.Generator) -> None:
    dim = int(rng.integers(5, 100))
    levels = rng.integers(0, 1 << bits, size=(50, dim))
    codes = pack_codes(levels, bits)
    scale = rng.uniform(0.1, 2.0, size=dim)
    offset = rng.standard_normal(dim)
    queries = rng.standard_normal((3, dim)).astype(np.float32)
    luts = build_lut(queries, bits, scale, offset)
    assert luts.dtype == np.float32 and luts.shape == (3, codes.shape[1], 256)
    decoded = decode_codes(codes, dim, bits, scale, offset).astype(np.float64)
    want = queries.astype(np.float64) @ decoded.T
    got = binary.lut_scores_reference(luts, codes)
    scale_ref = np.abs(queries).astype(np.float64) @ np.abs(decoded).T
    assert np.all(np.abs(got - want) <= 1e-5 * scale_ref + 1e-6)


def test_sign_codes_with_scale_two_offset_minus_one_decode_to_plus_minus_one() -> None:
    x = np.array([[0.3, -2.0, 5.0]])
    assert np.array_equal(decode_codes(sign_bits(x), 3, 1, 2.0, -1.0), [[1.0, -1.0, 1.0]])


# --- Hamming -----------------------------------------------------------------------------------


def _assert_hamming_topk(idx: np.ndarray, dist: np.ndarray, ref: np.ndarray, k: int) -> None:
    kk = min(k, ref.shape[1])
    assert idx.shape == dist.shape == (ref.shape[0], kk)
    assert idx.dtype == np.int64 and dist.dtype == np.float32
    assert np.array_equal(np.take_along_axis(ref, idx, axis=1), dist)  # ids' true distances
    assert np.array_equal(dist, np.sort(ref, axis=1)[:, :kk])  # best-first, right values
    assert all(len(set(row)) == kk for row in idx.tolist())


@pytest.mark.parametrize("n_bytes", [48, 12, 7, 1])
@pytest.mark.parametrize("num_q", [1, 4])
def test_cpu_hamming_matches_reference(n_bytes: int, num_q: int, rng: np.random.Generator) -> None:
    n = int(rng.integers(1, 3000))
    codes = rng.integers(0, 256, size=(n, n_bytes), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(num_q, n_bytes), dtype=np.uint8)
    ref = binary.hamming_reference(queries, codes)
    got = hamming_distances(queries, codes)
    assert got.dtype == np.int32 and np.array_equal(got, ref)
    idx, dist = hamming_topk(queries, codes, 10)
    _assert_hamming_topk(idx, dist, ref, 10)


def test_cpu_hamming_threads_and_blocks_agree(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small blocks and a low threading threshold exercise the block and thread seams
    monkeypatch.setattr(binary, "_BLOCK_BYTES", 4096)
    monkeypatch.setattr(binary, "_PARALLEL_MIN_ROWS", 500)
    binary.set_cpu_threads(2)
    try:
        codes = rng.integers(0, 256, size=(5001, 16), dtype=np.uint8)
        for num_q in (1, 3):
            queries = rng.integers(0, 256, size=(num_q, 16), dtype=np.uint8)
            ref = binary.hamming_reference(queries, codes)
            assert np.array_equal(hamming_distances(queries, codes), ref)
            _assert_hamming_topk(*hamming_topk(queries, codes, 25), ref, 25)
    finally:
        binary.set_cpu_threads(os.cpu_count() or 1)


def test_hamming_topk_with_many_ties_and_k_beyond_n(rng: np.random.Generator) -> None:
    codes = np.repeat(rng.integers(0, 256, size=(4, 8), dtype=np.uint8), 30, axis=0)
    queries = codes[:1].copy()
    ref = binary.hamming_reference(queries, codes)
    _assert_hamming_topk(*hamming_topk(queries, codes, 40), ref, 40)
    _assert_hamming_topk(*hamming_topk(queries, codes, 500), ref, 500)
    assert hamming_topk(queries, codes, 0)[0].shape == (1, 0)
    with pytest.raises(ValueError, match="k must be"):
        hamming_topk(queries, codes, -1)
    with pytest.raises(ValueError, match="bytes"):
        hamming_topk(queries[:, :4], codes, 1)


# --- LUT scoring -------------------------------------------------------------------------------


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
def test_cpu_lut_matches_float64_reference(
    largest: bool, with_bias: bool, rng: np.random.Generator
) -> None:
    n, nb = int(rng.integers(1, 6000)), int(rng.integers(1, 40))
    codes = rng.integers(0, 256, size=(n, nb), dtype=np.uint8)
    luts = rng.standard_normal((3, nb, 256)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
    ref = binary.lut_scores_reference(luts, codes, bias)
    got = lut_scores(luts, codes, bias)
    assert got.dtype == np.float32 and got.shape == (3, n)
    tol = 1e-5 * (np.abs(luts).max() * nb + 1)
    np.testing.assert_allclose(got, ref, atol=tol, rtol=0)
    idx, top = lut_topk(luts, codes, 7, bias, largest)
    kk = min(7, n)
    assert idx.shape == (3, kk)
    np.testing.assert_allclose(np.take_along_axis(ref, idx, axis=1), top, atol=tol, rtol=0)
    want = np.sort(ref, axis=1)[:, ::-1][:, :kk] if largest else np.sort(ref, axis=1)[:, :kk]
    np.testing.assert_allclose(top, want, atol=tol, rtol=0)


def test_lut_rejects_mismatched_tables() -> None:
    with pytest.raises(ValueError, match=r"\(q, 4, 256\)"):
        lut_scores(np.zeros((1, 3, 256), np.float32), np.zeros((2, 4), np.uint8))
    with pytest.raises(ValueError, match="bias"):
        lut_scores(np.zeros((1, 4, 256), np.float32), np.zeros((2, 4), np.uint8), np.zeros(3))


@pytest.mark.parametrize("impl", ["numpy", "faiss"])
def test_both_cpu_hamming_topk_paths_match_the_reference(impl: str, rng: np.random.Generator) -> None:
    """The dispatcher uses faiss's compiled scan when faiss is installed (the server extra
    installs it) and the numpy scan otherwise; both must give the reference's answer."""
    if impl == "faiss":
        pytest.importorskip("faiss", reason="faiss-cpu is not installed")
    topk = binary.faiss_hamming_topk if impl == "faiss" else binary.numpy_hamming_topk
    for n_bytes, n, num_q in ((48, 2500, 3), (7, 300, 1), (16, 40, 2)):
        codes = rng.integers(0, 256, size=(n, n_bytes), dtype=np.uint8)
        queries = rng.integers(0, 256, size=(num_q, n_bytes), dtype=np.uint8)
        ref = binary.hamming_reference(queries, codes)
        _assert_hamming_topk(*topk(queries, codes, 10), ref, 10)
        _assert_hamming_topk(*topk(queries, codes, n + 5), ref, n + 5)
    ties = np.repeat(rng.integers(0, 256, size=(4, 8), dtype=np.uint8), 30, axis=0)
    _assert_hamming_topk(*topk(ties[:1], ties, 40), binary.hamming_reference(ties[:1], ties), 40)
    assert topk(ties[:1], ties, 0)[0].shape == (1, 0)


def test_faiss_single_query_scan_split_across_threads_matches_the_reference(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer queries than threads: the codes are split across threads and the per-part top-k
    merged (nearest first, ties by index)."""
    pytest.importorskip("faiss", reason="faiss-cpu is not installed")
    monkeypatch.setattr(binary, "_PARALLEL_MIN_ROWS", 500)
    binary.set_cpu_threads(2)
    try:
        codes = rng.integers(0, 256, size=(5001, 16), dtype=np.uint8)
        codes[4000:4100] = codes[10]  # ties across the split
        queries = codes[10:11].copy()
        ref = binary.hamming_reference(queries, codes)
        for k in (1, 25, 150, 6000):
            _assert_hamming_topk(*binary.faiss_hamming_topk(queries, codes, k), ref, k)
        idx, _ = binary.faiss_hamming_topk(queries, codes, 101)
        assert idx[0].tolist() == [10] + list(range(4000, 4100)), "ties come back in index order"
    finally:
        binary.set_cpu_threads(os.cpu_count() or 1)
