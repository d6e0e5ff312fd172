"""The kernel benchmarks stay runnable: the GPU script's correctness half under the Triton
interpreter (--interpret-smoke), its clear refusal without a GPU, and the CPU script at tiny
sizes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GPU_BENCH = ROOT / "bench" / "bench_kernels_gpu.py"
CPU_BENCH = ROOT / "bench" / "bench_kernels_cpu.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


@pytest.mark.skipif(importlib.util.find_spec("triton") is None,
                    reason="triton is not installed (pip install 'vecdb[gpu]')")
def test_gpu_bench_interpret_smoke_checks_every_kernel() -> None:
    run = _run(str(GPU_BENCH), "--interpret-smoke")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "all 8 checks passed (interpreter smoke run)" in run.stdout
    for kernel in ("dense top-10", "dense rescore", "Hamming top-10", "LUT (SDC)", "MaxSim"):
        assert kernel in run.stdout


def test_gpu_bench_without_cuda_exits_with_a_clear_message() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: the refusal path does not apply")
    run = _run(str(GPU_BENCH), "--iters", "1")
    assert run.returncode == 2
    assert "no CUDA device" in run.stderr and "--interpret-smoke" in run.stderr


def test_cpu_bench_runs_at_tiny_sizes() -> None:
    run = _run(str(CPU_BENCH), "--n", "5000", "--dense-n", "3000", "--dense-q", "4",
               "--batch", "2", "--repeat", "1")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "of the same-thread read probe" in run.stdout
    assert "of the matmul ceiling" in run.stdout
