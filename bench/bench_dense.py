"""Dense search through vecdb against raw hnswlib, on the same data, the same graph and the
same threads, in one run.

    python bench/bench_dense.py --dataset minilm      # 100k x 384 MiniLM embeddings of real text
    python bench/bench_dense.py --dataset glove       # 100k x 50 GloVe word vectors

Steps:
1. raw hnswlib: build the index with add_items (the ingest baseline), then sweep ef and pick
   the smallest ef whose recall@10 against exact search is >= --target-recall;
2. vecdb: start a real server on loopback (a child process), create a collection with the same
   m / ef_construct / chosen ef, bulk upsert through the SDK (durable: every batch is an LMDB
   commit with sync on) and time it;
3. checkpoint the vecdb index and load that very file into raw hnswlib, so both sides search
   the same graph: batched QPS (64 queries per call, the same threads) and single-query p50
   latency, through gRPC against raw knn_query;
4. print ratios and recall; write a JSON record to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hnswlib
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import glove, iter_batches, minilm_embeddings, split_queries, text_corpus
from tests.integration.server_process import ServerProcess
from vecdb_client import Client, HnswParams, VectorParams

K = 10
BATCH_QUERIES = 64


def load(dataset: str, n: int, n_queries: int) -> tuple[np.ndarray, np.ndarray]:
    if dataset == "minilm":
        vectors = minilm_embeddings(text_corpus(n + n_queries))
    else:
        vectors = glove(n + n_queries)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return split_queries(vectors.astype(np.float32), n_queries)


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((len(queries), k), dtype=np.int64)
    for sl in iter_batches(len(queries), 256):
        sims = queries[sl] @ base.T
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
        out[sl] = np.take_along_axis(part, order, axis=1)
    return out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / truth.shape[1] for f, t in zip(found, truth)]))


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def raw_build_and_sweep(base: np.ndarray, queries: np.ndarray, truth: np.ndarray,
                        args: argparse.Namespace) -> tuple[float, int, float, dict[int, float]]:
    """Build raw hnswlib with add_items (the ingest baseline) and find the smallest ef whose
    recall@K reaches the target. Returns (build seconds, ef, its recall, the sweep)."""
    raw = hnswlib.Index(space="cosine", dim=base.shape[1])
    raw.init_index(max_elements=len(base), M=args.m, ef_construction=args.ef_construct, random_seed=100)
    ids = np.arange(len(base), dtype=np.int64)
    build_s = timed(lambda: raw.add_items(base, ids, num_threads=args.threads))
    sweep: dict[int, float] = {}
    for candidate in (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512):
        raw.set_ef(candidate)
        labels, _ = raw.knn_query(queries, k=K, num_threads=args.threads)
        sweep[candidate] = recall(labels, truth)
        if sweep[candidate] >= args.target_recall:
            return build_s, candidate, sweep[candidate], sweep
    raise SystemExit(f"no ef reached recall {args.target_recall}: {sweep}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["minilm", "glove"], default="minilm")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construct", type=int, default=200)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--target-recall", type=float, default=0.95)
    parser.add_argument("--upload-batch", type=int, default=1_000)
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON record "
                        "(default: bench/results/dense-<dataset>.json)")
    args = parser.parse_args()

    base, queries = load(args.dataset, args.n, args.queries)
    n, dim = base.shape
    ids = np.arange(n, dtype=np.int64)
    print(f"dataset {args.dataset}: {n} x {dim}, {len(queries)} queries, k={K}, threads={args.threads}")
    truth = exact_topk(base, queries, K)

    # 1. raw hnswlib build and ef sweep
    raw_build_s, ef, ef_recall, sweep = raw_build_and_sweep(base, queries, truth, args)
    print(f"raw hnswlib: build {n / raw_build_s:,.0f} points/s; ef={ef} gives recall@{K} {ef_recall:.4f}")

    with tempfile.TemporaryDirectory(prefix="vecdb-bench-") as tmp:
        server = ServerProcess(Path(tmp), VECDB_SEARCH_WORKERS=str(args.threads), VECDB_LOG_LEVEL="WARNING")
        server.env["VECDB_SEARCH_THREADS"] = str(args.threads)
        with server, Client(server.address, timeout=600) as client:
            # 2. bulk upsert through the SDK
            client.create_collection("bench", VectorParams(
                dim=dim, metric="cosine", hnsw=HnswParams(m=args.m, ef_construct=args.ef_construct, ef=ef)))
            upload_s = timed(lambda: client.upload("bench", ids.tolist(), base, batch_size=args.upload_batch))
            assert client.count("bench") == n

            # 3a. the same graph in raw hnswlib, loaded from vecdb's checkpoint
            client.checkpoint("bench")
            index_dir = Path(tmp) / "collections" / "bench" / "index"
            [graph_file] = [p for p in index_dir.iterdir() if p.suffix == ".hnsw"]
            same = hnswlib.Index(space="cosine", dim=dim)
            same.load_index(str(graph_file), max_elements=n)
            same.set_ef(ef)

            # batched QPS
            def raw_batches() -> None:
                for sl in iter_batches(len(queries), BATCH_QUERIES):
                    same.knn_query(queries[sl], k=K, num_threads=args.threads)

            found: list[list[int]] = []

            def vecdb_batches() -> None:
                found.clear()
                for sl in iter_batches(len(queries), BATCH_QUERIES):
                    for hits in client.query_batch("bench", queries[sl], limit=K):
                        found.append([h.id for h in hits])

            raw_batches()
            vecdb_batches()  # warm-up
            raw_batch_s = timed(raw_batches, repeat=3)
            vecdb_batch_s = timed(vecdb_batches, repeat=3)
            vecdb_recall = recall(np.array(found), truth)
            raw_recall = recall(same.knn_query(queries, k=K, num_threads=args.threads)[0], truth)

            # single-query latency, one call at a time
            sample = queries[:300]
            raw_lat, vecdb_lat = [], []
            for q in sample:
                t0 = time.perf_counter()
                same.knn_query(q, k=K, num_threads=1)
                raw_lat.append(time.perf_counter() - t0)
            for q in sample:
                t0 = time.perf_counter()
                client.query("bench", q, limit=K)
                vecdb_lat.append(time.perf_counter() - t0)
            # The floor: a call that does no index work (an existence check) through the same stack.
            floor_lat = []
            for _ in sample:
                t0 = time.perf_counter()
                client.collection_exists("bench")
                floor_lat.append(time.perf_counter() - t0)
            stats = client.stats("bench")[0]

    raw_qps = len(queries) / raw_batch_s
    vecdb_qps = len(queries) / vecdb_batch_s
    raw_p50, vecdb_p50 = statistics.median(raw_lat) * 1e3, statistics.median(vecdb_lat) * 1e3
    floor_p50 = statistics.median(floor_lat) * 1e3
    result = {
        "dataset": args.dataset, "n": n, "dim": dim, "queries": len(queries), "k": K, "threads": args.threads,
        "m": args.m, "ef_construct": args.ef_construct, "ef": ef, "ef_sweep_recall": sweep,
        "recall_raw": raw_recall, "recall_vecdb": vecdb_recall,
        "raw_build_points_per_s": n / raw_build_s, "vecdb_upload_points_per_s": n / upload_s,
        "upload_ratio": raw_build_s / upload_s,
        "raw_batch_qps": raw_qps, "vecdb_batch_qps": vecdb_qps, "batch_qps_ratio": vecdb_qps / raw_qps,
        "raw_single_p50_ms": raw_p50, "vecdb_single_p50_ms": vecdb_p50, "single_added_p50_ms": vecdb_p50 - raw_p50,
        "grpc_floor_p50_ms": floor_p50,
        "vecdb_field_ram_bytes": stats.fields[0].ram_bytes,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
    }
    rows = [
        ("bulk upsert (points/s)", f"{n / raw_build_s:,.0f}", f"{n / upload_s:,.0f}", f"{result['upload_ratio']:.2f}", ">= 0.50"),
        (f"batched query, {BATCH_QUERIES}/call (QPS)", f"{raw_qps:,.0f}", f"{vecdb_qps:,.0f}", f"{result['batch_qps_ratio']:.2f}", ">= 0.80"),
        ("single query p50 (ms)", f"{raw_p50:.3f}", f"{vecdb_p50:.3f}", f"+{vecdb_p50 - raw_p50:.3f} ms", "<= +0.5 ms"),
        (f"recall@{K}", f"{raw_recall:.4f}", f"{vecdb_recall:.4f}", "", f">= {args.target_recall}"),
        ("no-op RPC p50, the floor (ms)", "", f"{floor_p50:.3f}", "", "context"),
    ]
    print(f"\n{'measure':34} {'raw hnswlib':>12} {'vecdb':>12} {'ratio':>12} {'target':>12}")
    for row in rows:
        print(f"{row[0]:34} {row[1]:>12} {row[2]:>12} {row[3]:>12} {row[4]:>12}")
    out = args.out or ROOT / "bench" / "results" / f"dense-{args.dataset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
