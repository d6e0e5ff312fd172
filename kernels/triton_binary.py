"""Triton kernels for binary and multi-bit codes: Hamming popcount and LUT (SDC) scoring.

The "cuda" backends of the registries in `vecdb.kernels.binary`, with the same signatures
(numpy or torch in, numpy out); the `*_tensors` functions stay on the device.

Each program loads a tile of BLOCK_N code rows once, as contiguous rows (coalesced), and scores
it against a block of BLOCK_Q queries held in registers:

* Hamming: rows are read as int32 words when the code length is a multiple of 4 bytes (bytes
  otherwise); XOR with the query words, popcount (`popcount32`), sum over the row.
* LUT: for each byte position i, lut[q, i, code[i]] is gathered from the (q, n_bytes, 256)
  float32 tables (48 KiB per query at 48 bytes: cache-resident) and summed in float32.

Top-k is fused as in the dense kernel: packed (score, row) keys folded into a running best K
per program (`fold_topk`), merged on the host with one `torch.topk`.
"""

from __future__ import annotations

import numpy as np
import torch
import triton
import triton.language as tl

from vecdb.kernels.triton_common import (
    INTERPRET,
    MAX_FUSED_K,
    as_tensor,
    empty,
    empty_best,
    finish_topk,
    fold_topk,
    num_programs_hint,
    popcount32,
    score_key,
    store_best,
    to_numpy,
)

__all__ = [
    "hamming_distances",
    "hamming_distances_tensors",
    "hamming_topk",
    "hamming_topk_tensors",
    "lut_scores",
    "lut_scores_tensors",
    "lut_topk",
    "lut_topk_tensors",
]


@triton.jit
def _hamming_tile(
    q_ptr, c_ptr, q_rows, rows, num_q, n, W,
    WORD_BYTES: tl.constexpr, BLOCK_W: tl.constexpr,
):
    """(BLOCK_Q, BLOCK_N) int32 Hamming distances between query rows and code rows."""
    words = tl.arange(0, BLOCK_W)
    w_ok = words < W
    codes = tl.load(c_ptr + rows.to(tl.int64)[:, None] * W + words[None, :],
                    mask=(rows < n)[:, None] & w_ok[None, :], other=0)
    qs = tl.load(q_ptr + q_rows[:, None] * W + words[None, :],
                 mask=(q_rows < num_q)[:, None] & w_ok[None, :], other=0)
    x = qs[:, None, :] ^ codes[None, :, :]
    if WORD_BYTES == 4:
        x = x.to(tl.uint32, bitcast=True)
    else:
        x = x.to(tl.uint32)
    return tl.sum(popcount32(x).to(tl.int32), axis=2)


@triton.jit
def _hamming_kernel(
    q_ptr, c_ptr, out_ptr, num_q, n, W,
    WORD_BYTES: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_W: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    q_rows = tl.program_id(1) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    dist = _hamming_tile(q_ptr, c_ptr, q_rows, rows, num_q, n, W, WORD_BYTES, BLOCK_W)
    tl.store(out_ptr + q_rows.to(tl.int64)[:, None] * n + rows[None, :], dist,
             mask=(q_rows < num_q)[:, None] & (rows < n)[None, :])


@triton.jit
def _hamming_topk_kernel(
    q_ptr, c_ptr, keys_ptr, num_q, n, W, tiles_per_split,
    WORD_BYTES: tl.constexpr, K: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_W: tl.constexpr,
):
    split = tl.program_id(0)
    q_rows = tl.program_id(1) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    best = empty_best(BLOCK_Q, K)
    for t in range(tiles_per_split):
        rows = (split * tiles_per_split + t) * BLOCK_N + tl.arange(0, BLOCK_N)
        dist = _hamming_tile(q_ptr, c_ptr, q_rows, rows, num_q, n, W, WORD_BYTES, BLOCK_W)
        keys = score_key(-dist.to(tl.float32), rows,
                         (rows < n)[None, :] & (q_rows < num_q)[:, None])
        best = fold_topk(best, keys)
    store_best(keys_ptr, best, split, q_rows, num_q, K)


@triton.jit
def _lut_tile(
    lut_ptr, c_ptr, bias_ptr, q_rows, rows, num_q, n, B,
    HAS_BIAS: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_B: tl.constexpr,
):
    """(BLOCK_Q, BLOCK_N) float32 sum_i lut[q, i, code[row, i]] (+ bias[row])."""
    acc = tl.zeros((BLOCK_Q, BLOCK_N), dtype=tl.float32)
    r_ok = rows < n
    q_ok = q_rows < num_q
    for b0 in range(0, B, BLOCK_B):
        cols = b0 + tl.arange(0, BLOCK_B)
        c_ok = cols < B
        codes = tl.load(c_ptr + rows.to(tl.int64)[:, None] * B + cols[None, :],
                        mask=r_ok[:, None] & c_ok[None, :], other=0).to(tl.int32)
        offs = (q_rows.to(tl.int64)[:, None, None] * B + cols[None, None, :]) * 256 \
            + codes[None, :, :]
        vals = tl.load(lut_ptr + offs,
                       mask=q_ok[:, None, None] & r_ok[None, :, None] & c_ok[None, None, :],
                       other=0.0)
        acc += tl.sum(vals, axis=2)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + rows, mask=r_ok, other=0.0)[None, :]
    return acc


@triton.jit
def _lut_kernel(
    lut_ptr, c_ptr, bias_ptr, out_ptr, num_q, n, B,
    HAS_BIAS: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_B: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    q_rows = tl.program_id(1) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    s = _lut_tile(lut_ptr, c_ptr, bias_ptr, q_rows, rows, num_q, n, B,
                  HAS_BIAS, BLOCK_Q, BLOCK_N, BLOCK_B)
    tl.store(out_ptr + q_rows.to(tl.int64)[:, None] * n + rows[None, :], s,
             mask=(q_rows < num_q)[:, None] & (rows < n)[None, :])


@triton.jit
def _lut_topk_kernel(
    lut_ptr, c_ptr, bias_ptr, keys_ptr, num_q, n, B, tiles_per_split,
    HAS_BIAS: tl.constexpr, LARGEST: tl.constexpr, K: tl.constexpr,
    BLOCK_Q: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_B: tl.constexpr,
):
    split = tl.program_id(0)
    q_rows = tl.program_id(1) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    best = empty_best(BLOCK_Q, K)
    for t in range(tiles_per_split):
        rows = (split * tiles_per_split + t) * BLOCK_N + tl.arange(0, BLOCK_N)
        s = _lut_tile(lut_ptr, c_ptr, bias_ptr, q_rows, rows, num_q, n, B,
                      HAS_BIAS, BLOCK_Q, BLOCK_N, BLOCK_B)
        if not LARGEST:
            s = -s
        keys = score_key(s, rows, (rows < n)[None, :] & (q_rows < num_q)[:, None])
        best = fold_topk(best, keys)
    store_best(keys_ptr, best, split, q_rows, num_q, K)


def _codes_and_queries(
    queries: np.ndarray | torch.Tensor, codes: np.ndarray | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Codes and queries as word tensors (int32 when the length allows, else uint8)."""
    c = as_tensor(codes)
    q = as_tensor(queries)
    if q.ndim == 1:
        q = q[None, :]
    if c.dtype != torch.uint8 or c.ndim != 2:
        raise ValueError(f"codes must be a 2-D uint8 array, got {c.dtype} {tuple(c.shape)}")
    if q.dtype != torch.uint8 or q.ndim != 2 or q.shape[1] != c.shape[1]:
        raise ValueError(
            f"queries must be uint8 (q, {c.shape[1]}) to match the codes, got {q.dtype} "
            f"{tuple(q.shape)}"
        )
    if c.shape[1] % 4 == 0:
        return q.view(torch.int32), c.view(torch.int32), 4
    return q, c, 1


def _grid_sizes(num_q: int) -> tuple[int, int]:
    block_q = 1 if num_q == 1 else (4 if INTERPRET else 8)
    block_n = 32 if INTERPRET else (256 if num_q == 1 else 64)
    return block_q, block_n


def _fused_k(k: int, n: int) -> int:
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return min(k, n)


def hamming_distances_tensors(
    queries: np.ndarray | torch.Tensor, codes: np.ndarray | torch.Tensor
) -> torch.Tensor:
    """(q, n) int32 Hamming distances on the device."""
    q, c, word_bytes = _codes_and_queries(queries, codes)
    num_q, (n, width) = q.shape[0], c.shape
    out = empty((num_q, n), torch.int32, c.device)
    bq, bn = _grid_sizes(num_q)
    _hamming_kernel[(triton.cdiv(n, bn), triton.cdiv(num_q, bq))](
        q, c, out, num_q, n, width,
        WORD_BYTES=word_bytes, BLOCK_Q=bq, BLOCK_N=bn, BLOCK_W=triton.next_power_of_2(width),
    )
    return out


def hamming_topk_tensors(
    queries: np.ndarray | torch.Tensor, codes: np.ndarray | torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest-first (rows int64, distances float32), (q, k'), on the device."""
    q, c, word_bytes = _codes_and_queries(queries, codes)
    num_q, (n, width) = q.shape[0], c.shape
    kk = _fused_k(k, n)
    if kk == 0:
        return (torch.empty((num_q, 0), dtype=torch.int64, device=c.device),
                torch.empty((num_q, 0), dtype=torch.float32, device=c.device))
    if kk > MAX_FUSED_K:
        dist = hamming_distances_tensors(queries, codes).to(torch.float32)
        top = torch.topk(dist, kk, dim=1, largest=False, sorted=True)
        return top.indices, top.values
    bq, bn = _grid_sizes(num_q)
    K = max(2, triton.next_power_of_2(kk))
    tiles, q_blocks = triton.cdiv(n, bn), triton.cdiv(num_q, bq)
    splits = num_programs_hint(q_blocks, tiles)
    keys = empty((num_q, splits * K), torch.int64, c.device)
    _hamming_topk_kernel[(splits, q_blocks)](
        q, c, keys, num_q, n, width, triton.cdiv(tiles, splits),
        WORD_BYTES=word_bytes, K=K, BLOCK_Q=bq, BLOCK_N=bn,
        BLOCK_W=triton.next_power_of_2(width),
    )
    return finish_topk(keys, kk, n, higher_is_better=False)


def _lut_inputs(
    luts: np.ndarray | torch.Tensor,
    codes: np.ndarray | torch.Tensor,
    bias: np.ndarray | torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    c = as_tensor(codes)
    if c.dtype != torch.uint8 or c.ndim != 2:
        raise ValueError(f"codes must be a 2-D uint8 array, got {c.dtype} {tuple(c.shape)}")
    lt = as_tensor(luts, torch.float32)
    if lt.ndim == 2:
        lt = lt[None]
    if lt.ndim != 3 or tuple(lt.shape[1:]) != (c.shape[1], 256):
        raise ValueError(
            f"luts must have shape (q, {c.shape[1]}, 256) for {c.shape[1]}-byte codes, "
            f"got {tuple(lt.shape)}"
        )
    b = None
    if bias is not None:
        b = as_tensor(bias, torch.float32)
        if tuple(b.shape) != (c.shape[0],):
            raise ValueError(f"bias must have shape ({c.shape[0]},), got {tuple(b.shape)}")
    return lt.contiguous(), c, b


def lut_scores_tensors(
    luts: np.ndarray | torch.Tensor,
    codes: np.ndarray | torch.Tensor,
    bias: np.ndarray | torch.Tensor | None = None,
) -> torch.Tensor:
    """(q, n) float32 LUT scores on the device."""
    lt, c, b = _lut_inputs(luts, codes, bias)
    num_q, (n, nb) = lt.shape[0], c.shape
    out = empty((num_q, n), torch.float32, c.device)
    bq, bn = _grid_sizes(num_q)
    _lut_kernel[(triton.cdiv(n, bn), triton.cdiv(num_q, bq))](
        lt, c, b if b is not None else lt, out, num_q, n, nb,
        HAS_BIAS=b is not None, BLOCK_Q=bq, BLOCK_N=bn, BLOCK_B=16,
    )
    return out


def lut_topk_tensors(
    luts: np.ndarray | torch.Tensor,
    codes: np.ndarray | torch.Tensor,
    k: int,
    bias: np.ndarray | torch.Tensor | None = None,
    largest: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best-first (rows int64, scores float32), (q, k'), on the device."""
    lt, c, b = _lut_inputs(luts, codes, bias)
    num_q, (n, nb) = lt.shape[0], c.shape
    kk = _fused_k(k, n)
    if kk == 0:
        return (torch.empty((num_q, 0), dtype=torch.int64, device=c.device),
                torch.empty((num_q, 0), dtype=torch.float32, device=c.device))
    if kk > MAX_FUSED_K:
        s = lut_scores_tensors(lt, c, b)
        top = torch.topk(s, kk, dim=1, largest=largest, sorted=True)
        return top.indices, top.values
    bq, bn = _grid_sizes(num_q)
    K = max(2, triton.next_power_of_2(kk))
    tiles, q_blocks = triton.cdiv(n, bn), triton.cdiv(num_q, bq)
    splits = num_programs_hint(q_blocks, tiles)
    keys = empty((num_q, splits * K), torch.int64, c.device)
    _lut_topk_kernel[(splits, q_blocks)](
        lt, c, b if b is not None else lt, keys, num_q, n, nb, triton.cdiv(tiles, splits),
        HAS_BIAS=b is not None, LARGEST=largest, K=K, BLOCK_Q=bq, BLOCK_N=bn, BLOCK_B=16,
    )
    return finish_topk(keys, kk, n, higher_is_better=largest)


def hamming_distances(queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """`HammingDistances` on the GPU (or the interpreter)."""
    return to_numpy(hamming_distances_tensors(queries, codes))


def hamming_topk(queries: np.ndarray, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`HammingTopK` on the GPU (or the interpreter)."""
    rows, dist = hamming_topk_tensors(queries, codes, k)
    return to_numpy(rows), to_numpy(dist)


def lut_scores(luts: np.ndarray, codes: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """`LutScores` on the GPU (or the interpreter)."""
    return to_numpy(lut_scores_tensors(luts, codes, bias))


def lut_topk(
    luts: np.ndarray,
    codes: np.ndarray,
    k: int,
    bias: np.ndarray | None = None,
    largest: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """`LutTopK` on the GPU (or the interpreter)."""
    rows, scores = lut_topk_tensors(luts, codes, k, bias, largest)
    return to_numpy(rows), to_numpy(scores)
