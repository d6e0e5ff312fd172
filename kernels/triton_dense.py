"""Triton dense scoring: fused block top-k over a whole matrix, and candidate rescoring.

Registered as the "cuda" backends of `DENSE_TOPK_BACKENDS` / `DENSE_RESCORE_BACKENDS`; the
numpy-facing functions take numpy arrays or torch tensors and return numpy, the `*_tensors`
functions stay on the device (the benchmark and GPU-resident callers use those).

Top-k: each program owns a split of the rows and a block of queries. Per tile of BLOCK_N rows it
computes the (BLOCK_Q, BLOCK_N) scores with `tl.dot` (float16 storage: float16 operands on the
tensor cores, float32 accumulation; float32 storage: IEEE float32), turns them into packed
(score, row) keys and folds them into a running best K (`fold_topk`).
Only (q, splits * K) keys reach memory; one `torch.topk` merges them. cosine divides by the row
norm computed from the same tile (queries are normalized on the host); l2 is
sqrt(|q|^2 + |v|^2 - 2 q.v) from that tile, and the final k are recomputed exactly from the
difference vectors (the rescoring kernel) and re-sorted, as the CPU reference does for
near-duplicates. k above `MAX_FUSED_K` writes the full score matrix and uses `torch.topk`.
"""

from __future__ import annotations

import numpy as np
import torch
import triton
import triton.language as tl

from vecdb.kernels.metrics import Metric
from vecdb.kernels.select import as_candidates
from vecdb.kernels.triton_common import (
    INTERPRET,
    MAX_FUSED_K,
    as_tensor,
    empty,
    empty_best,
    finish_topk,
    fold_topk,
    num_programs_hint,
    score_key,
    store_best,
    to_numpy,
)

__all__ = [
    "dense_rescore",
    "dense_rescore_tensors",
    "dense_scores_tensors",
    "dense_topk",
    "dense_topk_tensors",
]

_METRIC_CODE = {Metric.DOT: 0, Metric.COSINE: 1, Metric.L2: 2}


@triton.jit
def _tile_scores(
    q_ptr, v_ptr, q_sq_ptr, q_rows, rows, num_q, n, d,
    stride_q, stride_v,
    METRIC: tl.constexpr, IEEE: tl.constexpr,
    BLOCK_Q: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """(BLOCK_Q, BLOCK_N) float32 scores of query rows `q_rows` against vector rows `rows`."""
    acc = tl.zeros((BLOCK_Q, BLOCK_N), dtype=tl.float32)
    v_sq = tl.zeros((BLOCK_N,), dtype=tl.float32)
    q_ok = q_rows < num_q
    r_ok = rows < n
    for d0 in range(0, d, BLOCK_D):
        cols = d0 + tl.arange(0, BLOCK_D)
        c_ok = cols < d
        qt = tl.load(q_ptr + q_rows[:, None] * stride_q + cols[None, :],
                     mask=q_ok[:, None] & c_ok[None, :], other=0.0)
        vt = tl.load(v_ptr + rows.to(tl.int64)[None, :] * stride_v + cols[:, None],
                     mask=r_ok[None, :] & c_ok[:, None], other=0.0)
        if IEEE:
            acc = tl.dot(qt, vt, acc, input_precision="ieee")
        else:
            acc = tl.dot(qt, vt, acc)
        if METRIC != 0:
            vf = vt.to(tl.float32)
            v_sq += tl.sum(vf * vf, axis=0)
    if METRIC == 1:
        inv = tl.where(v_sq > 0, 1.0 / tl.sqrt(tl.where(v_sq > 0, v_sq, 1.0)), 0.0)
        acc = acc * inv[None, :]
    if METRIC == 2:
        q_sq = tl.load(q_sq_ptr + q_rows, mask=q_ok, other=0.0)
        acc = tl.sqrt(tl.maximum(q_sq[:, None] + v_sq[None, :] - 2.0 * acc, 0.0))
    return acc


@triton.jit
def _dense_topk_kernel(
    q_ptr, v_ptr, q_sq_ptr, keys_ptr, num_q, n, d,
    stride_q, stride_v, tiles_per_split,
    METRIC: tl.constexpr, IEEE: tl.constexpr, K: tl.constexpr,
    BLOCK_Q: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):
    split = tl.program_id(0)
    q_rows = tl.program_id(1) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    best = empty_best(BLOCK_Q, K)
    for t in range(tiles_per_split):
        rows = (split * tiles_per_split + t) * BLOCK_N + tl.arange(0, BLOCK_N)
        s = _tile_scores(q_ptr, v_ptr, q_sq_ptr, q_rows, rows, num_q, n, d, stride_q, stride_v,
                         METRIC, IEEE, BLOCK_Q, BLOCK_N, BLOCK_D)
        if METRIC == 2:
            s = -s
        keys = score_key(s, rows, (rows < n)[None, :] & (q_rows < num_q)[:, None])
        best = fold_topk(best, keys)
    store_best(keys_ptr, best, split, q_rows, num_q, K)


@triton.jit
def _dense_scores_kernel(
    q_ptr, v_ptr, q_sq_ptr, out_ptr, num_q, n, d, stride_q, stride_v,
    METRIC: tl.constexpr, IEEE: tl.constexpr,
    BLOCK_Q: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    q_rows = tl.program_id(1) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    s = _tile_scores(q_ptr, v_ptr, q_sq_ptr, q_rows, rows, num_q, n, d, stride_q, stride_v,
                     METRIC, IEEE, BLOCK_Q, BLOCK_N, BLOCK_D)
    tl.store(out_ptr + q_rows.to(tl.int64)[:, None] * n + rows[None, :], s,
             mask=(q_rows < num_q)[:, None] & (rows < n)[None, :])


@triton.jit
def _dense_rescore_kernel(
    q_ptr, v_ptr, cand_ptr, out_ptr, c, d, stride_q, stride_v, stride_c,
    METRIC: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_D: tl.constexpr,
):
    qi = tl.program_id(1)
    pos = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    in_list = pos < c
    ids = tl.load(cand_ptr + qi * stride_c + pos, mask=in_list, other=-1)
    valid = in_list & (ids >= 0)
    safe = tl.where(valid, ids, 0).to(tl.int64)
    acc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    v_sq = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for d0 in range(0, d, BLOCK_D):
        cols = d0 + tl.arange(0, BLOCK_D)
        c_ok = cols < d
        qv = tl.load(q_ptr + qi * stride_q + cols, mask=c_ok, other=0.0).to(tl.float32)
        vt = tl.load(v_ptr + safe[:, None] * stride_v + cols[None, :],
                     mask=valid[:, None] & c_ok[None, :], other=0.0).to(tl.float32)
        if METRIC == 2:
            diff = vt - qv[None, :]
            acc += tl.sum(diff * diff, axis=1)
        else:
            acc += tl.sum(vt * qv[None, :], axis=1)
            if METRIC == 1:
                v_sq += tl.sum(vt * vt, axis=1)
    if METRIC == 1:
        acc = acc * tl.where(v_sq > 0, 1.0 / tl.sqrt(tl.where(v_sq > 0, v_sq, 1.0)), 0.0)
    if METRIC == 2:
        acc = tl.sqrt(acc)
    tl.store(out_ptr + qi.to(tl.int64) * c + pos, tl.where(valid, acc, float("nan")), mask=in_list)


def _prepare(
    queries: np.ndarray | torch.Tensor, vectors: np.ndarray | torch.Tensor, metric: Metric
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    v = as_tensor(vectors)
    if v.dtype not in (torch.float16, torch.float32, torch.bfloat16):
        v = v.to(torch.float32)
    if v.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (rows, dim), got shape {tuple(v.shape)}")
    q = as_tensor(queries, torch.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != v.shape[1]:
        raise ValueError(
            f"queries must be (q, {v.shape[1]}) to match the vectors' dim, got {tuple(q.shape)}"
        )
    if metric is Metric.COSINE:
        q = torch.nn.functional.normalize(q, dim=1)
    q_sq = (q * q).sum(dim=1).contiguous()
    return q.to(v.dtype).contiguous(), v, q_sq


def _block_sizes(num_q: int, d: int) -> tuple[int, int, int]:
    block_q = 16 if num_q <= 16 else 64
    block_n = 64 if INTERPRET else 128
    block_d = max(16, min(64, triton.next_power_of_2(d)))
    return block_q, block_n, block_d


def dense_scores_tensors(
    queries: np.ndarray | torch.Tensor, vectors: np.ndarray | torch.Tensor, metric: Metric
) -> torch.Tensor:
    """(q, n) float32 scores on the device (the non-fused path; also what the bench checks)."""
    metric = Metric(metric)
    q, v, q_sq = _prepare(queries, vectors, metric)
    num_q, n, d = q.shape[0], v.shape[0], v.shape[1]
    out = empty((num_q, n), torch.float32, v.device)
    bq, bn, bd = _block_sizes(num_q, d)
    grid = (triton.cdiv(n, bn), triton.cdiv(num_q, bq))
    _dense_scores_kernel[grid](
        q, v, q_sq, out, num_q, n, d, q.stride(0), v.stride(0),
        METRIC=_METRIC_CODE[metric], IEEE=v.dtype == torch.float32,
        BLOCK_Q=bq, BLOCK_N=bn, BLOCK_D=bd,
    )
    return out


def dense_topk_tensors(
    queries: np.ndarray | torch.Tensor,
    vectors: np.ndarray | torch.Tensor,
    k: int,
    metric: Metric,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best-first (rows int64, scores float32), both (q, k') on the device."""
    metric = Metric(metric)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    q, v, q_sq = _prepare(queries, vectors, metric)
    num_q, n, d = q.shape[0], v.shape[0], v.shape[1]
    kk = min(k, n)
    if kk == 0:
        return (torch.empty((num_q, 0), dtype=torch.int64, device=v.device),
                torch.empty((num_q, 0), dtype=torch.float32, device=v.device))
    if kk > MAX_FUSED_K:
        s = dense_scores_tensors(queries, vectors, metric)
        top = torch.topk(s, kk, dim=1, largest=metric.higher_is_better, sorted=True)
        rows, scores = top.indices, top.values
    else:
        bq, bn, bd = _block_sizes(num_q, d)
        K = max(2, triton.next_power_of_2(kk))
        bn = max(bn, K)
        tiles = triton.cdiv(n, bn)
        q_blocks = triton.cdiv(num_q, bq)
        splits = num_programs_hint(q_blocks, tiles)
        keys = empty((num_q, splits * K), torch.int64, v.device)
        _dense_topk_kernel[(splits, q_blocks)](
            q, v, q_sq, keys, num_q, n, d, q.stride(0), v.stride(0), triton.cdiv(tiles, splits),
            METRIC=_METRIC_CODE[metric], IEEE=v.dtype == torch.float32, K=K,
            BLOCK_Q=bq, BLOCK_N=bn, BLOCK_D=bd,
        )
        rows, scores = finish_topk(keys, kk, n, metric.higher_is_better)
    if metric is Metric.L2:
        # exact distances for the winners, then re-sort (as the CPU reference refines)
        exact = dense_rescore_tensors(queries, v, rows, metric)
        order = torch.argsort(exact, dim=1, stable=True)
        rows, scores = rows.gather(1, order), exact.gather(1, order)
    return rows, scores


def dense_rescore_tensors(
    queries: np.ndarray | torch.Tensor,
    vectors: np.ndarray | torch.Tensor,
    candidates: np.ndarray | torch.Tensor,
    metric: Metric,
) -> torch.Tensor:
    """(q, c) float32 scores of each query against its candidate rows (-1: NaN), on the device."""
    metric = Metric(metric)
    v = as_tensor(vectors)
    q = as_tensor(queries, torch.float32)
    if q.ndim == 1:
        q = q[None, :]
    if v.ndim != 2 or q.ndim != 2 or q.shape[1] != v.shape[1]:
        raise ValueError(
            f"queries {tuple(q.shape)} and vectors {tuple(v.shape)} must be 2-D with equal dim"
        )
    if isinstance(candidates, torch.Tensor):
        cand = candidates.to(device=v.device, dtype=torch.int64)
        if cand.ndim == 1:
            cand = cand[None, :].expand(q.shape[0], -1)
    else:
        cand = as_tensor(as_candidates(candidates, q.shape[0], v.shape[0]))
    cand = cand.contiguous()
    if metric is Metric.COSINE:
        q = torch.nn.functional.normalize(q, dim=1)
    q = q.contiguous()
    num_q, c = cand.shape
    out = empty((num_q, c), torch.float32, v.device)
    if c:
        block_d = max(16, min(128, triton.next_power_of_2(v.shape[1])))
        _dense_rescore_kernel[(triton.cdiv(c, 32), num_q)](
            q, v, cand, out, c, v.shape[1], q.stride(0), v.stride(0), cand.stride(0),
            METRIC=_METRIC_CODE[metric], BLOCK_C=32, BLOCK_D=block_d,
        )
    return out


def dense_topk(
    queries: np.ndarray, vectors: np.ndarray, k: int, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """`DenseTopK` on the GPU (or the interpreter): numpy in, numpy out."""
    rows, scores = dense_topk_tensors(queries, vectors, k, metric)
    return to_numpy(rows), to_numpy(scores)


def dense_rescore(
    queries: np.ndarray, vectors: np.ndarray, candidates: np.ndarray, metric: Metric
) -> np.ndarray:
    """`DenseRescore` on the GPU (or the interpreter): numpy in, numpy out."""
    return to_numpy(dense_rescore_tensors(queries, vectors, candidates, metric))
