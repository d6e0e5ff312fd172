"""Triton MaxSim: one program per (document, query), dot + running max + sum fused.

The "cuda" backend of `vecdb.kernels.maxsim.MAXSIM_BACKENDS`. A program loads its query's
tokens once (padded to BLOCK_LQ >= 16 rows for `tl.dot`), walks the document's tokens in tiles
of BLOCK_T, computes the (BLOCK_LQ, BLOCK_T) similarities on the tensor cores (float16 tokens:
float16 operands, float32 accumulation; float32 tokens: IEEE float32), keeps a running max per
query token, and writes one float32: the sum of the maxima over real query tokens. Nothing of
size (query tokens x document tokens) ever reaches memory, which is what the eager
`torch.einsum` baseline pays for.
"""

from __future__ import annotations

import numpy as np
import torch
import triton
import triton.language as tl

from vecdb.kernels.maxsim import check_token_sets
from vecdb.kernels.select import as_candidates
from vecdb.kernels.triton_common import INTERPRET, as_tensor, empty, to_numpy

__all__ = ["maxsim_scores", "maxsim_scores_tensors"]


@triton.jit
def _maxsim_kernel(
    q_ptr, tok_ptr, off_ptr, cand_ptr, out_ptr, lq, d, c, stride_c,
    HAS_CAND: tl.constexpr, IEEE: tl.constexpr,
    BLOCK_LQ: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr,
):
    pos = tl.program_id(0)
    qi = tl.program_id(1)
    if HAS_CAND:
        doc = tl.load(cand_ptr + qi * stride_c + pos)
    else:
        doc = pos.to(tl.int64)
    valid = doc >= 0
    safe = tl.where(valid, doc, 0)
    start = tl.load(off_ptr + safe)
    end = tl.where(valid, tl.load(off_ptr + safe + 1), start)
    t_rows = tl.arange(0, BLOCK_LQ)
    t_ok = t_rows < lq
    best = tl.full((BLOCK_LQ,), float("-inf"), dtype=tl.float32)
    q_base = q_ptr + qi.to(tl.int64) * lq * d
    for t0 in range(start, end, BLOCK_T):
        toks = t0 + tl.arange(0, BLOCK_T)
        k_ok = toks < end
        sims = tl.zeros((BLOCK_LQ, BLOCK_T), dtype=tl.float32)
        for d0 in range(0, d, BLOCK_D):
            cols = d0 + tl.arange(0, BLOCK_D)
            c_ok = cols < d
            qt = tl.load(q_base + t_rows[:, None] * d + cols[None, :],
                         mask=t_ok[:, None] & c_ok[None, :], other=0.0)
            dt = tl.load(tok_ptr + toks.to(tl.int64)[None, :] * d + cols[:, None],
                         mask=k_ok[None, :] & c_ok[:, None], other=0.0)
            if IEEE:
                sims = tl.dot(qt, dt, sims, input_precision="ieee")
            else:
                sims = tl.dot(qt, dt, sims)
        sims = tl.where(k_ok[None, :], sims, float("-inf"))
        best = tl.maximum(best, tl.max(sims, axis=1))
    score = tl.sum(tl.where(t_ok, best, 0.0), axis=0)
    score = tl.where(end > start, score, float("-inf"))
    score = tl.where(valid, score, float("nan"))
    tl.store(out_ptr + qi.to(tl.int64) * c + pos, score)


def maxsim_scores_tensors(
    query_tokens: np.ndarray | torch.Tensor,
    doc_tokens: np.ndarray | torch.Tensor,
    offsets: np.ndarray | torch.Tensor,
    candidates: np.ndarray | torch.Tensor | None = None,
) -> torch.Tensor:
    """(q, c) float32 MaxSim on the device; numpy inputs are validated like the CPU path."""
    if not isinstance(doc_tokens, torch.Tensor):
        _, _, checked = check_token_sets(
            query_tokens if not isinstance(query_tokens, torch.Tensor) else query_tokens.cpu(),
            doc_tokens, offsets if not isinstance(offsets, torch.Tensor) else offsets.cpu(),
        )
        offsets = checked
    toks = as_tensor(doc_tokens)
    if toks.dtype not in (torch.float16, torch.float32, torch.bfloat16):
        toks = toks.to(torch.float32)
    off = as_tensor(offsets, torch.int64)
    q = as_tensor(query_tokens, torch.float32)
    if q.ndim == 2:
        q = q[None]
    if q.ndim != 3 or toks.ndim != 2 or q.shape[2] != toks.shape[1]:
        raise ValueError(
            f"query_tokens {tuple(q.shape)} and doc_tokens {tuple(toks.shape)} must share dim"
        )
    num_q, lq, d = q.shape
    n_docs = off.shape[0] - 1
    q = q.to(toks.dtype).contiguous()
    if candidates is None:
        cand, c = off, n_docs  # placeholder pointer; HAS_CAND=False ignores it
    else:
        if isinstance(candidates, torch.Tensor):
            cand = candidates.to(device=toks.device, dtype=torch.int64)
            if cand.ndim == 1:
                cand = cand[None, :].expand(num_q, -1)
        else:
            cand = as_tensor(as_candidates(candidates, num_q, n_docs))
        cand = cand.contiguous()
        c = cand.shape[1]
    out = empty((num_q, c), torch.float32, toks.device)
    if c:
        _maxsim_kernel[(c, num_q)](
            q, toks, off, cand, out, lq, d, c, cand.stride(0) if candidates is not None else 0,
            HAS_CAND=candidates is not None, IEEE=toks.dtype == torch.float32,
            BLOCK_LQ=max(16, triton.next_power_of_2(lq)),
            BLOCK_T=16 if INTERPRET else 64,
            BLOCK_D=max(16, min(128, triton.next_power_of_2(d))),
        )
    return out


def maxsim_scores(
    query_tokens: np.ndarray,
    doc_tokens: np.ndarray,
    offsets: np.ndarray,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """`MaxSimScores` on the GPU (or the interpreter): numpy in, numpy out."""
    return to_numpy(maxsim_scores_tensors(query_tokens, doc_tokens, offsets, candidates))
