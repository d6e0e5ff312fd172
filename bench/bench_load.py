"""A bounded load test on loopback: many clients mixing writes, dense and hybrid queries and
semantic-cache calls against one real server, with a small admission limit to force backpressure.

    python bench/bench_load.py                     # 16 clients for 30 s, admission limit 4
    python bench/bench_load.py --quick             # 8 clients for 10 s (the smoke test)
    python bench/bench_load.py --clients 32 --max-concurrent-rpcs 8 --duration 60
    python bench/bench_load.py --quick --synthetic --n 500 --duration 3   # smoke test, ~25 s

Steps:
1. start a real server on loopback (a child process) with `max_concurrent_rpcs` small, create a
   collection with a dense field (384-d cosine, MiniLM embeddings of real text from the cache of
   bench.datasets; `--synthetic`: random unit vectors and generated texts) and a BM25 field over
   the same texts, and load `--n` points (not timed);
2. baseline: one client runs the operation mix alone for a few seconds (no contention);
3. load: `--clients` threads, each with its own SDK client (own channel, retries off so every
   RESOURCE_EXHAUSTED is counted), run the mix for `--duration` seconds: upsert (8 new points),
   dense query (k=10), hybrid query (dense + BM25 prefetch fused by RRF), cache lookup and cache
   store (vectors of the server's default model). An answer RESOURCE_EXHAUSTED with a retry-after
   hint is deliberate backpressure: the client waits the hint and carries on. Any other error is
   a failure (the run exits 1);
4. check: every acknowledged upsert is there (count == points loaded + points acknowledged), and
   dense recall@10 against brute force over the acknowledged points (tie-tolerant);
5. print p50 / p99 per operation under load and their ratio to the baseline, throughput, the
   backpressure rate; write JSON to --out (default bench/results/load.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import CACHE, minilm_embeddings, text_corpus
from tests.integration.server_process import ServerProcess
from vecdb_client import Client, Prefetch, SparseParams, VectorParams
from vecdb_client.errors import ResourceExhausted, VecdbError

COLLECTION = "load"
K = 10
UPSERT_BATCH = 8
MIX = {"upsert": 0.15, "query_dense": 0.35, "query_hybrid": 0.20, "cache_lookup": 0.20, "cache_store": 0.10}
"""The operation mix: the share of calls of each kind."""
CORPUS = 100_000
"""Texts of bench.datasets.text_corpus whose MiniLM embeddings are cached (never re-encoded here)."""


@dataclass
class Tally:
    """What one worker saw: latencies of OK calls per operation, backpressure and errors."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    backpressure: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)  # ids of points whose upsert returned OK

    def merge(self, other: Tally) -> None:
        for op, values in other.latencies.items():
            self.latencies[op].extend(values)
        for op, n in other.backpressure.items():
            self.backpressure[op] += n
        self.errors.extend(other.errors)
        self.acknowledged.extend(other.acknowledged)


class Workload:
    """The data and the shared id counter the workers draw from."""

    def __init__(self, texts: list[str], vectors: np.ndarray, n_base: int) -> None:
        self.texts = texts
        self.vectors = vectors
        self.n_base = n_base
        self._next_id = n_base
        self._lock = threading.Lock()

    def new_ids(self, n: int) -> list[int]:
        with self._lock:
            start = self._next_id
            self._next_id += n
        return list(range(start, start + n))

    def row(self, point_id: int) -> int:
        """Points past the base set reuse the pool's rows (their ids are new)."""
        return point_id % len(self.vectors)


def run_op(client: Client, op: str, work: Workload, rng: random.Random, tally: Tally) -> None:
    n = len(work.vectors)
    if op == "upsert":
        ids = work.new_ids(UPSERT_BATCH)
        rows = [work.row(i) for i in ids]
        client.upsert(COLLECTION, ids, {"dense": work.vectors[rows]},
                      texts=[work.texts[r] for r in rows], payloads=[{"w": "load"}] * len(ids))
        tally.acknowledged.extend(ids)
    elif op == "query_dense":
        client.query(COLLECTION, work.vectors[rng.randrange(n)], using="dense", limit=K)
    elif op == "query_hybrid":
        r = rng.randrange(n)
        client.query(COLLECTION, prefetch=[Prefetch(using="dense", vector=work.vectors[r], limit=50),
                                           Prefetch(using="bm25", text=work.texts[r][:200], limit=50)],
                     fusion="rrf", limit=K)
    elif op == "cache_lookup":
        client.cache_lookup(vector=work.vectors[rng.randrange(n)], category="bench", model="llm")
    elif op == "cache_store":
        r = rng.randrange(n)
        client.cache_store(work.texts[r][:200], f"answer {r}", category="bench", model="llm",
                           vector=work.vectors[r])
    else:  # pragma: no cover
        raise ValueError(op)


def worker(address: str, work: Workload, seconds: float, seed: int, tally: Tally, start: threading.Barrier) -> None:
    rng = random.Random(seed)
    ops, weights = list(MIX), list(MIX.values())
    with Client(address, timeout=30, retries=0) as client:
        start.wait()
        stop_at = time.perf_counter() + seconds
        while time.perf_counter() < stop_at:
            op = rng.choices(ops, weights)[0]
            t = time.perf_counter()
            try:
                run_op(client, op, work, rng, tally)
            except ResourceExhausted as exc:
                if exc.retry_after_s is None:  # a size limit, not overload: a real failure
                    tally.errors.append(f"{op}: {type(exc).__name__}: {exc}")
                    continue
                tally.backpressure[op] += 1
                time.sleep(min(exc.retry_after_s, max(0.0, stop_at - time.perf_counter())))
                continue
            except VecdbError as exc:
                tally.errors.append(f"{op}: {type(exc).__name__}: {exc}")
                continue
            tally.latencies[op].append(time.perf_counter() - t)


def run_phase(address: str, work: Workload, clients: int, seconds: float, seed: int) -> tuple[Tally, float]:
    tallies = [Tally() for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=worker, args=(address, work, seconds, seed + i, tallies[i], barrier),
                                daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join(seconds + 120)
    elapsed = time.perf_counter() - started
    total = Tally()
    for t in tallies:
        total.merge(t)
    return total, elapsed


def load_data(pool: int) -> tuple[list[str], np.ndarray]:
    """`pool` texts and their normalized MiniLM embeddings: the first rows of the cached 100k
    corpus when its embeddings are cached, else only `pool` texts encoded (and cached) here."""
    if any(CACHE.glob(f"minilm-{CORPUS}-*.npy")):
        texts = corpus()
        vectors = minilm_embeddings(texts)
    else:
        texts = text_corpus(pool)
        vectors = minilm_embeddings(texts)
    return texts[:pool], np.ascontiguousarray(vectors[:pool], dtype=np.float32)


def synthetic_data(pool: int, seed: int) -> tuple[list[str], np.ndarray]:
    """`pool` random 384-d unit vectors and texts of 8-20 words from a 2,000-word vocabulary."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(2000)]
    texts = [" ".join(rng.choice(vocab, size=int(rng.integers(8, 21)))) for _ in range(pool)]
    vectors = rng.standard_normal((pool, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return texts, vectors


def corpus() -> list[str]:
    """text_corpus(CORPUS), kept beside the embeddings cache: building it reads the stdlib and
    ShareGPT (about 20 s); the embeddings cache is keyed by these very texts."""
    path = CACHE / f"text-corpus-{CORPUS}.json"
    if path.exists():
        return list(json.loads(path.read_text()))
    texts = text_corpus(CORPUS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(texts))
    return texts


def stop_server(server: ServerProcess, timeout: float = 120.0) -> str | None:
    """SIGTERM and wait (the graceful stop checkpoints every index); None when it stopped cleanly,
    else what went wrong, with the end of the server's log."""
    try:
        code = server.stop(timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        return f"the server did not stop within {timeout:g} s of SIGTERM; killed. Log tail:\n" + "".join(
            server.output[-20:])
    return None if code == 0 else f"the server exited {code} on SIGTERM. Log tail:\n" + "".join(server.output[-20:])


def git_commit() -> str | None:
    """HEAD, with "+dirty" when the working tree has changes; None outside a checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def pct_ms(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 2) if values else None


def summarize(tally: Tally, elapsed: float) -> dict[str, Any]:
    ops = {}
    for op in MIX:
        lat = tally.latencies.get(op, [])
        ops[op] = {"ok": len(lat), "backpressure": tally.backpressure.get(op, 0),
                   "p50_ms": pct_ms(lat, 50), "p99_ms": pct_ms(lat, 99),
                   "ok_per_s": round(len(lat) / elapsed, 1)}
    ok = sum(v["ok"] for v in ops.values())
    backpressure = sum(v["backpressure"] for v in ops.values())
    return {"seconds": round(elapsed, 2), "ok": ok, "backpressure": backpressure, "errors": len(tally.errors),
            "error_samples": tally.errors[:5], "ok_per_s": round(ok / elapsed, 1),
            "backpressure_share": round(backpressure / max(ok + backpressure, 1), 3), "ops": ops}


def tie_tolerant_recall(client: Client, base: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> float:
    """Share of returned ids whose exact similarity reaches the true k-th best (ties count)."""
    hits = 0
    for q in queries:
        sims = base @ q
        kth = np.partition(-sims, K - 1)[K - 1] * -1
        by_id = dict(zip(ids.tolist(), sims.tolist()))
        got = client.query(COLLECTION, q, using="dense", limit=K).ids
        hits += sum(1 for i in got if by_id.get(int(i), -2.0) >= kth - 1e-5)
    return hits / (K * len(queries))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="8 clients, 10 s, 5k points (< 60 s in all)")
    parser.add_argument("--clients", type=int, default=None, help="concurrent clients (threads); default 16")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load; default 30")
    parser.add_argument("--baseline-duration", type=float, default=None, help="seconds of the 1-client baseline")
    parser.add_argument("--n", type=int, default=None, help="points loaded before the run; default 20000")
    parser.add_argument("--max-concurrent-rpcs", type=int, default=4, help="the server's admission limit")
    parser.add_argument("--synthetic", action="store_true",
                        help="random unit vectors and generated texts instead of MiniLM embeddings of real "
                             "text (no encoding on the client: for smoke tests on a fresh checkout)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    args = parser.parse_args()
    clients = args.clients or (8 if args.quick else 16)
    duration = args.duration or (10.0 if args.quick else 30.0)
    baseline_s = args.baseline_duration or (3.0 if args.quick else 8.0)
    n_base = args.n or (5_000 if args.quick else 20_000)

    # A SIGTERM (e.g. `timeout`) unwinds through the finally below, so the server child stops too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.perf_counter()
    texts, vectors = synthetic_data(n_base * 4, args.seed) if args.synthetic else load_data(n_base * 4)
    work = Workload(texts, vectors, n_base)

    with tempfile.TemporaryDirectory(prefix="vecdb-load-") as tmp:
        server = ServerProcess(Path(tmp), VECDB_MAX_CONCURRENT_RPCS=str(args.max_concurrent_rpcs),
                               VECDB_PRELOAD_MODELS="1", VECDB_DEVICE="cpu", VECDB_LOG_LEVEL="WARNING",
                               VECDB_METRICS_PORT="0")
        server.start(timeout=180)
        print(f"[0] data and server ready in {time.perf_counter() - began:.1f} s")
        try:
            with Client(server.address, timeout=600) as admin:
                admin.create_collection(COLLECTION, {"dense": VectorParams(vectors.shape[1], metric="cosine"),
                                                     "bm25": SparseParams(modifier="bm25")})
                t = time.perf_counter()
                admin.upload(COLLECTION, list(range(n_base)), {"dense": vectors[:n_base]}, texts=texts[:n_base],
                             batch_size=1000)
                print(f"[1] loaded {n_base} points ({'random' if args.synthetic else 'MiniLM'} 384-d + BM25) in {time.perf_counter() - t:.1f} s; "
                      f"server admission limit {args.max_concurrent_rpcs} calls")

            base_tally, base_elapsed = run_phase(server.address, work, 1, baseline_s, args.seed + 1000)
            baseline = summarize(base_tally, base_elapsed)
            print(f"[2] baseline, 1 client for {baseline_s:g} s: {baseline['ok_per_s']} calls/s, "
                  f"{baseline['errors']} errors")

            tally, elapsed = run_phase(server.address, work, clients, duration, args.seed)
            loaded = summarize(tally, elapsed)
            print(f"[3] load, {clients} clients for {duration:g} s: {loaded['ok_per_s']} OK calls/s, "
                  f"{loaded['backpressure']} RESOURCE_EXHAUSTED (backpressure, "
                  f"{loaded['backpressure_share']:.1%} of answers), {loaded['errors']} other errors")

            acknowledged = sorted(set(base_tally.acknowledged) | set(tally.acknowledged))
            all_ids = np.array(list(range(n_base)) + acknowledged, dtype=np.int64)
            with Client(server.address, timeout=600) as check:
                count = check.count(COLLECTION)
                rng = np.random.default_rng(args.seed)
                queries = vectors[rng.choice(len(vectors), 100, replace=False)]
                rec = tie_tolerant_recall(check, vectors[[work.row(int(i)) for i in all_ids]], all_ids, queries)
            print(f"[4] points: {count} stored, {len(all_ids)} expected (base + acknowledged upserts); "
                  f"dense recall@{K} {rec:.3f} (tie-tolerant, against brute force)")
        finally:
            stop_problem = stop_server(server)

    print(f"\n{'operation':<14}{'OK':>8}{'backpressure':>14}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'base p50':>10}{'p50 x':>7}{'p99 x':>7}")
    for op in MIX:
        o, b = loaded["ops"][op], baseline["ops"][op]
        r50 = round(o["p50_ms"] / b["p50_ms"], 1) if o["p50_ms"] and b["p50_ms"] else None
        r99 = round(o["p99_ms"] / b["p99_ms"], 1) if o["p99_ms"] and b["p99_ms"] else None
        o["p50_over_baseline"], o["p99_over_baseline"] = r50, r99
        print(f"{op:<14}{o['ok']:>8}{o['backpressure']:>14}{o['p50_ms'] or '-':>9}{o['p99_ms'] or '-':>9}"
              f"{b['p50_ms'] or '-':>10}{r50 or '-':>7}{r99 or '-':>7}")
    ratio = round(loaded["ok_per_s"] / baseline["ok_per_s"], 2) if baseline["ok_per_s"] else None
    print(f"throughput: {loaded['ok_per_s']} OK calls/s with {clients} clients vs {baseline['ok_per_s']} with 1 "
          f"(x{ratio})")

    failures = []
    if loaded["errors"] or baseline["errors"]:
        failures.append(f"errors other than backpressure: {(loaded['error_samples'] + baseline['error_samples'])[:5]}")
    if stop_problem:
        failures.append(stop_problem)
    if count != len(all_ids):
        failures.append(f"{count} points stored, {len(all_ids)} acknowledged")
    result = {
        "bench": "load", "quick": args.quick, "synthetic": args.synthetic, "clients": clients, "duration_s": duration,
        "max_concurrent_rpcs": args.max_concurrent_rpcs, "points_loaded": n_base, "mix": MIX,
        "baseline": baseline, "load": loaded, "throughput_over_baseline": ratio,
        "points_stored": count, "points_expected": len(all_ids), "dense_recall_at_10": round(rec, 4),
        "failures": failures, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                          "load_average": [round(x, 1) for x in os.getloadavg()]},
        "commit": git_commit(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
