"""Device choice and the typed per-family kernel registries.

Every kernel family (dense top-k, Hamming, LUT scoring, MaxSim, ...) keeps one `KernelRegistry`
mapping a device name ("cpu", "cuda") to its implementation. Implementations are named by
"module:attribute" and imported on first use, so `import vecdb.kernels` never imports torch or
triton, and a machine without triton still gets every CPU kernel.

`resolve_device` turns the server's `device` setting ("auto" | "cpu" | "cuda") into a concrete
device: "auto" means CUDA when torch sees a GPU *and* triton imports, the CPU otherwise; asking
for "cuda" where that does not hold is an error that says which half is missing.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar, cast

__all__ = [
    "DEVICES",
    "DeviceUnavailableError",
    "KernelRegistry",
    "cuda_available",
    "resolve_device",
    "triton_available",
]

DEVICES = ("auto", "cpu", "cuda")
"""Accepted values of a `device` setting."""

F = TypeVar("F")


class DeviceUnavailableError(RuntimeError):
    """A kernel device was asked for by name but cannot run here (no GPU, or no triton)."""


@functools.cache
def triton_available() -> bool:
    """Whether the optional `triton` package (extra `vecdb[gpu]`) can be imported."""
    if importlib.util.find_spec("triton") is None:
        return False
    try:
        importlib.import_module("triton")
    except Exception:  # a broken install counts as absent; resolve_device says so
        return False
    return True


def _nvidia_driver_present() -> bool:
    """Whether the NVIDIA kernel driver is loaded: a check that costs no torch import (importing
    torch takes seconds, which every server start would pay on a machine without a GPU)."""
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidiactl")


@functools.cache
def _cuda_status() -> tuple[bool, str]:
    if not _nvidia_driver_present():
        return False, "no NVIDIA driver is loaded (no /proc/driver/nvidia, no /dev/nvidiactl)"
    if importlib.util.find_spec("torch") is None:
        return False, "torch is not installed (pip install 'vecdb[server]')"
    import torch

    if not torch.cuda.is_available():
        build = getattr(torch.version, "cuda", None)
        why = "this torch build has no CUDA support" if build is None else "torch sees no GPU"
        return False, f"{why} (torch {torch.__version__})"
    return True, torch.cuda.get_device_name(0)


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (imports torch on first call, then cached)."""
    return _cuda_status()[0]


def resolve_device(requested: str = "auto") -> str:
    """The concrete kernel device, "cpu" or "cuda", for a `device` setting.

    "auto" gives "cuda" only when torch sees a GPU and triton is importable, else "cpu".
    "cuda" where either is missing raises `DeviceUnavailableError` naming what is missing, so a
    server configured for the GPU fails at start-up rather than silently running on the CPU.
    """
    if requested not in DEVICES:
        raise ValueError(f"unknown kernel device {requested!r}; choose one of {list(DEVICES)}")
    if requested == "cpu":
        return "cpu"
    ok, detail = _cuda_status()
    if requested == "auto":
        return "cuda" if ok and triton_available() else "cpu"
    if not ok:
        raise DeviceUnavailableError(
            f"kernel device 'cuda' was requested but {detail}; set device to 'auto' or 'cpu', "
            "or run on a machine with an NVIDIA GPU and a CUDA build of torch"
        )
    if not triton_available():
        raise DeviceUnavailableError(
            "kernel device 'cuda' was requested but triton is not importable; install the gpu "
            "extra (pip install 'vecdb[gpu]') or set device to 'auto' or 'cpu'"
        )
    return "cuda"


class KernelRegistry(Mapping[str, F], Generic[F]):
    """Device name -> implementation of one kernel family, loaded lazily.

    `registry["cuda"]` imports the Triton module on first access (tests use this to run the
    Triton path under TRITON_INTERPRET=1 on the CPU); `registry.select(device)` first resolves
    the `device` setting, so it never hands out a backend that cannot run here.
    """

    def __init__(self, family: str, targets: Mapping[str, str]) -> None:
        self.family = family
        self._targets = dict(targets)
        self._loaded: dict[str, F] = {}

    def __getitem__(self, device: str) -> F:
        if device in self._loaded:
            return self._loaded[device]
        try:
            target = self._targets[device]
        except KeyError:
            raise KeyError(
                f"{self.family} has no {device!r} implementation; it has {sorted(self._targets)}"
            ) from None
        module_name, _, attr = target.partition(":")
        impl = cast(F, getattr(importlib.import_module(module_name), attr))
        self._loaded[device] = impl
        return impl

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)

    def __contains__(self, device: Any) -> bool:
        return device in self._targets

    def register(self, device: str, target: str) -> None:
        """Add or replace the implementation for `device` ("package.module:function")."""
        self._targets[device] = target
        self._loaded.pop(device, None)

    def select(self, device: str = "auto") -> F:
        """The implementation to run for a `device` setting ("auto", "cpu" or "cuda")."""
        if device not in DEVICES:
            raise ValueError(
                f"unknown kernel device {device!r}; choose one of {list(DEVICES)} "
                f"({self.family} implements {sorted(self._targets)})"
            )
        return self[resolve_device(device)]

    def __repr__(self) -> str:
        return f"KernelRegistry({self.family!r}, {self._targets!r})"
