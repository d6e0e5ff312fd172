"""MultiVectorIndex: late-interaction (MaxSim) retrieval over token sets, MUVERA candidates plus
an exact rerank.

Every point is a set of token vectors (n_i, dim), n_i >= 1. A query is a token set too, and

    MaxSim(query, point) = sum over query tokens t of max over the point's tokens u of <t, u>

(for cosine every token is normalized first, on the way in). Two ways to answer a query:

- FDE search (the default above `exhaustive_max` points): each point's MUVERA document FDE
  (`vecdb.index.muvera`) lives in an `HnswIndex` under the DOT metric; the query's FDE finds the
  top `candidates` points (the oversampling knob), which are reranked by exact MaxSim over their
  stored tokens (`vecdb.kernels.maxsim`), so returned scores are always exact MaxSim.
- Exhaustive MaxSim (`exact=True`, collections of at most `exhaustive_max` points, and `allowed`
  sets of at most max(candidates, exhaustive_max) live ids): every (allowed) point is scored;
  this is also the recall baseline.

Token store: one flat (capacity, dim) array in the storage dtype (float16 by default: half of
float32's bytes; MaxSim is computed in float32 from it) cut into per-point slots laid back to
back in insertion order. Replacing or removing a point tombstones its slot; when dead tokens
reach half the live ones (and a minimum), the store is compacted in one pass, so updates cost
O(changed tokens) amortized. Because slots are contiguous, `slot_starts` doubles as the
kernel's `offsets`: exhaustive scans and reranks call `maxsim_scores` on the store in place,
dead slots score and are dropped.

Thread safety: an `RWLock` (searches share it, mutations are exclusive); the FDE graph has its
own lock, always taken after this one.

File format (`save` writes one file, so the engine can checksum and rename it like any index):
magic b"VECDBMVI", u32 version, u32 header length, a JSON header (dim, metric, storage dtype,
FDE config, counts, byte lengths), then ids (u64), token counts (i64), tokens (storage dtype,
compacted), the FDE graph (hnswlib's file, as `HnswIndex.save` writes it), and a u32 CRC-32 of
everything before it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vecdb.index.base import MISSING_ID, IndexLoadError, Neighbors, as_ids, check_k
from vecdb.index.hnsw import HnswIndex, HnswIndexConfig
from vecdb.index.locking import RWLock
from vecdb.index.muvera import FdeConfig, FdeEncoder
from vecdb.index.slots import SlotIds
from vecdb.kernels import Metric, maxsim_scores, resolve_device
from vecdb.kernels.select import select_topk

__all__ = ["STORAGE_DTYPES", "MultiVectorIndex", "MultiVectorIndexConfig"]

STORAGE_DTYPES: dict[str, np.dtype] = {"float16": np.dtype(np.float16), "float32": np.dtype(np.float32)}
"""Token storage dtype name -> numpy dtype. float16 keeps MiniLM/ColBERT token vectors (unit
norm, |components| < 1) with ~1e-3 relative error and halves the bytes."""

_MAGIC = b"VECDBMVI"
_VERSION = 1
_PREFIX = struct.Struct("<8sII")
_CRC = struct.Struct("<I")
_DICT_ENTRY_BYTES = 64
# Compact when dead tokens exceed this fraction of live ones and this many tokens.
_COMPACT_RATIO = 0.5
_COMPACT_MIN_TOKENS = 4096


@dataclass(frozen=True)
class MultiVectorIndexConfig:
    """Tuning for MultiVectorIndex (the field parameters of a multivector field).

    fde: MUVERA encoding parameters (see FdeConfig); fixed for the life of the index.
    storage_dtype: dtype of the in-RAM token store, "float16" (default) or "float32".
    candidates: FDE candidates reranked by exact MaxSim per query (the oversampling knob:
        higher is slower and closer to exhaustive recall). >= 1; raised to k when smaller.
    exhaustive_max: collections with at most this many points are answered by exhaustive
        MaxSim: exact, and at that size about as fast as the graph plus a rerank of 100
        candidates (measured single-threaded, 384-d, ~45 tokens per point, 32-token queries:
        250 points 14.9 ms exhaustive vs 8.9 ms FDE path; 1,000 points 78 ms vs 12.5 ms).
        0 = always use the FDE graph unless `exact=True`.
    m, ef_construct, ef: the FDE graph's HNSW degree, build and search breadth (the search uses
        max(ef, candidates)).
    num_threads: threads hnswlib uses for a batch of FDE inserts or queries.
    kernel_device: where MaxSim runs ("auto", "cpu" or "cuda"; see vecdb.kernels.resolve_device).
    initial_tokens: token rows allocated up front; the store doubles when it runs out.
    """

    fde: FdeConfig = field(default_factory=FdeConfig)
    storage_dtype: str = "float16"
    candidates: int = 100
    exhaustive_max: int = 200
    m: int = 16
    ef_construct: int = 200
    ef: int = 128
    num_threads: int = 1
    kernel_device: str = "auto"
    initial_tokens: int = 4096

    def __post_init__(self) -> None:
        if not isinstance(self.fde, FdeConfig):
            raise TypeError(f"MultiVectorIndexConfig.fde must be an FdeConfig, got {self.fde!r}")
        if self.storage_dtype not in STORAGE_DTYPES:
            raise ValueError(
                f"MultiVectorIndexConfig.storage_dtype must be one of {sorted(STORAGE_DTYPES)}, "
                f"got {self.storage_dtype!r}"
            )
        for name, low in (("candidates", 1), ("exhaustive_max", 0), ("m", 2), ("ef_construct", 1),
                          ("ef", 1), ("num_threads", 1), ("initial_tokens", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"MultiVectorIndexConfig.{name} must be an integer >= {low}, got {value!r}")

    def graph_config(self) -> HnswIndexConfig:
        """The HnswIndexConfig of the FDE graph."""
        return HnswIndexConfig(
            m=self.m, ef_construct=self.ef_construct, ef=self.ef, num_threads=self.num_threads,
            max_exact_candidates=0, kernel_device="cpu", initial_capacity=64,
        )


class MultiVectorIndex(SlotIds):
    """Token sets under MaxSim: MUVERA FDE candidates reranked exactly; thread-safe.

    `metric` is DOT or COSINE (cosine normalizes every stored and query token).
    """

    def __init__(self, dim: int, metric: Metric, config: MultiVectorIndexConfig | None = None) -> None:
        config = _check_config(config)
        if isinstance(dim, bool) or int(dim) != dim or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        metric = Metric(metric)
        if metric not in (Metric.DOT, Metric.COSINE):
            raise ValueError(f"a multivector index scores MaxSim with dot or cosine, not {metric.value!r}")
        self.dim = int(dim)
        self.metric = metric
        self.config = config
        self.encoder = FdeEncoder(self.dim, config.fde)
        self._device = resolve_device(config.kernel_device)
        self._dtype = STORAGE_DTYPES[config.storage_dtype]
        self._graph = HnswIndex(self.encoder.fde_dim, Metric.DOT, config.graph_config())
        self._lock = RWLock()
        self._tokens = np.empty((config.initial_tokens, self.dim), dtype=self._dtype)
        self._starts = np.zeros(1025, dtype=np.int64)  # slot s owns tokens starts[s]:starts[s+1]
        self._slot_ids = np.zeros(1024, dtype=np.uint64)
        self._slot_live = np.zeros(1024, dtype=bool)
        self._n_slots = 0
        self._slot_of: dict[int, int] = {}
        self._live_tokens = 0

    # -- input ------------------------------------------------------------------------------

    def _prepare(self, token_set: object, what: str) -> np.ndarray:
        arr = np.ascontiguousarray(token_set, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] != self.dim or arr.shape[0] < 1:
            raise ValueError(f"{what} must be a (n_tokens >= 1, {self.dim}) array, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{what} contains NaN or infinity; every component must be finite")
        if self.metric is Metric.COSINE:
            norms = np.linalg.norm(arr, axis=1, keepdims=True)
            if (norms == 0).any():
                raise ValueError(f"{what} has a zero token vector, which has no cosine direction")
            arr = arr / norms
        return arr

    def _prepare_queries(self, queries: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
        if isinstance(queries, np.ndarray) and queries.ndim == 2:
            queries = [queries]
        return [self._prepare(q, f"query {i}") for i, q in enumerate(queries)]

    # -- mutation ---------------------------------------------------------------------------

    def add(self, ids: np.ndarray, token_sets: Sequence[np.ndarray]) -> None:
        """Insert or replace points (later duplicates in one batch win); each token set is an
        (n_i >= 1, dim) array."""
        id_arr = as_ids(ids)
        sets = list(token_sets)
        if len(sets) != id_arr.size:
            raise ValueError(f"got {id_arr.size} ids but {len(sets)} token sets; give one set per id")
        if id_arr.size == 0:
            return
        prepared = [self._prepare(s, f"token set {i} (id {int(id_arr[i])})") for i, s in enumerate(sets)]
        _, first_rev = np.unique(id_arr[::-1], return_index=True)
        keep = np.sort(id_arr.size - 1 - first_rev)  # last occurrence of each id
        id_arr = id_arr[keep]
        prepared = [prepared[i] for i in keep.tolist()]
        flat = np.concatenate(prepared)
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in prepared])]).astype(np.int64)
        fdes = self.encoder.documents(flat, offsets)  # outside the lock: the costly part
        stored = flat.astype(self._dtype)
        with self._lock.write():
            for point_id in id_arr.tolist():
                self._kill(point_id)
            self._append(id_arr, stored, offsets)
            self._graph.add(id_arr, fdes)
            self._maybe_compact()

    def remove(self, ids: np.ndarray) -> None:
        """Delete points; unknown ids are ignored."""
        id_list = as_ids(ids).tolist()
        with self._lock.write():
            gone = [i for i in id_list if self._kill(i)]
            if gone:
                self._graph.remove(np.asarray(gone, dtype=np.uint64))
            self._maybe_compact()

    def _kill(self, point_id: int) -> bool:
        slot = self._slot_of.pop(point_id, None)
        if slot is None:
            return False
        self._slot_live[slot] = False
        self._live_tokens -= int(self._starts[slot + 1] - self._starts[slot])
        return True

    def _append(self, ids: np.ndarray, tokens: np.ndarray, offsets: np.ndarray) -> None:
        n, used = ids.size, int(self._starts[self._n_slots])
        self._reserve(self._n_slots + n, used + tokens.shape[0])
        s0 = self._n_slots
        self._tokens[used : used + tokens.shape[0]] = tokens
        self._starts[s0 + 1 : s0 + n + 1] = used + offsets[1:]
        self._slot_ids[s0 : s0 + n] = ids
        self._slot_live[s0 : s0 + n] = True
        self._slot_of.update(zip(ids.tolist(), range(s0, s0 + n)))
        self._n_slots += n
        self._live_tokens += tokens.shape[0]

    def _reserve(self, slots: int, tokens: int) -> None:
        if tokens > self._tokens.shape[0]:
            grown = np.empty((max(tokens, 2 * self._tokens.shape[0]), self.dim), dtype=self._dtype)
            used = int(self._starts[self._n_slots])
            grown[:used] = self._tokens[:used]
            self._tokens = grown
        if slots > self._slot_ids.size:
            cap = max(slots, 2 * self._slot_ids.size)
            self._starts = _grow(self._starts, cap + 1)
            self._slot_ids = _grow(self._slot_ids, cap)
            self._slot_live = _grow(self._slot_live, cap)

    def _maybe_compact(self) -> None:
        dead = int(self._starts[self._n_slots]) - self._live_tokens
        if dead >= _COMPACT_MIN_TOKENS and dead > _COMPACT_RATIO * self._live_tokens:
            self._compact()

    def _compact(self) -> None:
        """Rewrite the store with live slots only, in their current order."""
        n = self._n_slots
        live = np.flatnonzero(self._slot_live[:n])
        starts, ends = self._starts[live], self._starts[live + 1]
        lengths = ends - starts
        new_starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        gather = np.repeat(starts - new_starts[:-1], lengths) + np.arange(int(new_starts[-1]))
        cap = max(self.config.initial_tokens, 2 * int(new_starts[-1]))
        tokens = np.empty((cap, self.dim), dtype=self._dtype)
        tokens[: gather.size] = self._tokens[gather]
        slot_cap = max(1024, 2 * live.size)
        self._tokens = tokens
        self._slot_ids = _grow(self._slot_ids[live], slot_cap)
        self._slot_live = _grow(np.ones(live.size, dtype=bool), slot_cap)
        self._starts = _grow(new_starts, slot_cap + 1)
        self._n_slots = live.size
        self._slot_of = dict(zip(self._slot_ids[: live.size].tolist(), range(live.size)))

    # -- queries ----------------------------------------------------------------------------

    def search(
        self,
        queries: Sequence[np.ndarray],
        k: int,
        *,
        allowed: np.ndarray | None = None,
        exact: bool = False,
        candidates: int | None = None,
    ) -> Neighbors:
        """Best-first top-min(k, points) by MaxSim for each query token set (n_i, dim).

        `allowed` limits results to those ids (always exact: ids outside never appear);
        `exact=True` scores every (allowed) point; `candidates` overrides config.candidates.
        """
        qs = self._prepare_queries(queries)
        k = check_k(k)
        n_cand = self.config.candidates if candidates is None else check_k(candidates)
        n_cand = max(n_cand, k)
        allowed_ids = None if allowed is None else as_ids(allowed)
        fdes: np.ndarray | None = None
        if not exact and len(self._slot_of) > self.config.exhaustive_max:  # likely the graph path
            fdes = np.stack([self.encoder.query(q) for q in qs])
        with self._lock.read():
            if allowed_ids is None:
                exhaustive = exact or len(self._slot_of) <= self.config.exhaustive_max
                slots = None
            else:
                slots = self._slots_of(allowed_ids)
                exhaustive = exact or slots.size <= max(n_cand, self.config.exhaustive_max)
            if not self._slot_of or (slots is not None and slots.size == 0):
                return Neighbors.empty(len(qs))
            if exhaustive:
                rows = [self._exhaustive(q, k, slots) for q in qs]
            else:
                if fdes is None:
                    fdes = np.stack([self.encoder.query(q) for q in qs])
                found = self._graph.search(fdes, n_cand, allowed=allowed_ids)
                rows = [self._rerank_slots(q, self._slots_of(found.row(i)[0]), k) for i, q in enumerate(qs)]
        return _pack(rows, k)

    def fde_candidates(self, queries: Sequence[np.ndarray], n: int, *, allowed: np.ndarray | None = None) -> Neighbors:
        """The top `n` points by FDE inner product from the graph (what `search` reranks);
        scores are FDE similarities, not MaxSim. For diagnostics and benchmarks."""
        qs = self._prepare_queries(queries)
        n = check_k(n)
        fdes = np.stack([self.encoder.query(q) for q in qs])
        with self._lock.read():
            return self._graph.search(fdes, n, allowed=None if allowed is None else as_ids(allowed))

    def rerank(self, query: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact MaxSim of `query` (n_q, dim) against the given candidate ids, best first:
        (ids uint64 (k',), scores float32 (k',)). Unknown ids are dropped (a Query rerank stage
        passes candidates from other fields)."""
        q = self._prepare(query, "query")
        k = check_k(k)
        id_arr = as_ids(ids)
        with self._lock.read():
            return self._rerank_slots(q, self._slots_of(np.unique(id_arr)), k)

    def _slots_of(self, ids: np.ndarray) -> np.ndarray:
        get = self._slot_of.get
        slots = [s for s in map(get, ids.tolist()) if s is not None]
        return np.asarray(slots, dtype=np.int64)

    def _rerank_slots(self, q: np.ndarray, slots: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if slots.size == 0:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.float32)
        n = self._n_slots
        scores = maxsim_scores(q, self._tokens[: self._starts[n]], self._starts[: n + 1],
                               slots, self._device)
        pos, top = select_topk(scores, k, largest=True)
        return self._slot_ids[slots[pos[0]]], top[0]

    def _exhaustive(self, q: np.ndarray, k: int, slots: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if slots is not None:
            return self._rerank_slots(q, slots, k)
        n = self._n_slots
        scores = maxsim_scores(q, self._tokens[: self._starts[n]], self._starts[: n + 1],
                               None, self._device)[0]
        live = self._slot_live[:n]
        if not live.all():
            scores = np.where(live, scores, -np.inf).astype(np.float32)
            k = min(k, len(self._slot_of))
        pos, top = select_topk(scores[None], k, largest=True)
        return self._slot_ids[pos[0]], top[0]

    # -- access -----------------------------------------------------------------------------

    def get_tokens(self, ids: np.ndarray) -> list[np.ndarray]:
        """Stored token sets (n_i, dim) float32 in the order of `ids` (normalized for cosine,
        rounded to the storage dtype); KeyError for an unknown id."""
        id_arr = as_ids(ids)
        with self._lock.read():
            out = []
            for point_id in id_arr.tolist():
                slot = self._slot_of.get(point_id)
                if slot is None:
                    raise KeyError(f"id {point_id} is not in the index")
                out.append(self._tokens[self._starts[slot] : self._starts[slot + 1]].astype(np.float32))
            return out

    def live_ids(self) -> np.ndarray:
        """Every id in the index, uint64, in no particular order."""
        with self._lock.read():
            return np.fromiter(self._slot_of, dtype=np.uint64, count=len(self._slot_of))

    @property
    def token_count(self) -> int:
        """Token vectors of live points."""
        return self._live_tokens

    @property
    def token_ram_bytes(self) -> int:
        """Bytes allocated for token vectors (capacity, including tombstoned and free rows)."""
        return int(self._tokens.nbytes)

    @property
    def ram_bytes(self) -> int:
        """Estimate: the token store, slot tables and id map, plus the FDE graph."""
        slots = self._starts.nbytes + self._slot_ids.nbytes + self._slot_live.nbytes
        return int(self.token_ram_bytes + slots + len(self._slot_of) * _DICT_ENTRY_BYTES
                   + self._graph.ram_bytes)

    @property
    def graph(self) -> HnswIndex:
        """The FDE graph (read-only use: benchmarks and diagnostics)."""
        return self._graph

    # -- persistence ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the whole index (ids, tokens, FDE graph) to exactly the file `path`, fsynced."""
        path = Path(path)
        with self._lock.read():
            n = self._n_slots
            live = np.flatnonzero(self._slot_live[:n])
            ids = self._slot_ids[live]
            lengths = (self._starts[live + 1] - self._starts[live]).astype(np.int64)
            gather = np.repeat(self._starts[live], lengths) + (
                np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths))
            tokens = np.ascontiguousarray(self._tokens[gather])
            with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
                graph_file = Path(tmp) / "fde.hnsw"
                self._graph.save(graph_file)
                graph_bytes = graph_file.read_bytes()
        header = {
            "dim": self.dim, "metric": self.metric.value, "storage_dtype": self.config.storage_dtype,
            "fde": dataclasses.asdict(self.config.fde), "count": int(ids.size),
            "tokens": int(tokens.shape[0]), "graph_bytes": len(graph_bytes),
        }
        head = json.dumps(header, sort_keys=True).encode()
        crc = 0
        with open(path, "wb") as f:
            for part in (_PREFIX.pack(_MAGIC, _VERSION, len(head)), head, ids.astype("<u8").tobytes(),
                         lengths.astype("<i8").tobytes(), tokens.tobytes(), graph_bytes):
                f.write(part)
                crc = zlib.crc32(part, crc)
            f.write(_CRC.pack(crc))
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def load(cls, path: Path, *, dim: int, metric: Metric,
             config: MultiVectorIndexConfig | None = None) -> MultiVectorIndex:
        """Read a file written by `save`; IndexLoadError when it is unusable or was written with
        another dim, metric, storage dtype or FDE config (the FDEs would not match: rebuild).
        Search-time settings (candidates, ef, threads, device) come from `config`."""
        config = _check_config(config)
        path = Path(path)
        index = cls(dim, metric, config)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IndexLoadError(path, f"cannot read the file ({exc})") from exc
        if len(data) < _PREFIX.size + _CRC.size:
            raise IndexLoadError(path, f"file is {len(data)} bytes, shorter than the header")
        magic, version, head_len = _PREFIX.unpack_from(data)
        if magic != _MAGIC or version != _VERSION:
            raise IndexLoadError(path, f"not a multivector index file (magic {magic!r}, version {version})")
        (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
        if zlib.crc32(memoryview(data)[: len(data) - _CRC.size]) != crc:
            raise IndexLoadError(path, "checksum mismatch (truncated or corrupt)")
        try:
            header = json.loads(data[_PREFIX.size : _PREFIX.size + head_len])
            expected = {"dim": index.dim, "metric": index.metric.value,
                        "storage_dtype": config.storage_dtype, "fde": dataclasses.asdict(config.fde)}
            for key, want in expected.items():
                if header[key] != want:
                    raise IndexLoadError(path, f"it was written with {key}={header[key]!r}, expected {want!r}")
            count, n_tok, graph_len = int(header["count"]), int(header["tokens"]), int(header["graph_bytes"])
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexLoadError(path, f"unreadable header ({exc})") from exc
        pos = _PREFIX.size + head_len
        sizes = (count * 8, count * 8, n_tok * dim * index._dtype.itemsize, graph_len)
        if pos + sum(sizes) + _CRC.size != len(data):
            raise IndexLoadError(path, "section sizes do not add up to the file size")
        parts = []
        for size in sizes:
            parts.append(data[pos : pos + size])
            pos += size
        ids = np.frombuffer(parts[0], dtype="<u8").astype(np.uint64)
        lengths = np.frombuffer(parts[1], dtype="<i8").astype(np.int64)
        if (lengths < 1).any() or int(lengths.sum()) != n_tok or np.unique(ids).size != ids.size:
            raise IndexLoadError(path, "inconsistent ids or token counts")
        tokens = np.frombuffer(parts[2], dtype=index._dtype.newbyteorder("<")).reshape(n_tok, dim)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            graph_file = Path(tmp) / "fde.hnsw"
            graph_file.write_bytes(parts[3])
            graph = HnswIndex.load(graph_file, dim=index.encoder.fde_dim, metric=Metric.DOT,
                                   config=config.graph_config())
        if len(graph) != count or not np.isin(ids, graph.live_ids()).all():
            raise IndexLoadError(path, "the FDE graph does not hold the stored points")
        index._graph = graph
        index._reserve(count, n_tok)
        index._append(ids, tokens.astype(index._dtype), np.concatenate([[0], np.cumsum(lengths)]))
        return index


def _grow(arr: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((size, *arr.shape[1:]), dtype=arr.dtype)
    out[: min(size, arr.shape[0])] = arr[:size]
    return out


def _pack(rows: list[tuple[np.ndarray, np.ndarray]], k: int) -> Neighbors:
    width = max((r[0].size for r in rows), default=0)
    ids = np.full((len(rows), width), MISSING_ID, dtype=np.uint64)
    scores = np.full((len(rows), width), np.nan, dtype=np.float32)
    counts = np.zeros(len(rows), dtype=np.int64)
    for i, (row_ids, row_scores) in enumerate(rows):
        ids[i, : row_ids.size] = row_ids
        scores[i, : row_ids.size] = row_scores
        counts[i] = row_ids.size
    return Neighbors(ids=ids, scores=scores, counts=counts)


def _check_config(config: MultiVectorIndexConfig | None) -> MultiVectorIndexConfig:
    if config is None:
        return MultiVectorIndexConfig()
    if not isinstance(config, MultiVectorIndexConfig):
        raise TypeError(
            f"MultiVectorIndex takes a MultiVectorIndexConfig or None, got {type(config).__name__}"
        )
    return config
