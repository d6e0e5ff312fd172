"""CPU kernel throughput against same-run ceilings, on the same bytes, in one process.

    python bench/bench_kernels_cpu.py                  # 1M x 384-bit codes, 200k x 384 fp32
    python bench/bench_kernels_cpu.py --n 20000 --dense-n 5000 --repeat 2   # quick look

Hamming scan (the issue's CPU target: >= 50% of a memory-bandwidth probe):
* probes over the very bytes the scan reads: `np.add.reduce` over their uint64 view (a pure
  read stream: the fair ceiling for a scan that reads n codes and writes n small integers) and
  `np.copyto` of them (memcpy: reads and writes, reported as bytes read per second). Each probe
  is run single-threaded and split over the kernel's threads, so the kernel is compared with a
  probe at its own thread count;
* the kernel: `hamming_distances` (distances only) and `hamming_topk` (k=10), one query and a
  batch, at 1 thread and at all cores.
LUT scoring is reported in codes/s (gather-bound; no bandwidth claim). Dense float32 top-k goes
through BLAS and is compared with the bare `queries @ vectors.T` matmul on the same data.
Absolute numbers are context; the ratios are the claim. Best of --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vecdb.kernels import Metric, dense_topk, hamming_distances, lut_scores

try:
    import faiss
except ImportError:  # the server extra installs it; without it only the numpy path is measured
    faiss = None
from vecdb.kernels import binary


def best_of(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def split_probe(
    pool: ThreadPoolExecutor, threads: int, words: np.ndarray, dst: np.ndarray | None
) -> None:
    """Sum (dst None) or copy `words` split over `threads` threads: the bandwidth probes."""
    edges = np.linspace(0, words.size, threads + 1).astype(int)
    if dst is None:
        list(pool.map(lambda i: np.add.reduce(words[edges[i] : edges[i + 1]]), range(threads)))
    else:
        parts = [slice(edges[i], edges[i + 1]) for i in range(threads)]
        list(pool.map(lambda sl: np.copyto(dst[sl], words[sl]), parts))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="codes in the Hamming scan")
    parser.add_argument("--bytes", type=int, default=48, help="bytes per code (48 = 384 bits)")
    parser.add_argument("--batch", type=int, default=16, help="queries in the batched scan")
    parser.add_argument("--dense-n", type=int, default=200_000)
    parser.add_argument("--dense-d", type=int, default=384)
    parser.add_argument("--dense-q", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    rng = np.random.default_rng()
    cores = os.cpu_count() or 1
    codes = rng.integers(0, 256, size=(args.n, args.bytes), dtype=np.uint8)
    words = codes.reshape(-1).view(np.uint64) if codes.nbytes % 8 == 0 else codes.reshape(-1)
    dst = np.empty_like(words)
    gb = codes.nbytes / 1e9
    pool = ThreadPoolExecutor(cores)
    print(f"Hamming scan: {args.n:,} codes x {args.bytes} bytes = {codes.nbytes / 1e6:,.0f} MB; "
          f"{cores} cores; numpy {np.__version__}")

    query = rng.integers(0, 256, size=(1, args.bytes), dtype=np.uint8)
    batch = rng.integers(0, 256, size=(args.batch, args.bytes), dtype=np.uint8)
    assert np.array_equal(hamming_distances(query, codes[:2000]),
                          binary.hamming_reference(query, codes[:2000]))
    rows = []
    for threads in sorted({1, cores}):
        binary.set_cpu_threads(threads)
        read = gb / best_of(lambda t=threads: split_probe(pool, t, words, None), args.repeat)
        copy = gb / best_of(lambda t=threads: split_probe(pool, t, words, dst), args.repeat)
        dist = gb / best_of(lambda: hamming_distances(query, codes), args.repeat)
        top = gb / best_of(lambda: binary.numpy_hamming_topk(query, codes, 10), args.repeat)
        fast = float("nan")
        if faiss is not None:
            faiss.omp_set_num_threads(threads)
            fast = gb / best_of(lambda: binary.faiss_hamming_topk(query, codes, 10), args.repeat)
        bat_s = best_of(lambda: hamming_distances(batch, codes), max(1, args.repeat // 2))
        bat = args.batch * gb / bat_s
        rows.append((threads, read, copy, dist, top, fast, bat))
    binary.set_cpu_threads(cores)

    print("\n| threads | read probe GB/s | memcpy probe GB/s | numpy distances GB/s | numpy top-10 GB/s | "
          f"faiss top-10 GB/s | numpy batch {args.batch} GB/s per query | numpy top-10 / read | "
          "faiss top-10 / read | faiss top-10 / memcpy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for threads, read, copy, dist, top, fast, bat in rows:
        print(f"| {threads} | {read:.1f} | {copy:.1f} | {dist:.1f} | {top:.1f} | {fast:.1f} | {bat:.1f} | "
              f"{top / read:.0%} | {fast / read:.0%} | {fast / copy:.0%} |")
    tn = rows[-1]
    print(f"\nHamming top-10 at {tn[0]} threads, as % of the same-thread read probe (target 50%): "
          f"numpy {tn[4] / tn[1]:.0%}, faiss {tn[5] / tn[1]:.0%} "
          f"({'the dispatcher uses faiss' if faiss is not None else 'faiss not installed'})")

    luts = rng.standard_normal((1, args.bytes, 256)).astype(np.float32)
    lut_s = best_of(lambda: lut_scores(luts, codes), max(1, args.repeat // 2))
    print(f"LUT (SDC) scores, 1 query: {args.n / lut_s / 1e6:,.1f} M codes/s "
          f"({gb / lut_s:.2f} GB/s of codes)")

    # dense float32: the kernel (blocked BLAS + top-k merge) against the bare matmul
    vecs = rng.standard_normal((args.dense_n, args.dense_d)).astype(np.float32)
    qs = rng.standard_normal((args.dense_q, args.dense_d)).astype(np.float32)
    mm = best_of(lambda: qs @ vecs.T, args.repeat)
    kern = best_of(lambda: dense_topk(qs, vecs, 10, Metric.DOT), args.repeat)
    flops = 2 * args.dense_q * args.dense_n * args.dense_d
    print(f"dense fp32 top-10 (dot), {args.dense_q} queries x {args.dense_n:,} x {args.dense_d}: "
          f"{flops / kern / 1e9:,.1f} GFLOP/s vs matmul {flops / mm / 1e9:,.1f} GFLOP/s "
          f"= {mm / kern:.0%} of the matmul ceiling")
    one = best_of(lambda: dense_topk(qs[:1], vecs, 10, Metric.DOT), args.repeat)
    read = vecs.nbytes / 1e9 / best_of(lambda: np.add.reduce(vecs.reshape(-1)), args.repeat)
    print(f"dense fp32 top-10, 1 query: {vecs.nbytes / 1e9 / one:.1f} GB/s "
          f"= {vecs.nbytes / 1e9 / one / read:.0%} of a single-thread read probe ({read:.1f} GB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
