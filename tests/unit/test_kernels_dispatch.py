"""Device resolution and the per-family registries: "auto" falls back to the CPU here, "cuda"
fails with a message that says what is missing, and importing the package stays cheap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from vecdb.kernels import (
    DENSE_RESCORE_BACKENDS,
    DENSE_TOPK_BACKENDS,
    HAMMING_DISTANCE_BACKENDS,
    HAMMING_TOPK_BACKENDS,
    LUT_SCORE_BACKENDS,
    LUT_TOPK_BACKENDS,
    MAXSIM_BACKENDS,
    DeviceUnavailableError,
    KernelRegistry,
    Metric,
    cuda_available,
    dense_topk,
    dispatch,
    hamming_topk,
    resolve_device,
)

ALL_REGISTRIES = [
    DENSE_TOPK_BACKENDS,
    DENSE_RESCORE_BACKENDS,
    HAMMING_DISTANCE_BACKENDS,
    HAMMING_TOPK_BACKENDS,
    LUT_SCORE_BACKENDS,
    LUT_TOPK_BACKENDS,
    MAXSIM_BACKENDS,
]

needs_no_gpu = pytest.mark.skipif(cuda_available(), reason="this machine has a CUDA GPU")


@needs_no_gpu
def test_auto_picks_cpu_without_a_gpu() -> None:
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"
    assert DENSE_TOPK_BACKENDS.select("auto") is DENSE_TOPK_BACKENDS["cpu"]


@needs_no_gpu
def test_cuda_without_a_gpu_raises_saying_why() -> None:
    with pytest.raises(DeviceUnavailableError, match="'cuda' was requested.*(CUDA|cuda)"):
        resolve_device("cuda")
    v = np.ones((3, 4), dtype=np.float32)
    with pytest.raises(DeviceUnavailableError, match="set device to 'auto' or 'cpu'"):
        dense_topk(v, v, 1, Metric.DOT, device="cuda")
    with pytest.raises(DeviceUnavailableError):
        hamming_topk(np.zeros((1, 8), np.uint8), np.zeros((4, 8), np.uint8), 1, device="cuda")


def test_cuda_without_triton_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "_cuda_status", lambda: (True, "fake GPU"))
    monkeypatch.setattr(dispatch, "triton_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(DeviceUnavailableError, match=r"vecdb\[gpu\]"):
        resolve_device("cuda")
    monkeypatch.setattr(dispatch, "triton_available", lambda: True)
    assert resolve_device("auto") == "cuda"


def test_unknown_device_is_a_value_error_listing_choices() -> None:
    with pytest.raises(ValueError, match="auto.*cpu.*cuda"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="cpu"):
        MAXSIM_BACKENDS.select("gpu")


@pytest.mark.parametrize("registry", ALL_REGISTRIES, ids=lambda r: r.family)
def test_every_family_has_cpu_and_cuda(registry: KernelRegistry[object]) -> None:
    assert set(registry) == {"cpu", "cuda"}
    assert callable(registry["cpu"])


def test_registry_loads_lazily_and_reports_missing_devices() -> None:
    reg: KernelRegistry[object] = KernelRegistry("demo", {"cpu": "vecdb.kernels.dense:topk"})
    assert "cpu" in reg and len(reg) == 1
    from vecdb.kernels.dense import topk

    assert reg["cpu"] is topk
    with pytest.raises(KeyError, match="demo has no 'cuda' implementation"):
        reg["cuda"]
    reg.register("cuda", "vecdb.kernels.dense:scores")
    assert "cuda" in reg


def test_import_is_cheap_and_does_not_load_torch_or_triton() -> None:
    code = (
        "import sys, vecdb.kernels as k, numpy as np\n"
        "k.dense_topk(np.ones((1, 2), np.float32), np.ones((3, 2), np.float32), 1, 'dot')\n"
        "k.hamming_topk(np.zeros((1, 8), np.uint8), np.zeros((3, 8), np.uint8), 1)\n"
        "print(sorted(m for m in ('torch', 'triton') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
