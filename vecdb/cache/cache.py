"""SemanticCache: category-aware semantic caching of LLM answers.

Design, in the order a lookup meets it:

- Category: the caller's, if it names a configured category; an unknown name falls back to
  "default" (not an error); an empty one is classified (nearest centroid over the encoded
  example prompts of each policy), else "default". `CacheLookup.category` says where it went.
- Scope: entries live per (category, model) — `model` is the LLM that produced the answer — each
  scope with its own in-memory HNSW graph holding integer labels only, so a hit never crosses
  models by construction.
- What a lookup decides with is in memory, per entry: id, graph label, scope, created time, TTL,
  byte size and normalized-prompt hash, plus the LRU order per category. The answer store (LMDB)
  is read only on a hit; a miss touches no LMDB data at all.
- Exact matches first: a prompt whose normalized text (strip, collapsed whitespace, casefold)
  was stored in the same scope hits with similarity 1.0 without encoding. `exact_match_only`
  categories stop there.
- Otherwise the prompt vector (the caller's, or the encoder's) is searched in the scope's graph;
  the best live, unexpired entry hits if its cosine similarity >= the effective threshold.
- TTL uses the injected clock. An entry expires at created + ttl * (the TTL factor of its
  category and model now). Expired entries are removed lazily when a lookup meets them and by
  `sweep()`, which reads only the LMDB expiry index; removal takes the entry out of LMDB, the
  graph and every in-memory map together.
- Quotas (max_entries, max_bytes) are per category, enforced on store by evicting that
  category's least recently used entries (LRU by last hit or store), in the same LMDB
  transaction as the store. Other categories are never touched.
- Storing a prompt whose normalized text is already cached in the same scope replaces that
  entry (new id, new TTL).
- Load adaptation: `report_load(model, load)` moves a level per (model, category) under the
  category's LoadAdaptation bounds (see policy.py); levels are in memory (a restart starts at 0).
- Durability: every store / eviction / expiry / invalidation is one synced LMDB transaction,
  committed before memory changes. Reopening the folder rebuilds graphs and maps from LMDB
  (vectors are stored as float32) with the same expiry times; LRU order restarts as store
  order. An encoder_id (or dim) other than the stored one removes every entry that has a vector.
- Concurrency: lookups share a read lock and run concurrently; stores, removals, sweeps and
  policy changes take it exclusively. Encoding happens outside the lock.
- Counters (hits, misses, ...) and latency reservoirs are per process; they are not persisted.

Decisions the contract left open: `get_policy` of an unknown category returns the default
policy (named "default", which is what such traffic uses); a disabled category misses every
lookup and refuses stores with FailedPrecondition; `report_false_hit` counts the report and
removes the entry so it cannot mislead again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

import numpy as np

from vecdb.cache.classifier import NearestCentroid
from vecdb.cache.graph import Scope, ScopedGraphs
from vecdb.cache.metrics import CacheMetrics
from vecdb.cache.policy import (
    DEFAULT_CATEGORY,
    MAX_CATEGORY_CHARS,
    CachePolicy,
    effective_threshold,
    max_level,
    policy_from_json,
    policy_to_json,
    ttl_factor,
)
from vecdb.cache.store import CacheStore, EntryRecord
from vecdb.cache.types import (
    CacheEntryRef,
    CacheItem,
    CacheLookup,
    CacheOptions,
    CategoryStats,
    ModelLoad,
    normalize_prompt,
)
from vecdb.cache.validation import (
    check_entry_id,
    check_name,
    check_prompt,
    check_vector,
    filter_matches,
)
from vecdb.engine.errors import FailedPrecondition, Internal, InvalidArgument, NotFound
from vecdb.engine.filters import Filter
from vecdb.engine.payload import encode_payload
from vecdb.index import RWLock

__all__ = [
    "CacheEntryRef",
    "CacheItem",
    "CacheLookup",
    "CacheOptions",
    "CategoryStats",
    "ModelLoad",
    "SemanticCache",
    "normalize_prompt",
]

_log = logging.getLogger(__name__)
_MAX_MODEL_CHARS = 256
_NAN = float("nan")
_DEFAULT_OPTIONS = CacheOptions()


def _prompt_hash(normalized: str) -> bytes:
    return hashlib.blake2b(normalized.encode(), digest_size=16).digest()


# ---- in-memory state ----------------------------------------------------------------------------


class _Entry:
    __slots__ = (
        "category",
        "created_at",
        "entry_id",
        "has_vector",
        "label",
        "model",
        "nbytes",
        "prompt_hash",
        "ttl_seconds",
    )

    def __init__(self, record: EntryRecord, label: int) -> None:
        self.entry_id = record.entry_id
        self.label = label
        self.category = record.category
        self.model = record.model
        self.created_at = record.created_at
        self.ttl_seconds = record.ttl_seconds
        self.nbytes = record.nbytes
        self.prompt_hash = record.prompt_hash
        self.has_vector = record.vector is not None

    @property
    def scope(self) -> Scope:
        return (self.category, self.model)

    def expired(self, now: float, factor: float) -> bool:
        return self.ttl_seconds > 0 and now >= self.created_at + self.ttl_seconds * factor

    def record(self) -> EntryRecord:
        """Enough of the LMDB record to delete it (keys and expiry key)."""
        return EntryRecord(self.entry_id, self.category, self.model, self.created_at,
                           self.ttl_seconds, self.nbytes, self.prompt_hash, None)


class _Counters:
    __slots__ = (
        "evictions",
        "expiries",
        "false_hits",
        "hits",
        "invalidations",
        "latencies",
        "misses",
        "near_misses",
    )

    def __init__(self, reservoir: int) -> None:
        self.hits = self.misses = self.near_misses = self.false_hits = 0
        self.evictions = self.expiries = self.invalidations = 0
        self.latencies: deque[float] = deque(maxlen=reservoir)


# ---- the cache ----------------------------------------------------------------------------------


class SemanticCache:
    """A category-aware semantic cache in one folder (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        dim: int,
        encoder: Callable[[list[str]], np.ndarray] | None = None,
        encoder_id: str = "",
        options: CacheOptions = _DEFAULT_OPTIONS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise InvalidArgument(f"dim = {dim!r}; give the encoder's vector dimension (>= 1)")
        if not isinstance(encoder_id, str):
            raise InvalidArgument(f"encoder_id = {encoder_id!r}; give a string")
        if options.search_k < 1:
            raise InvalidArgument(f"options.search_k = {options.search_k}; give an integer >= 1")
        default = options.default_policy.renamed(DEFAULT_CATEGORY)
        default.validate()
        self.path = Path(path)
        self.dim = dim
        self.encoder_id = encoder_id
        self._encoder = encoder
        self._options = options
        self._clock = clock
        self.metrics = CacheMetrics()
        self._store = CacheStore(self.path, map_size=options.map_size_bytes)
        self._lock = RWLock()
        self._lru_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._closed = False
        self._entries: dict[str, _Entry] = {}
        self._labels: dict[int, str] = {}
        self._next_label = 0
        self._graphs = ScopedGraphs(dim, options.hnsw)
        self._by_hash: dict[Scope, dict[bytes, str]] = {}
        self._lru: dict[str, OrderedDict[str, None]] = {}
        self._cat_bytes: dict[str, int] = {}
        self._counters: dict[str, _Counters] = {}
        self._levels: dict[tuple[str, str], int] = {}  # (model, category) -> level > 0
        self._loads: dict[str, float] = {}
        # Copy-on-write: replaced whole under the write lock, read without a lock.
        self._policies: dict[str, CachePolicy] = self._load_policies(default)
        self._example_vectors: dict[str, np.ndarray] = {}
        self._classifier = NearestCentroid({})
        self._open()
        self._rebuild_classifier()

    @property
    def store_backend(self) -> CacheStore:
        """The LMDB store (tests read `answer_reads` from it)."""
        return self._store

    # -- opening ------------------------------------------------------------------------------

    def _load_policies(self, default: CachePolicy) -> dict[str, CachePolicy]:
        policies = {DEFAULT_CATEGORY: default}
        for name, data in self._store.load_policies().items():
            try:
                policy = policy_from_json(data)
                policy.validate()
            except (TypeError, ValueError, InvalidArgument) as exc:
                _log.error("cache policy %r in %s is unusable (%s); using the default policy", name, self.path, exc)
                continue
            policies[name] = policy
        return policies

    def _open(self) -> None:
        stored_id = self._store.get_meta("encoder_id")
        stored_dim = self._store.get_meta("dim")
        records = list(self._store.iter_entries())
        changed = stored_id is not None and (stored_id != self.encoder_id or stored_dim != str(self.dim))
        if changed:
            stale = [r for r in records if r.vector is not None]
            if stale:
                self._store.write([], stale)
                for r in stale:
                    self._count(r.category, "invalidations")
                    self.metrics.invalidations.labels(r.category).inc()
                _log.warning(
                    "cache %s: encoder changed (%r dim %s -> %r dim %d); removed %d entries with vectors",
                    self.path, stored_id, stored_dim, self.encoder_id, self.dim, len(stale))
            records = [r for r in records if r.vector is None]
        self._store.set_meta({"encoder_id": self.encoder_id, "dim": str(self.dim)})
        records.sort(key=lambda r: r.created_at)
        self._index(records)

    def _rebuild_classifier(self) -> None:
        with_examples = {c: p for c, p in self._policies.items() if p.examples}
        if with_examples and self._encoder is None:
            _log.warning("cache %s: policies have example prompts but no encoder; classification is off", self.path)
            return
        for category, policy in with_examples.items():
            if category not in self._example_vectors:
                self._example_vectors[category] = self._encode(list(policy.examples))
        self._classifier = NearestCentroid.from_examples(
            {c: self._example_vectors[c] for c in with_examples},
            min_similarity=self._options.classifier_min_similarity,
        )

    # -- in-memory maps (caller holds the write lock, or is __init__) -------------------------

    def _index(self, records: Sequence[EntryRecord]) -> None:
        by_scope: dict[Scope, tuple[list[int], list[np.ndarray]]] = {}
        for r in records:
            label = self._next_label
            self._next_label += 1
            entry = _Entry(r, label)
            self._entries[r.entry_id] = entry
            self._labels[label] = r.entry_id
            self._by_hash.setdefault(entry.scope, {})[r.prompt_hash] = r.entry_id
            self._lru.setdefault(r.category, OrderedDict())[r.entry_id] = None
            self._cat_bytes[r.category] = self._cat_bytes.get(r.category, 0) + r.nbytes
            if r.vector is not None:
                labels, vecs = by_scope.setdefault(entry.scope, ([], []))
                labels.append(label)
                vecs.append(r.vector)
        for scope, (labels, vecs) in by_scope.items():
            self._graphs.add(scope, np.asarray(labels, dtype=np.uint64), np.stack(vecs))
        self._update_gauges({r.category for r in records})

    def _unindex(self, entries: Sequence[_Entry]) -> None:
        by_scope: dict[Scope, list[int]] = {}
        for e in entries:
            if self._entries.pop(e.entry_id, None) is None:
                continue
            self._labels.pop(e.label, None)
            hashes = self._by_hash.get(e.scope)
            if hashes is not None and hashes.get(e.prompt_hash) == e.entry_id:
                del hashes[e.prompt_hash]
                if not hashes:
                    del self._by_hash[e.scope]
            with self._lru_lock:
                self._lru[e.category].pop(e.entry_id, None)
            self._cat_bytes[e.category] -= e.nbytes
            if e.has_vector:
                by_scope.setdefault(e.scope, []).append(e.label)
        for scope, labels in by_scope.items():
            self._graphs.remove(scope, labels)
        self._update_gauges({e.category for e in entries})

    def _remove(self, entries: Sequence[_Entry], reason: str) -> int:
        """Delete entries from LMDB (one synced transaction), then from memory; count them."""
        entries = [e for e in {e.entry_id: e for e in entries}.values() if e.entry_id in self._entries]
        if not entries:
            return 0
        self._store.write([], [e.record() for e in entries])
        self._unindex(entries)
        counter = getattr(self.metrics, reason)
        for e in entries:
            self._count(e.category, reason)
            counter.labels(e.category).inc()
        return len(entries)

    def _update_gauges(self, categories: set[str]) -> None:
        for c in categories:
            self.metrics.entries.labels(c).set(len(self._lru.get(c, ())))
            self.metrics.bytes.labels(c).set(self._cat_bytes.get(c, 0))

    def _count(self, category: str, name: str, n: int = 1) -> None:
        with self._stats_lock:
            counters = self._counters.get(category)
            if counters is None:
                counters = self._counters[category] = _Counters(self._options.latency_reservoir)
            setattr(counters, name, getattr(counters, name) + n)

    # -- input checks -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise FailedPrecondition(f"the cache at {self.path} is closed")


    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._encoder is None:
            raise FailedPrecondition("this cache has no encoder; pass vector= (or configure an encoder)")
        out = np.asarray(self._encoder(texts), dtype=np.float32)
        if out.shape != (len(texts), self.dim):
            raise Internal(f"the encoder returned shape {out.shape} for {len(texts)} texts; expected "
                           f"({len(texts)}, {self.dim})")
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    def _resolve(self, category: str, policies: dict[str, CachePolicy], classifier: NearestCentroid,
                 vector: Callable[[], np.ndarray | None]) -> str:
        if category:
            return category if category in policies else DEFAULT_CATEGORY
        if not classifier:
            return DEFAULT_CATEGORY
        vec = vector()
        if vec is None:
            return DEFAULT_CATEGORY
        found, _ = classifier.classify(vec)
        return found if found is not None and found in policies else DEFAULT_CATEGORY

    def _level(self, model: str, category: str) -> int:
        return self._levels.get((model, category), 0)

    # -- lookup -------------------------------------------------------------------------------

    def lookup(
        self,
        prompt: str | None = None,
        *,
        vector: np.ndarray | None = None,
        category: str = "",
        model: str = "",
    ) -> CacheLookup:
        """Find a cached answer for a prompt (text, vector or both) in (category, model)."""
        start = time.perf_counter()
        self._check_open()
        normalized = None if prompt is None else check_prompt(prompt, "prompt", self._options.max_prompt_bytes)
        vec = None if vector is None else check_vector(vector, self.dim, "vector")
        if prompt is None and vector is None:
            raise InvalidArgument("lookup needs prompt or vector; got neither")
        check_name(category, "category", MAX_CATEGORY_CHARS)
        check_name(model, "model", _MAX_MODEL_CHARS)
        policies, classifier = self._policies, self._classifier
        holder: list[np.ndarray | None] = [vec]

        def get_vector() -> np.ndarray | None:
            if holder[0] is None and prompt is not None and self._encoder is not None:
                holder[0] = self._encode([prompt])[0]
            return holder[0]

        cat = self._resolve(category, policies, classifier, get_vector)
        policy = policies[cat]
        level = self._level(model, cat)
        threshold = effective_threshold(policy, level)
        factor = ttl_factor(policy, level)
        result = CacheLookup(False, cat, _NAN, threshold=threshold)
        if policy.enabled:
            result = self._find(prompt, normalized, get_vector, cat, model, policy, threshold, factor)
        self._record(result, cat, time.perf_counter() - start)
        return result

    def _find(self, prompt: str | None, normalized: str | None, get_vector: Callable[[], np.ndarray | None],
              cat: str, model: str, policy: CachePolicy, threshold: float, factor: float) -> CacheLookup:
        scope = (cat, model)
        miss = CacheLookup(False, cat, _NAN, threshold=threshold)
        for _attempt in range(3):
            expired: list[_Entry] = []
            if normalized is not None:
                with self._lock.read():
                    self._check_open()
                    entry_id = self._by_hash.get(scope, {}).get(_prompt_hash(normalized))
                    entry = self._entries.get(entry_id) if entry_id else None
                    if entry is not None:
                        if not entry.expired(self._clock(), factor):
                            found = self._hit(entry, 1.0, threshold)
                            if found is not None:
                                return found
                        else:
                            expired.append(entry)
            if policy.exact_match_only:
                if expired:
                    self._expire(expired, factor)
                return miss
            vec = get_vector()
            if vec is None:
                raise InvalidArgument(
                    f"category {cat!r} matches by similarity and this cache has no encoder: pass vector=")
            with self._lock.read():
                self._check_open()
                labels, sims = self._graphs.search(scope, vec, self._options.search_k)
                now = self._clock()
                for label, sim in zip(labels, sims):
                    entry = self._entries.get(self._labels.get(label, ""))
                    if entry is None:
                        continue
                    if entry.expired(now, factor):
                        expired.append(entry)
                        continue
                    if sim >= threshold:
                        found = self._hit(entry, sim, threshold)
                        if found is not None:
                            return found
                    near = sim >= threshold - policy.near_miss_margin
                    miss = CacheLookup(False, cat, float(sim), entry_id=entry.entry_id, threshold=threshold,
                                       near_miss=near)
                    break
                else:
                    miss = CacheLookup(False, cat, _NAN, threshold=threshold)
                    if not expired:
                        return miss
            if not expired:
                return miss
            self._expire(expired, factor)
            if miss.entry_id:
                return miss
        return miss

    def _hit(self, entry: _Entry, sim: float, threshold: float) -> CacheLookup | None:
        """Read the answer of a hit (caller holds the read lock) and mark it recently used."""
        stored = self._store.read_answer(entry.entry_id)
        if stored is None:
            return None
        with self._lru_lock:
            order = self._lru.get(entry.category)
            if order is not None and entry.entry_id in order:
                order.move_to_end(entry.entry_id)
        return CacheLookup(True, entry.category, float(sim), stored.answer, entry.entry_id,
                           max(0.0, self._clock() - entry.created_at), stored.metadata, threshold)

    def _expire(self, entries: list[_Entry], factor: float) -> None:
        with self._lock.write():
            self._check_open()
            now = self._clock()
            self._remove([e for e in entries if e.expired(now, factor)], "expiries")

    def _record(self, result: CacheLookup, category: str, seconds: float) -> None:
        with self._stats_lock:
            counters = self._counters.get(category)
            if counters is None:
                counters = self._counters[category] = _Counters(self._options.latency_reservoir)
            if result.hit:
                counters.hits += 1
            else:
                counters.misses += 1
                if result.near_miss:
                    counters.near_misses += 1
            counters.latencies.append(seconds)
        m = self.metrics
        (m.hits if result.hit else m.misses).labels(category).inc()
        if result.near_miss:
            m.near_misses.labels(category).inc()
        m.lookup_seconds.labels(category).observe(seconds)

    # -- store --------------------------------------------------------------------------------

    def store(
        self,
        prompt: str,
        answer: str,
        *,
        category: str = "",
        model: str = "",
        metadata: dict | None = None,
        vector: np.ndarray | None = None,
    ) -> CacheEntryRef:
        """Cache an answer; one synced LMDB transaction (with any evictions it causes)."""
        return self._store_items([CacheItem(prompt, answer, category, model, metadata, vector)], "")[0]

    def store_many(self, items: Sequence[CacheItem]) -> list[CacheEntryRef]:
        """Store a batch atomically (all or nothing): one encoder call for the items without a
        vector, one LMDB transaction, one graph insert per scope. Bulk loading uses this.
        Refs follow `items`; a later item with the same normalized prompt and scope wins (both
        get its ref), and items a category's quota cannot hold even after evicting all older
        entries are dropped oldest first (counted as evictions; their refs name no entry)."""
        return self._store_items(list(items), "items")

    def _store_items(self, items: list[CacheItem], where: str) -> list[CacheEntryRef]:
        self._check_open()
        o = self._options
        prepared = []
        for i, it in enumerate(items):
            at = f"{where}[{i}]." if where else ""
            normalized = check_prompt(it.prompt, f"{at}prompt", self._options.max_prompt_bytes)
            if not isinstance(it.answer, str):
                raise InvalidArgument(f"{at}answer must be a string, got {type(it.answer).__name__}")
            answer_size = len(it.answer.encode("utf-8", errors="replace"))
            if answer_size > o.max_answer_bytes:
                raise InvalidArgument(f"{at}answer is {answer_size} bytes, over the limit of {o.max_answer_bytes}")
            if not it.answer:
                raise InvalidArgument(f"{at}answer is empty; store the model's answer text")
            meta = None if it.metadata is None else encode_payload(it.metadata, f"{at}metadata", o.max_metadata_bytes)
            vec = None if it.vector is None else check_vector(it.vector, self.dim, f"{at}vector")
            check_name(it.category, f"{at}category", MAX_CATEGORY_CHARS)
            check_name(it.model, f"{at}model", _MAX_MODEL_CHARS)
            prepared.append((it, normalized, meta, vec))
        missing = [i for i, p in enumerate(prepared) if p[3] is None]
        vectors: list[np.ndarray | None] = [p[3] for p in prepared]
        if missing and self._encoder is not None:
            encoded = self._encode([items[i].prompt for i in missing])
            for row, i in enumerate(missing):
                vectors[i] = encoded[row]
        policies, classifier = self._policies, self._classifier
        now = self._clock()
        adds: list[tuple[EntryRecord, str, str, bytes | None]] = []
        for i, (it, normalized, meta, _vec) in enumerate(prepared):
            at = f"{where}[{i}]." if where else ""
            vec = vectors[i]
            cat = self._resolve(it.category, policies, classifier, lambda v=vec: v)
            policy = policies[cat]
            if not policy.enabled:
                raise FailedPrecondition(f"{at}category {cat!r} is disabled; enable it with SetPolicy to store")
            if vec is None and not policy.exact_match_only:
                raise InvalidArgument(
                    f"{at}vector is missing and this cache has no encoder; category {cat!r} matches by "
                    "similarity, so pass vector=")
            nbytes = len(it.prompt.encode("utf-8", errors="replace")) + len(it.answer.encode("utf-8", errors="replace"))
            nbytes += len(meta) if meta is not None else 0
            if policy.max_bytes and nbytes > policy.max_bytes:
                raise InvalidArgument(
                    f"{at}entry is {nbytes} bytes (prompt + answer + metadata), over category {cat!r} "
                    f"max_bytes = {policy.max_bytes}")
            record = EntryRecord(uuid.uuid4().hex, cat, it.model, now, float(policy.ttl_seconds), nbytes,
                                 _prompt_hash(normalized), vec)
            adds.append((record, it.prompt, it.answer, meta))
        # Later duplicates of the same normalized prompt in the same scope win.
        winners: dict[tuple[str, str, bytes], int] = {}
        for i, (r, *_rest) in enumerate(adds):
            winners[(r.category, r.model, r.prompt_hash)] = i
        keep = sorted(winners.values())
        refs = [CacheEntryRef(adds[winners[(r.category, r.model, r.prompt_hash)]][0].entry_id, r.category)
                for r, *_rest in adds]
        adds = [adds[i] for i in keep]
        with self._lock.write():
            self._check_open()
            replaced = [self._entries[eid] for r, *_ in adds
                        if (eid := self._by_hash.get((r.category, r.model), {}).get(r.prompt_hash)) in self._entries]
            evicted, dropped = self._plan_evictions(adds, replaced, policies)
            if dropped:
                adds = [a for a in adds if a[0].entry_id not in dropped]
            self._store.write(adds, [e.record() for e in replaced + evicted])
            self._unindex(replaced + evicted)
            self._index([a[0] for a in adds])
            for e in evicted:
                self._count(e.category, "evictions")
                self.metrics.evictions.labels(e.category).inc()
            for r, *_ in adds:
                self.metrics.stores.labels(r.category).inc()
            for cat in dropped.values():
                self._count(cat, "evictions")
                self.metrics.evictions.labels(cat).inc()
        return refs

    def _plan_evictions(self, adds: list[tuple[EntryRecord, str, str, bytes | None]], replaced: list[_Entry],
                        policies: dict[str, CachePolicy]) -> tuple[list[_Entry], dict[str, str]]:
        """LRU victims per category so each category fits its quota after the store, and new
        entries of this batch that do not fit at all (id -> category)."""
        gone = {e.entry_id for e in replaced}
        evicted: list[_Entry] = []
        dropped: dict[str, str] = {}
        for cat in sorted({a[0].category for a in adds}):
            policy = policies[cat]
            if not policy.max_entries and not policy.max_bytes:
                continue
            new = [a[0] for a in adds if a[0].category == cat]
            old = [eid for eid in self._lru.get(cat, ()) if eid not in gone]
            count = len(old) + len(new)
            size = self._cat_bytes.get(cat, 0) - sum(e.nbytes for e in replaced if e.category == cat)
            size += sum(r.nbytes for r in new)

            for eid in old:
                if not _over(policy, count, size):
                    break
                entry = self._entries[eid]
                evicted.append(entry)
                count -= 1
                size -= entry.nbytes
            for r in new[:-1]:
                if not _over(policy, count, size):
                    break
                dropped[r.entry_id] = cat
                count -= 1
                size -= r.nbytes
        return evicted, dropped

    # -- removal ------------------------------------------------------------------------------

    def invalidate(
        self,
        *,
        entry_id: str | None = None,
        category: str | None = None,
        model: str | None = None,
        filter: Filter | None = None,
    ) -> int:
        """Remove entries by exactly one selector; returns how many were removed. The filter
        applies to entry metadata (same language as point payload filters; HasId matches
        entry ids). An unknown id or category removes nothing."""
        self._check_open()
        given = [name for name, v in (("entry_id", entry_id), ("category", category), ("model", model),
                                      ("filter", filter)) if v is not None]
        if len(given) != 1:
            raise InvalidArgument(f"invalidate takes exactly one of entry_id, category, model, filter; got {given or 'none'}")
        if entry_id is not None:
            entry_id = check_entry_id(entry_id)
        if category is not None:
            check_name(category, "category", MAX_CATEGORY_CHARS)
        if model is not None:
            check_name(model, "model", _MAX_MODEL_CHARS)
        if filter is not None and not isinstance(filter, Filter):
            raise InvalidArgument(f"filter must be a vecdb.engine.filters.Filter, got {type(filter).__name__}")
        with self._lock.write():
            self._check_open()
            if entry_id is not None:
                victims = [self._entries[entry_id]] if entry_id in self._entries else []
            elif category is not None:
                victims = [self._entries[eid] for eid in self._lru.get(category, ())]
            elif model is not None:
                victims = [e for e in self._entries.values() if e.model == model]
            else:
                assert filter is not None
                metadata = self._store.read_metadata(list(self._entries))
                victims = [self._entries[eid] for eid, meta in metadata.items()
                           if filter_matches(filter, eid, meta)]
            return self._remove(victims, "invalidations")

    def report_false_hit(self, entry_id: str) -> None:
        """Count a hit the caller found wrong, and remove that entry (NotFound if unknown)."""
        self._check_open()
        entry_id = check_entry_id(entry_id)
        with self._lock.write():
            self._check_open()
            entry = self._entries.get(entry_id)
            if entry is None:
                raise NotFound(f"cache entry {entry_id!r} does not exist (expired, evicted or never stored)")
            self._count(entry.category, "false_hits")
            self.metrics.false_hits.labels(entry.category).inc()
            self._store.write([], [entry.record()])
            self._unindex([entry])

    def sweep(self) -> int:
        """Remove every expired entry (reads the LMDB expiry index, never answers); returns the
        count. The server calls this periodically; lookups also expire what they meet."""
        self._check_open()
        with self._lock.write():
            self._check_open()
            now = self._clock()
            due = self._store.due(now)
            victims = []
            for eid in due:
                entry = self._entries.get(eid)
                if entry is not None:
                    factor = ttl_factor(self._policies.get(entry.category, self._policies[DEFAULT_CATEGORY]),
                                        self._level(entry.model, entry.category))
                    if entry.expired(now, factor):
                        victims.append(entry)
            return self._remove(victims, "expiries")

    # -- policies -----------------------------------------------------------------------------

    def categories(self) -> list[str]:
        return sorted(self._policies)

    def get_policy(self, category: str) -> CachePolicy:
        """The category's policy; an unknown category gets the default policy (named "default",
        which is what its traffic uses)."""
        check_name(category, "category", MAX_CATEGORY_CHARS)
        return self._policies.get(category) or self._policies[DEFAULT_CATEGORY]

    def set_policy(self, policy: CachePolicy) -> CachePolicy:
        """Create or replace a category's policy (validated, persisted). Example prompts rebuild
        the classifier; a lower quota evicts at once; a new TTL applies to later stores."""
        self._check_open()
        if not isinstance(policy, CachePolicy):
            raise InvalidArgument(f"policy must be a CachePolicy, got {type(policy).__name__}")
        policy.validate()
        example_vectors = None
        if policy.examples:
            if self._encoder is None:
                raise InvalidArgument(
                    f"policy[{policy.category!r}].examples needs an encoder to classify by; this cache has none")
            example_vectors = self._encode(list(policy.examples))
        with self._lock.write():
            self._check_open()
            self._store.put_policy(policy.category, policy_to_json(policy))
            policies = dict(self._policies)
            policies[policy.category] = policy
            self._policies = policies
            self._example_vectors.pop(policy.category, None)
            if example_vectors is not None:
                self._example_vectors[policy.category] = example_vectors
            self._rebuild_classifier()
            self._enforce_quota(policy)
            with self._load_lock:
                top = max_level([policy])
                for key, level in list(self._levels.items()):
                    if key[1] == policy.category and level > top:
                        self._levels[key] = top
        return policy

    def _enforce_quota(self, policy: CachePolicy) -> None:
        order = list(self._lru.get(policy.category, ()))
        count, size = len(order), self._cat_bytes.get(policy.category, 0)
        victims = []
        for eid in order:
            if not _over(policy, count, size):
                break
            entry = self._entries[eid]
            victims.append(entry)
            count -= 1
            size -= entry.nbytes
        self._remove(victims, "evictions")

    # -- load adaptation ----------------------------------------------------------------------

    def report_load(self, model: str, load: float) -> None:
        """A model's current load in [0, 1]: above a category's high watermark its level rises
        one step (bounded), below the low watermark it returns to 0, in between it holds."""
        self._check_open()
        check_name(model, "model", _MAX_MODEL_CHARS)
        if isinstance(load, bool) or not isinstance(load, (int, float)) or not 0.0 <= load <= 1.0:
            raise InvalidArgument(f"load = {load!r}; give the model's load as a number in [0, 1]")
        policies = self._policies
        with self._load_lock:
            self._loads[model] = float(load)
            for cat, policy in policies.items():
                a = policy.adaptation
                level = self._levels.get((model, cat), 0)
                if load > a.high_watermark:
                    level = min(level + 1, max_level([policy]))
                elif load < a.low_watermark:
                    level = 0
                if level:
                    self._levels[(model, cat)] = level
                else:
                    self._levels.pop((model, cat), None)
                self.metrics.threshold.labels(cat, model).set(effective_threshold(policy, level))
                self.metrics.ttl_factor.labels(cat, model).set(ttl_factor(policy, level))
            self.metrics.load.labels(model).set(float(load))
            self.metrics.adaptation_level.labels(model).set(
                max((lv for (m, _c), lv in self._levels.items() if m == model), default=0))

    def model_loads(self) -> list[ModelLoad]:
        """Every model that reported load, with its per-category levels."""
        with self._load_lock:
            return [ModelLoad(m, load, {c: lv for (mm, c), lv in self._levels.items() if mm == m})
                    for m, load in sorted(self._loads.items())]

    # -- stats --------------------------------------------------------------------------------

    def stats(self) -> list[CategoryStats]:
        """Per category, in name order (every configured category, plus any that hold entries)."""
        policies = self._policies
        with self._load_lock:
            levels = dict(self._levels)
        out = []
        with self._lock.read():
            self._check_open()
            names = sorted(set(policies) | set(self._lru))
            sizes = {c: (len(self._lru.get(c, ())), self._cat_bytes.get(c, 0)) for c in names}
        for cat in names:
            policy = policies.get(cat, policies[DEFAULT_CATEGORY])
            level = max((lv for (_m, c), lv in levels.items() if c == cat), default=0)
            with self._stats_lock:
                c = self._counters.get(cat) or _Counters(1)
                lat = np.asarray(c.latencies, dtype=np.float64)
                counts = (c.hits, c.misses, c.near_misses, c.false_hits, c.evictions, c.expiries, c.invalidations)
            p50, p99 = (np.percentile(lat, [50, 99]) * 1000.0).tolist() if lat.size else (_NAN, _NAN)
            out.append(CategoryStats(
                category=cat, entries=sizes[cat][0], bytes=sizes[cat][1],
                hits=counts[0], misses=counts[1], near_misses=counts[2], false_hits=counts[3],
                evictions=counts[4], expiries=counts[5],
                threshold=effective_threshold(policy, level),
                ttl_seconds=float(policy.ttl_seconds) * ttl_factor(policy, level),
                base_threshold=float(policy.threshold), base_ttl_seconds=float(policy.ttl_seconds),
                adaptation_level=level, lookup_p50_ms=float(p50), lookup_p99_ms=float(p99),
                invalidations=counts[6],
            ))
        return out

    def __len__(self) -> int:
        return len(self._entries)

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close LMDB; later calls raise FailedPrecondition. Idempotent."""
        with self._lock.write():
            if not self._closed:
                self._closed = True
                self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _over(policy: CachePolicy, count: int, size: int) -> bool:
    return bool((policy.max_entries and count > policy.max_entries) or (policy.max_bytes and size > policy.max_bytes))
