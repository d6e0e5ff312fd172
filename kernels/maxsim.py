"""MaxSim (late interaction, ColBERT-style) over variable-length token sets.

A collection of n documents is stored as one flat (T, d) token matrix (float32 or float16) and
int64 `offsets` of length n + 1: document j owns tokens offsets[j]:offsets[j+1]. A query is an
(Lq, d) token matrix, or a batch (q, Lq, d) of equal-length queries (ColBERT pads queries to a
fixed length; every query token counts).

    MaxSim(query, doc) = sum over query tokens t of max over doc tokens u of <t, u>

A document with no tokens scores -inf (it cannot match anything, and ranks last). Two uses:
reranking each query's candidate list (`candidates` (q, c) or (c,) of document ids, -1 padding
scores NaN) and exhaustive scans (`candidates=None`: every document, in id order).

The CPU path is BLAS: one matmul of all query tokens against a block of document tokens, then
`np.maximum.reduceat` over each document's columns and a sum over query tokens. The Triton path
(`triton_maxsim`) fuses dot, running max and sum per (document, query) program.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vecdb.kernels.dispatch import KernelRegistry
from vecdb.kernels.select import as_candidates, select_topk

__all__ = [
    "MAXSIM_BACKENDS",
    "MaxSimScores",
    "check_token_sets",
    "cpu_maxsim_scores",
    "maxsim_reference",
    "maxsim_scores",
    "maxsim_topk",
]

_BLOCK_SCORES = 1 << 22
"""Most (query token x document token) scores one CPU block materializes (16 MiB)."""


def check_token_sets(
    query_tokens: np.ndarray, doc_tokens: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (queries float32 (q, Lq, d), doc tokens (T, d), offsets int64 (n + 1,))."""
    q = np.asarray(query_tokens, dtype=np.float32)
    if q.ndim == 2:
        q = q[None]
    if q.ndim != 3:
        raise ValueError(f"query_tokens must be (Lq, d) or (q, Lq, d), got shape {q.shape}")
    toks = np.asarray(doc_tokens)
    if toks.ndim != 2 or toks.shape[1] != q.shape[2]:
        raise ValueError(
            f"doc_tokens must be (T, {q.shape[2]}) to match the query dim, got shape {toks.shape}"
        )
    off = np.asarray(offsets)
    if off.ndim != 1 or off.size < 1 or off.dtype.kind not in "iu":
        raise ValueError(f"offsets must be a 1-D integer array of n_docs + 1, got {off.shape}")
    off = off.astype(np.int64, copy=False)
    if off[0] != 0 or off[-1] != toks.shape[0] or np.any(np.diff(off) < 0):
        raise ValueError(
            f"offsets must start at 0, never decrease and end at the token count {toks.shape[0]}; "
            f"got first {off[0]}, last {off[-1]}"
        )
    return q, toks, off


def maxsim_reference(
    query_tokens: np.ndarray,
    doc_tokens: np.ndarray,
    offsets: np.ndarray,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """(q, c) float32 MaxSim from the definition, in float64, one document at a time."""
    q, toks, off = check_token_sets(query_tokens, doc_tokens, offsets)
    n_docs = off.size - 1
    cand = _candidates(candidates, q.shape[0], n_docs)
    q64 = q.astype(np.float64)
    out = np.empty(cand.shape, dtype=np.float64)
    for qi in range(cand.shape[0]):
        for ci, doc in enumerate(cand[qi]):
            if doc < 0:
                out[qi, ci] = np.nan
                continue
            d = toks[off[doc] : off[doc + 1]].astype(np.float64)
            out[qi, ci] = (q64[qi] @ d.T).max(axis=1).sum() if len(d) else -np.inf
    return out.astype(np.float32)


def _candidates(candidates: np.ndarray | None, num_q: int, n_docs: int) -> np.ndarray:
    if candidates is None:
        return np.broadcast_to(np.arange(n_docs, dtype=np.int64), (num_q, n_docs))
    return as_candidates(candidates, num_q, n_docs)


def _segment_maxsim(
    q_flat: np.ndarray, num_q: int, tokens: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """(num_q, len(starts)) MaxSim of consecutive documents laid out contiguously in `tokens`.

    `starts` are positions within `tokens`; documents are back to back (start[i] + length[i]
    == start[i + 1]) and may be empty.
    """
    out = np.full((num_q, starts.size), -np.inf, dtype=np.float32)
    nonempty = lengths > 0
    if tokens.shape[0] == 0 or not nonempty.any():
        return out
    sims = q_flat @ np.asarray(tokens, dtype=np.float32).T  # (q * Lq, tokens), BLAS
    best = np.maximum.reduceat(sims, starts[nonempty], axis=1)  # (q * Lq, nonempty docs)
    out[:, nonempty] = best.reshape(num_q, -1, best.shape[1]).sum(axis=1)
    return out


def cpu_maxsim_scores(
    query_tokens: np.ndarray,
    doc_tokens: np.ndarray,
    offsets: np.ndarray,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """(q, c) float32 MaxSim on the CPU: blocked BLAS + segment max (see the module docstring)."""
    q, toks, off = check_token_sets(query_tokens, doc_tokens, offsets)
    num_q, lq, _ = q.shape
    n_docs = off.size - 1
    budget = max(1, _BLOCK_SCORES // max(1, num_q * lq))
    if candidates is None:
        # exhaustive: documents are already contiguous; block whole documents by token count
        out = np.empty((num_q, n_docs), dtype=np.float32)
        q_flat = q.reshape(num_q * lq, -1)
        start = 0
        while start < n_docs:
            stop = int(np.searchsorted(off, off[start] + budget, side="right")) - 1
            stop = min(n_docs, max(stop, start + 1))
            lo, hi = off[start], off[stop]
            out[:, start:stop] = _segment_maxsim(
                q_flat, num_q, toks[lo:hi], off[start:stop] - lo, np.diff(off[start : stop + 1])
            )
            start = stop
        return out
    cand = as_candidates(candidates, num_q, n_docs)
    out = np.empty(cand.shape, dtype=np.float32)
    for qi in range(num_q):
        docs = np.maximum(cand[qi], 0)
        lengths = off[docs + 1] - off[docs]
        first = 0
        while first < docs.size:  # blocks of candidates whose tokens fit the budget
            cum = np.cumsum(lengths[first:])
            last = min(docs.size, first + max(1, int(np.searchsorted(cum, budget, side="right"))))
            lens = lengths[first:last]
            starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
            gather = np.repeat(off[docs[first:last]] - starts, lens) + np.arange(lens.sum())
            out[qi : qi + 1, first:last] = _segment_maxsim(q[qi], 1, toks[gather], starts, lens)
            first = last
    out[cand < 0] = np.nan
    return out


MaxSimScores = Callable[[np.ndarray, np.ndarray, np.ndarray, "np.ndarray | None"], np.ndarray]
"""(query tokens (Lq, d) | (q, Lq, d), doc tokens (T, d), offsets (n + 1,), candidates | None)
-> (q, c) float32 MaxSim scores."""

MAXSIM_BACKENDS: KernelRegistry[MaxSimScores] = KernelRegistry(
    "maxsim",
    {
        "cpu": "vecdb.kernels.maxsim:cpu_maxsim_scores",
        "cuda": "vecdb.kernels.triton_maxsim:maxsim_scores",
    },
)


def maxsim_scores(
    query_tokens: np.ndarray,
    doc_tokens: np.ndarray,
    offsets: np.ndarray,
    candidates: np.ndarray | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """(q, c) float32 MaxSim of each query against its candidates (or every document)."""
    return MAXSIM_BACKENDS.select(device)(query_tokens, doc_tokens, offsets, candidates)


def maxsim_topk(
    query_tokens: np.ndarray,
    doc_tokens: np.ndarray,
    offsets: np.ndarray,
    k: int,
    candidates: np.ndarray | None = None,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Best `k` documents per query by MaxSim: (doc ids int64 (q, k'), scores float32 (q, k')).

    With `candidates` (rerank) the ids are the candidates' document ids; padding ranks last.
    """
    s = maxsim_scores(query_tokens, doc_tokens, offsets, candidates, device)
    pos, top = select_topk(s, k, largest=True)
    if candidates is None:
        return pos, top
    cand = np.broadcast_to(np.asarray(candidates, dtype=np.int64), s.shape)
    return np.take_along_axis(cand, pos, axis=1), top
