"""Scoring of binary and multi-bit codes: Hamming popcount and per-query lookup tables (SDC).

Codes are (n, n_bytes) uint8 rows in the layout of `vecdb.kernels.codes`. Two operations:

* Hamming distance between 1-bit codes: popcount(query XOR code), lower is better.
* LUT scoring: score = sum over bytes i of lut[i, code[i]] (+ an optional per-code bias), with
  one (n_bytes, 256) float32 table per query (`codes.build_lut`); higher is better by default.

Each has a float64/integer-exact reference, a CPU fast path and a Triton path (`triton_binary`),
behind one registry per operation. The CPU Hamming path is blocked numpy: XOR against the query
tiled over a block (one contiguous ufunc call), `np.bitwise_count` into bytes, then the per-row
sum as a handful of strided adds; blocks fit in L2 and are spread over threads (numpy releases
the GIL). Batched queries transpose each block once to word planes and reuse it per query.
Top-k over Hamming distances is a counting selection (distances are small integers), which is
cheaper than an argpartition over n.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from vecdb.kernels.dispatch import KernelRegistry
from vecdb.kernels.select import RunningTopK

__all__ = [
    "HAMMING_DISTANCE_BACKENDS",
    "HAMMING_TOPK_BACKENDS",
    "LUT_SCORE_BACKENDS",
    "LUT_TOPK_BACKENDS",
    "HammingDistances",
    "HammingTopK",
    "LutScores",
    "LutTopK",
    "cpu_hamming_distances",
    "cpu_hamming_topk",
    "cpu_lut_scores",
    "cpu_lut_topk",
    "hamming_distances",
    "hamming_reference",
    "hamming_topk",
    "lut_scores",
    "lut_scores_reference",
    "lut_topk",
    "set_cpu_threads",
]

_BLOCK_BYTES = 1 << 19
"""Bytes of codes one CPU block covers (512 KiB: the block and its scratch stay in L2)."""

_PARALLEL_MIN_ROWS = 1 << 16
"""Below this many rows one thread does the whole scan (thread hand-off would dominate)."""

T = TypeVar("T")

_threads = os.cpu_count() or 1
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def set_cpu_threads(threads: int) -> None:
    """Threads the CPU code scans use (default: all cores). 1 disables threading."""
    global _threads, _pool
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    with _pool_lock:
        _threads = int(threads)
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None


def _parallel_rows(n: int, rows_per_block: int, work: Callable[[int, int], T]) -> list[T]:
    """Run work(start, stop) over [0, n) split into per-thread ranges of whole blocks."""
    global _pool
    threads = min(_threads, max(1, n // _PARALLEL_MIN_ROWS))
    if threads <= 1:
        return [work(0, n)]
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_threads, thread_name_prefix="vecdb-kernels")
        pool = _pool
    blocks = -(-n // rows_per_block)
    edges = [min(n, (blocks * t // threads) * rows_per_block) for t in range(threads + 1)]
    futures = [pool.submit(work, lo, hi) for lo, hi in itertools.pairwise(edges) if hi > lo]
    return [f.result() for f in futures]


def _as_codes(codes: np.ndarray, name: str = "codes") -> np.ndarray:
    arr = np.asarray(codes)
    if arr.dtype != np.uint8 or arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D uint8 array (n, n_bytes), got {arr.dtype} shape {arr.shape}"
        )
    return np.ascontiguousarray(arr)


def _as_queries(queries: np.ndarray, n_bytes: int) -> np.ndarray:
    q = np.asarray(queries)
    if q.ndim == 1:
        q = q[None, :]
    q = _as_codes(q, "queries")
    if q.shape[1] != n_bytes:
        raise ValueError(
            f"queries have {q.shape[1]} bytes but codes have {n_bytes}; they must match"
        )
    return q


def _check_k(k: int) -> int:
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return int(k)


# ---------------------------------------------------------------------------------------------
# References.


def hamming_reference(queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(q, n) int32 Hamming distances, straight from the definition (small inputs only)."""
    c = _as_codes(codes)
    q = _as_queries(queries, c.shape[1])
    return np.bitwise_count(q[:, None, :] ^ c[None, :, :]).sum(axis=2, dtype=np.int32)


def _as_luts(luts: np.ndarray, n_bytes: int) -> np.ndarray:
    arr = np.asarray(luts, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (n_bytes, 256):
        raise ValueError(
            f"luts must have shape (q, {n_bytes}, 256) for {n_bytes}-byte codes, got {arr.shape}"
        )
    return np.ascontiguousarray(arr)


def _as_bias(bias: np.ndarray | None, n: int) -> np.ndarray | None:
    if bias is None:
        return None
    arr = np.asarray(bias, dtype=np.float32)
    if arr.shape != (n,):
        raise ValueError(f"bias must have shape ({n},), one value per code, got {arr.shape}")
    return arr


def lut_scores_reference(
    luts: np.ndarray, codes: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    """(q, n) float32 sum_i lut[q, i, code[n, i]] (+ bias[n]), accumulated in float64."""
    c = _as_codes(codes)
    lt = _as_luts(luts, c.shape[1]).astype(np.float64)
    cols = np.arange(c.shape[1])
    out = np.stack([lt[qi][cols[None, :], c].sum(axis=1) for qi in range(lt.shape[0])])
    b = _as_bias(bias, c.shape[0])
    if b is not None:
        out += b.astype(np.float64)[None, :]
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# CPU Hamming.


def _words(arr: np.ndarray) -> np.ndarray:
    """The widest unsigned-integer view of each row that divides its byte length."""
    nb = arr.shape[1]
    dtype = np.uint64 if nb % 8 == 0 else np.uint32 if nb % 4 == 0 else np.uint8
    return arr.view(dtype)


def _hamming_into(
    q_words: np.ndarray, words: np.ndarray, out: np.ndarray, histogram: bool = False
) -> np.ndarray | None:
    """Fill out (q, n) with Hamming distances, blocked and threaded over rows.

    With `histogram`, also return the (q, max_distance + 1) counts of each distance, gathered
    block by block while the block is still in cache (the top-k selection needs them).
    """
    n, width = words.shape
    rows = max(256, _BLOCK_BYTES // words.itemsize // width)
    num_q = q_words.shape[0]
    bins = width * words.itemsize * 8 + 1

    def work(lo: int, hi: int) -> np.ndarray | None:
        hist = np.zeros((num_q, bins), dtype=np.int64) if histogram else None
        m_max = min(rows, hi - lo)
        counts = np.empty(m_max * width, dtype=np.uint8)
        if num_q == 1:
            tiled = np.tile(q_words[0], m_max)
            xor = np.empty(m_max * width, dtype=words.dtype)
        else:
            planes = np.empty((width, m_max), dtype=words.dtype)
            xor = np.empty(m_max, dtype=words.dtype)
        flat = words.reshape(-1)
        for start in range(lo, hi, rows):
            stop = min(hi, start + rows)
            m = stop - start
            if num_q == 1:
                x = xor[: m * width]
                np.bitwise_xor(flat[start * width : stop * width], tiled[: m * width], out=x)
                c = counts[: m * width]
                np.bitwise_count(x, out=c)
                cols = c.reshape(m, width)
                o = out[0, start:stop]
                np.copyto(o, cols[:, 0])
                for j in range(1, width):
                    np.add(o, cols[:, j], out=o)
            else:
                p = planes[:, :m]
                np.copyto(p, words[start:stop].T)
                x = xor[:m]
                c = counts[:m]
                for qi in range(num_q):
                    o = out[qi, start:stop]
                    for j in range(width):
                        np.bitwise_xor(p[j], q_words[qi, j], out=x)
                        np.bitwise_count(x, out=c)
                        if j == 0:
                            np.copyto(o, c)
                        else:
                            np.add(o, c, out=o)
            if hist is not None:
                for qi in range(num_q):
                    hist[qi] += np.bincount(out[qi, start:stop], minlength=bins)
        return hist

    parts = _parallel_rows(n, rows, work)
    if not histogram:
        return None
    return np.sum([h for h in parts if h is not None], axis=0)


def _raw_hamming(
    queries: np.ndarray, codes: np.ndarray, histogram: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    c = _as_codes(codes)
    q = _as_queries(queries, c.shape[1])
    dtype = np.uint16 if c.shape[1] * 8 < (1 << 16) else np.int32
    out = np.empty((q.shape[0], c.shape[0]), dtype=dtype)
    hist = None
    if c.shape[0]:
        hist = _hamming_into(_words(q), _words(c), out, histogram)
    return out, hist


def cpu_hamming_distances(queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(q, n) int32 Hamming distances on the CPU (blocked numpy popcount, threaded)."""
    return _raw_hamming(queries, codes)[0].astype(np.int32)


def _int_topk_row(dist: np.ndarray, hist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best-first (smallest) `k` of one row of small non-negative integers, ties by index.

    `hist` counts each value; the k-th smallest value is read off its cumulative sum, so one
    comparison pass over the row finds the winners (no argpartition over n).
    """
    threshold = int(np.searchsorted(np.cumsum(hist), k))  # smallest value with >= k at or below
    idx = np.flatnonzero(dist <= threshold)
    if idx.size > k:
        below = idx[dist[idx] < threshold]
        at = idx[dist[idx] == threshold][: k - below.size]
        idx = np.concatenate([below, at])
    vals = dist[idx]
    order = np.lexsort((idx, vals))
    return idx[order].astype(np.int64), vals[order].astype(np.float32)


def cpu_hamming_topk(
    queries: np.ndarray, codes: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest `min(k, n)` codes per query: (indices int64, distances float32), both (q, k').

    Uses faiss's compiled popcount scan when faiss is installed (3-4x the numpy path on the
    CPU; bench/bench_kernels_cpu.py), else the blocked numpy scan below.
    """
    faiss = _faiss()
    if faiss is not None:
        return faiss_hamming_topk(queries, codes, k)
    return numpy_hamming_topk(queries, codes, k)


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def faiss_hamming_topk(queries: np.ndarray, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The Hamming top-k through faiss.knn_hamming (a compiled, multi-threaded popcount scan)."""
    import faiss

    k = _check_k(k)
    c = _as_codes(codes)
    q = _as_queries(queries, c.shape[1])
    kk = min(k, c.shape[0])
    if kk == 0 or q.shape[0] == 0:
        return np.empty((q.shape[0], kk), np.int64), np.empty((q.shape[0], kk), np.float32)
    if q.shape[0] >= _threads:
        # faiss spreads a batch over its OpenMP threads by query: enough queries use every core.
        dist, idx = faiss.knn_hamming(q, c, kk)
        return idx.astype(np.int64, copy=False), dist.astype(np.float32)
    # Fewer queries than cores: split the codes instead (faiss releases the GIL), then merge.
    parts = _parallel_rows(c.shape[0], 1024, lambda lo, hi: (lo, *faiss.knn_hamming(q, c[lo:hi], min(kk, hi - lo))))
    dist = np.concatenate([d for _, d, _ in parts], axis=1)
    idx = np.concatenate([i + lo for lo, _, i in parts], axis=1)
    order = np.lexsort((idx, dist), axis=1)[:, :kk]  # nearest first, ties by index
    return np.take_along_axis(idx, order, axis=1).astype(np.int64), np.take_along_axis(dist, order, axis=1).astype(np.float32)


def numpy_hamming_topk(
    queries: np.ndarray, codes: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The Hamming top-k by blocked XOR + np.bitwise_count, with a histogram selection."""
    k = _check_k(k)
    dist, hist = _raw_hamming(queries, codes, histogram=True)
    q, n = dist.shape
    kk = min(k, n)
    idx = np.empty((q, kk), dtype=np.int64)
    top = np.empty((q, kk), dtype=np.float32)
    if kk:
        assert hist is not None
        for qi in range(q):
            idx[qi], top[qi] = _int_topk_row(dist[qi], hist[qi], kk)
    return idx, top


# ---------------------------------------------------------------------------------------------
# CPU LUT scoring.

_LUT_BLOCK_ROWS = 4096


def _lut_into(luts: np.ndarray, codes: np.ndarray, out: np.ndarray) -> None:
    n, nb = codes.shape
    flat_luts = luts.reshape(luts.shape[0], nb * 256)
    offsets = (np.arange(nb, dtype=np.intp) * 256)[None, :]
    ones = np.ones(nb, dtype=np.float32)

    def work(lo: int, hi: int) -> None:
        m_max = min(_LUT_BLOCK_ROWS, hi - lo)
        index = np.empty((m_max, nb), dtype=np.intp)
        vals = np.empty((m_max, nb), dtype=np.float32)
        for start in range(lo, hi, _LUT_BLOCK_ROWS):
            stop = min(hi, start + _LUT_BLOCK_ROWS)
            m = stop - start
            ix = index[:m]
            np.add(codes[start:stop], offsets, out=ix)  # shared by every query of the batch
            v = vals[:m]
            for qi in range(flat_luts.shape[0]):
                np.take(flat_luts[qi], ix, out=v, mode="wrap")  # indices < nb*256 by construction
                np.matmul(v, ones, out=out[qi, start:stop])

    _parallel_rows(n, _LUT_BLOCK_ROWS, work)


def cpu_lut_scores(
    luts: np.ndarray, codes: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    """(q, n) float32 LUT scores on the CPU: one gather per byte, summed by a BLAS matvec."""
    c = _as_codes(codes)
    lt = _as_luts(luts, c.shape[1])
    b = _as_bias(bias, c.shape[0])
    out = np.empty((lt.shape[0], c.shape[0]), dtype=np.float32)
    if c.shape[0]:
        _lut_into(lt, c, out)
    if b is not None:
        out += b[None, :]
    return out


def cpu_lut_topk(
    luts: np.ndarray,
    codes: np.ndarray,
    k: int,
    bias: np.ndarray | None = None,
    largest: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Best `min(k, n)` codes per query by LUT score: (indices int64, scores float32) (q, k')."""
    k = _check_k(k)
    c = _as_codes(codes)
    lt = _as_luts(luts, c.shape[1])
    b = _as_bias(bias, c.shape[0])
    rows = max(_LUT_BLOCK_ROWS, (1 << 22) // max(1, lt.shape[0]))
    running = RunningTopK(lt.shape[0], k, largest)
    for start in range(0, c.shape[0], rows):
        block_bias = None if b is None else b[start : start + rows]
        running.push(cpu_lut_scores(lt, c[start : start + rows], block_bias), start)
    return running.result()


# ---------------------------------------------------------------------------------------------
# Public entry points.

HammingDistances = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(queries (q, n_bytes) uint8, codes (n, n_bytes) uint8) -> distances int32 (q, n)."""

HammingTopK = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]
"""(queries, codes, k) -> (indices int64 (q, k'), distances float32 (q, k')), nearest first."""

LutScores = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], np.ndarray]
"""(luts (q, n_bytes, 256) float32, codes (n, n_bytes) uint8, bias (n,) | None) -> (q, n)."""

LutTopK = Callable[
    [np.ndarray, np.ndarray, int, "np.ndarray | None", bool], tuple[np.ndarray, np.ndarray]
]
"""(luts, codes, k, bias, largest) -> (indices int64 (q, k'), scores float32 (q, k'))."""

HAMMING_DISTANCE_BACKENDS: KernelRegistry[HammingDistances] = KernelRegistry(
    "hamming_distances",
    {
        "cpu": "vecdb.kernels.binary:cpu_hamming_distances",
        "cuda": "vecdb.kernels.triton_binary:hamming_distances",
    },
)
HAMMING_TOPK_BACKENDS: KernelRegistry[HammingTopK] = KernelRegistry(
    "hamming_topk",
    {
        "cpu": "vecdb.kernels.binary:cpu_hamming_topk",
        "cuda": "vecdb.kernels.triton_binary:hamming_topk",
    },
)
LUT_SCORE_BACKENDS: KernelRegistry[LutScores] = KernelRegistry(
    "lut_scores",
    {
        "cpu": "vecdb.kernels.binary:cpu_lut_scores",
        "cuda": "vecdb.kernels.triton_binary:lut_scores",
    },
)
LUT_TOPK_BACKENDS: KernelRegistry[LutTopK] = KernelRegistry(
    "lut_topk",
    {"cpu": "vecdb.kernels.binary:cpu_lut_topk", "cuda": "vecdb.kernels.triton_binary:lut_topk"},
)


def hamming_distances(queries: np.ndarray, codes: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(q, n) int32 Hamming distances between 1-bit query codes and stored codes."""
    return HAMMING_DISTANCE_BACKENDS.select(device)(queries, codes)


def hamming_topk(
    queries: np.ndarray, codes: np.ndarray, k: int, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """The `min(k, n)` nearest codes per query: (indices int64, distances float32), (q, k')."""
    return HAMMING_TOPK_BACKENDS.select(device)(queries, codes, k)


def lut_scores(
    luts: np.ndarray, codes: np.ndarray, bias: np.ndarray | None = None, device: str = "cpu"
) -> np.ndarray:
    """(q, n) float32 sum over bytes of lut[q, i, code[i]], plus bias[n] when given."""
    return LUT_SCORE_BACKENDS.select(device)(luts, codes, bias)


def lut_topk(
    luts: np.ndarray,
    codes: np.ndarray,
    k: int,
    bias: np.ndarray | None = None,
    largest: bool = True,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Best `min(k, n)` codes per query by LUT score (largest first unless `largest=False`)."""
    return LUT_TOPK_BACKENDS.select(device)(luts, codes, k, bias, largest)
