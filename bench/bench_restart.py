"""Restart time against collection size: how long a database takes to open after a clean stop
(index checkpoint up to date), after a kill -9 (checkpoint plus replay of the change log) and
with no usable checkpoint (rebuild of the HNSW graph from LMDB), in one run on the same data.

    python bench/bench_restart.py                # 10k / 50k / ~100k MiniLM embeddings (384-d)
    python bench/bench_restart.py --quick        # 3k / 10k, under a minute

For each size n, one collection (cosine, m 16, ef_construct 100) is filled through the engine in
durable batches of 1000; an index checkpoint is written after 90% of the points, then the last
10% are added, and the database is dropped as a killed process would drop it (no checkpoint, no
close). Then the same folder is opened three times:

1. replay: the checkpoint (at 90%) is loaded and the last 10% are replayed from the change log;
2. checkpointed: after a clean close (which checkpoints), nothing to replay;
3. rebuild: the index folder removed, the graph is rebuilt from the stored vectors.

Each open is checked: point count, and recall@10 of HNSW search against exact search on held-out
queries (the same in all three modes, else a mode lost something). The baseline is the
checkpointed open; the report gives replay and rebuild as multiples of it. A server restart adds
a fixed cost for the process itself (interpreter, imports, binding), measured once here on an
empty folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import iter_batches, minilm_embeddings, split_queries, text_corpus
from vecdb.engine.database import Database, EngineOptions
from vecdb.engine.schema import CollectionConfig, DenseField, HnswConfig
from vecdb.engine.types import NearestQuery, UpsertBatch
from vecdb.kernels.metrics import Metric

K = 10


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    sims = queries @ base.T
    part = np.argpartition(-sims, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def drop_like_a_kill(db: Database) -> None:
    """Release a database without checkpointing or closing it, as SIGKILL would (the OS frees
    the LMDB environments and the folder lock)."""
    db._background.shutdown(wait=True)
    for collection in db._collections.values():
        collection._store.close()
    os.close(db._lock_fd)


def open_and_check(folder: Path, options: EngineOptions, n: int, queries: np.ndarray,
                   truth: np.ndarray) -> tuple[float, float]:
    """(seconds to open, recall@10 of the opened index)."""
    started = time.perf_counter()
    db = Database(folder, options)
    seconds = time.perf_counter() - started
    try:
        coll = db.collection("bench")
        assert coll.count() == n, f"opened {coll.count()} points, expected {n}"
        found = [coll.query(NearestQuery(vector=q, limit=K, using="v")).ids for q in queries]
        rec = float(np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth)]))
    finally:
        db.close()
    return seconds, rec


def process_overhead(folder: Path) -> float:
    """Seconds from starting `python -m vecdb.server` on an empty folder to its first answer."""
    from tests.integration.server_process import ServerProcess
    from vecdb_client import Client, errors

    started = time.perf_counter()
    with ServerProcess(folder, VECDB_KERNEL_DEVICE="cpu") as server, Client(server.address, retries=0) as c:
        while True:
            try:
                c.list_collections()
                break
            except errors.Unavailable:
                time.sleep(0.01)
        return time.perf_counter() - started


def run_size(vectors: np.ndarray, queries: np.ndarray, work: Path, threads: int) -> dict[str, float]:
    n = len(vectors)
    options = EngineOptions(search_threads=threads, checkpoint_every_mutations=10**9)
    folder = work / f"n{n}"
    config = CollectionConfig(name="bench", vectors=(DenseField(
        name="v", dim=vectors.shape[1], metric=Metric.COSINE, hnsw=HnswConfig(m=16, ef_construct=100, ef=64)),))
    db = Database(folder, options)
    db.create_collection(config)
    coll = db.collection("bench")
    split = int(n * 0.9)
    started = time.perf_counter()
    for lo, hi in ((0, split), (split, n)):
        for sl in iter_batches(hi - lo, 1000):
            ids = list(range(lo + sl.start, lo + sl.stop))
            coll.upsert(UpsertBatch(ids=ids, vectors={"v": vectors[ids[0]:ids[-1] + 1]}))
        if lo == 0:
            coll.checkpoint()
    ingest = time.perf_counter() - started
    drop_like_a_kill(db)
    truth = exact_topk(vectors, queries, K)
    replay_s, replay_recall = open_and_check(folder, options, n, queries, truth)  # closes with a checkpoint
    ckpt_s, ckpt_recall = open_and_check(folder, options, n, queries, truth)
    shutil.rmtree(folder / "collections" / "bench" / "index")
    rebuild_s, rebuild_recall = open_and_check(folder, options, n, queries, truth)
    shutil.rmtree(folder)
    return {
        "n": n, "ingest_s": ingest, "checkpointed_s": ckpt_s, "replay_s": replay_s, "rebuild_s": rebuild_s,
        "replayed_points": n - split, "replay_x": replay_s / ckpt_s, "rebuild_x": rebuild_s / ckpt_s,
        "recall_checkpointed": ckpt_recall, "recall_replay": replay_recall, "recall_rebuild": rebuild_recall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 50_000, 100_000])
    parser.add_argument("--quick", action="store_true", help="sizes 3000,10000 and 100 queries (under a minute)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=None, help="JSON record (default bench/results/restart.json)")
    args = parser.parse_args()
    sizes = [3_000, 10_000] if args.quick else args.sizes
    n_queries = 100 if args.quick else args.queries
    # The cached MiniLM embeddings cover 100k texts: queries are held out of those, so the largest
    # size is 100k minus the queries (more would mean encoding new texts).
    corpus = 100_000 if max(sizes) <= 100_000 else max(sizes) + n_queries
    base, queries = split_queries(minilm_embeddings(text_corpus(corpus)).astype(np.float32), n_queries)
    sizes = [min(n, len(base)) for n in sizes]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        overhead = process_overhead(Path(tmp) / "empty")
        for n in sizes:
            row = run_size(base[:n], queries, Path(tmp), args.threads)
            rows.append(row)
            print(f"n={n:>7}: checkpointed {row['checkpointed_s']:.2f}s | replay of {row['replayed_points']} "
                  f"{row['replay_s']:.2f}s ({row['replay_x']:.1f}x) | rebuild {row['rebuild_s']:.2f}s "
                  f"({row['rebuild_x']:.1f}x) | recall@10 {row['recall_checkpointed']:.3f} / "
                  f"{row['recall_replay']:.3f} / {row['recall_rebuild']:.3f}", flush=True)
    print(f"server process start on an empty folder (added to every restart): {overhead:.2f}s")
    result = {
        "bench": "restart", "dataset": "minilm-384", "sizes": rows, "process_overhead_s": overhead,
        "threads": args.threads, "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "hnsw": {"m": 16, "ef_construct": 100, "ef": 64}, "queries": n_queries,
    }
    out = args.out or ROOT / "bench" / "results" / "restart.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
