"""Check and time every Triton kernel at realistic sizes against same-run GPU ceilings.

    python bench/bench_kernels_gpu.py                    # on a CUDA GPU (H100-class: ~6 GiB used)
    python bench/bench_kernels_gpu.py --json out.json    # also write the rows as JSON
    python bench/bench_kernels_gpu.py --interpret-smoke  # tiny sizes, Triton interpreter, CPU

Ceilings, measured in the same run on the same device:
* bandwidth: a device-to-device copy (`dst.copy_(src)`, 1 GiB); its rate counts bytes read plus
  bytes written. Memory-bound kernels report bytes read / time against it (target >= 70%).
* compute: `torch.matmul` in float16 of the batched dense problem's own shapes; the batched
  top-k reports 2 q n d / time against it (target >= 50%).
* MaxSim: an eager float16 `torch.einsum` + amax + sum over a padded (docs, tokens, dim) tensor
  (target: the kernel at least 2x faster).

Every kernel is first checked against an independent torch computation on the same inputs
(tie-tolerant for top-k; float16 bounds relative to the input norms). Timing uses CUDA events
after warm-up, median of --iters runs. --interpret-smoke sets TRITON_INTERPRET=1 before triton
is imported and runs only the checks, at tiny sizes, on CPU tensors (a unit test runs it).
Exit status: 0 when every check passes, 1 when one fails, 2 when no CUDA device is present.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if "--interpret-smoke" in sys.argv:  # must precede the first `import triton` anywhere
    os.environ["TRITON_INTERPRET"] = "1"

import torch

K = 10


@dataclass
class Row:
    kernel: str
    size: str
    check: str
    ms: float | None = None
    achieved: str = ""
    ceiling: str = ""
    ratio: float | None = None
    target: str = ""
    meets: str = ""


@dataclass(frozen=True)
class Sizes:
    dense_n: int
    dense_d: int
    batch_q: int
    rescore_q: int
    rescore_c: int
    codes_n: int
    code_bytes: int
    hamming_batch: int
    maxsim_docs: int
    maxsim_tokens: int
    maxsim_d: int
    maxsim_lq: int


REAL = Sizes(1_000_000, 384, 1024, 256, 1000, 10_000_000, 48, 64, 10_000, 128, 128, 32)
SMOKE = Sizes(300, 40, 5, 3, 20, 400, 48, 3, 12, 20, 32, 8)


class Timer:
    """Median milliseconds of a callable: CUDA events on the GPU, perf_counter otherwise."""

    def __init__(self, device: torch.device, warmup: int, iters: int) -> None:
        self.device, self.warmup, self.iters = device, warmup, iters

    def __call__(self, fn: Callable[[], object]) -> float:
        for _ in range(self.warmup):
            fn()
        times = []
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            for _ in range(self.iters):
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
        else:
            for _ in range(self.iters):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)


def check_topk(
    rows: torch.Tensor, got: torch.Tensor, ref: torch.Tensor, k: int, largest: bool, tol: float
) -> str:
    """Tie-tolerant: returned ids' reference scores match, and the sorted best scores match."""
    rows, got, ref = rows.cpu(), got.cpu().float(), ref.cpu().float()
    kk = min(k, ref.shape[1])
    if tuple(rows.shape) != (ref.shape[0], kk) or torch.isnan(got).any():
        return f"FAIL shape {tuple(rows.shape)} or NaN"
    true = ref.gather(1, rows)
    want = torch.topk(ref, kk, dim=1, largest=largest, sorted=True).values
    err = max(float((true - got).abs().max()), float((want - got).abs().max()))
    return f"ok (err {err:.2g})" if err <= tol else f"FAIL err {err:.3g} > {tol:.3g}"


def check_close(got: torch.Tensor, ref: torch.Tensor, tol: float) -> str:
    got, ref = got.cpu().float(), ref.cpu().float()
    if got.shape != ref.shape or torch.isnan(got).any():
        return "FAIL shape or NaN"
    err = float((got - ref).abs().max())
    return f"ok (err {err:.2g})" if err <= tol else f"FAIL err {err:.3g} > {tol:.3g}"


def copy_bandwidth(timer: Timer, device: torch.device, nbytes: int) -> float:
    """Bytes moved per second (read + write) by a device-to-device copy."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    ms = timer(lambda: dst.copy_(src))
    return 2 * nbytes / (ms * 1e-3)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interpret-smoke", action="store_true",
                        help="tiny sizes under TRITON_INTERPRET=1 on the CPU; checks only")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the result rows to this JSON file")
    args = parser.parse_args()

    smoke = args.interpret_smoke
    if not smoke and not torch.cuda.is_available():
        print("bench_kernels_gpu: no CUDA device is visible to torch "
              f"(torch {torch.__version__}); run it on a GPU machine, or use --interpret-smoke "
              "for the correctness half on the CPU", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from vecdb.kernels import Metric
    from vecdb.kernels import triton_binary as tb
    from vecdb.kernels import triton_dense as td
    from vecdb.kernels import triton_maxsim as tm

    device = torch.device("cpu") if smoke else torch.device("cuda")
    sizes = SMOKE if smoke else REAL
    timer = Timer(device, warmup=0 if smoke else args.warmup, iters=1 if smoke else args.iters)
    gen = torch.Generator(device=device).manual_seed(int.from_bytes(os.urandom(4), "little"))
    rows: list[Row] = []
    name = "Triton interpreter (CPU)" if smoke else torch.cuda.get_device_name(0)
    print(f"device: {name}; torch {torch.__version__}")

    bw = 0.0
    if not smoke:
        bw = copy_bandwidth(timer, device, 1 << 30)
        print(f"copy ceiling: {bw / 1e9:,.0f} GB/s (read + write)")

    def mem_row(kernel: str, size: str, check: str, ms: float, bytes_read: int) -> None:
        row = Row(kernel, size, check, target=">= 70% of copy")
        if not smoke:
            rate = bytes_read / (ms * 1e-3)
            row.ms, row.achieved = ms, f"{rate / 1e9:,.0f} GB/s"
            row.ceiling = f"{bw / 1e9:,.0f} GB/s"
            row.ratio = rate / bw
            row.meets = "yes" if row.ratio >= 0.7 else "no"
        rows.append(row)

    # --- dense, float16 storage ---------------------------------------------------------------
    n, d = sizes.dense_n, sizes.dense_d
    v16 = torch.randn(n, d, generator=gen, device=device).to(torch.float16)
    v32_sample = v16[: min(n, 200_000)].float()
    q1 = torch.randn(1, d, generator=gen, device=device)
    ref = (q1 @ v16.float().T) if smoke or n <= 200_000 else None
    idx, top = td.dense_topk_tensors(q1, v16, K, Metric.DOT)
    if ref is None:  # full fp32 reference for one query: n x d fp32 on the fly, chunked
        ref = torch.cat([q1 @ v16[i : i + 200_000].float().T for i in range(0, n, 200_000)], 1)
    scale = float(q1.norm()) * float(v32_sample.norm(dim=1).max())
    check = check_topk(idx, top, ref, K, True, 2e-3 * scale)
    ms = timer(lambda: td.dense_topk_tensors(q1, v16, K, Metric.DOT))
    mem_row("dense top-10, dot, 1 query", f"{n:,} x {d} fp16", check, ms, n * d * 2)

    qb = torch.randn(sizes.batch_q, d, generator=gen, device=device)
    idx, top = td.dense_topk_tensors(qb, v16, K, Metric.COSINE)
    sub = slice(0, 8)
    qn = torch.nn.functional.normalize(qb[sub], dim=1)
    vnorm = v16.float().norm(dim=1).clamp_min(1e-30) if n <= 200_000 or smoke else None
    if vnorm is None:
        ref_sub = torch.cat([qn @ (v16[i : i + 200_000].float() / v16[i : i + 200_000].float()
                                   .norm(dim=1, keepdim=True).clamp_min(1e-30)).T
                             for i in range(0, n, 200_000)], 1)
    else:
        ref_sub = qn @ (v16.float() / vnorm[:, None]).T
    check = check_topk(idx[sub], top[sub], ref_sub, K, True, 2e-3)
    ms = timer(lambda: td.dense_topk_tensors(qb, v16, K, Metric.COSINE))
    row = Row(f"dense top-10, cosine, {sizes.batch_q} queries", f"{n:,} x {d} fp16", check,
              target=">= 50% of matmul")
    if not smoke:
        qh = qb.to(torch.float16)
        mm_ms = timer(lambda: torch.matmul(qh, v16.T))
        flops = 2 * sizes.batch_q * n * d
        row.ms, row.achieved = ms, f"{flops / (ms * 1e-3) / 1e12:,.0f} TFLOP/s"
        row.ceiling = f"{flops / (mm_ms * 1e-3) / 1e12:,.0f} TFLOP/s (matmul)"
        row.ratio = mm_ms / ms
        row.meets = "yes" if row.ratio >= 0.5 else "no"
    rows.append(row)

    # rescoring a shortlist: gather-bound
    rq, rc = sizes.rescore_q, sizes.rescore_c
    cand = torch.randint(0, n, (rq, rc), generator=gen, device=device)
    qr = torch.randn(rq, d, generator=gen, device=device)
    got = td.dense_rescore_tensors(qr, v16, cand, Metric.L2)
    gathered = v16[cand].float()
    ref = (gathered - qr[:, None, :]).norm(dim=2)
    check = check_close(got, ref, 1e-4 * float(ref.abs().max()))
    ms = timer(lambda: td.dense_rescore_tensors(qr, v16, cand, Metric.L2))
    mem_row("dense rescore, l2", f"{rq} q x {rc} cand, d {d} fp16", check, ms, rq * rc * d * 2)

    # --- binary codes ------------------------------------------------------------------------
    cn, nb = sizes.codes_n, sizes.code_bytes
    codes = torch.randint(0, 256, (cn, nb), generator=gen, device=device, dtype=torch.uint8)
    qc = torch.randint(0, 256, (1, nb), generator=gen, device=device, dtype=torch.uint8)
    pop = torch.tensor([bin(i).count("1") for i in range(256)], device=device, dtype=torch.int32)

    def hamming_ref(queries: torch.Tensor) -> torch.Tensor:
        chunk = 1_000_000
        return torch.stack([torch.cat([pop[(codes[i : i + chunk] ^ qv).long()].sum(1)
                                       for i in range(0, cn, chunk)]) for qv in queries]).float()

    idx, dist = tb.hamming_topk_tensors(qc, codes, K)
    check = check_topk(idx, dist, hamming_ref(qc), K, False, 0.0)
    ms = timer(lambda: tb.hamming_topk_tensors(qc, codes, K))
    mem_row("Hamming top-10, 1 query", f"{cn:,} x {nb * 8}-bit", check, ms, cn * nb)

    qcb = torch.randint(0, 256, (sizes.hamming_batch, nb), generator=gen, device=device,
                        dtype=torch.uint8)
    idx, dist = tb.hamming_topk_tensors(qcb, codes, K)
    check = check_topk(idx[:4], dist[:4], hamming_ref(qcb[:4]), K, False, 0.0)
    ms = timer(lambda: tb.hamming_topk_tensors(qcb, codes, K))
    row = Row(f"Hamming top-10, {sizes.hamming_batch} queries", f"{cn:,} x {nb * 8}-bit", check,
              target="(compute-bound: context)")
    if not smoke:
        row.ms = ms
        row.achieved = f"{sizes.hamming_batch * cn / (ms * 1e-3) / 1e9:,.1f} G codes/s"
    rows.append(row)

    # per-query LUT (SDC): the 1-bit codes scored as +-1 vectors against a float query
    qf = torch.randn(1, nb * 8, generator=gen, device=device)
    from vecdb.kernels.codes import build_lut

    lut = torch.from_numpy(build_lut(qf.cpu().numpy(), 1, 2.0, -1.0)).to(device)
    idx, scores = tb.lut_topk_tensors(lut, codes, K)
    cols = torch.arange(nb, device=device)
    chunk = 1_000_000
    ref = torch.cat([lut[0][cols[None, :], codes[i : i + chunk].long()].sum(1)
                     for i in range(0, cn, chunk)])[None, :]
    check = check_topk(idx, scores, ref, K, True, 1e-4 * float(lut.abs().max()) * nb)
    ms = timer(lambda: tb.lut_topk_tensors(lut, codes, K))
    mem_row("LUT (SDC) top-10, 1 query", f"{cn:,} x {nb} bytes", check, ms, cn * nb)

    # --- MaxSim ------------------------------------------------------------------------------
    nd, nt, md, lq = sizes.maxsim_docs, sizes.maxsim_tokens, sizes.maxsim_d, sizes.maxsim_lq
    docs = torch.nn.functional.normalize(torch.randn(nd, nt, md, generator=gen, device=device),
                                         dim=2).to(torch.float16)
    flat = docs.reshape(nd * nt, md)
    offsets = torch.arange(0, (nd + 1) * nt, nt, device=device, dtype=torch.int64)
    qt = torch.nn.functional.normalize(torch.randn(1, lq, md, generator=gen, device=device), dim=2)
    qt16 = qt.to(torch.float16)

    def einsum_baseline() -> torch.Tensor:
        return torch.einsum("qd,ntd->nqt", qt16[0], docs).amax(dim=2).float().sum(dim=1)

    base = einsum_baseline().float() if not smoke else torch.einsum(
        "qd,ntd->nqt", qt16[0].float(), docs.float()).amax(dim=2).sum(dim=1)
    cand = torch.randperm(nd, generator=gen, device=device)
    for label, cands in (("exhaustive", None), ("rerank", cand)):
        got = tm.maxsim_scores_tensors(qt, flat, offsets, cands)[0]
        want = base if cands is None else base[cands]
        check = check_close(got, want, 2e-3 * lq + 1e-2 * smoke)
        ms = timer(lambda c=cands: tm.maxsim_scores_tensors(qt, flat, offsets, c))
        row = Row(f"MaxSim {label}, {lq} query tokens", f"{nd:,} docs x {nt} tok x {md}-d fp16",
                  check, target=">= 2x einsum")
        if not smoke:
            base_ms = timer(einsum_baseline)
            row.ms, row.achieved = ms, f"{nd * nt * md * 2 / (ms * 1e-3) / 1e9:,.0f} GB/s"
            row.ceiling = f"einsum {base_ms:.3f} ms"
            row.ratio = base_ms / ms
            row.meets = "yes" if row.ratio >= 2.0 else "no"
        rows.append(row)

    # --- report ------------------------------------------------------------------------------
    header = "| kernel | size | check | ms | achieved | ceiling | ratio | target | meets |"
    print(f"\n{header}\n|" + "---|" * 9)
    for r in rows:
        ms_s = f"{r.ms:.3f}" if r.ms is not None else "-"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        print(f"| {r.kernel} | {r.size} | {r.check} | {ms_s} | {r.achieved or '-'} | "
              f"{r.ceiling or '-'} | {ratio} | {r.target} | {r.meets or '-'} |")
    if args.json:
        args.json.write_text(json.dumps({"device": name, "rows": [asdict(r) for r in rows]},
                                        indent=2))
    failed = [r.kernel for r in rows if not r.check.startswith("ok")]
    if failed:
        print(f"\nFAILED checks: {failed}", file=sys.stderr)
        return 1
    print(f"\nall {len(rows)} checks passed" + (" (interpreter smoke run)" if smoke else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
