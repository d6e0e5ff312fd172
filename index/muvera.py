"""MUVERA fixed dimensional encodings (FDEs): one vector per token set whose inner product
approximates MaxSim, so a plain single-vector index can find multi-vector candidates.

Dhulipala et al., "MUVERA: Multi-Vector Retrieval via Fixed Dimensional Encodings" (2024).
Per repetition r (of `reps`):

1. Space partition: `k_sim` Gaussian hyperplanes g_1..g_k; a token x falls in bucket
   b(x) = sum_i [<g_i, x> > 0] << i — the plain binary index, bit i is the side of hyperplane
   i, so the Hamming distance between two buckets is popcount(b1 ^ b2). (A widely copied port
   maps buckets through Gray codes and then measures Hamming distance on the wrong integers;
   this module never uses Gray codes.)
2. Aggregation per bucket: a query sums its tokens in the bucket; a document averages them.
   Summing (query) against averaging (document) makes <FDE(q), FDE(d)> approximate
   sum over query tokens of <t, mean of the document tokens sharing t's bucket>, i.e. MaxSim
   when buckets are small enough to hold only a token's near neighbours.
3. Empty buckets (documents only, `fill_empty`): bucket b with no document token takes the
   document token whose bucket is nearest to b in Hamming distance (the first such token in
   the document's order on ties), so a query token landing in an empty bucket still meets the
   document's closest-looking token instead of zero. Queries leave empty buckets at zero.
4. Inner projection (`d_proj` > 0): each bucket's vector is multiplied by a random ±1 matrix
   S_r (d_proj, dim) / sqrt(d_proj) (unbiased inner products: E[S^T S] / d_proj = I).

The repetitions are concatenated (reps * 2**k_sim * (d_proj or dim) floats); an optional final
±1 projection maps that to `final_dim`. Every random matrix comes from `numpy.random.
default_rng(seed)` in a fixed order, so queries and documents encoded by encoders with the same
(dim, config) land in the same space and identical inputs give byte-identical FDEs.

Implementation: all repetitions at once — one matmul for the bucket bits of every token and
one for every token's projections, then one scatter-add over (point, repetition, bucket). The
empty-bucket fill works on "first token of each bucket" tables, so it costs
O(points * reps * 4**k_sim) small integer operations, not a pass over tokens per bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FdeConfig", "FdeEncoder"]

# Points per block in documents()/queries(): bounds the (points, reps, B, B) fill tables and the
# (tokens, reps, width) projection block.
_BLOCK_POINTS = 512


@dataclass(frozen=True)
class FdeConfig:
    """Parameters of MUVERA fixed dimensional encodings (field parameters of a multivector field).

    reps: R_reps, independent repetitions concatenated; more reps lower the variance of the
        MaxSim estimate (the FDE grows linearly). >= 1.
    k_sim: hyperplanes per repetition; 2**k_sim buckets. More buckets separate tokens better
        but leave more document buckets empty. 0..8.
    d_proj: dimension of the inner random ±1 projection of each bucket; 0 keeps the full
        token dimension (no projection).
    final_dim: dimension of an optional final ±1 projection of the concatenation; 0 = none.
    fill_empty: documents fill each empty bucket with the token whose bucket is nearest in
        Hamming distance (the paper's rule); queries never fill.
    seed: seed of every random matrix; queries and documents must share it (and dim).

    The defaults are one of the paper's Pareto points (R_reps 20, k_sim 5, d_proj 16): a
    10,240-d FDE.
    """

    reps: int = 20
    k_sim: int = 5
    d_proj: int = 16
    final_dim: int = 0
    fill_empty: bool = True
    seed: int = 42

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """ValueError (out of range) or TypeError (wrong type) naming the field."""
        for name, low, high in (("reps", 1, 4096), ("k_sim", 0, 8), ("d_proj", 0, 1 << 16),
                                ("final_dim", 0, 1 << 24)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"FdeConfig.{name} must be an integer, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"FdeConfig.{name} must be in [{low}, {high}], got {value}")
        if not isinstance(self.fill_empty, bool):
            raise TypeError(f"FdeConfig.fill_empty must be a bool, got {self.fill_empty!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"FdeConfig.seed must be an integer, got {self.seed!r}")
        if self.seed < 0:
            raise ValueError(f"FdeConfig.seed must be >= 0, got {self.seed}")

    @property
    def buckets(self) -> int:
        """Buckets per repetition, 2**k_sim."""
        return 1 << self.k_sim


def _popcount(x: np.ndarray) -> np.ndarray:
    out = np.zeros(x.shape, dtype=np.int64)
    x = x.astype(np.int64)
    while np.any(x):
        out += x & 1
        x = x >> 1
    return out


class FdeEncoder:
    """Encodes token sets of one dimension into FDEs (see the module docstring).

    Stateless after construction (the random matrices), so one encoder may be shared by threads.
    """

    def __init__(self, dim: int, config: FdeConfig = FdeConfig()) -> None:
        if not isinstance(config, FdeConfig):
            raise TypeError(f"FdeEncoder takes an FdeConfig, got {type(config).__name__}")
        if isinstance(dim, bool) or int(dim) != dim or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        config.validate()
        self.dim = int(dim)
        self.config = config
        rng = np.random.default_rng(config.seed)
        reps, k, b = config.reps, config.k_sim, config.buckets
        # Drawn in a fixed order (hyperplanes, inner projection, final projection), each only when
        # used: the matrices, hence every FDE, are a function of (dim, config) alone.
        self._hyperplanes = rng.standard_normal((self.dim, reps * k)).astype(np.float32)
        self._width = config.d_proj or self.dim
        if config.d_proj:
            signs = rng.integers(0, 2, size=(self.dim, reps * config.d_proj), dtype=np.int8)
            self._inner: np.ndarray | None = (
                (2.0 * signs - 1.0) / np.sqrt(config.d_proj)
            ).astype(np.float32)
        else:
            self._inner = None
        self._inner_dim = reps * b * self._width
        if config.final_dim:
            signs = rng.integers(0, 2, size=(self._inner_dim, config.final_dim), dtype=np.int8)
            self._final: np.ndarray | None = (
                (2.0 * signs - 1.0) / np.sqrt(config.final_dim)
            ).astype(np.float32)
        else:
            self._final = None
        self._bit_weights = (1 << np.arange(k, dtype=np.int64)) if k else np.zeros(0, np.int64)
        # the fill's (points, reps, B, B) rank table stays under ~4M entries per block
        self._block_points = max(1, min(_BLOCK_POINTS, (1 << 22) // (reps * b * b)))
        buckets = np.arange(b, dtype=np.int64)
        self._hamming = _popcount(buckets[:, None] ^ buckets[None, :])  # (B, B)

    @property
    def fde_dim(self) -> int:
        """Length of every FDE: final_dim, or reps * 2**k_sim * (d_proj or dim)."""
        return self.config.final_dim or self._inner_dim

    @property
    def hyperplanes(self) -> np.ndarray:
        """(reps, k_sim, dim) copy of the hyperplane normals: bit i of a token's bucket in rep r
        is <hyperplanes[r, i], token> > 0."""
        k = self.config.k_sim
        return self._hyperplanes.T.reshape(self.config.reps, k, self.dim).copy()

    # -- building blocks ---------------------------------------------------------------------

    def buckets(self, tokens: np.ndarray) -> np.ndarray:
        """(T, reps) int64 bucket of every token in every repetition (plain binary index)."""
        toks = self._check_tokens(tokens)
        k = self.config.k_sim
        if k == 0:
            return np.zeros((toks.shape[0], self.config.reps), dtype=np.int64)
        bits = (toks @ self._hyperplanes).reshape(toks.shape[0], self.config.reps, k) > 0
        return bits.astype(np.int64) @ self._bit_weights

    def _project(self, toks: np.ndarray) -> np.ndarray:
        """(T, reps, width) each token's vector as it enters each repetition's buckets."""
        if self._inner is None:
            return np.broadcast_to(toks[:, None, :], (toks.shape[0], self.config.reps, self.dim))
        return (toks @ self._inner).reshape(toks.shape[0], self.config.reps, self._width)

    def _check_tokens(self, tokens: np.ndarray) -> np.ndarray:
        toks = np.ascontiguousarray(tokens, dtype=np.float32)
        if toks.ndim != 2 or toks.shape[1] != self.dim:
            raise ValueError(f"tokens must have shape (T, {self.dim}), got {toks.shape}")
        if not np.isfinite(toks).all():
            raise ValueError("tokens contain NaN or infinity; every component must be finite")
        return toks

    def _check_offsets(self, offsets: np.ndarray, n_tokens: int) -> np.ndarray:
        off = np.asarray(offsets)
        if off.ndim != 1 or off.size < 1 or off.dtype.kind not in "iu":
            raise ValueError(f"offsets must be a 1-D integer array of n_points + 1, got {off.shape}")
        off = off.astype(np.int64)
        if off[0] != 0 or off[-1] != n_tokens or np.any(np.diff(off) < 0):
            raise ValueError(
                f"offsets must start at 0, never decrease and end at the token count {n_tokens}; "
                f"got first {off[0]}, last {off[-1]}"
            )
        return off

    # -- encoding ----------------------------------------------------------------------------

    def documents(self, tokens: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """(n, fde_dim) float32 document FDEs of a flat (T, dim) token matrix cut by offsets
        (n + 1,): bucket means, empty buckets filled when config.fill_empty. A point with no
        tokens gets the zero FDE."""
        return self._encode(tokens, offsets, document=True)

    def queries(self, tokens: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """(n, fde_dim) float32 query FDEs: bucket sums, empty buckets zero."""
        return self._encode(tokens, offsets, document=False)

    def document(self, tokens: np.ndarray) -> np.ndarray:
        """(fde_dim,) FDE of one document's (n_i, dim) tokens."""
        toks = self._check_tokens(tokens)
        return self.documents(toks, np.array([0, toks.shape[0]]))[0]

    def query(self, tokens: np.ndarray) -> np.ndarray:
        """(fde_dim,) FDE of one query's (n_i, dim) tokens."""
        toks = self._check_tokens(tokens)
        return self.queries(toks, np.array([0, toks.shape[0]]))[0]

    def _encode(self, tokens: np.ndarray, offsets: np.ndarray, *, document: bool) -> np.ndarray:
        toks = self._check_tokens(tokens)
        off = self._check_offsets(offsets, toks.shape[0])
        n = off.size - 1
        out = np.empty((n, self.fde_dim), dtype=np.float32)
        first = 0
        while first < n:  # blocks of points, also bounded by tokens
            stop = min(n, first + self._block_points)
            budget = max(1, (1 << 22) // max(1, self.config.reps * self._width))
            stop = max(first + 1, min(stop, int(np.searchsorted(off, off[first] + budget, "right")) - 1))
            block_off = off[first : stop + 1] - off[first]
            inner = self._encode_block(toks[off[first] : off[stop]], block_off, document)
            out[first:stop] = inner if self._final is None else inner @ self._final
            first = stop
        return out

    def _encode_block(self, toks: np.ndarray, off: np.ndarray, document: bool) -> np.ndarray:
        """(n, reps * B * width) un-final-projected FDEs of one block."""
        cfg = self.config
        n, reps, b, w = off.size - 1, cfg.reps, cfg.buckets, self._width
        lengths = np.diff(off)
        if toks.shape[0] == 0:
            return np.zeros((n, reps * b * w), dtype=np.float32)
        bucket = self.buckets(toks)  # (T, reps)
        point = np.repeat(np.arange(n, dtype=np.int64), lengths)  # (T,)
        key = (point[:, None] * reps + np.arange(reps, dtype=np.int64)) * b + bucket  # (T, reps)
        proj = self._project(toks)  # (T, reps, w)
        # scatter-add by sorting the keys and summing runs (much faster than np.add.at)
        flat_key = key.ravel()
        order = np.argsort(flat_key, kind="stable")
        sorted_key = flat_key[order]
        run_start = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        sums = np.zeros((n * reps * b, w), dtype=np.float32)
        sums[sorted_key[run_start]] = np.add.reduceat(proj.reshape(-1, w)[order], run_start, axis=0)
        if not document:
            return sums.reshape(n, -1)
        counts = np.bincount(key.ravel(), minlength=n * reps * b).astype(np.float32)
        filled = counts > 0
        sums[filled] /= counts[filled, None]
        if cfg.fill_empty and not filled.all():
            self._fill_empty(sums, filled, key, proj, lengths)
        return sums.reshape(n, -1)

    def _fill_empty(
        self, sums: np.ndarray, filled: np.ndarray, key: np.ndarray, proj: np.ndarray,
        lengths: np.ndarray,
    ) -> None:
        """Give each empty (point, rep, bucket) the projection of the point's first token among
        those whose bucket is nearest in Hamming distance (points without tokens stay zero)."""
        cfg = self.config
        n, reps, b = lengths.size, cfg.reps, cfg.buckets
        n_tok = key.shape[0]
        # first_tok[p, r, c]: index (in the block) of the first token of point p in bucket c
        # for rep r; `never` (beyond any real rank below) where the bucket is empty.
        stride = n_tok + 1
        never = (cfg.k_sim + 1) * stride
        first_tok = np.full(n * reps * b, never, dtype=np.int64)
        tok_idx = np.broadcast_to(np.arange(n_tok, dtype=np.int64)[:, None], key.shape)
        np.minimum.at(first_tok, key.ravel(), tok_idx.ravel())
        first_tok = first_tok.reshape(n, reps, b)
        # Rank of source bucket c for target bucket t: Hamming distance first, then the token's
        # position (ties go to the earlier token); an empty c ranks after every non-empty one.
        small = np.int32 if never + (cfg.k_sim + 1) * stride < np.iinfo(np.int32).max else np.int64
        ham = (self._hamming * stride).astype(small)
        rank = ham[None, None, :, :] + first_tok.astype(small)[:, :, None, :]  # (n, reps, t, c)
        source_bucket = rank.argmin(axis=3)  # (n, reps, t)
        source_tok = np.take_along_axis(first_tok, source_bucket, axis=2)  # (n, reps, t)
        empty = ~filled.reshape(n, reps, b) & (lengths > 0)[:, None, None]
        p_idx, r_idx, t_idx = np.nonzero(empty)
        rows = (p_idx * reps + r_idx) * b + t_idx
        sums[rows] = proj[source_tok[p_idx, r_idx, t_idx], r_idx]
