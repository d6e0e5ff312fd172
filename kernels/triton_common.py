"""Shared plumbing for the Triton kernels: target device, inputs, outputs, packed top-k keys.

Imports torch and triton at module import; only the dispatcher (on "cuda") and the tests load it.

* Interpreter: triton reads TRITON_INTERPRET when a `@triton.jit` function is *defined*, so it
  must be set before any `vecdb.kernels.triton_*` module is imported. `INTERPRET` records what
  this process got; under it every kernel runs on CPU tensors (correctness only, slowly).
* Inputs may be numpy arrays or torch tensors; numpy is copied to the target device. Callers
  that keep data on the GPU pass torch tensors and pay no copy.
* Outputs come from `empty`, which fills them with a sentinel (NaN, or the largest integer)
  while `poison_outputs()` is on, so a test sees any element a kernel failed to write.
* Fused top-k: each program packs (score, row) into one int64 whose order is the score order
  (`score_key`), folds every tile into a running best K (`fold_topk`), and the host merges the
  per-program winners with one `torch.topk`; `unpack_keys` turns keys back into exact float32
  scores.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import numpy as np
import torch
import triton
import triton.language as tl
from triton import knobs

__all__ = [
    "INTERPRET",
    "MAX_FUSED_K",
    "as_tensor",
    "empty",
    "empty_best",
    "finish_topk",
    "fold_topk",
    "num_programs_hint",
    "poison_outputs",
    "popcount32",
    "score_key",
    "target_device",
    "to_numpy",
    "unpack_keys",
]

INTERPRET: bool = bool(knobs.runtime.interpret)
"""Whether this process's Triton kernels were defined under TRITON_INTERPRET=1."""

MAX_FUSED_K = 128
"""Largest k the fused block top-k serves; above it kernels write all scores and torch.topk."""

_poison = False


def num_programs_hint(q_blocks: int, tiles: int) -> int:
    """Row splits for a fused top-k launch: about 4 programs per SM in all, at most one per tile."""
    if INTERPRET:
        return min(tiles, 3)
    return max(1, min(tiles, (4 * _sm_count()) // max(1, q_blocks)))


@functools.cache
def _sm_count() -> int:
    return int(torch.cuda.get_device_properties(target_device()).multi_processor_count)


def target_device() -> torch.device:
    """Where kernel inputs and outputs live: the GPU, or the CPU under the interpreter."""
    return torch.device("cpu") if INTERPRET else torch.device("cuda")


@contextlib.contextmanager
def poison_outputs(enabled: bool = True) -> Iterator[None]:
    """While active, `empty` fills new outputs with a sentinel (tests use this)."""
    global _poison
    previous, _poison = _poison, enabled
    try:
        yield
    finally:
        _poison = previous


def empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialized output tensor, or a poisoned one under `poison_outputs()`."""
    out = torch.empty(shape, dtype=dtype, device=device)
    if _poison:
        if dtype.is_floating_point:
            out.fill_(float("nan"))
        else:
            out.fill_(torch.iinfo(dtype).max)
    return out


def as_tensor(x: np.ndarray | torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """`x` as a contiguous tensor on the target device (numpy is copied, tensors moved)."""
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    t = t.to(device=target_device(), dtype=dtype if dtype is not None else t.dtype)
    return t.contiguous()


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def unpack_keys(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows int64, goodness float32) from packed keys; the inverse of `score_key`."""
    rows = keys & 0xFFFFFFFF
    hi = (keys >> 32).to(torch.int32)
    bits = torch.where(hi >= 0, hi, hi ^ 0x7FFFFFFF)
    return rows, bits.view(torch.float32)


def finish_topk(
    keys: torch.Tensor, k: int, n: int, higher_is_better: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-program winners (q, programs * K) -> final (rows int64, scores float32), (q, k')."""
    kk = min(k, n)
    top = torch.topk(keys, kk, dim=1, largest=True, sorted=True).values
    rows, good = unpack_keys(top)
    return rows, good if higher_is_better else -good


@triton.jit
def score_key(good, rows, valid):
    """int64 keys ordering like `good` (float32, higher is better), ties broken by row.

    The float's bits are made order-preserving as a signed int32 (negative floats have their
    magnitude bits flipped) and placed above the row number; invalid slots get the minimum.
    """
    bits = good.to(tl.int32, bitcast=True)
    ordered = tl.where(bits >= 0, bits, bits ^ 0x7FFFFFFF)
    key = (ordered.to(tl.int64) << 32) | rows.to(tl.int64)
    return tl.where(valid, key, KEY_MIN)


KEY_MIN: tl.constexpr = tl.constexpr(-9223372036854775807 - 1)


@triton.jit
def empty_best(BLOCK_Q: tl.constexpr, K: tl.constexpr):
    """A (BLOCK_Q, K) running top-K holding K distinct keys below every real key."""
    slots = tl.arange(0, K).to(tl.int64)[None, :] + tl.zeros((BLOCK_Q, K), dtype=tl.int64)
    return slots + KEY_MIN


@triton.jit
def fold_topk(best, keys):
    """Fold a tile's (BLOCK_Q, BLOCK_N) keys into the running (BLOCK_Q, K) best keys.

    Keys are unique, so the row's current worst (its minimum) sits in exactly one slot. While
    any row's best remaining tile key beats its worst kept key, that key replaces the worst and
    leaves the tile. After the first tiles most tiles cost one row-max and one compare, which
    is cheaper than sorting every tile. The result is unsorted; `finish_topk` sorts it.
    """
    worst = tl.min(best, axis=1)
    top = tl.max(keys, axis=1)
    better = top > worst
    while tl.max(better.to(tl.int32), axis=0) > 0:
        best = tl.where((best == worst[:, None]) & better[:, None], top[:, None], best)
        keys = tl.where(keys == top[:, None], KEY_MIN, keys)
        worst = tl.min(best, axis=1)
        top = tl.max(keys, axis=1)
        better = top > worst
    return best


@triton.jit
def store_best(keys_ptr, best, split, q_rows, num_q, K: tl.constexpr):
    """Write one program's best-K keys for its query rows into its slot of the (q, splits * K)
    key buffer that `finish_topk` merges."""
    splits = tl.num_programs(0)
    slots = split * K + tl.arange(0, K)
    out = keys_ptr + q_rows.to(tl.int64)[:, None] * (splits * K) + slots[None, :]
    tl.store(out, best, mask=(q_rows < num_q)[:, None])


@triton.jit
def popcount32(x):
    """Bits set in each uint32 lane (the SWAR idiom LLVM lowers to the popc instruction)."""
    x = x - ((x >> 1) & 0x55555555)
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F
    return (x * 0x01010101) >> 24
