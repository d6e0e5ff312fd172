"""The inverted-index machinery shared by `SparseIndex` and `Bm25Index`.

Layout, all numpy (no per-term Python lists):

- Slots. Each live point owns a slot; `_ids[slot]`, `_alive[slot]`. A replaced or removed
  point's slot becomes a tombstone (its postings stay where they are and are masked at query
  time) until the next rebuild drops its postings; only then is the slot reused.
- Forward rows. Every point's (term ids sorted, weights) row sits in two append-only arrays,
  addressed by `_fstart[slot]` / `_flen[slot]`. They are the source of truth inside the index:
  `get_rows`, deletes (BM25's document frequencies), selective filters and persistence read them.
- Postings. A *segment* is a term-sorted CSR: `terms` (unique, sorted), `starts` (len+1) into
  `slots` / `vals`. The *main* segment covers every point added before the last rebuild; the
  *delta* segment covers points added since. Writes only append forward rows and mark the
  view stale; the first search after them rebuilds the delta (cost proportional to the delta).
  When the delta passes `merge_ratio` of the main segment (or tombstones pass `compact_ratio`
  of all postings), everything is rebuilt into one main segment from the live forward rows:
  amortized O(log n) work per posting added, and no search ever scans a stale term.

Search is term-at-a-time and exact: the query's posting runs are cut out (`searchsorted` on the
segment's terms, then slices or one fancy index) and concatenated, `np.bincount(slots,
weights)` accumulates float64 scores over all slots (np.add.at is ~10x slower), tombstones are
zeroed, and the best k are picked among the touched slots only, by bisecting a score threshold
(np.argpartition degrades badly on the many exact ties BM25 makes). A document that shares no
term with the query is never returned. Ties at equal scores go to the smaller id, so answers are
deterministic. MaxScore / WAND pruning was measured out: the accumulation is under half of a
BM25 query's time at 50k documents and pruning in numpy needs per-posting Python work (see
docs/benchmarks.md, "Sparse and BM25").

A filter (`allowed`) is exact: a selective one (at most `filter_scan_ratio` of the points)
scores just those points from their forward rows, a broad one masks the accumulated scores.

Thread safety: searches share the index's RWLock, writes take it exclusively; the lazy
delta / cache work done by the first search after a write is serialized by a second lock
and publishes new immutable segments, so concurrent searches always see a consistent view.

File format (little-endian): magic (8 bytes), u32 version, u32 header length, a JSON header
that names the arrays that follow (dtype, count) plus index settings, the arrays' bytes, and a
u32 CRC-32 of everything before it. Only live forward rows are stored; postings are rebuilt on
load.
"""
from __future__ import annotations

import json
import os
import struct
import sys
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vecdb.index.base import MISSING_ID, IndexLoadError, as_ids
from vecdb.index.locking import RWLock
from vecdb.index.slots import SlotIds

__all__ = [
    "SparseIndexConfig",
    "SparseRow",
    "as_sparse_row",
    "last_occurrence",
    "read_index_file",
    "write_index_file",
]

SparseRow = tuple[np.ndarray, np.ndarray]
"""(term ids uint32 sorted and unique, weights float32), one sparse vector."""

_EMPTY_TERMS = np.empty(0, dtype=np.uint32)
_EMPTY_VALS = np.empty(0, dtype=np.float32)
_MAX_TERM = 0xFFFFFFFF
_VERSION = 1
_PREAMBLE = struct.Struct("<8sII")
_CRC = struct.Struct("<I")
_DICT_ENTRY_BYTES = 64  # Python-side bytes per id -> slot dict entry
# Up to _SLICE_RUNS posting runs, or runs averaging _LONG_RUN postings, are cut out as slices;
# otherwise one fancy index gathers them all (measured on BM25 and SPLADE queries).
_SLICE_RUNS = 8
_LONG_RUN = 512


@dataclass(frozen=True)
class SparseIndexConfig:
    """Tuning for the inverted index behind SparseIndex and Bm25Index (defaults fit most uses).

    merge_ratio: the delta segment (points added since the last rebuild) is folded into the
        main segment once its postings exceed this fraction of the main segment's.
    min_merge_postings: ... but never before it holds this many postings.
    compact_ratio: rebuild once tombstoned postings exceed this fraction of all postings.
    filter_scan_ratio: a filter allowing at most this fraction of the points is scored from the
        points' own rows instead of the posting lists.
    """

    merge_ratio: float = 0.125
    min_merge_postings: int = 1 << 16
    compact_ratio: float = 0.25
    filter_scan_ratio: float = 0.125

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """ValueError naming the field when a setting is out of range."""
        for name in ("merge_ratio", "compact_ratio", "filter_scan_ratio"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value!r}")
        if isinstance(self.min_merge_postings, bool) or not isinstance(
            self.min_merge_postings, int
        ) or self.min_merge_postings < 1:
            raise ValueError(
                f"min_merge_postings must be an integer >= 1, got {self.min_merge_postings!r}"
            )


def as_sparse_row(row: object, *, name: str = "sparse vector") -> SparseRow:
    """`row` = (term ids, weights) as a canonical SparseRow: uint32 ids sorted, float32 weights.

    ValueError for mismatched shapes, negative or > 2**32-1 ids, a repeated id or a non-finite
    weight. Zero weights are dropped (they add nothing to any dot product).
    """
    try:
        terms, weights = row  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a (term ids, weights) pair, got {type(row).__name__}"
        ) from None
    t = np.asarray(terms)
    w = np.asarray(weights)
    if t.ndim != 1 or w.ndim != 1 or t.shape != w.shape:
        raise ValueError(
            f"{name}: term ids {t.shape} and weights {w.shape} must be 1-D and of equal length"
        )
    if t.size == 0:
        return _EMPTY_TERMS, _EMPTY_VALS
    if t.dtype.kind not in "iu":
        raise ValueError(f"{name}: term ids must be integers, got dtype {t.dtype}")
    if (t.dtype.kind == "i" and int(t.min()) < 0) or int(t.max()) > _MAX_TERM:
        bad = int(t.min()) if int(t.min()) < 0 else int(t.max())
        raise ValueError(f"{name}: term ids must be in [0, 2**32-1], got {bad}")
    if w.dtype.kind not in "iuf":
        raise ValueError(f"{name}: weights must be numbers, got dtype {w.dtype}")
    w32 = w.astype(np.float32)
    if not np.isfinite(w32).all():
        raise ValueError(f"{name}: weights must be finite float32 values (got NaN or inf)")
    t32 = t.astype(np.uint32)
    if t32.size > 1 and not (t32[1:] > t32[:-1]).all():
        order = np.argsort(t32, kind="stable")
        t32, w32 = t32[order], w32[order]
        dup = t32[1:] == t32[:-1]
        if dup.any():
            raise ValueError(f"{name}: term id {int(t32[1:][dup][0])} appears more than once")
    keep = w32 != 0
    if not keep.all():
        t32, w32 = t32[keep], w32[keep]
    return t32, w32


# -- segments --------------------------------------------------------------------------------


class _Segment:
    """Postings sorted by term: the run of term `terms[i]` is `slots/vals[starts[i]:starts[i+1]]`.

    Immutable once published, except `cache` / `stamp`, which BM25 fills term by term (score of
    each posting at index version `stamp[i]`).
    """

    __slots__ = ("cache", "slots", "stamp", "starts", "terms", "vals")

    def __init__(
        self, terms: np.ndarray, starts: np.ndarray, slots: np.ndarray, vals: np.ndarray
    ) -> None:
        self.terms = terms
        self.starts = starts
        self.slots = slots
        self.vals = vals
        self.cache: np.ndarray | None = None
        self.stamp: np.ndarray | None = None

    @property
    def nnz(self) -> int:
        return int(self.slots.size)

    @property
    def nbytes(self) -> int:
        arrays = [self.terms, self.starts, self.slots, self.vals, self.cache, self.stamp]
        return sum(a.nbytes for a in arrays if a is not None)

    def locate(self, qterms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask over qterms of those present, their positions in `terms`)."""
        n = self.terms.size
        if n == 0:
            return np.zeros(qterms.size, dtype=bool), np.empty(0, dtype=np.int64)
        pos = np.searchsorted(self.terms, qterms)
        hit = pos < n
        hit[hit] = self.terms[pos[hit]] == qterms[hit]
        return hit, pos[hit]


_EMPTY_SEGMENT = _Segment(
    _EMPTY_TERMS, np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.intp), _EMPTY_VALS
)


def _build_segment(terms: np.ndarray, slots: np.ndarray, vals: np.ndarray) -> _Segment:
    if terms.size == 0:
        return _EMPTY_SEGMENT
    order = np.argsort(terms, kind="stable")  # stable: slots stay ascending within a term
    t = terms[order]
    firsts = np.flatnonzero(np.concatenate(([True], t[1:] != t[:-1])))
    starts = np.append(firsts, t.size).astype(np.int64)
    return _Segment(t[firsts], starts, slots[order].astype(np.intp), vals[order])


def _multi_range(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + n) for each (s, n), vectorized."""
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.cumsum(lens) - lens
    return np.arange(total, dtype=np.int64) + np.repeat(starts.astype(np.int64) - offsets, lens)


class _View:
    """What one search reads: the published segments and the tombstones not yet dropped."""

    __slots__ = ("dead", "delta", "main")

    def __init__(self, main: _Segment, delta: _Segment, dead: np.ndarray) -> None:
        self.main = main
        self.delta = delta
        self.dead = dead


# -- the shared inverted index ---------------------------------------------------------------


class _InvertedBase(SlotIds):
    """Slots, forward rows, segments, locking, top-k and persistence shared by both indexes.

    Subclasses define how a posting's stored value becomes a score (`_posting_scores`,
    `_row_scores`) and hook into writes (`_on_rows_added`, `_on_rows_dropped`).
    """

    _MAGIC = b"VECDB???"

    def __init__(self, tuning: SparseIndexConfig) -> None:
        self._tuning = tuning
        self._lock = RWLock()
        self._build_lock = threading.Lock()
        cap = 1024
        self._ids = np.full(cap, MISSING_ID, dtype=np.uint64)
        self._alive = np.zeros(cap, dtype=bool)
        self._fstart = np.zeros(cap, dtype=np.int64)
        self._flen = np.zeros(cap, dtype=np.int64)
        self._slot_of: dict[int, int] = {}
        self._high = 0
        self._free: list[int] = []  # slots whose postings are gone: reusable
        self._dead: list[int] = []  # tombstoned slots whose postings still sit in a segment
        self._dead_nnz = 0
        self._fterms = np.empty(4096, dtype=np.uint32)
        self._fvals = np.empty(4096, dtype=np.float32)
        self._fused = 0
        self._live_nnz = 0
        self._pending: list[int] = []  # slots added since the main segment was built
        self._pending_nnz = 0
        self._delta_covers = 0  # how many of _pending the published delta covers
        self._version = 0  # bumped by every write
        self._stale = False  # a write happened since the view was published
        self._negative = False  # some stored weight is < 0
        self._view = _View(_EMPTY_SEGMENT, _EMPTY_SEGMENT, np.empty(0, dtype=np.int64))

    # -- writes (callers hold the write lock) ------------------------------------------------

    def remove(self, ids: np.ndarray) -> None:
        """Delete points; unknown ids are ignored. (BM25: df, N and avgdl follow at once.)"""
        id_arr = as_ids(ids)
        with self._lock.write():
            self._remove_ids(id_arr)

    def _put_rows(
        self, ids: np.ndarray, lens: np.ndarray, flat_t: np.ndarray, flat_v: np.ndarray
    ) -> None:
        """Insert or replace rows: ids unique, row i is the next `lens[i]` entries of the
        concatenated (sorted, unique per row) term ids `flat_t` and values `flat_v`."""
        self._drop_slots([s for s in (self._slot_of.get(i) for i in ids.tolist()) if s is not None])
        slots = self._take_slots(ids)
        total = int(lens.sum())
        self._reserve_forward(self._fused + total)
        if total:
            self._fterms[self._fused : self._fused + total] = flat_t
            self._fvals[self._fused : self._fused + total] = flat_v
            if not self._negative and bool((flat_v < 0).any()):
                self._negative = True
        self._fstart[slots] = self._fused + np.cumsum(lens) - lens
        self._flen[slots] = lens
        self._fused += total
        self._live_nnz += total
        self._pending.extend(slots.tolist())
        self._pending_nnz += total
        self._on_rows_added(slots)
        self._version += 1
        self._stale = True
        self._maybe_rebuild_now()

    def _remove_ids(self, ids: np.ndarray) -> None:
        get = self._slot_of.get
        slots = [s for s in (get(i) for i in np.unique(ids).tolist()) if s is not None]
        if not slots:
            return
        self._drop_slots(slots)
        self._version += 1
        self._stale = True
        self._maybe_rebuild_now()

    def _drop_slots(self, slots: list[int]) -> None:
        if not slots:
            return
        arr = np.asarray(slots, dtype=np.int64)
        self._on_rows_dropped(arr)
        nnz = int(self._flen[arr].sum())
        for point_id in self._ids[arr].tolist():
            del self._slot_of[point_id]
        self._alive[arr] = False
        self._ids[arr] = MISSING_ID
        self._dead.extend(slots)
        self._dead_nnz += nnz
        self._live_nnz -= nnz

    def _take_slots(self, ids: np.ndarray) -> np.ndarray:
        n = ids.size
        reuse = min(n, len(self._free))
        fresh = n - reuse
        self._reserve_slots(self._high + fresh)
        slots = np.empty(n, dtype=np.int64)
        if reuse:
            slots[:reuse] = self._free[len(self._free) - reuse :]
            del self._free[len(self._free) - reuse :]
        slots[reuse:] = np.arange(self._high, self._high + fresh)
        self._high += fresh
        self._ids[slots] = ids
        self._alive[slots] = True
        self._slot_of.update(zip(ids.tolist(), slots.tolist(), strict=True))
        return slots

    def _reserve_slots(self, needed: int) -> None:
        cap = self._ids.size
        if needed <= cap:
            return
        new_cap = max(2 * cap, needed)
        self._ids = _grow(self._ids, new_cap, MISSING_ID)
        self._alive = _grow(self._alive, new_cap, False)
        self._fstart = _grow(self._fstart, new_cap, 0)
        self._flen = _grow(self._flen, new_cap, 0)
        self._grow_slot_arrays(new_cap)

    def _reserve_forward(self, needed: int) -> None:
        cap = self._fterms.size
        if needed <= cap:
            return
        new_cap = max(2 * cap, needed)
        self._fterms = _grow(self._fterms, new_cap, 0)
        self._fvals = _grow(self._fvals, new_cap, 0)

    def _maybe_rebuild_now(self) -> None:
        """Under the write lock: rebuild when tombstones or the delta have grown too large."""
        t = self._tuning
        all_nnz = self._live_nnz + self._dead_nnz
        if self._dead_nnz > max(4096, t.compact_ratio * all_nnz) or (
            self._pending_nnz > max(t.min_merge_postings, 4 * self._view.main.nnz)
        ):
            self._rebuild(compact_forward=True)

    # -- the published view (built lazily by the first search after a write) -----------------

    def _current_view(self) -> _View:
        """The view to search; caller holds the read (or write) lock.

        Readers that already hold the previous view keep using it: views are never mutated
        (only BM25's score caches inside a segment are filled in), so a search sees one state.
        """
        if self._stale:
            with self._build_lock:
                if self._stale:
                    self._refresh()
                    self._stale = False
        return self._view

    def _refresh(self) -> None:
        t = self._tuning
        if self._pending_nnz > max(t.min_merge_postings, t.merge_ratio * self._view.main.nnz):
            self._rebuild(compact_forward=False)
            return
        delta = self._view.delta
        if self._delta_covers != len(self._pending):
            pending = np.asarray(self._pending, dtype=np.int64)
            pending = pending[self._alive[pending]]
            terms, slots, vals = self._gather_rows(pending)
            delta = _build_segment(terms, slots, vals)
            self._delta_covers = len(self._pending)
        self._view = _View(self._view.main, delta, np.asarray(self._dead, dtype=np.int64))

    def _rebuild(self, *, compact_forward: bool) -> None:
        """One main segment from every live row; drops tombstones, frees their slots.

        `compact_forward` (write lock only) also rewrites the forward arrays without garbage.
        """
        live = np.flatnonzero(self._alive[: self._high])
        if compact_forward and self._fused > 2 * self._live_nnz + 4096:
            starts, lens = self._fstart[live], self._flen[live]
            idx = _multi_range(starts, lens)
            cap = max(4096, 2 * idx.size)
            fterms = np.empty(cap, dtype=np.uint32)
            fvals = np.empty(cap, dtype=np.float32)
            fterms[: idx.size] = self._fterms[idx]
            fvals[: idx.size] = self._fvals[idx]
            self._fterms, self._fvals, self._fused = fterms, fvals, int(idx.size)
            self._fstart[live] = np.cumsum(lens) - lens
        terms, slots, vals = self._gather_rows(live)
        main = _build_segment(terms, slots, vals)
        self._free.extend(self._dead)
        self._dead = []
        self._dead_nnz = 0
        self._pending = []
        self._pending_nnz = 0
        self._delta_covers = 0
        self._view = _View(main, _EMPTY_SEGMENT, np.empty(0, dtype=np.int64))

    def _gather_rows(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lens = self._flen[slots]
        idx = _multi_range(self._fstart[slots], lens)
        return self._fterms[idx], np.repeat(slots, lens), self._fvals[idx]

    # -- scoring -----------------------------------------------------------------------------

    def _posting_scores(self, seg: _Segment, pos: np.ndarray) -> np.ndarray:
        """An array aligned with `seg.slots` whose entries in the runs `pos` are the postings'
        score contributions at query weight 1 (other entries may be stale)."""
        raise NotImplementedError

    def _row_scores(self, slots: np.ndarray, terms: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """Score contributions (float64, query weight 1) of forward entries (slot, term, stored
        value) whose term is in the query; equal to what `_posting_scores` gives them."""
        raise NotImplementedError

    def _accumulate(
        self, view: _View, qterms: np.ndarray, qw: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Dense float64 scores over all slots (tombstones zeroed) and the concatenated slots of
        the query's postings (repeats possible); None when no posting matches.

        Long runs are cut out as slices and weighted in place (one pass each); many short runs
        (SPLADE queries have dozens of terms) are gathered by one vectorized index instead, so
        the Python work per query stays small either way."""
        slot_parts: list[np.ndarray] = []
        pieces: list[tuple[np.ndarray, float | np.ndarray]] = []  # (scores, query weight(s))
        for seg in (view.main, view.delta):
            if seg.nnz == 0:
                continue
            hit, pos = seg.locate(qterms)
            if pos.size == 0:
                continue
            values = self._posting_scores(seg, pos)
            starts, stops = seg.starts[pos], seg.starts[pos + 1]
            lens = stops - starts
            if pos.size <= _SLICE_RUNS or int(lens.sum()) >= _LONG_RUN * pos.size:
                for s, e, w in zip(starts.tolist(), stops.tolist(), qw[hit].tolist()):
                    slot_parts.append(seg.slots[s:e])
                    pieces.append((values[s:e], w))
            else:
                idx = _multi_range(starts, lens)
                slot_parts.append(seg.slots[idx])
                pieces.append((values[idx], np.repeat(qw[hit], lens)))
        if not slot_parts:
            return None
        slots = np.concatenate(slot_parts) if len(slot_parts) > 1 else slot_parts[0]
        contrib = np.empty(slots.size)
        at = 0
        for part, w in pieces:
            out = contrib[at : at + part.size]
            if isinstance(w, float) and w == 1.0:
                out[:] = part
            else:
                np.multiply(part, w, out=out, dtype=np.float64)
            at += part.size
        acc = np.bincount(slots, weights=contrib, minlength=self._high)
        if view.dead.size:
            acc[view.dead] = 0.0
        return acc, slots

    def _score_slots(self, slots: np.ndarray, qterms: np.ndarray, qw: np.ndarray) -> tuple[
        np.ndarray, np.ndarray
    ]:
        """Exact scores of `slots` (live) from their forward rows, and whether each shares a
        term with the query."""
        lens = self._flen[slots]
        idx = _multi_range(self._fstart[slots], lens)
        terms = self._fterms[idx]
        owner = np.repeat(np.arange(slots.size), lens)
        if qterms.size == 0 or terms.size == 0:
            return np.zeros(slots.size), np.zeros(slots.size, dtype=bool)
        qpos = np.minimum(np.searchsorted(qterms, terms), qterms.size - 1)
        match = qterms[qpos] == terms
        owner, qpos = owner[match], qpos[match]
        contrib = self._row_scores(slots[owner], terms[match], self._fvals[idx[match]])
        acc = np.bincount(owner, weights=contrib * qw[qpos], minlength=slots.size)
        shared = np.bincount(owner, minlength=slots.size) > 0
        return acc, shared

    def _slots_of(self, ids: np.ndarray) -> np.ndarray:
        get = self._slot_of.get
        found = [s for s in (get(i) for i in ids.tolist()) if s is not None]
        return np.unique(np.asarray(found, dtype=np.int64))

    def _allowed_slots(self, allowed: np.ndarray | None) -> np.ndarray | None:
        """Live slots of the `allowed` ids (once per call, shared by a batch's queries)."""
        return None if allowed is None else self._slots_of(allowed)

    def _search_terms(
        self, qterms: np.ndarray, qw: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best-first (ids, scores) for a canonical query; caller holds the read lock.

        `allowed` holds slots (from `_allowed_slots`), not ids."""
        if qterms.size == 0 or not self._slot_of:
            return _no_hits()
        view = self._current_view()
        signed = self._negative or bool((qw < 0).any())
        if allowed is not None:
            slots = allowed
            if slots.size == 0:
                return _no_hits()
            if slots.size <= self._tuning.filter_scan_ratio * len(self._slot_of):
                scores, shared = self._score_slots(slots, qterms, qw)
                return self._top_k(slots[shared], scores[shared], k)
            found = self._accumulate(view, qterms, qw)
            if found is None:
                return _no_hits()
            acc, touched_slots = found
            if signed:
                touched = np.zeros(self._high, dtype=bool)
                touched[touched_slots] = True
                keep = touched[slots]
            else:
                keep = acc[slots] > 0
            return self._top_k(slots[keep], acc[slots[keep]], k)
        found = self._accumulate(view, qterms, qw)
        if found is None:
            return _no_hits()
        acc, touched_slots = found
        if signed:  # rare: weights of both signs, so a score <= 0 may still be a match
            cand = np.unique(touched_slots)
            cand = cand[self._alive[cand]]
            return self._top_k(cand, acc[cand], k)
        # Every weight positive: the touched live slots are exactly those with acc > 0. When the
        # postings are few, take them from the posting slots (deduplicated by a scatter) rather
        # than scanning every slot.
        if 4 * touched_slots.size < self._high:
            order = np.arange(touched_slots.size)
            marker = np.empty(self._high, dtype=np.intp)
            marker[touched_slots] = order
            cand = touched_slots[marker[touched_slots] == order]
        else:
            cand = np.flatnonzero(acc)
        return self._top_k(cand, acc[cand], k, positive=True)

    def _top_k(
        self, slots: np.ndarray, scores: np.ndarray, k: int, *, positive: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best of (slots, scores) as (uint64 ids, float32 scores), score desc then id asc.

        With `positive`, only scores > 0 count. Large inputs are first cut down by `_head`:
        np.argpartition degrades badly on the many exact ties BM25 makes.
        """
        if slots.size > 4 * k + 64:
            head = _head(scores, k, 4 * k + 64)
            slots, scores = slots[head], scores[head]
        if positive:
            keep = scores > 0
            slots, scores = slots[keep], scores[keep]
        ids = self._ids[slots]
        order = np.lexsort((ids, -scores))[:k]
        return ids[order], scores[order].astype(np.float32)

    # -- reads -------------------------------------------------------------------------------

    def _rows_of(self, ids: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
        out = []
        for point_id in ids.tolist():
            slot = self._slot_of.get(point_id)
            if slot is None:
                raise KeyError(f"id {point_id} is not in the index")
            s, n = int(self._fstart[slot]), int(self._flen[slot])
            out.append((slot, self._fterms[s : s + n].copy(), self._fvals[s : s + n].copy()))
        return out

    @property
    def ram_bytes(self) -> int:
        """Slot, forward-row and posting arrays plus the id -> slot dict."""
        view = self._view
        arrays = (
            self._ids.nbytes + self._alive.nbytes + self._fstart.nbytes + self._flen.nbytes
            + self._fterms.nbytes + self._fvals.nbytes + view.main.nbytes + view.delta.nbytes
        )
        arrays += self._extra_ram_bytes()
        bookkeeping = sys.getsizeof(self._slot_of) + _DICT_ENTRY_BYTES * len(self._slot_of)
        return int(arrays + bookkeeping)

    # -- hooks -------------------------------------------------------------------------------

    def _on_rows_added(self, slots: np.ndarray) -> None:
        """Rows for `slots` were just written to the forward arrays."""

    def _on_rows_dropped(self, slots: np.ndarray) -> None:
        """Rows of `slots` are about to become tombstones (still readable)."""

    def _grow_slot_arrays(self, new_cap: int) -> None:
        """Slot arrays a subclass keeps must grow to `new_cap`."""

    def _extra_ram_bytes(self) -> int:
        return 0

    # -- persistence -------------------------------------------------------------------------

    def _live_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(live slots, ids, row lengths, concatenated terms, concatenated values)."""
        live = np.flatnonzero(self._alive[: self._high])
        lens = self._flen[live]
        idx = _multi_range(self._fstart[live], lens)
        return live, self._ids[live], lens, self._fterms[idx], self._fvals[idx]

    def _restore_rows(
        self, path: Path, ids: np.ndarray, lens: np.ndarray, terms: np.ndarray, vals: np.ndarray
    ) -> None:
        """Load-time: install rows read from `path` (validated here) and build the postings."""
        if ids.size and (np.unique(ids).size != ids.size or (ids == MISSING_ID).any()):
            raise IndexLoadError(path, "file holds duplicate or reserved ids")
        if int(lens.sum()) != terms.size or (lens < 0).any():
            raise IndexLoadError(path, "row lengths do not add up to the stored terms")
        offsets = np.cumsum(lens) - lens
        if terms.size:
            same_row = np.ones(terms.size, dtype=bool)
            same_row[offsets[lens > 0]] = False
            increasing = np.ones(terms.size, dtype=bool)
            increasing[1:] = terms[1:] > terms[:-1]
            if not (increasing | ~same_row).all():
                raise IndexLoadError(path, "a stored row's term ids are not sorted and unique")
            if not np.isfinite(vals).all():
                raise IndexLoadError(path, "stored weights are not finite")
        n = ids.size
        self._reserve_slots(n)
        self._reserve_forward(terms.size)
        self._ids[:n] = ids
        self._alive[:n] = True
        self._fstart[:n] = offsets
        self._flen[:n] = lens
        self._fterms[: terms.size] = terms
        self._fvals[: terms.size] = vals
        self._fused = int(terms.size)
        self._live_nnz = int(terms.size)
        self._high = n
        self._slot_of = dict(zip(ids.tolist(), range(n), strict=True))
        self._negative = bool((vals < 0).any())
        self._on_rows_added(np.arange(n, dtype=np.int64))
        self._version += 1
        self._rebuild(compact_forward=False)


def _head(scores: np.ndarray, k: int, cap: int) -> np.ndarray:
    """Positions of a subset of `scores` that holds its k largest values and every value tied
    with the k-th; it has at most `cap` entries unless ties force more. Bisects a threshold
    (a count per step), which is exact, deterministic and immune to ties."""
    lo, hi = float(scores.min()), float(scores.max())
    if int(np.count_nonzero(scores >= hi)) >= k:
        return np.flatnonzero(scores >= hi)
    # invariant: fewer than k scores >= hi, at least k scores >= lo
    for _ in range(64):
        mid = lo + (hi - lo) * 0.5
        if not lo < mid < hi:
            break
        count = int(np.count_nonzero(scores >= mid))
        if count < k:
            hi = mid
        elif count > cap:
            lo = mid
        else:
            lo = mid
            break
    return np.flatnonzero(scores >= lo)


def _grow(arr: np.ndarray, new_cap: int, fill: Any) -> np.ndarray:
    out = np.full(new_cap, fill, dtype=arr.dtype)
    out[: arr.size] = arr
    return out


def _no_hits() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.float32)


def write_index_file(
    path: Path, magic: bytes, header: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    """Write `header` (JSON) and little-endian `arrays` to exactly `path`, CRC'd and fsynced."""
    header = dict(header)
    header["arrays"] = [[name, a.dtype.newbyteorder("<").str, int(a.size)] for name, a in arrays.items()]
    head = json.dumps(header, sort_keys=True).encode("utf-8")
    with open(path, "wb") as f:
        first = _PREAMBLE.pack(magic, _VERSION, len(head)) + head
        crc = zlib.crc32(first)
        f.write(first)
        for a in arrays.values():
            data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
            view = memoryview(data).cast("B")
            crc = zlib.crc32(view, crc)
            f.write(view)
        f.write(_CRC.pack(crc))
        f.flush()
        os.fsync(f.fileno())


def read_index_file(path: Path, magic: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Inverse of `write_index_file`; IndexLoadError for anything unusable."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise IndexLoadError(path, f"cannot read the file ({exc})") from exc
    if len(raw) < _PREAMBLE.size + _CRC.size:
        raise IndexLoadError(path, f"file is {len(raw)} bytes, shorter than the header")
    file_magic, version, head_len = _PREAMBLE.unpack_from(raw)
    if file_magic != magic:
        raise IndexLoadError(path, f"not a {magic.decode('ascii', 'replace')} file (bad magic)")
    if version != _VERSION:
        raise IndexLoadError(path, f"unsupported file version {version}")
    (stored_crc,) = _CRC.unpack_from(raw, len(raw) - _CRC.size)
    if zlib.crc32(memoryview(raw)[: len(raw) - _CRC.size]) != stored_crc:
        raise IndexLoadError(path, "checksum mismatch (file is corrupt or truncated)")
    try:
        header = json.loads(raw[_PREAMBLE.size : _PREAMBLE.size + head_len])
        specs = [(str(n), np.dtype(d), int(c)) for n, d, c in header.pop("arrays")]
    except (ValueError, TypeError, KeyError) as exc:
        raise IndexLoadError(path, f"unreadable header ({exc})") from exc
    pos = _PREAMBLE.size + head_len
    arrays: dict[str, np.ndarray] = {}
    for name, dtype, count in specs:
        end = pos + dtype.itemsize * count
        if count < 0 or end > len(raw) - _CRC.size:
            raise IndexLoadError(path, f"array {name!r} runs past the end of the file")
        arrays[name] = np.frombuffer(raw, dtype=dtype, count=count, offset=pos).astype(
            dtype.newbyteorder("="), copy=True
        )
        pos = end
    if pos != len(raw) - _CRC.size:
        raise IndexLoadError(path, "trailing bytes after the last array")
    return header, arrays


# -- SparseIndex -----------------------------------------------------------------------------


def last_occurrence(ids: np.ndarray) -> np.ndarray | None:
    """Positions keeping the last occurrence of each id (None when all are unique)."""
    if ids.size < 2:
        return None
    _, first_rev = np.unique(ids[::-1], return_index=True)
    if first_rev.size == ids.size:
        return None
    return np.sort(ids.size - 1 - first_rev)
