"""BM25 at three levels on the same corpus and queries, in one run: the index alone
(`Bm25Index.search`), the in-process engine (`Collection.query` on a BM25 field, which adds
the analysis of the query, the filter plumbing and the id mapping) and a real server through the
SDK over loopback gRPC. All three must return the same top-10; the QPS of each is reported with
its ratio to the index. This is the "through gRPC" figure of the sparse benchmark (issue 6).

    python bench/bench_bm25_grpc.py                 # 50k passages, 1,000 queries
    python bench/bench_bm25_grpc.py --quick         # 3k passages, 100 queries, < 60 s
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_sparse import corpus
from tests.integration.server_process import ServerProcess
from vecdb.engine.database import Database
from vecdb.engine.options import EngineOptions
from vecdb.engine.schema import Bm25Config, CollectionConfig, SparseField
from vecdb.engine.types import NearestQuery, UpsertBatch
from vecdb.index.analyzer import AnalyzerConfig
from vecdb.index.bm25 import Bm25Config as IndexBm25Config
from vecdb.index.bm25 import Bm25Index
from vecdb_client import Client, SparseParams

K = 10
BATCH = 2_000


def _qps(fn: Any, queries: list[str], rounds: int) -> tuple[float, list[list[int]]]:
    """Best-of-`rounds` queries per second of `fn(query) -> ids`, and the ids of the last round."""
    best = 0.0
    answers: list[list[int]] = []
    for _ in range(rounds):
        started = time.perf_counter()
        answers = [fn(q) for q in queries]
        best = max(best, len(queries) / (time.perf_counter() - started))
    return best, answers


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="3k passages, 100 queries (< 60 s)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bm25-grpc.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.queries, args.rounds = 3_000, 100, 1
    docs, queries = corpus(args.n, args.queries)
    ids = np.arange(len(docs), dtype=np.uint64)
    print(f"corpus: {len(docs)} passages, {len(queries)} queries")

    index = Bm25Index(IndexBm25Config(k1=1.2, b=0.75, analyzer=AnalyzerConfig()))
    index.add(ids, docs)
    index_qps, index_ids = _qps(lambda q: index.search(q, K)[0].tolist(), queries, args.rounds)

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "engine", EngineOptions(search_threads=1))
        db.create_collection(CollectionConfig(name="docs", vectors=(SparseField("bm25", modifier="bm25", bm25=Bm25Config()),)))
        coll = db.collection("docs")
        for start in range(0, len(docs), BATCH):
            coll.upsert(UpsertBatch(ids=list(range(start, min(start + BATCH, len(docs)))), vectors={},
                                    texts=docs[start:start + BATCH]))
        engine_qps, engine_ids = _qps(lambda q: list(coll.query(NearestQuery(using="bm25", text=q, limit=K)).ids),
                                      queries, args.rounds)
        db.close()

        with ServerProcess(Path(tmp) / "server", VECDB_LOG_LEVEL="WARNING") as server, \
                Client(server.address, timeout=600) as client:
            client.create_collection("docs", {"bm25": SparseParams(modifier="bm25")})
            for start in range(0, len(docs), BATCH):
                client.upsert("docs", list(range(start, min(start + BATCH, len(docs)))), None,
                              texts=docs[start:start + BATCH])
            grpc_qps, grpc_ids = _qps(lambda q: list(client.query("docs", text=q, using="bm25", limit=K).ids),
                                      queries, args.rounds)

    def same(a: list[list[int]], b: list[list[int]]) -> float:
        return sum(x == y for x, y in zip(a, b)) / len(a)

    result = {
        "n": len(docs), "queries": len(queries), "k": K,
        "qps_index": index_qps, "qps_engine": engine_qps, "qps_grpc": grpc_qps,
        "engine_over_index": engine_qps / index_qps, "grpc_over_index": grpc_qps / index_qps,
        "top10_engine_equals_index": same(engine_ids, index_ids),
        "top10_grpc_equals_index": same(grpc_ids, index_ids),
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, check=False).stdout.strip(),
    }
    for label, key in (("index (Bm25Index.search)", "qps_index"), ("engine (Collection.query)", "qps_engine"),
                       ("gRPC (SDK, loopback)", "qps_grpc")):
        print(f"{label:28s} {result[key]:9,.0f} QPS  ({result[key] / index_qps:.2f}x the index)")
    print(f"top-10 identical to the index: engine {result['top10_engine_equals_index']:.3f}, "
          f"gRPC {result['top10_grpc_equals_index']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
