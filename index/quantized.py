"""QuantizedIndex: k-NN over compact codes only; the float32 originals stay on disk.

Every added vector is encoded by a `Codebook` (`index/quantization.py`: binary 1..4 bits per
dimension, threshold or recurrent-residual, or int8) and only its code is kept in RAM. Scores
are approximate: the engine asks for k x oversampling candidates and rescores them exactly from
the originals it keeps in LMDB.

Search, per query:

1. candidates on the sign plane (plane 0 of every binary code: the sign of the centred vector;
   int8 derives it): an exact Hamming popcount scan over every live code (faiss's compiled scan
   through `vecdb.kernels.hamming_topk`) while the index holds at most `exact_scan_max` points,
   a faiss `IndexBinaryHNSW` graph over the sign plane above that. The pool holds
   max(prefilter_factor x k, prefilter_min) codes. Below `prefilter_min_dim` dimensions (128)
   a sign code has too few bits to rank by, and this stage is skipped: every code is scored;
2. the pool is re-ranked by the full code: binary codes by per-query lookup tables over code
   bytes (asymmetric: float query against decoded codes, or symmetric: the query coded too), int8
   by a float32 matmul against the decoded levels; the best k are returned in the metric's
   convention (cosine/dot similarity, l2 distance).

`exact=True` skips the Hamming stage and scores every live code by its full code (LUT / matmul);
an `allowed` filter always runs the exact path over exactly those ids, so it never loses a match
to the filter. With no more live codes than the pool size, every code is scored by its full code.

The graph has no real delete: a removed or replaced point leaves a tombstone node that searches
skip (asking the graph for more candidates to make up for them), and the graph is rebuilt from
the stored sign codes when tombstones pass `rebuild_dead_fraction` of its nodes. Codes live in
slots of capacity-doubling arrays with a free list, as in `FlatIndex`.

For cosine, vectors and queries are normalized before encoding, so the codebook is trained on
unit vectors (`fit` takes raw vectors). For l2 every code carries |decode(code)|^2 (4 bytes) and
the distance is sqrt(|q|^2 - 2 q.x + |x|^2) over the decoded x.

File format (little-endian): magic b"VECDBQNT", u32 version, u32 0, u64 payload length, the
payload (an uncompressed .npz: metadata JSON, the codebook, the slot arrays as they are, the free
list, the serialized faiss graph and its node -> slot map), then a u32 CRC-32 of all preceding
bytes. Slots are saved as they are, so a loaded index answers exactly as the saved one did.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vecdb.index.base import (
    MISSING_ID,
    IndexLoadError,
    Neighbors,
    as_ids,
    as_queries,
    as_vectors,
    check_k,
    dedupe_last,
)
from vecdb.index.locking import RWLock
from vecdb.index.quantization import Codebook, QuantizerConfig
from vecdb.index.slots import SlotIds
from vecdb.kernels import Metric, hamming_topk, lut_scores, normalize, resolve_device
from vecdb.kernels.select import RunningTopK, select_topk

__all__ = ["QUERY_MODES", "QuantizedIndex", "QuantizedIndexConfig"]

QUERY_MODES = ("asymmetric", "symmetric")
"""asymmetric: float query . decoded codes; symmetric: coded query . decoded codes (BEBR SDC)."""

_MAGIC = b"VECDBQNT"
_VERSION = 1
_HEADER = struct.Struct("<8sIIQ")
_CRC = struct.Struct("<I")
_DICT_ENTRY_BYTES = 64
_SCAN_BLOCK_ROWS = 1 << 16
"""Codes scored per block by the full-code scan (bounds the (q, block) score matrix)."""


@dataclass(frozen=True)
class QuantizedIndexConfig:
    """Tuning for QuantizedIndex; the first five fields are the `QuantizerConfig`.

    method, bits, binary_method, clip_quantile, transform: what each vector becomes (see
        QuantizerConfig).
    query_mode: "asymmetric" (float query against decoded codes; the default: at equal bits it
        reaches the recall of symmetric scoring with half the oversampling, at the same cost,
        see docs/benchmarks.md) or "symmetric" (the query is coded too, as in BEBR's SDC).
    exact_scan_max: up to this many live points candidates come from an exact Hamming scan over
        every sign code; above it from the binary HNSW graph (built when the count first passes
        it). Measured (docs/benchmarks.md, 2 cores, MiniLM 384-d, 1 bit): the scan takes
        0.5 ms per query at 10k, 1.15 ms at 99k and 5.7 ms at 1M; the graph 0.76 ms at 99k at
        the same recall, so it is faster from ~100k points on, but it costs 200 B/point on top
        of 48 B of 1-bit codes (5x the RAM) and 41 s per 99k points to build. The default keeps
        the exact scan (codes-only RAM, no build) up to 1M points, where it answers in < 6 ms.
    prefilter_factor, prefilter_min: the Hamming/graph candidate pool per query is
        max(prefilter_factor * k, prefilter_min) codes, re-ranked by their full codes.
    prefilter_min_dim: the sign-plane stage (Hamming scan or graph) is used only from this many
        dimensions on. Below it a sign code has too few bits: Hamming distances tie massively
        and drop true neighbours (GloVe 50-d, 4 bits: recall@10 0.77 through the prefilter,
        0.99+ without), while codes are short enough to score all of them by LUT.
    m, ef_construct, ef: degree, build breadth and default search breadth of the binary HNSW
        graph (faiss IndexBinaryHNSW; ef is raised to the pool size when smaller).
    rebuild_dead_fraction: rebuild the graph when tombstones exceed this fraction of its nodes.
    initial_capacity: code slots allocated up front; storage doubles when it runs out.
    num_threads: queries of one batch re-ranked concurrently (numpy releases the GIL); the code
        scans use the kernels' own thread pool (vecdb.kernels.binary.set_cpu_threads).
    random_seed: seed of the training subsample taken by `add` when it has to fit the codebook.
    kernel_device: "cpu", "cuda" or "auto": where the Hamming and LUT scans run.
    """

    method: str = "binary"
    bits: int = 1
    binary_method: str = "threshold"
    clip_quantile: float = 0.0005
    transform: str = "none"
    query_mode: str = "asymmetric"
    exact_scan_max: int = 1_000_000
    prefilter_factor: int = 10
    prefilter_min: int = 256
    prefilter_min_dim: int = 128
    m: int = 16
    ef_construct: int = 100
    ef: int = 64
    rebuild_dead_fraction: float = 0.25
    initial_capacity: int = 1024
    num_threads: int = 1
    random_seed: int = 100
    kernel_device: str = "cpu"

    def __post_init__(self) -> None:
        self.quantizer  # validates the quantizer fields  # noqa: B018
        if self.query_mode not in QUERY_MODES:
            raise ValueError(
                f"query_mode must be one of {list(QUERY_MODES)}, got {self.query_mode!r}"
            )
        for name, low in (
            ("exact_scan_max", 0),
            ("prefilter_factor", 1),
            ("prefilter_min", 1),
            ("prefilter_min_dim", 1),
            ("m", 2),
            ("ef_construct", 1),
            ("ef", 1),
            ("initial_capacity", 1),
            ("num_threads", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ValueError(f"QuantizedIndexConfig.{name} must be an integer >= {low}, "
                                 f"got {value!r}")
        if not 0.0 < self.rebuild_dead_fraction <= 1.0:
            raise ValueError(
                f"rebuild_dead_fraction must lie in (0, 1], got {self.rebuild_dead_fraction}"
            )
        if self.kernel_device not in ("auto", "cpu", "cuda"):
            raise ValueError(
                f"kernel_device must be 'auto', 'cpu' or 'cuda', got {self.kernel_device!r}"
            )

    @property
    def quantizer(self) -> QuantizerConfig:
        """The QuantizerConfig these fields describe."""
        return QuantizerConfig(
            method=self.method,
            bits=self.bits,
            binary_method=self.binary_method,
            clip_quantile=self.clip_quantile,
            transform=self.transform,
        )


class QuantizedIndex(SlotIds):
    """Approximate k-NN over compact codes (no float vectors in RAM); thread-safe.

    Searches share a read lock, add / remove / fit take the write lock. `get_vectors` returns
    the decoded approximations, not the originals.
    """

    def __init__(
        self, dim: int, metric: Metric, config: QuantizedIndexConfig | None = None
    ) -> None:
        config = _check_config(config)
        if int(dim) < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = int(dim)
        self.metric = Metric(metric)
        self.config = config
        self._device = resolve_device(config.kernel_device)
        self._book = Codebook(config.quantizer, self.dim)
        self._lock = RWLock()
        self._alloc(config.initial_capacity)
        self._slot_of: dict[int, int] = {}
        self._free: list[int] = []
        self._high = 0
        self._graph: Any = None
        self._node_slot = np.empty(0, dtype=np.int64)  # graph node -> slot, -1 for tombstones
        self._slot_node = np.full(self._ids.size, -1, dtype=np.int64)
        self._dead_nodes = 0

    def _alloc(self, cap: int) -> None:
        # Plane-major code storage (planes, slots, bytes per plane): plane 0 of every code is
        # one contiguous (slots, ceil(dim / 8)) block, which the Hamming scan and the graph read
        # without a copy; a code row is its planes side by side (`_rows`).
        self._store = np.zeros((self._planes, cap, self._book.nbytes // self._planes), np.uint8)
        self._ids = np.full(cap, MISSING_ID, dtype=np.uint64)
        self._alive = np.zeros(cap, dtype=bool)
        self._bias = np.zeros(cap if self.metric is Metric.L2 else 0, dtype=np.float32)

    # -- training ----------------------------------------------------------------------------

    @property
    def is_fitted(self) -> bool:
        return self._book.is_fitted

    def fit(self, sample: np.ndarray) -> None:
        """Train the codebook on raw vectors `sample` (n, dim) (normalized here for cosine).

        Only an empty index can be (re)trained: re-training is a rebuild (a new index, fit on a
        sample of the originals, then add them all), since existing codes would not match.
        """
        arr = as_vectors(sample, self.dim, np.asarray(sample).shape[0])
        if arr.shape[0] == 0:
            raise ValueError("cannot fit on an empty sample; pass at least one vector")
        if self.metric is Metric.COSINE:
            arr = normalize(arr)
        with self._lock.write():
            if self._slot_of:
                raise RuntimeError(
                    f"the index already holds {len(self._slot_of)} codes; to retrain, build a "
                    "new QuantizedIndex, fit it on a sample of the originals and add them all"
                )
            self._book.fit(arr)

    def codebook_info(self) -> dict[str, Any]:
        """method, bits, binary_method, trained_on, bytes_per_code and query_mode."""
        info = self._book.info()
        info["query_mode"] = self.config.query_mode
        info["fitted"] = self._book.is_fitted
        return info

    # -- mutation ----------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Encode and insert or replace points (later duplicates in one batch win).

        An unfitted index first fits its codebook on this batch (sampled down to 100k rows).
        """
        id_arr = as_ids(ids)
        vecs = as_vectors(vectors, self.dim, id_arr.size)
        id_arr, vecs = dedupe_last(id_arr, vecs)
        if id_arr.size == 0:
            return
        if self.metric is Metric.COSINE:
            vecs = normalize(vecs)
        with self._lock.write():
            if not self._book.is_fitted:
                sample = vecs
                if vecs.shape[0] > 100_000:
                    rng = np.random.default_rng(self.config.random_seed)
                    sample = vecs[np.sort(rng.choice(vecs.shape[0], 100_000, replace=False))]
                self._book.fit(sample)
            codes = self._book.encode(vecs)
            id_list = id_arr.tolist()
            new_count = sum(1 for i in id_list if i not in self._slot_of)
            self._reserve(self._high + max(0, new_count - len(self._free)))
            slots = np.empty(len(id_list), dtype=np.int64)
            for j, point_id in enumerate(id_list):
                slot = self._slot_of.get(point_id)
                if slot is None:
                    slot = self._free.pop() if self._free else self._take_fresh_slot()
                    self._slot_of[point_id] = slot
                slots[j] = slot
            planes = codes.reshape(codes.shape[0], self._planes, -1)
            self._store[:, slots, :] = planes.transpose(1, 0, 2)
            self._ids[slots] = id_arr
            self._alive[slots] = True
            if self.metric is Metric.L2:
                self._bias[slots] = self._book.sq_norms(codes)
            self._update_graph(slots)

    @property
    def _planes(self) -> int:
        return self.config.bits if self.config.method == "binary" else 1

    def _rows(self, slots: np.ndarray) -> np.ndarray:
        """(len(slots), nbytes) code rows of `slots` (a copy)."""
        if self._planes == 1:
            return self._store[0][slots]
        rows = self._store[:, slots, :].transpose(1, 0, 2)
        return np.ascontiguousarray(rows).reshape(slots.size, self._book.nbytes)

    def _signs(self, slots: np.ndarray) -> np.ndarray:
        """(len(slots), ceil(dim / 8)) sign codes of `slots` (binary: plane 0 as stored)."""
        if self.config.method == "binary":
            return self._store[0][slots]
        return self._book.sign_plane(self._store[0][slots])

    def _take_fresh_slot(self) -> int:
        slot = self._high
        self._high += 1
        return slot

    def remove(self, ids: np.ndarray) -> None:
        """Delete points; unknown ids are ignored."""
        id_list = as_ids(ids).tolist()
        with self._lock.write():
            gone = []
            for point_id in id_list:
                slot = self._slot_of.pop(point_id, None)
                if slot is not None:
                    self._alive[slot] = False
                    self._ids[slot] = MISSING_ID
                    self._free.append(slot)
                    gone.append(slot)
            if gone:
                self._tombstone(np.array(gone, dtype=np.int64))
                self._maybe_rebuild()

    def _reserve(self, slots_needed: int) -> None:
        cap = self._ids.size
        if slots_needed <= cap:
            return
        new_cap = max(2 * cap, slots_needed)
        store, ids, alive, bias = self._store, self._ids, self._alive, self._bias
        self._alloc(new_cap)
        self._store[:, :cap] = store
        self._ids[:cap] = ids
        self._alive[:cap] = alive
        self._bias[: bias.size] = bias
        slot_node = np.full(new_cap, -1, dtype=np.int64)
        slot_node[:cap] = self._slot_node
        self._slot_node = slot_node

    # -- the graph ---------------------------------------------------------------------------

    def _tombstone(self, slots: np.ndarray) -> None:
        nodes = self._slot_node[slots]
        nodes = nodes[nodes >= 0]
        if nodes.size:
            self._node_slot[nodes] = -1
            self._slot_node[slots] = -1
            self._dead_nodes += int(nodes.size)

    def _update_graph(self, slots: np.ndarray) -> None:
        if self._graph is None:
            if (len(self._slot_of) > self.config.exact_scan_max
                    and self.dim >= self.config.prefilter_min_dim):
                self._build_graph()
            return
        self._tombstone(slots)  # replaced points get a new node; their old one is dead
        self._append_nodes(slots)
        self._maybe_rebuild()

    def _new_graph(self) -> Any:
        import faiss

        graph = faiss.IndexBinaryHNSW(self._book.plane_bytes * 8, self.config.m)
        graph.hnsw.efConstruction = self.config.ef_construct
        graph.hnsw.efSearch = self.config.ef
        return graph

    def _append_nodes(self, slots: np.ndarray) -> None:
        if slots.size == 0:
            return
        first = int(self._graph.ntotal)
        self._graph.add(self._signs(slots))
        self._node_slot = np.concatenate([self._node_slot, slots.astype(np.int64)])
        self._slot_node[slots] = np.arange(first, first + slots.size, dtype=np.int64)

    def _build_graph(self) -> None:
        """(Re)build the graph over every live code, dropping all tombstones."""
        self._graph = self._new_graph()
        self._node_slot = np.empty(0, dtype=np.int64)
        self._slot_node[:] = -1
        self._dead_nodes = 0
        self._append_nodes(np.flatnonzero(self._alive[: self._high]))

    def _maybe_rebuild(self) -> None:
        graph = self._graph
        if graph is None:
            return
        if self._dead_nodes > self.config.rebuild_dead_fraction * max(1, int(graph.ntotal)):
            if len(self._slot_of) > self.config.exact_scan_max:
                self._build_graph()
            else:  # shrank below the threshold: exact scans from now on
                self._graph = None
                self._node_slot = np.empty(0, dtype=np.int64)
                self._slot_node[:] = -1
                self._dead_nodes = 0

    # -- queries -----------------------------------------------------------------------------

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        ef: int | None = None,
        exact: bool = False,
    ) -> Neighbors:
        """Approximate best-first top-min(k, candidates) by code scores (see the module doc).

        `allowed` restricts results to those ids by an exact scan over them; `ef` overrides the
        graph's search breadth; `exact` scores every live code by its full code.
        """
        q = as_queries(queries, self.dim)
        k = check_k(k)
        if ef is not None and (isinstance(ef, bool) or int(ef) != ef or ef < 1):
            raise ValueError(f"ef must be a positive integer, got {ef!r}")
        if self.metric is Metric.COSINE:
            q = normalize(q)
        allowed_ids = None if allowed is None else as_ids(allowed)
        with self._lock.read():
            if not self._slot_of:
                return Neighbors.empty(q.shape[0])
            if allowed_ids is None:
                slots = None
                live = len(self._slot_of)
            else:
                slots = self._slots_of(allowed_ids)
                live = int(slots.size)
                if live == 0:
                    return Neighbors.empty(q.shape[0])
            kk = min(k, live)
            pool = max(self.config.prefilter_factor * kk, self.config.prefilter_min)
            if exact or pool >= live or self.dim < self.config.prefilter_min_dim:
                idx, scores = self._full_scan(q, slots, kk)
            elif slots is None and self._graph is not None:
                idx, scores = self._graph_search(q, kk, pool, ef)
            elif self.config.method == "int8":  # int8 scans by matmul; no sign plane stored
                idx, scores = self._full_scan(q, slots, kk)
            else:
                idx, scores = self._prefiltered_scan(q, slots, kk, pool)
            return self._neighbors(idx, scores, q)

    def _slots_of(self, ids: np.ndarray) -> np.ndarray:
        found = [self._slot_of.get(i) for i in ids.tolist()]
        return np.unique(np.array([s for s in found if s is not None], dtype=np.int64))

    def _live_slots(self) -> np.ndarray:
        return np.flatnonzero(self._alive[: self._high])

    def _tables(self, q: np.ndarray) -> np.ndarray:
        """Per-query scoring input: LUTs (binary) or query rows (int8).

        Scores are built so that larger is better for cosine/dot (q.x) and smaller for l2
        (-2 q.x + |x|^2, turned into a distance by `_finish`).
        """
        sign = -2.0 if self.metric is Metric.L2 else 1.0
        symmetric = self.config.query_mode == "symmetric"
        if self.config.method == "int8":
            qq = self._book.decode(self._book.encode(q)) if symmetric else q
            return (sign * qq).astype(np.float32)
        if symmetric:
            q = self._book.decode(self._book.encode(q))
        return self._book.query_luts(sign * q.astype(np.float64))

    def _score_rows(self, table: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """(1, len(slots)) raw scores of one query's table against the codes of `slots`."""
        codes = self._rows(slots)
        if self.config.method == "int8":
            raw = self._book.int8_scores(table[None], codes)
        else:
            raw = lut_scores(table[None], codes, device=self._device)
        if self.metric is Metric.L2:
            raw = raw + self._bias[slots][None, :]
        return raw

    def _full_scan(
        self, q: np.ndarray, slots: np.ndarray | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score every live code (or every code of `slots`) by its full code."""
        tables = self._tables(q)
        if slots is None:
            slots = self._live_slots()
        largest = self.metric.higher_is_better
        running = RunningTopK(q.shape[0], k, largest)
        for start in range(0, slots.size, _SCAN_BLOCK_ROWS):
            part = slots[start : start + _SCAN_BLOCK_ROWS]
            codes = self._rows(part)
            if self.config.method == "int8":
                raw = self._book.int8_scores(tables, codes)
            else:
                raw = lut_scores(tables, codes, device=self._device)
            if self.metric is Metric.L2:
                raw += self._bias[part][None, :]
            running.push(raw, start)
        idx, scores = running.result()
        return slots[idx], scores

    def _rerank(
        self, q: np.ndarray, cands: list[np.ndarray], k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best k of each query's candidate slots by full-code score; rows padded with -1."""
        tables = self._tables(q)
        largest = self.metric.higher_is_better
        idx = np.full((q.shape[0], k), -1, dtype=np.int64)
        scores = np.full((q.shape[0], k), np.nan, dtype=np.float32)

        def one(i: int) -> None:
            c = cands[i]
            if c.size == 0:
                return
            raw = self._score_rows(tables[i], c)
            sel, top = select_topk(raw, k, largest)
            idx[i, : sel.shape[1]] = c[sel[0]]
            scores[i, : sel.shape[1]] = top[0]

        threads = min(self.config.num_threads, q.shape[0])
        if threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(one, range(q.shape[0])))
        else:
            for i in range(q.shape[0]):
                one(i)
        return idx, scores

    def _prefiltered_scan(
        self, q: np.ndarray, slots: np.ndarray | None, k: int, pool: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Hamming top-`pool` over the sign codes of the live (or given) slots, then re-rank."""
        if self.config.method == "int8":  # no stored sign plane: score every code by matmul
            return self._full_scan(q, slots, k)
        signs = self._book.query_signs(q)
        if slots is None:
            dead = self._high - len(self._slot_of)
            if dead <= max(pool, self._high // 8):
                # Scan the slot range in place (no copy) and over-ask for the dead slots in it.
                found, _ = hamming_topk(signs, self._store[0, : self._high], pool + dead,
                                        device=self._device)
                alive = self._alive[found]
                cands = [row[ok][:pool] for row, ok in zip(found, alive)]
                return self._rerank(q, cands, k)
            slots = self._live_slots()
        sub = self._signs(slots)
        found, _ = hamming_topk(signs, sub, pool, device=self._device)
        return self._rerank(q, [slots[row] for row in found], k)

    def _graph_search(
        self, q: np.ndarray, k: int, pool: int, ef: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        graph = self._graph
        total = int(graph.ntotal)
        live_fraction = max(1e-3, 1.0 - self._dead_nodes / max(1, total))
        want = min(total, int(np.ceil(pool / live_fraction)) + 8)
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(int(ef or self.config.ef), want)
        _, nodes = graph.search(self._book.query_signs(q), want, params=params)
        cands = []
        for row in nodes:
            row = row[row >= 0]
            slots = self._node_slot[row]
            cands.append(slots[slots >= 0][:pool])
        if any(c.size < k for c in cands):  # the graph could not fill k: scan instead
            return self._prefiltered_scan(q, None, k, pool)
        return self._rerank(q, cands, k)

    def _neighbors(self, slots: np.ndarray, raw: np.ndarray, q: np.ndarray) -> Neighbors:
        valid = slots >= 0
        ids = np.where(valid, self._ids[np.where(valid, slots, 0)], MISSING_ID).astype(np.uint64)
        if self.metric is Metric.L2:  # raw = -2 q.x + |x|^2: add |q|^2 and take the root
            q64 = q.astype(np.float64)
            raw = np.sqrt(np.maximum(raw + np.einsum("ij,ij->i", q64, q64)[:, None], 0.0))
        scores = np.where(valid, raw, np.nan).astype(np.float32)
        counts = valid.sum(axis=1).astype(np.int64)
        return Neighbors(ids=ids, scores=scores, counts=counts)

    def get_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Decoded approximations (n, dim) float32 in the order of `ids`; KeyError if unknown."""
        id_list = as_ids(ids).tolist()
        with self._lock.read():
            slots = []
            for point_id in id_list:
                slot = self._slot_of.get(point_id)
                if slot is None:
                    raise KeyError(f"id {point_id} is not in the index")
                slots.append(slot)
            if not slots:
                return np.empty((0, self.dim), dtype=np.float32)
            return self._book.decode(self._rows(np.array(slots, dtype=np.int64)))

    # -- memory ------------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Code slots allocated; storage doubles when a batch needs more."""
        return int(self._ids.size)

    @property
    def vector_ram_bytes(self) -> int:
        """Bytes of the field's vector data in RAM: the code slots (plus |x|^2 for l2)."""
        return int(self._store.nbytes + self._bias.nbytes)

    @property
    def graph_ram_bytes(self) -> int:
        """Bytes held by the binary HNSW graph (its copy of the sign codes and its links)."""
        graph = self._graph
        if graph is None:
            return 0
        hnsw = graph.hnsw
        links = hnsw.neighbors.size() * 4 + hnsw.levels.size() * 4 + hnsw.offsets.size() * 8
        return int(links + graph.ntotal * graph.code_size + self._node_slot.nbytes)

    @property
    def ram_bytes(self) -> int:
        """Codes + graph + ids / liveness arrays + the id -> slot dict."""
        book = self._ids.nbytes + self._alive.nbytes + self._slot_node.nbytes
        book += sys.getsizeof(self._slot_of) + _DICT_ENTRY_BYTES * len(self._slot_of)
        return int(self.vector_ram_bytes + self.graph_ram_bytes + book)

    # -- persistence -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write codebook, slots, free list and graph to exactly `path`, then fsync it."""
        import faiss

        with self._lock.read():
            if not self._book.is_fitted:
                arrays: dict[str, np.ndarray] = {}
            else:
                arrays = self._book.to_arrays()
            high = self._high
            meta = {"dim": self.dim, "metric": self.metric.value, "high": high,
                    "capacity": int(self._ids.size)}
            arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
            arrays["codes"] = self._rows(np.arange(high))
            arrays["ids"] = self._ids[:high]
            arrays["alive"] = self._alive[:high]
            arrays["bias"] = self._bias[:high]
            arrays["free"] = np.array(self._free, dtype=np.int64)
            if self._graph is not None:
                arrays["graph"] = faiss.serialize_index_binary(self._graph)
                arrays["node_slot"] = self._node_slot
            buf = io.BytesIO()
            np.savez(buf, **arrays)
        payload = buf.getvalue()
        header = _HEADER.pack(_MAGIC, _VERSION, 0, len(payload))
        crc = zlib.crc32(payload, zlib.crc32(header))
        with open(path, "wb") as f:
            f.write(header)
            f.write(payload)
            f.write(_CRC.pack(crc))
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        dim: int,
        metric: Metric,
        config: QuantizedIndexConfig | None = None,
    ) -> QuantizedIndex:
        """Read a file written by `save`; IndexLoadError if it is unusable or its codes were
        made with other quantizer settings than `config` asks for (then: rebuild)."""
        config = _check_config(config)
        metric = Metric(metric)
        path = Path(path)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise IndexLoadError(path, f"cannot read the file ({exc})") from exc
        if len(raw) < _HEADER.size + _CRC.size:
            raise IndexLoadError(path, f"file is {len(raw)} bytes, shorter than the header")
        magic, version, _, length = _HEADER.unpack_from(raw)
        if magic != _MAGIC:
            raise IndexLoadError(path, "not a quantized index file (bad magic bytes)")
        if version != _VERSION:
            raise IndexLoadError(path, f"unsupported quantized index version {version}")
        if len(raw) != _HEADER.size + length + _CRC.size:
            raise IndexLoadError(path, f"file is {len(raw)} bytes, header says "
                                 f"{_HEADER.size + length + _CRC.size}")
        (stored_crc,) = _CRC.unpack_from(raw, len(raw) - _CRC.size)
        if zlib.crc32(raw[: len(raw) - _CRC.size]) != stored_crc:
            raise IndexLoadError(path, "checksum mismatch (file is corrupt)")
        try:
            with np.load(io.BytesIO(raw[_HEADER.size : _HEADER.size + length]),
                         allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            return cls._from_arrays(arrays, path, int(dim), metric, config)
        except IndexLoadError:
            raise
        except (ValueError, KeyError, TypeError, OSError, RuntimeError) as exc:
            raise IndexLoadError(path, f"unreadable contents ({exc})") from exc

    @classmethod
    def _from_arrays(
        cls, arrays: dict[str, np.ndarray], path: Path, dim: int, metric: Metric,
        config: QuantizedIndexConfig,
    ) -> QuantizedIndex:
        meta = json.loads(bytes(arrays["meta"]))
        if meta["dim"] != dim:
            raise IndexLoadError(path, f"file holds dim {meta['dim']}, expected {dim}")
        if meta["metric"] != metric.value:
            raise IndexLoadError(path, f"file holds metric {meta['metric']!r}, "
                                 f"expected {metric.value!r}")
        index = cls(dim, metric, config)
        high = int(meta["high"])
        if "codebook_meta" in arrays:
            book = Codebook.from_arrays(arrays)
            if book.config != config.quantizer or book.dim != dim:
                raise IndexLoadError(path, f"file holds {book.config.label} codes, the config "
                                     f"asks for {config.quantizer.label}")
            index._book = book
        elif high:
            raise IndexLoadError(path, "file holds codes but no codebook")
        codes, ids, alive = arrays["codes"], arrays["ids"], arrays["alive"]
        bias, free = arrays["bias"], arrays["free"]
        nbytes = index._book.nbytes
        if (codes.shape != (high, nbytes) or codes.dtype != np.uint8 or ids.shape != (high,)
                or alive.shape != (high,) or alive.dtype != bool
                or bias.shape != ((high,) if metric is Metric.L2 else (0,))):
            raise IndexLoadError(path, "slot arrays do not match the header")
        live_ids = ids[alive].astype(np.uint64)
        if (np.unique(live_ids).size != live_ids.size or (live_ids == MISSING_ID).any()
                or (ids[~alive] != MISSING_ID).any()):
            raise IndexLoadError(path, "file holds duplicate or reserved ids")
        free_ok = free.ndim == 1 and np.array_equal(np.sort(free), np.flatnonzero(~alive))
        if not free_ok:
            raise IndexLoadError(path, "free list does not match the dead slots")
        index._reserve(max(high, int(meta["capacity"])))
        if high:
            index._store[:, :high] = codes.reshape(high, index._planes, -1).transpose(1, 0, 2)
        index._ids[:high] = ids
        index._alive[:high] = alive
        index._bias[: bias.size] = bias
        index._high = high
        index._free = free.astype(np.int64).tolist()
        slots = np.flatnonzero(alive)
        index._slot_of = dict(zip(live_ids.tolist(), slots.tolist()))
        if "graph" in arrays:
            import faiss

            graph = faiss.deserialize_index_binary(np.ascontiguousarray(arrays["graph"]))
            node_slot = arrays["node_slot"].astype(np.int64)
            if (not isinstance(graph, faiss.IndexBinaryHNSW) or graph.ntotal != node_slot.size
                    or graph.d != index._book.plane_bytes * 8 or node_slot.max(initial=-1) >= high):
                raise IndexLoadError(path, "the stored graph does not match the codes")
            listed = node_slot[node_slot >= 0]
            if not alive[listed].all() or np.unique(listed).size != listed.size:
                raise IndexLoadError(path, "the stored graph points at dead or repeated slots")
            graph.hnsw.efSearch = config.ef
            index._graph = graph
            index._node_slot = node_slot
            index._slot_node[listed] = np.flatnonzero(node_slot >= 0)
            index._dead_nodes = int((node_slot < 0).sum())
        return index


def _check_config(config: QuantizedIndexConfig | None) -> QuantizedIndexConfig:
    if config is None:
        return QuantizedIndexConfig()
    if not isinstance(config, QuantizedIndexConfig):
        raise TypeError(
            f"QuantizedIndex takes a QuantizedIndexConfig or None, got {type(config).__name__}"
        )
    return config

