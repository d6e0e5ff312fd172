"""The embedded encoder through gRPC against raw sentence-transformers, same texts, one run.

    python bench/bench_encoder.py            # 2,048 real passages, all-MiniLM-L6-v2 on the CPU

1. raw: `SentenceTransformer.encode(texts, batch_size=64)` in this process (the baseline);
2. `Encoder.Encode` through a real server on loopback, 64 texts per call, one call at a time;
3. 16 concurrent callers sending one text each, against the same calls made one by one (the
   micro-batcher gathers concurrent calls into shared model calls);
and prints texts/s and the ratios against the targets, plus the largest difference between the
server's vectors and the raw ones. The model runs on the CPU in both processes, one after the
other, so they never compete for cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.datasets import minilm_model, passages, stdlib_docstrings
from tests.integration.server_process import ServerProcess
from vecdb_client import Client

BATCH = 64


def texts_per_s(n: int, seconds: float) -> float:
    return n / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2048)
    parser.add_argument("--single", type=int, default=256, help="texts sent one per call, for the concurrency test")
    parser.add_argument("--callers", type=int, default=16)
    args = parser.parse_args()

    texts = list(passages(stdlib_docstrings()))[: args.texts]
    single = texts[: args.single]
    print(f"{len(texts)} passages (mean {np.mean([len(t) for t in texts]):.0f} chars); all-MiniLM-L6-v2 on the CPU")

    model = minilm_model(max_seq_length=256)  # the packaged model's own window
    model.encode(texts[:BATCH], batch_size=BATCH)  # warm-up
    start = time.perf_counter()
    raw = model.encode(texts, batch_size=BATCH, normalize_embeddings=True)
    raw_rate = texts_per_s(len(texts), time.perf_counter() - start)
    # The like-for-like baseline: the same 64-text calls the RPC makes (encode() sorts all its
    # texts by length first, so one big call pads less than 64-text calls can).
    start = time.perf_counter()
    for i in range(0, len(texts), BATCH):
        model.encode(texts[i:i + BATCH], batch_size=BATCH, normalize_embeddings=True)
    raw_chunked_rate = texts_per_s(len(texts), time.perf_counter() - start)
    # What batching can gain on this machine at all: the same texts one per call.
    start = time.perf_counter()
    for t in single:
        model.encode([t], normalize_embeddings=True)
    raw_single_rate = texts_per_s(len(single), time.perf_counter() - start)
    del model

    with tempfile.TemporaryDirectory(prefix="vecdb-bench-") as tmp:
        with ServerProcess(Path(tmp), VECDB_PRELOAD_MODELS="1", VECDB_LOG_LEVEL="WARNING") as server, \
                Client(server.address, timeout=600) as client:
            client.encode(texts[:BATCH])  # warm-up
            start = time.perf_counter()
            served = []
            for i in range(0, len(texts), BATCH):
                served += [e.vector for e in client.encode(texts[i:i + BATCH])]
            rpc_rate = texts_per_s(len(texts), time.perf_counter() - start)
            max_diff = float(np.abs(np.stack(served) - raw).max())

            start = time.perf_counter()
            for t in single:
                client.encode([t])
            sequential_rate = texts_per_s(len(single), time.perf_counter() - start)

            chunks = [single[i::args.callers] for i in range(args.callers)]

            def caller(own: list[str]) -> None:
                with Client(server.address, timeout=600) as c:
                    for t in own:
                        c.encode([t])

            threads = [threading.Thread(target=caller, args=(chunk,)) for chunk in chunks]
            start = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            concurrent_rate = texts_per_s(len(single), time.perf_counter() - start)

    rows = [
        (f"raw model.encode, all texts, batch {BATCH}", f"{raw_rate:,.0f}", "", ""),
        (f"raw model.encode, {BATCH} texts per call", f"{raw_chunked_rate:,.0f}", "", ""),
        (f"Encode RPC, {BATCH} texts/call vs all texts", f"{rpc_rate:,.0f}", f"{rpc_rate / raw_rate:.2f}", ">= 0.85"),
        (f"Encode RPC, {BATCH} texts/call vs {BATCH}/call", "", f"{rpc_rate / raw_chunked_rate:.2f}", ">= 0.85"),
        ("raw model.encode, 1 text per call", f"{raw_single_rate:,.0f}", "", ""),
        ("  batching ceiling here (raw 64/call / 1/call)", "", f"{raw_chunked_rate / raw_single_rate:.2f}", "context"),
        ("Encode RPC, 1 text/call, one by one", f"{sequential_rate:,.0f}", "", ""),
        (f"Encode RPC, 1 text/call, {args.callers} callers", f"{concurrent_rate:,.0f}",
         f"{concurrent_rate / sequential_rate:.2f}", ">= 3.0"),
    ]
    print(f"\n{'measure':48} {'texts/s':>10} {'ratio':>8} {'target':>9}")
    for row in rows:
        print(f"{row[0]:48} {row[1]:>10} {row[2]:>8} {row[3]:>9}")
    print(f"\nlargest |server - raw| over {len(texts)} vectors: {max_diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
