"""The semantic cache (issue 7): lookup latency and the category-aware policy's quality.

    python bench/bench_cache.py                 # 100k entries, full workload, gRPC part
    python bench/bench_cache.py --quick         # 5k entries, 60 prompts (about a minute idle)
    python bench/bench_cache.py --workload-only # part 4 only, into the existing JSON

Parts, all in one run on the same data:
1. Lookup by vector, in-process: a SemanticCache holding n real MiniLM embeddings (384-d, of the
   bench.datasets text corpus, cached on disk) is queried with vectors at cosine 0.97 of a
   stored one (hits, threshold 0.92) and at 0.80 (misses that still walk the graph). Baselines
   measured here: raw hnswlib `knn_query` on the very same graph (the floor) and an exact numpy
   scan (what a cache without an index pays). Recall@1 of the nearest entry against the scan.
2. Lookup by text, in-process, with MiniLM encoding included, against encoding alone.
3. Lookup through gRPC: the folder of part 1 is served by a real server (child process); its
   first call opens the cache, which rebuilds every graph from LMDB (restart time), then vector
   and text lookups through the SDK. Skipped with a note when the Cache service is not wired.
4. Workload quality: real ShareGPT user turns in three categories (code / chat /
   factual-volatile, by keyword rules) are stored; queries are paraphrases generated here
   (templates, synonyms, typos, casing and punctuation: labelled should-hit) and near-miss traps
   (the same prompt with another programming language, number, entity or an antonym: labelled
   should-miss). Prompts are split in half: thresholds are tuned on one half and evaluated on
   the other. (a) the best single global threshold against (b) per-category thresholds (for
   each trade-off weight, each category picks the threshold that maximizes hits - weight * false
   hits on the tuning half). Compared at equal false-hit rate; both curves are plotted to
   docs/img/cache_workload.png. Hit rate = correct hits / should-hit queries; false-hit rate =
   wrong answers served (a trap that hits anything, or a paraphrase that hits another prompt's
   entry) / all lookups. The tuned thresholds are finally set as policies and the
   evaluation half is replayed through real `lookup` calls to check the offline numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.datasets import CACHE, minilm_embeddings, minilm_model, sharegpt_turns, text_corpus
from vecdb.cache import CacheItem, CacheOptions, CachePolicy, SemanticCache

DIM = 384
THRESHOLD = 0.92
CATEGORIES = ("code", "chat", "volatile")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(values, 50) * 1e3, 4), "p99_ms": round(pct(values, 99) * 1e3, 4)}


def at_cosine(base: np.ndarray, cos: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector at exactly cosine `cos` from unit `base`, in a random direction."""
    noise = rng.normal(size=base.shape).astype(np.float32)
    noise -= (noise @ base) * base
    noise /= np.linalg.norm(noise)
    return (cos * base + np.sqrt(1 - cos * cos) * noise).astype(np.float32)


def server_encoder_id() -> str:
    """The encoder_id the server gives its cache (so the server reuses our folder)."""
    from vecdb.encoder.weights import packaged_minilm_path, weights_hash

    return f"minilm@{weights_hash(packaged_minilm_path())}"


# ---- part 1 and 2: in-process latency --------------------------------------------------------------


def timed(fn, items) -> tuple[list[float], list]:  # type: ignore[no-untyped-def]
    times, results = [], []
    for item in items:
        t = time.perf_counter()
        results.append(fn(item))
        times.append(time.perf_counter() - t)
    return times, results


def load_entries(n: int, quick: bool) -> tuple[list[str], np.ndarray, str]:
    """n texts and their MiniLM vectors. --quick skips building the corpus (about 15 s) and takes
    the cached vectors file as is, with placeholder prompt texts."""
    if quick:
        cached = sorted(CACHE.glob("minilm-100000-*.npy"))
        if cached:
            vectors = np.load(cached[0], mmap_mode="r")[:n].astype(np.float32)
            return [f"cached passage {i}" for i in range(n)], vectors, "real MiniLM embeddings (cached file)"
        rng = np.random.default_rng(0)
        vectors = rng.normal(size=(n, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return [f"random {i}" for i in range(n)], vectors, "random unit vectors (no cached MiniLM file)"
    texts = text_corpus(100_000)
    return texts[:n], minilm_embeddings(texts)[:n], "real MiniLM embeddings of bench.datasets.text_corpus"


def bench_vector(cache_dir: Path, n: int, n_queries: int, encoder, encoder_id: str, quick: bool) -> dict:  # type: ignore[no-untyped-def]
    texts, vectors, source = load_entries(n, quick)
    rng = np.random.default_rng(0)
    cache = SemanticCache(cache_dir, dim=DIM, encoder=encoder, encoder_id=encoder_id,
                          options=CacheOptions(default_policy=CachePolicy("default", threshold=THRESHOLD)))
    t0 = time.perf_counter()
    ids: list[str] = []
    for start in range(0, n, 5000):
        refs = cache.store_many([CacheItem(texts[i], f"answer {i}", vector=vectors[i])
                                 for i in range(start, min(n, start + 5000))])
        ids.extend(r.entry_id for r in refs)
    build_s = time.perf_counter() - t0
    entries = len(cache)
    print(f"[1] stored {entries} entries ({n} texts; normalized duplicates replace) in {build_s:.1f} s "
          f"({entries / build_s:.0f}/s, synced LMDB batches of 5000 + HNSW insert)")

    picks = rng.choice(n, size=n_queries, replace=False)
    hit_q = [at_cosine(vectors[i], 0.97, rng) for i in picks]
    miss_q = [at_cosine(vectors[i], 0.80, rng) for i in picks]
    for q in hit_q[:50]:  # warm-up
        cache.lookup(vector=q)
    hit_t, hit_r = timed(lambda q: cache.lookup(vector=q), hit_q)
    miss_t, miss_r = timed(lambda q: cache.lookup(vector=q), miss_q)
    reads_before = cache.store_backend.answer_reads
    timed(lambda q: cache.lookup(vector=q), miss_q[:200])
    miss_reads = cache.store_backend.answer_reads - reads_before

    # Baselines on the same data: raw hnswlib on the very same graph, and an exact scan.
    graph = cache._graphs._graphs[("default", "")]._graph
    raw_t, _ = timed(lambda q: graph.knn_query(q.reshape(1, -1), k=cache._options.search_k), hit_q + miss_q)
    scan_t, scan_r = timed(lambda q: int(np.argmax(vectors @ q)), hit_q[: min(300, n_queries)])
    exact_nn = [int(np.argmax(vectors @ q)) for q in hit_q + miss_q]
    live = {eid: i for i, eid in enumerate(ids)}
    got = [live.get(r.entry_id, -1) for r in hit_r + miss_r]
    recall = float(np.mean([g == e or abs(float(vectors[g] @ q) - float(vectors[e] @ q)) < 1e-6 if g >= 0 else False
                            for g, e, q in zip(got, exact_nn, hit_q + miss_q)]))
    hit_rate = float(np.mean([r.hit for r in hit_r]))
    false_hits = float(np.mean([r.hit for r in miss_r]))
    res = {
        "entries": entries, "dim": DIM, "vectors": source,
        "build_s": round(build_s, 2),
        "hit": ms(hit_t), "miss": ms(miss_t), "all": ms(hit_t + miss_t),
        "raw_hnswlib_same_graph": ms(raw_t), "exact_numpy_scan": ms(scan_t),
        "hit_rate_at_0.97": hit_rate, "hit_rate_at_0.80": false_hits, "recall_at_1_vs_exact": recall,
        "answer_reads_during_200_misses": miss_reads,
    }
    res["overhead_vs_raw_hnswlib_p50"] = round(res["all"]["p50_ms"] / res["raw_hnswlib_same_graph"]["p50_ms"], 2)
    res["speedup_vs_exact_scan_p50"] = round(res["exact_numpy_scan"]["p50_ms"] / res["all"]["p50_ms"], 1)
    print(f"[1] lookup by vector, {entries} x {DIM}: hits p50 {res['hit']['p50_ms']:.3f} ms p99 "
          f"{res['hit']['p99_ms']:.3f} ms; misses p50 {res['miss']['p50_ms']:.3f} ms p99 {res['miss']['p99_ms']:.3f} ms")
    print(f"    raw hnswlib on the same graph p50 {res['raw_hnswlib_same_graph']['p50_ms']:.3f} ms -> cache "
          f"overhead x{res['overhead_vs_raw_hnswlib_p50']}; exact scan p50 {res['exact_numpy_scan']['p50_ms']:.3f} ms "
          f"-> cache x{res['speedup_vs_exact_scan_p50']} faster")
    print(f"    hit rate at cos 0.97: {hit_rate:.3f}; at cos 0.80: {false_hits:.3f}; recall@1 vs exact "
          f"{recall:.3f}; answer-store reads during 200 misses: {miss_reads}")
    _ = scan_r
    return {"result": res, "cache": cache, "texts": texts, "picks": picks, "vectors": vectors}


def bench_text(cache: SemanticCache, texts: list[str], picks: np.ndarray, encode, n_queries: int) -> dict:  # type: ignore[no-untyped-def]
    prompts = [f"Please: {texts[i]}" for i in picks[:n_queries]]  # not the stored text: must be encoded
    exact = [texts[i].upper() for i in picks[:n_queries]]  # same normalized text: no encoding
    for p in prompts[:10]:
        encode([p])
    enc_t, _ = timed(lambda p: encode([p]), prompts)
    look_t, look_r = timed(lambda p: cache.lookup(p), prompts)
    exact_t, exact_r = timed(lambda p: cache.lookup(p), exact)
    res = {
        "encode_only": ms(enc_t), "lookup_with_encoding": ms(look_t), "lookup_exact_text_no_encoding": ms(exact_t),
        "hit_rate_prefixed_prompts": float(np.mean([r.hit for r in look_r])),
        "hit_rate_exact_text": float(np.mean([r.hit for r in exact_r])),
    }
    res["lookup_over_encode_p50"] = round(res["lookup_with_encoding"]["p50_ms"] / res["encode_only"]["p50_ms"], 3)
    print(f"[2] lookup by text incl. MiniLM encoding: p50 {res['lookup_with_encoding']['p50_ms']:.2f} ms p99 "
          f"{res['lookup_with_encoding']['p99_ms']:.2f} ms; encoding alone p50 {res['encode_only']['p50_ms']:.2f} ms "
          f"(x{res['lookup_over_encode_p50']}); same normalized text (no encoding) p50 "
          f"{res['lookup_exact_text_no_encoding']['p50_ms']:.3f} ms; hit rate 'Please: ' prompts "
          f"{res['hit_rate_prefixed_prompts']:.3f}")
    return res


# ---- part 3: gRPC ------------------------------------------------------------------------------------


def bench_grpc(data_dir: Path, vectors_hit: list[np.ndarray], prompts: list[str], inproc_p50: float) -> dict:
    try:
        from tests.integration.server_process import ServerProcess
        from vecdb_client import Client
    except ImportError as exc:
        print(f"[3] gRPC part skipped: {exc}")
        return {"skipped": str(exc)}
    if not hasattr(Client, "cache_lookup"):
        print("[3] gRPC part skipped: the SDK has no Client.cache_lookup yet")
        return {"skipped": "no Client.cache_lookup"}
    server = ServerProcess(data_dir, VECDB_PRELOAD_MODELS="0", VECDB_DEVICE="cpu", VECDB_LOG_LEVEL="WARNING")
    try:
        server.start(timeout=120)
    except RuntimeError as exc:
        print(f"[3] gRPC part skipped: the server did not start: {exc}")
        return {"skipped": "server did not start"}
    try:
        with Client(server.address, timeout=300) as client:  # the first call rebuilds the graphs
            t = time.perf_counter()
            first = client.cache_lookup(vector=vectors_hit[0])
            open_s = time.perf_counter() - t
            for q in vectors_hit[:50]:
                client.cache_lookup(vector=q)
            vec_t, vec_r = timed(lambda q: client.cache_lookup(vector=q), vectors_hit)
            txt_t, _ = timed(lambda p: client.cache_lookup(p), prompts)
            stats = [s for s in client.cache_stats() if s.category == "default"]
        res = {
            "first_call_incl_open_and_rebuild_s": round(open_s, 2), "vector": ms(vec_t), "text": ms(txt_t),
            "hit_rate": float(np.mean([r.hit for r in vec_r])), "first_hit": bool(first.hit),
            "entries_seen_by_server": int(stats[0].entries) if stats else None,
        }
        res["grpc_over_inprocess_p50"] = round(res["vector"]["p50_ms"] / inproc_p50, 2)
        print(f"[3] through gRPC: first call (opens the cache, rebuilds graphs from LMDB) {open_s:.1f} s; vector "
              f"lookups p50 {res['vector']['p50_ms']:.3f} ms p99 {res['vector']['p99_ms']:.3f} ms "
              f"(x{res['grpc_over_inprocess_p50']} in-process); text p50 {res['text']['p50_ms']:.2f} ms "
              f"p99 {res['text']['p99_ms']:.2f} ms; hit rate {res['hit_rate']:.3f}, entries {res['entries_seen_by_server']}")
        return res
    except Exception as exc:  # noqa: BLE001 -- report and keep the other parts
        print(f"[3] gRPC part failed: {type(exc).__name__}: {exc}")
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    finally:
        server.stop()


# ---- part 4: workload quality ------------------------------------------------------------------------

_CODE = re.compile(r"\b(python|javascript|typescript|java|c\+\+|c#|rust|golang|sql|html|css|react|code|function|"
                   r"script|regex|api|bash|json|error|bug|compile|class|array|django|flask|node|pandas|numpy)\b", re.IGNORECASE)
_VOLATILE = re.compile(r"\b(price|prices|stock|stocks|weather|today|latest|news|current|currently|now|"
                       r"2021|2022|2023|rate|rates|market|bitcoin|crypto|election|score|tonight|this week)\b", re.IGNORECASE)
_LANGS = ["python", "javascript", "java", "rust", "go", "c++", "c#", "ruby", "php", "typescript", "kotlin", "swift"]
_ANTONYMS = {"maximum": "minimum", "minimum": "maximum", "increase": "decrease", "decrease": "increase",
             "largest": "smallest", "smallest": "largest", "first": "last", "last": "first", "before": "after",
             "after": "before", "add": "remove", "remove": "add", "buy": "sell", "sell": "buy", "encrypt": "decrypt",
             "decrypt": "encrypt", "upload": "download", "download": "upload", "positive": "negative",
             "negative": "positive", "best": "worst", "worst": "best", "start": "stop", "stop": "start",
             "open": "close", "close": "open", "male": "female", "female": "male", "advantages": "disadvantages",
             "disadvantages": "advantages", "pros": "cons", "cons": "pros", "true": "false", "false": "true",
             "sort": "shuffle", "ascending": "descending", "descending": "ascending", "up": "down", "down": "up"}
_ENTITIES = ["Paris", "Tokyo", "Germany", "Brazil", "Tesla", "Amazon", "Microsoft", "Shakespeare", "Einstein",
             "London", "India", "Canada", "Apple", "Google", "Netflix", "Napoleon"]
_SYNONYMS = [(r"\bwrite\b", "create"), (r"\bexplain\b", "describe"), (r"\bhow do i\b", "how can i"),
             (r"\bwhat is\b", "what's"), (r"\bgive me\b", "provide"), (r"\bmake\b", "create"), (r"\bshow\b", "display"),
             (r"\bhelp me\b", "assist me to"), (r"\bcan you\b", "could you"), (r"\bplease\b", "kindly"),
             (r"\blist\b", "enumerate"), (r"\buse\b", "utilize"), (r"\bbig\b", "large"), (r"\bsimple\b", "basic")]
_TEMPLATES = ["Can you tell me: {p}", "{p} Thanks!", "Quick question - {p}", "I'd like to know: {p}",
              "Hey, {p}", "{p} (please answer briefly)"]


def categorize(prompt: str) -> str:
    if _CODE.search(prompt):
        return "code"
    if _VOLATILE.search(prompt):
        return "volatile"
    return "chat"


def paraphrases(p: str, rng: np.random.Generator) -> list[tuple[str, str]]:
    out = [("template", _TEMPLATES[int(rng.integers(len(_TEMPLATES)))].format(p=p))]
    syn = p
    for pattern, repl in _SYNONYMS:
        syn = re.sub(pattern, repl, syn, count=1, flags=re.IGNORECASE)
    if syn != p:
        out.append(("synonym", syn))
    words = p.split()
    long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if long:
        i = long[int(rng.integers(len(long)))]
        w = words[i]
        j = int(rng.integers(1, len(w) - 2))
        words2 = list(words)
        words2[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
        out.append(("typo", " ".join(words2)))
    casing = p.lower().rstrip("?.!") + ("" if p.endswith("?") else "?")
    if normalize(casing) != normalize(p):
        out.append(("casing_punctuation", casing))
    return out


def normalize(s: str) -> str:
    return " ".join(s.split()).casefold()


def traps(p: str, rng: np.random.Generator) -> list[tuple[str, str]]:
    out = []
    low = p.lower()
    for lang in _LANGS:
        pattern = r"(?<![\w+#])" + re.escape(lang) + r"(?![\w+#])"
        if re.search(pattern, low):
            other = [x for x in _LANGS if x != lang][int(rng.integers(len(_LANGS) - 1))]
            out.append(("language", re.sub(pattern, other, p, count=1, flags=re.IGNORECASE)))
            break
    nums = list(re.finditer(r"\b\d+\b", p))
    if nums:
        m = nums[0]
        value = int(m.group())
        out.append(("number", p[:m.start()] + str(value * 3 + 7) + p[m.end():]))
    for word, repl in _ANTONYMS.items():
        pattern = r"\b" + word + r"\b"
        if re.search(pattern, low):
            out.append(("antonym", re.sub(pattern, repl, p, count=1, flags=re.IGNORECASE)))
            break
    caps = [m for m in re.finditer(r"(?<=\s)[A-Z][a-z]{3,}\b", p)]
    if caps:
        m = caps[0]
        other = [e for e in _ENTITIES if e != m.group()][int(rng.integers(len(_ENTITIES) - 1))]
        out.append(("entity", p[:m.start()] + other + p[m.end():]))
    return out


def build_workload(n_prompts: int, background_per_cat: int,
                   rng: np.random.Generator) -> tuple[list[dict], list[dict], list[dict]]:
    """Stored prompts (with category and split), labelled queries, and background prompts (other
    real traffic of the same categories, stored but never queried for: what a paraphrase or a
    trap may wrongly hit in a cache that holds more than the prompts under test)."""
    per_cat = n_prompts // 3
    pool: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for turn in sharegpt_turns(limit=60_000):
        if len(turn) > 160 or "\n" in turn or len(turn.split()) < 4:
            continue
        cat = categorize(turn)
        if len(pool[cat]) < per_cat * 4:
            pool[cat].append(turn)
        if all(len(v) >= per_cat * 4 for v in pool.values()):
            break
    stored, queries, background = [], [], []
    for cat in CATEGORIES:
        # Prefer prompts that admit a trap, so every category has should-miss queries.
        cands = pool[cat]
        order = sorted(range(len(cands)), key=lambda i: (not traps(cands[i], np.random.default_rng(i)), i))
        for rank, i in enumerate(order[:per_cat]):
            p = cands[i]
            split = "tune" if rank % 2 == 0 else "eval"
            sid = len(stored)
            stored.append({"prompt": p, "category": cat, "split": split})
            for kind, q in paraphrases(p, rng):
                queries.append({"text": q, "source": sid, "label": "hit", "kind": kind, "category": cat, "split": split})
            for kind, q in traps(p, rng):
                if normalize(q) != normalize(p):
                    queries.append({"text": q, "source": sid, "label": "miss", "kind": kind, "category": cat,
                                    "split": split})
        background.extend({"prompt": cands[i], "category": cat}
                          for i in order[per_cat:per_cat + background_per_cat])
    taken = {normalize(s["prompt"]) for s in stored}
    background = [b for b in background if normalize(b["prompt"]) not in taken]
    return stored, queries, background


def curve_points(sims: np.ndarray, right: np.ndarray, label_hit: np.ndarray, thr: float) -> tuple[int, int]:
    """(true hits, false hits) at threshold thr."""
    hit = sims >= thr
    return int((hit & label_hit & right).sum()), int((hit & ~(label_hit & right)).sum())


def gain(counts: tuple[int, int], weight: float) -> float:
    return counts[0] - weight * counts[1]


def bench_workload(n_prompts: int, background_per_cat: int, encode, img: Path, plot: bool) -> dict:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    stored, queries, background = build_workload(n_prompts, background_per_cat, rng)
    t = time.perf_counter()
    # bench.datasets caches these MiniLM vectors by content, so a rerun skips the encoding.
    store_vecs = minilm_embeddings([s["prompt"] for s in stored])
    query_vecs = minilm_embeddings([q["text"] for q in queries])
    background_vecs = minilm_embeddings([b["prompt"] for b in background]) if background else None
    encode_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        cache = SemanticCache(Path(tmp) / "wl", dim=DIM, encoder=encode, encoder_id="minilm")
        for cat in CATEGORIES:
            cache.set_policy(CachePolicy(cat, threshold=0.0))  # threshold 0: every lookup reports its nearest
        if background:
            cache.store_many([CacheItem(b["prompt"], "background answer", b["category"], vector=v)
                              for b, v in zip(background, background_vecs)])
        refs = cache.store_many([CacheItem(s["prompt"], f"answer to {i}", s["category"], vector=v)
                                 for i, (s, v) in enumerate(zip(stored, store_vecs))])
        id_of = {r.entry_id: i for i, r in enumerate(refs)}
        sims, right = [], []
        for q, v in zip(queries, query_vecs):
            r = cache.lookup(q["text"], vector=v, category=q["category"])
            sims.append(r.similarity if r.entry_id else -1.0)
            right.append(id_of.get(r.entry_id, -1) == q["source"])
        sims_a, right_a = np.asarray(sims), np.asarray(right)
        label_hit = np.asarray([q["label"] == "hit" for q in queries])
        cats = np.asarray([q["category"] for q in queries])
        split = np.asarray([q["split"] for q in queries])
        grid = np.round(np.arange(0.50, 1.0001, 0.005), 3)

        def rates(mask: np.ndarray, thr_of: dict[str, float] | float) -> tuple[float, float]:
            th = np.asarray([thr_of[c] if isinstance(thr_of, dict) else thr_of for c in cats])
            hit = (sims_a >= th) & mask
            should = label_hit & mask
            hr = float((hit & label_hit & right_a).sum() / max(1, should.sum()))
            fhr = float((hit & ~(label_hit & right_a)).sum() / max(1, mask.sum()))
            return hr, fhr

        tune, ev = split == "tune", split == "eval"
        # (a) one global threshold: the curve over the grid (a single parameter needs no tuning
        # for the curve; tuning picks the point at a false-hit budget).
        global_curve = [(float(t), *rates(ev, float(t))) for t in grid]
        # (b) per-category thresholds, for each weight w: each category maximizes hits - w * false
        # hits on the tuning half.
        def pick(on: np.ndarray, w: float) -> dict[str, float]:
            chosen = {}
            for c in CATEGORIES:
                m = on & (cats == c)
                chosen[c] = float(max(grid, key=lambda t, m=m: gain(
                    curve_points(sims_a[m], right_a[m], label_hit[m], float(t)), w)))
            return chosen

        weights = np.concatenate([np.linspace(0.05, 1, 20), np.linspace(1.2, 40, 60)])
        per_cat_curve = []
        for w in weights:
            chosen = pick(tune, float(w))
            per_cat_curve.append((float(w), chosen, *rates(ev, chosen), *rates(tune, chosen)))
        # In-sample reference: per-category thresholds picked on the evaluation half itself.
        oracle_curve = [rates(ev, pick(ev, float(w))) for w in weights]

        budgets = [0.01, 0.02, 0.05, 0.10]
        compare = []
        for b in budgets:
            g_ok = [t for t in grid if rates(tune, float(t))[1] <= b]
            g_t = float(min(g_ok)) if g_ok else 1.0
            g_hr, g_fhr = rates(ev, g_t)
            p_ok = [row for row in per_cat_curve if row[5] <= b]
            p_row = max(p_ok, key=lambda row: (row[4], -row[5])) if p_ok else per_cat_curve[-1]
            compare.append({"false_hit_budget": b, "global_threshold": g_t, "global_eval_hit_rate": g_hr,
                            "global_eval_false_hit_rate": g_fhr, "per_category_thresholds": p_row[1],
                            "per_category_eval_hit_rate": p_row[2], "per_category_eval_false_hit_rate": p_row[3]})
        # Replay the evaluation half through real lookups with the tuned per-category policies (5%).
        chosen = compare[2]["per_category_thresholds"]
        for c in CATEGORIES:
            cache.set_policy(CachePolicy(c, threshold=chosen[c]))
        replay_hits = replay_false = replay_n = 0
        replay_should = int((ev & label_hit).sum())
        for q, v in zip(queries, query_vecs):
            if q["split"] != "eval":
                continue
            r = cache.lookup(q["text"], vector=v, category=q["category"])
            replay_n += 1
            ok = r.hit and q["label"] == "hit" and id_of.get(r.entry_id) == q["source"]
            replay_hits += ok
            replay_false += r.hit and not ok
        cache.close()
    counts = {c: {"stored": sum(s["category"] == c for s in stored),
                  "should_hit": int(((cats == c) & label_hit).sum()), "should_miss": int(((cats == c) & ~label_hit).sum())}
              for c in CATEGORIES}
    kinds: dict[str, int] = {}
    for q in queries:
        kinds[q["kind"]] = kinds.get(q["kind"], 0) + 1
    # Equal false-hit rate on the evaluation curves (interpolated).
    def hr_at(curve: list[tuple[float, float]], f: float) -> float:
        pts = sorted(curve, key=lambda x: (x[1], x[0]))
        best = [h for h, fh in pts if fh <= f]
        return max(best) if best else 0.0

    g_pts = [(h, f) for _, h, f in global_curve]
    p_pts = [(row[2], row[3]) for row in per_cat_curve]
    o_pts = [(h, f) for h, f in oracle_curve]
    at_equal = {str(f): {"global": hr_at(g_pts, f), "per_category": hr_at(p_pts, f),
                         "per_category_oracle": hr_at(o_pts, f)} for f in (0.01, 0.02, 0.05, 0.10)}
    res = {"stored": len(stored), "background": len(background), "queries": len(queries), "per_category": counts, "query_kinds": kinds,
           "encode_s": round(encode_s, 1), "compare_tuned_on_half": compare, "eval_hit_rate_at_equal_false_hit_rate": at_equal,
           "replay_eval_at_5pct": {"thresholds": chosen, "true_hits": replay_hits, "false_hits": replay_false,
                                   "hit_rate": replay_hits / max(1, replay_should),
                                   "false_hit_rate": replay_false / max(1, replay_n),
                                   "offline": {"hit_rate": compare[2]["per_category_eval_hit_rate"],
                                               "false_hit_rate": compare[2]["per_category_eval_false_hit_rate"]}},
           "global_curve_eval": global_curve, "per_category_curve_eval": [(r[0], r[1], r[2], r[3]) for r in per_cat_curve]}
    print(f"[4] workload: {len(stored)} ShareGPT prompts under test + {len(background)} background prompts stored "
          f"({counts}), {len(queries)} labelled queries "
          f"({kinds}); encoding {encode_s:.1f} s")
    for row in compare:
        print(f"    false-hit budget {row['false_hit_budget']:.0%} (tuned on half A, measured on half B): global "
              f"t={row['global_threshold']:.3f} hit rate {row['global_eval_hit_rate']:.3f} (false "
              f"{row['global_eval_false_hit_rate']:.3f}) | per-category {row['per_category_thresholds']} hit rate "
              f"{row['per_category_eval_hit_rate']:.3f} (false {row['per_category_eval_false_hit_rate']:.3f})")
    for f, v in at_equal.items():
        ratio = v["per_category"] / v["global"] if v["global"] else float("inf")
        print(f"    on half B at false-hit rate <= {float(f):.0%}: global hit rate {v['global']:.3f}, per-category "
              f"{v['per_category']:.3f} (x{ratio:.2f}); per-category tuned in-sample on half B "
              f"{v['per_category_oracle']:.3f}")
    rp = res["replay_eval_at_5pct"]
    print(f"    replay of half B through lookup() with the 5%-budget per-category policies {chosen}: "
          f"hit rate {rp['hit_rate']:.3f}, false-hit rate {rp['false_hit_rate']:.3f} (offline: hit rate "
          f"{rp['offline']['hit_rate']:.3f}, false-hit rate {rp['offline']['false_hit_rate']:.3f})")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        g = sorted(g_pts, key=lambda x: x[1])
        p = sorted(p_pts, key=lambda x: x[1])
        ax.plot([f for _, f in g], [h for h, _ in g], "o-", ms=2.5, label="single global threshold")
        ax.plot([f for _, f in p], [h for h, _ in p], "s-", ms=2.5, label="per-category thresholds (tuned on half A)")
        o = sorted(o_pts, key=lambda x: x[1])
        ax.plot([f for _, f in o], [h for h, _ in o], ":", color="gray", label="per-category, tuned in-sample on half B")
        ax.set_xlabel("false-hit rate (evaluation half)")
        ax.set_ylabel("hit rate on paraphrases (evaluation half)")
        ax.set_xlim(0, 0.3)
        ax.set_title(f"Semantic cache, ShareGPT: {len(stored)} + {len(background)} stored, {len(queries)} queries",
                     fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        fig.tight_layout()
        img.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(img, dpi=120)
        print(f"    plot: {img}")
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5k entries, 60 prompts (about a minute on an idle 2-core box)")
    parser.add_argument("--n", type=int, default=None, help="entries for the latency parts (default 100000)")
    parser.add_argument("--queries", type=int, default=None, help="lookups per latency series (default 2000)")
    parser.add_argument("--prompts", type=int, default=None, help="stored prompts in the workload (default 900)")
    parser.add_argument("--background", type=int, default=None,
                        help="background prompts stored per category in the workload (default 2 x prompts/3)")
    parser.add_argument("--no-grpc", action="store_true")
    parser.add_argument("--workload-only", action="store_true",
                        help="run part 4 only and update its section of an existing --out file")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON record (default bench/results/cache.json, cache-quick.json with --quick)")
    parser.add_argument("--img", type=Path, default=None,
                        help="plot (default docs/img/cache_workload.png, bench/results/cache-quick.png with --quick)")
    args = parser.parse_args()
    results = ROOT / "bench" / "results"
    args.out = args.out or results / ("cache-quick.json" if args.quick else "cache.json")
    args.img = args.img or (results / "cache-quick.png" if args.quick else ROOT / "docs" / "img" / "cache_workload.png")
    n = args.n or (5_000 if args.quick else 100_000)
    n_queries = args.queries or (200 if args.quick else 2000)
    n_prompts = args.prompts or (60 if args.quick else 900)
    n_text = 20 if args.quick else 100
    n_background = args.background if args.background is not None else 2 * (n_prompts // 3)
    model = minilm_model()

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False).astype(np.float32)

    if args.workload_only:
        record = json.loads(args.out.read_text()) if args.out.exists() else {"bench": "cache"}
        record["workload"] = bench_workload(n_prompts, n_background, encode, args.img, plot=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1, default=float))
        print(f"wrote {args.out}")
        return
    record: dict = {"bench": "cache", "platform": platform.platform(), "cpus": os.cpu_count(), "quick": args.quick,
                    "loadavg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        from vecdb.server.cache import CACHE_FOLDER

        part1 = bench_vector(data_dir / CACHE_FOLDER, n, n_queries, encode, server_encoder_id(), args.quick)
        record["vector_lookup"] = part1["result"]
        cache = part1["cache"]
        record["text_lookup"] = bench_text(cache, part1["texts"], part1["picks"], encode, n_text)
        rng = np.random.default_rng(5)
        vecs = part1["vectors"]
        grpc_vectors = [at_cosine(vecs[i], 0.97, rng) for i in part1["picks"][: min(n_queries, 1000)]]
        grpc_prompts = [f"Please: {part1['texts'][i]}" for i in part1["picks"][:n_text]]
        cache.close()
        if args.no_grpc:
            record["grpc"] = {"skipped": "--no-grpc"}
        else:
            record["grpc"] = bench_grpc(data_dir, grpc_vectors, grpc_prompts, record["vector_lookup"]["all"]["p50_ms"])
    record["workload"] = bench_workload(n_prompts, n_background, encode, args.img, plot=True)
    record["loadavg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1, default=float))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
