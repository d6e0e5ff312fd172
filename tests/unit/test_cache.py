"""SemanticCache (issue 7): thresholds, TTL, quotas, model scoping, restart, load adaptation,
classification, invalidation, bad input and metrics, on a small dim with hand-built vectors."""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import generate_latest

from vecdb.cache import CacheItem, CacheOptions, CachePolicy, LoadAdaptation, SemanticCache
from vecdb.engine.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from vecdb.engine.filters import Filter, HasId, Match, Range

DIM = 16


class Clock:
    def __init__(self, t: float = 1_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def unit(i: int, dim: int = DIM) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    v[i] = 1.0
    return v


def at_cosine(base: np.ndarray, other: np.ndarray, cos: float) -> np.ndarray:
    """A unit vector whose cosine with unit `base` is exactly `cos` (other is orthogonal to base)."""
    return (cos * base + math.sqrt(1.0 - cos * cos) * other).astype(np.float32)


def word_encoder(texts: list[str]) -> np.ndarray:
    """Deterministic bag-of-words hashing encoder (no model needed)."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            h = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little")
            out[row, h % DIM] += 1.0 if (h >> 8) & 1 else -1.0
        if not out[row].any():
            out[row, 0] = 1.0
    return out


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(tmp_path: Path, clock: Clock):
    c = SemanticCache(tmp_path / "cache", dim=DIM, clock=clock)
    yield c
    c.close()


# ---- threshold -----------------------------------------------------------------------------------


def test_just_above_threshold_hits_and_just_below_misses(cache: SemanticCache) -> None:
    cache.set_policy(CachePolicy("code", threshold=0.9))
    ref = cache.store("how do I sort a list", "use sorted()", category="code", vector=unit(0))
    above = cache.lookup(vector=at_cosine(unit(0), unit(1), 0.901), category="code")
    below = cache.lookup(vector=at_cosine(unit(0), unit(1), 0.899), category="code")
    assert above.hit and above.answer == "use sorted()" and above.entry_id == ref.entry_id
    assert above.similarity == pytest.approx(0.901, abs=1e-5) and above.threshold == 0.9
    assert not below.hit and below.answer is None
    assert below.similarity == pytest.approx(0.899, abs=1e-5) and below.entry_id == ref.entry_id
    assert below.near_miss  # within the default 0.05 margin
    far = cache.lookup(vector=at_cosine(unit(0), unit(1), 0.5), category="code")
    assert not far.hit and not far.near_miss
    stats = {s.category: s for s in cache.stats()}["code"]
    assert (stats.hits, stats.misses, stats.near_misses) == (1, 2, 1)


def test_lookup_on_empty_scope_misses_with_nan(cache: SemanticCache) -> None:
    result = cache.lookup(vector=unit(0))
    assert not result.hit and math.isnan(result.similarity) and result.entry_id == ""


# ---- TTL -----------------------------------------------------------------------------------------


def test_ttl_expiry_uses_the_injected_clock(cache: SemanticCache, clock: Clock) -> None:
    cache.set_policy(CachePolicy("news", ttl_seconds=60.0))
    cache.store("price of acme", "42", category="news", vector=unit(2))
    cache.store("forever", "yes", category="default", vector=unit(3))
    clock.t += 59.9
    assert cache.lookup(vector=unit(2), category="news").hit
    clock.t += 0.1  # created + ttl: expired
    result = cache.lookup(vector=unit(2), category="news")
    assert not result.hit and math.isnan(result.similarity)
    news = {s.category: s for s in cache.stats()}["news"]
    assert news.expiries == 1 and news.entries == 0 and news.bytes == 0
    assert len(cache) == 1  # the default entry (TTL 1 day) is untouched


def test_sweep_removes_expired_entries_from_store_and_graph(tmp_path: Path, clock: Clock) -> None:
    cache = SemanticCache(tmp_path / "c", dim=DIM, clock=clock)
    cache.set_policy(CachePolicy("short", ttl_seconds=10.0))
    for i in range(5):
        cache.store(f"q{i}", "a", category="short", vector=unit(i))
    cache.store("long", "a", vector=unit(9))
    clock.t += 5
    assert cache.sweep() == 0
    clock.t += 5
    assert cache.sweep() == 5
    assert len(cache) == 1
    assert {s.category: s.expiries for s in cache.stats()}["short"] == 5
    # Re-adding into the emptied scope works and hits.
    cache.store("q0", "again", category="short", vector=unit(0))
    assert cache.lookup(vector=unit(0), category="short").answer == "again"
    cache.close()
    reopened = SemanticCache(tmp_path / "c", dim=DIM, clock=clock)
    assert len(reopened) == 2  # swept entries are gone from LMDB too
    reopened.close()


# ---- quotas --------------------------------------------------------------------------------------


def test_one_category_filling_its_quota_never_evicts_another(cache: SemanticCache) -> None:
    cache.set_policy(CachePolicy("a", max_entries=3))
    cache.set_policy(CachePolicy("b", max_entries=3))
    b_refs = [cache.store(f"b{i}", "B", category="b", vector=unit(8 + i)) for i in range(3)]
    a_refs = [cache.store(f"a{i}", "A", category="a", vector=unit(i)) for i in range(3)]
    assert cache.lookup(vector=unit(0), category="a").hit  # a0 becomes most recently used
    for i in range(3, 6):
        a_refs.append(cache.store(f"a{i}", "A", category="a", vector=unit(i)))
    stats = {s.category: s for s in cache.stats()}
    assert stats["a"].entries == 3 and stats["a"].evictions == 3
    assert stats["b"].entries == 3 and stats["b"].evictions == 0
    for ref, i in zip(b_refs, range(3)):
        assert cache.lookup(vector=unit(8 + i), category="b").entry_id == ref.entry_id
    # LRU order before a3..a5 arrive: a1, a2, a0 (a0 was hit last), so those three go.
    results = [cache.lookup(vector=unit(i), category="a") for i in range(6)]
    assert {r.entry_id for r in results if r.hit} == {r.entry_id for r in a_refs[3:]}


def test_lru_keeps_the_recently_hit_entry(cache: SemanticCache) -> None:
    cache.set_policy(CachePolicy("a", max_entries=2))
    first = cache.store("first", "1", category="a", vector=unit(0))
    cache.store("second", "2", category="a", vector=unit(1))
    assert cache.lookup(vector=unit(0), category="a").hit  # first is now the most recent
    cache.store("third", "3", category="a", vector=unit(2))
    assert cache.lookup(vector=unit(0), category="a").entry_id == first.entry_id
    assert not cache.lookup(vector=unit(1), category="a").hit


def test_byte_quota_evicts_by_size(cache: SemanticCache) -> None:
    cache.set_policy(CachePolicy("small", max_bytes=100))
    for i in range(4):
        cache.store(f"p{i}", "x" * 38, category="small", vector=unit(i))  # 40 bytes each
    stats = {s.category: s for s in cache.stats()}["small"]
    assert stats.bytes == 80 and stats.entries == 2 and stats.evictions == 2
    with pytest.raises(InvalidArgument, match="max_bytes"):
        cache.store("big", "y" * 200, category="small", vector=unit(5))
    assert {s.category: s for s in cache.stats()}["small"].entries == 2


def test_lowering_a_quota_evicts_at_once(cache: SemanticCache) -> None:
    for i in range(5):
        cache.store(f"p{i}", "a", category="default", vector=unit(i))
    cache.set_policy(CachePolicy("default", max_entries=2))
    assert len(cache) == 2
    assert [cache.lookup(vector=unit(i)).hit for i in range(5)] == [False, False, False, True, True]


# ---- answer store isolation and model scoping ------------------------------------------------------


def test_a_miss_does_zero_answer_store_reads(cache: SemanticCache) -> None:
    cache.set_policy(CachePolicy("exact", exact_match_only=True))
    for i in range(8):
        cache.store(f"prompt {i}", "answer", vector=unit(i))
    cache.store("volatile", "v", category="exact", vector=unit(9))
    reads = cache.store_backend.answer_reads
    assert not cache.lookup(vector=at_cosine(unit(0), unit(12), 0.5)).hit  # near entries, miss
    assert not cache.lookup(vector=unit(0), model="other").hit  # empty scope
    assert not cache.lookup("something else", vector=unit(13)).hit
    assert not cache.lookup("VOLATILE?", category="exact").hit
    assert cache.store_backend.answer_reads == reads
    assert cache.lookup(vector=unit(3)).hit
    assert cache.store_backend.answer_reads == reads + 1


def test_hits_never_cross_models(cache: SemanticCache) -> None:
    a = cache.store("explain recursion", "from model A", model="model-a", vector=unit(0))
    b = cache.store("explain recursion", "from model B", model="model-b", vector=unit(0))
    assert cache.lookup(vector=unit(0), model="model-a").entry_id == a.entry_id
    assert cache.lookup(vector=unit(0), model="model-b").answer == "from model B"
    assert cache.lookup("explain recursion", model="model-b").entry_id == b.entry_id
    assert not cache.lookup(vector=unit(0), model="model-c").hit
    assert not cache.lookup(vector=unit(0)).hit  # model "" is its own scope


# ---- restart and encoder change --------------------------------------------------------------------


def test_restart_keeps_entries_and_expiry_times(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "cache"
    cache = SemanticCache(path, dim=DIM, clock=clock, encoder_id="enc@1")
    cache.set_policy(CachePolicy("code", threshold=0.8, ttl_seconds=100.0, max_entries=10))
    ref = cache.store("sort a list", "sorted(xs)", category="code", model="m", vector=unit(0),
                      metadata={"lang": "python"})
    cache.store("never expires", "ok", vector=unit(1))
    cache.set_policy(CachePolicy("default", ttl_seconds=0.0))
    cache.store("default ttl 0", "ok", vector=unit(2))
    cache.close()
    clock.t += 50
    reopened = SemanticCache(path, dim=DIM, clock=clock, encoder_id="enc@1")
    assert reopened.get_policy("code") == CachePolicy("code", threshold=0.8, ttl_seconds=100.0, max_entries=10)
    hit = reopened.lookup(vector=at_cosine(unit(0), unit(5), 0.85), category="code", model="m")
    assert hit.hit and hit.entry_id == ref.entry_id and hit.answer == "sorted(xs)"
    assert hit.metadata == {"lang": "python"} and hit.age_seconds == pytest.approx(50.0)
    clock.t += 50  # 100 s after the store: expired, though the process restarted in between
    assert not reopened.lookup(vector=unit(0), category="code", model="m").hit
    assert reopened.lookup(vector=unit(2)).hit
    clock.t += 1e7
    assert reopened.lookup(vector=unit(2)).hit  # stored while the default TTL was 0
    assert not reopened.lookup(vector=unit(1)).hit  # stored with the one-day default
    reopened.close()


def test_encoder_change_invalidates_stored_vectors(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "cache"
    cache = SemanticCache(path, dim=DIM, clock=clock, encoder_id="minilm@aaa")
    cache.store("q", "a", vector=unit(0))
    cache.close()
    same = SemanticCache(path, dim=DIM, clock=clock, encoder_id="minilm@aaa")
    assert len(same) == 1
    same.close()
    changed = SemanticCache(path, dim=DIM, clock=clock, encoder_id="minilm@bbb")
    assert len(changed) == 0 and not changed.lookup(vector=unit(0)).hit
    assert {s.category: s for s in changed.stats()}["default"].invalidations == 1
    changed.close()


# ---- load adaptation -------------------------------------------------------------------------------


def test_adaptive_threshold_stays_in_bounds_and_reverts(cache: SemanticCache) -> None:
    adapt = LoadAdaptation(high_watermark=0.8, low_watermark=0.5, threshold_step=0.02,
                           max_threshold_relax=0.05, ttl_factor_step=0.5, max_ttl_factor=2.0)
    cache.set_policy(CachePolicy("chat", threshold=0.9, ttl_seconds=100.0, adaptation=adapt))
    cache.store("hello", "hi", category="chat", model="llm", vector=unit(0))
    probe = at_cosine(unit(0), unit(1), 0.87)
    assert not cache.lookup(vector=probe, category="chat", model="llm").hit
    seen = []
    for _ in range(10):
        cache.report_load("llm", 0.95)
        chat = {s.category: s for s in cache.stats()}["chat"]
        seen.append((chat.adaptation_level, round(chat.threshold, 6), chat.ttl_seconds))
    assert seen[0] == (1, 0.88, 150.0) and seen[1] == (2, 0.86, 200.0)
    assert all(0.85 - 1e-9 <= thr <= 0.9 and 100.0 <= ttl <= 200.0 for _, thr, ttl in seen)
    assert seen[-1][1:] == (0.85, 200.0)
    relaxed = cache.lookup(vector=probe, category="chat", model="llm")
    assert relaxed.hit and relaxed.threshold == pytest.approx(0.85)
    # Another model is not relaxed.
    assert cache.lookup(vector=probe, category="chat", model="other").threshold == 0.9
    cache.report_load("llm", 0.7)  # between the watermarks: holds
    assert {s.category: s for s in cache.stats()}["chat"].adaptation_level == seen[-1][0]
    cache.report_load("llm", 0.3)
    chat = {s.category: s for s in cache.stats()}["chat"]
    assert (chat.adaptation_level, chat.threshold, chat.ttl_seconds) == (0, 0.9, 100.0)
    assert not cache.lookup(vector=probe, category="chat", model="llm").hit
    text = generate_latest(cache.metrics.registry).decode()
    assert 'vecdb_cache_effective_threshold{category="chat",model="llm"} 0.9' in text
    with pytest.raises(InvalidArgument, match="load"):
        cache.report_load("llm", 1.5)


def test_load_extends_ttl_within_bounds(cache: SemanticCache, clock: Clock) -> None:
    adapt = LoadAdaptation(ttl_factor_step=1.0, max_ttl_factor=2.0)
    cache.set_policy(CachePolicy("news", ttl_seconds=10.0, adaptation=adapt))
    cache.store("acme price", "42", category="news", model="m", vector=unit(0))
    for _ in range(5):
        cache.report_load("m", 0.99)
    clock.t += 15
    assert cache.lookup(vector=unit(0), category="news", model="m").hit  # 10 s * factor 2
    clock.t += 5
    assert not cache.lookup(vector=unit(0), category="news", model="m").hit


# ---- exact-match-only, classification, categories --------------------------------------------------


def test_exact_match_only_needs_no_vector(tmp_path: Path, clock: Clock) -> None:
    cache = SemanticCache(tmp_path / "c", dim=DIM, clock=clock)  # no encoder
    cache.set_policy(CachePolicy("stocks", exact_match_only=True))
    cache.store("  Price of ACME\tnow ", "42", category="stocks")
    assert cache.lookup("price of acme now", category="stocks").answer == "42"
    assert not cache.lookup("price of acme today", category="stocks").hit
    assert not cache.lookup(vector=unit(0), category="stocks").hit
    with pytest.raises(InvalidArgument, match="vector"):
        cache.store("q", "a", category="default")  # similarity category, no encoder, no vector
    cache.close()


def test_classifier_routes_unlabelled_prompts(tmp_path: Path, clock: Clock) -> None:
    cache = SemanticCache(tmp_path / "c", dim=DIM, encoder=word_encoder, encoder_id="words", clock=clock)
    cache.set_policy(CachePolicy("code", examples=("python list sort", "python dict sort keys")))
    cache.set_policy(CachePolicy("weather", examples=("weather tomorrow rain", "weather forecast rain")))
    assert cache.lookup("python sort").category == "code"
    assert cache.lookup("rain weather forecast").category == "weather"
    assert cache.lookup("python sort", category="weather").category == "weather"  # explicit wins
    assert cache.lookup("python sort", category="nope").category == "default"  # unknown: default
    ref = cache.store("python list sort please", "sorted()", model="m")
    assert ref.category == "code"
    assert cache.lookup("python list sort please", model="m").hit
    cache.close()
    reopened = SemanticCache(tmp_path / "c", dim=DIM, encoder=word_encoder, encoder_id="words", clock=clock)
    assert reopened.lookup("rain weather forecast").category == "weather"
    reopened.close()


def test_unknown_category_falls_back_to_default(cache: SemanticCache) -> None:
    ref = cache.store("q", "a", category="no-such-category", vector=unit(0))
    assert ref.category == "default"
    assert cache.lookup(vector=unit(0), category="another-unknown").hit
    assert cache.get_policy("no-such-category").category == "default"
    assert cache.categories() == ["default"]


def test_disabled_category_misses_and_refuses_stores(cache: SemanticCache) -> None:
    cache.store("q", "a", category="default", vector=unit(0))
    cache.set_policy(CachePolicy("default", enabled=False))
    assert not cache.lookup(vector=unit(0)).hit
    with pytest.raises(FailedPrecondition, match="disabled"):
        cache.store("q2", "a", vector=unit(1))
    cache.set_policy(CachePolicy("default"))
    assert cache.lookup(vector=unit(0)).hit


def test_same_normalized_prompt_replaces_the_entry(cache: SemanticCache) -> None:
    old = cache.store("What is  LMDB?", "old", vector=unit(0))
    new = cache.store("what is lmdb?", "new", vector=unit(0))
    assert len(cache) == 1 and old.entry_id != new.entry_id
    assert cache.lookup(vector=unit(0)).answer == "new"


# ---- invalidation and false hits ---------------------------------------------------------------------


def test_invalidate_by_each_selector(cache: SemanticCache) -> None:
    cache.set_policy(CachePolicy("code"))
    r0 = cache.store("p0", "a", category="code", model="m1", vector=unit(0), metadata={"user": "ann", "v": 1})
    cache.store("p1", "a", category="code", model="m2", vector=unit(1), metadata={"user": "bob", "v": 2})
    r2 = cache.store("p2", "a", category="default", model="m1", vector=unit(2), metadata={"user": "bob", "v": 3})
    cache.store("p3", "a", category="default", model="m2", vector=unit(3))
    r4 = cache.store("p4", "a", category="default", model="m3", vector=unit(4))
    assert cache.invalidate(entry_id=r0.entry_id) == 1
    assert cache.invalidate(entry_id=r0.entry_id) == 0
    assert not cache.lookup(vector=unit(0), category="code", model="m1").hit
    assert cache.invalidate(filter=Filter(must=(Match("user", "bob"), Range("v", gte=3)))) == 1
    assert not cache.lookup(vector=unit(2), model="m1").hit
    assert cache.invalidate(model="m2") == 2
    assert cache.invalidate(filter=Filter(must=(HasId(frozenset({r4.entry_id})),))) == 1
    assert len(cache) == 0 and r2.entry_id
    cache.store("p5", "a", category="code", vector=unit(5))
    cache.store("p6", "a", category="code", vector=unit(6))
    cache.store("p7", "a", vector=unit(7))
    assert cache.invalidate(category="code") == 2 and len(cache) == 1
    assert cache.invalidate(category="unknown") == 0
    with pytest.raises(InvalidArgument, match="exactly one"):
        cache.invalidate(category="code", model="m1")
    with pytest.raises(InvalidArgument, match="exactly one"):
        cache.invalidate()
    with pytest.raises(InvalidArgument, match="entry_id"):
        cache.invalidate(entry_id="not-hex")
    stats = {s.category: s for s in cache.stats()}
    assert (stats["default"].invalidations, stats["code"].invalidations) == (3, 4)


def test_report_false_hit_counts_and_removes(cache: SemanticCache) -> None:
    ref = cache.store("q", "wrong answer", vector=unit(0))
    assert cache.lookup(vector=unit(0)).hit
    cache.report_false_hit(ref.entry_id)
    assert not cache.lookup(vector=unit(0)).hit
    assert {s.category: s for s in cache.stats()}["default"].false_hits == 1
    with pytest.raises(NotFound, match=ref.entry_id):
        cache.report_false_hit(ref.entry_id)


# ---- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": -0.1}, "threshold"),
        ({"ttl_seconds": -1.0}, "ttl_seconds"),
        ({"ttl_seconds": float("nan")}, "ttl_seconds"),
        ({"max_entries": -1}, "max_entries"),
        ({"max_bytes": 1.5}, "max_bytes"),
        ({"near_miss_margin": 2.0}, "near_miss_margin"),
        ({"examples": ("ok", "  ")}, "examples"),
        ({"adaptation": LoadAdaptation(low_watermark=0.9, high_watermark=0.5)}, "low_watermark"),
        ({"adaptation": LoadAdaptation(max_ttl_factor=0.5)}, "max_ttl_factor"),
    ],
)
def test_policy_validation_names_the_field(cache: SemanticCache, kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidArgument, match=field):
        cache.set_policy(CachePolicy("bad", **kwargs))
    assert "bad" not in cache.categories()


def test_bad_input_is_refused_and_nothing_partial_is_stored(tmp_path: Path, clock: Clock) -> None:
    opts = CacheOptions(max_answer_bytes=100)
    cache = SemanticCache(tmp_path / "c", dim=DIM, options=opts, clock=clock)
    with pytest.raises(InvalidArgument, match="prompt"):
        cache.store("   ", "a", vector=unit(0))
    with pytest.raises(InvalidArgument, match="answer is 101 bytes"):
        cache.store("q", "x" * 101, vector=unit(0))
    with pytest.raises(InvalidArgument, match="shape"):
        cache.store("q", "a", vector=np.ones(DIM + 1))
    with pytest.raises(InvalidArgument, match="NaN"):
        cache.lookup(vector=np.full(DIM, np.nan))
    with pytest.raises(InvalidArgument, match="prompt"):
        cache.lookup("")
    with pytest.raises(InvalidArgument, match="neither"):
        cache.lookup()
    with pytest.raises(InvalidArgument, match="metadata"):
        cache.store("q", "a", vector=unit(0), metadata={"x": object()})
    items = [CacheItem("good", "a", vector=unit(0)), CacheItem("bad", "y" * 500, vector=unit(1))]
    with pytest.raises(InvalidArgument, match=r"items\[1\].answer"):
        cache.store_many(items)
    assert len(cache) == 0
    cache.close()
    reopened = SemanticCache(tmp_path / "c", dim=DIM, options=opts, clock=clock)
    assert len(reopened) == 0
    reopened.close()
    with pytest.raises(FailedPrecondition, match="closed"):
        cache.lookup(vector=unit(0))


# ---- graph correctness under churn -------------------------------------------------------------------


def test_eviction_churn_keeps_the_graph_searchable(tmp_path: Path, clock: Clock) -> None:
    """Many evictions must not empty the graph: every live entry stays findable and the nearest
    entry matches brute force over the live set."""
    dim = 32
    rng = np.random.default_rng(7)
    cache = SemanticCache(tmp_path / "c", dim=dim, clock=clock)
    cache.set_policy(CachePolicy("q", max_entries=200, threshold=0.99))
    live: dict[str, np.ndarray] = {}
    for batch in range(10):
        vecs = rng.normal(size=(100, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        refs = cache.store_many([CacheItem(f"p{batch}-{i}", "a", "q", vector=v) for i, v in enumerate(vecs)])
        live.update({r.entry_id: v for r, v in zip(refs, vecs)})
        clock.t += 1
    kept = {s.category: s for s in cache.stats()}["q"]
    assert kept.entries == 200 and kept.evictions == 800
    ids = list(live)[-200:]
    base = np.stack([live[i] for i in ids])
    for i in ids[::7]:
        assert cache.lookup(vector=live[i], category="q").entry_id == i
    queries = rng.normal(size=(50, dim)).astype(np.float32)
    agree = 0
    for q in queries:
        got = cache.lookup(vector=q, category="q")
        sims = base @ (q / np.linalg.norm(q))
        agree += got.similarity >= sims.max() - 1e-5
    assert agree >= 48
    cache.close()


def test_concurrent_lookups_and_stores(cache: SemanticCache) -> None:
    cache.set_policy(CachePolicy("c", max_entries=50))
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(400, DIM)).astype(np.float32)

    def writer(offset: int) -> None:
        for i in range(offset, 400, 2):
            cache.store(f"p{i}", "a", category="c", vector=vecs[i])

    def reader() -> None:
        for i in range(400):
            cache.lookup(vector=vecs[i], category="c")

    with ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(writer, k) for k in (0, 1)] + [pool.submit(reader) for _ in range(3)]
        for f in futures:
            f.result()  # re-raises any error of a thread
    stats = {s.category: s for s in cache.stats()}["c"]
    assert stats.entries == 50 and stats.evictions == 350
    assert stats.hits + stats.misses == 1200
    # Exactly the 50 entries held are findable (random 16-d vectors are never 0.92-similar).
    assert sum(cache.lookup(vector=v, category="c").hit for v in vecs) == 50


# ---- observability -----------------------------------------------------------------------------------


def test_metrics_and_latency_stats_are_exposed(cache: SemanticCache) -> None:
    cache.store("q", "a", vector=unit(0))
    cache.lookup(vector=unit(0))
    cache.lookup(vector=unit(1))
    text = generate_latest(cache.metrics.registry).decode()
    for name in ("vecdb_cache_hits_total", "vecdb_cache_misses_total", "vecdb_cache_near_misses_total",
                 "vecdb_cache_false_hits_total", "vecdb_cache_evictions_total", "vecdb_cache_expiries_total",
                 "vecdb_cache_lookup_seconds_bucket", "vecdb_cache_entries"):
        assert name in text, name
    assert 'vecdb_cache_hits_total{category="default"} 1.0' in text
    assert 'vecdb_cache_misses_total{category="default"} 1.0' in text
    assert 'vecdb_cache_lookup_seconds_count{category="default"} 2.0' in text
    stats = {s.category: s for s in cache.stats()}["default"]
    assert 0 < stats.lookup_p50_ms <= stats.lookup_p99_ms


def test_a_full_store_is_resource_exhausted_and_writes_nothing(tmp_path: Path, clock: Clock) -> None:
    opts = CacheOptions(map_size_bytes=1 << 20)
    cache = SemanticCache(tmp_path / "c", dim=DIM, options=opts, clock=clock)
    stored = 0
    with pytest.raises(ResourceExhausted, match="map_size_bytes"):
        for i in range(40):
            cache.store(f"p{i}", "x" * 100_000, vector=unit(i % DIM))
            stored += 1
    assert 0 < stored < 40 and len(cache) == stored
    assert cache.lookup(vector=unit(0)).hit  # still serving
    cache.close()
    reopened = SemanticCache(tmp_path / "c", dim=DIM, options=opts, clock=clock)
    assert len(reopened) == stored
    reopened.close()
