"""Multi-vector (late interaction) retrieval: MUVERA FDE candidates + exact MaxSim rerank against
exhaustive MaxSim, on the same data, in one run.

    python bench/bench_multivector.py                 # MiniLM token vectors of 20k real passages + synthetic
    python bench/bench_multivector.py --quick         # small synthetic set only, < 60 s
    python bench/bench_multivector.py --out bench/results/multivector.json

Data:
- minilm: all-MiniLM-L6-v2 per-token vectors (normalized, [CLS]/[SEP]/padding dropped) of --n
  real passages from bench.datasets.text_corpus (docstrings, ShareGPT turns), at most 128
  tokens each; queries are --queries held-out passages cut to their first 32 tokens. Encoding
  takes minutes on a CPU, so the token matrices are cached under bench/results/cache.
- synthetic: clustered token sets (concepts -> topics -> documents), 128-d, 16-64 tokens per
  document, 16-token queries drawn from a topic.

Per dataset:
1. baseline: exhaustive MaxSim (vecdb.kernels.maxsim_topk over a float32 token matrix, one query
   at a time) gives the true top-10 and the baseline QPS;
2. FDE quality per (reps, k_sim, d_proj) setting with an exact FDE scan (no graph error): how
   often the true top-10 lies inside the FDE top-100, and recall@10 after reranking the FDE
   top-N by exact MaxSim;
3. the index: MultiVectorIndex (float16 token store, FDE HNSW graph, exhaustive_max=0) for the
   main setting; per candidates value: recall@10 against the baseline and QPS as a ratio to it;
   the graph's FDE top-100 containment; bytes per token vector and RAM per point against float32.

Every query timing is single-threaded (BLAS limited to one thread, one query per call) for the
baseline and the index alike, and QPS is counted per CPU second (process time), so a busy shared
machine slows both sides' wall clock without skewing the ratio; wall-clock ratios are printed too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import CACHE, minilm_model, text_corpus

K = 10
CONTAIN = 100


# -- data -------------------------------------------------------------------------------------

def minilm_token_sets(texts: list[str], max_tokens: int, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Normalized MiniLM per-token vectors of `texts` (special tokens and padding dropped), as a
    flat float16 (T, 384) matrix and int64 offsets (n + 1,); cached by content hash."""
    digest = hashlib.sha256(("\x00".join(texts) + f"|{max_tokens}").encode()).hexdigest()[:16]
    tok_path = CACHE / f"minilm-tokens-{len(texts)}-{max_tokens}-{digest}.npy"
    off_path = CACHE / f"minilm-offsets-{len(texts)}-{max_tokens}-{digest}.npy"
    if tok_path.exists() and off_path.exists():
        return np.load(tok_path), np.load(off_path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = minilm_model(max_seq_length=max_tokens + 2)  # + [CLS] and [SEP]
    print(f"encoding {len(texts)} texts' token vectors (cached afterwards in {tok_path})", file=sys.stderr)
    start = time.perf_counter()
    chunks: list[np.ndarray] = []
    lengths = np.zeros(len(texts), dtype=np.int64)
    for first in range(0, len(texts), 1024):
        out = model.encode(texts[first : first + 1024], batch_size=batch_size, output_value="token_embeddings",
                           convert_to_numpy=False, show_progress_bar=False)
        for i, t in enumerate(out):
            t = t.float().numpy()[1:-1]  # the output is trimmed to the attention mask: drop [CLS], [SEP]
            if t.shape[0] == 0:
                raise SystemExit(f"text {first + i} has no content tokens")
            t /= np.linalg.norm(t, axis=1, keepdims=True)
            chunks.append(t.astype(np.float16))
            lengths[first + i] = t.shape[0]
        print(f"  {first + len(out)}/{len(texts)} texts, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    tokens = np.concatenate(chunks)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(tok_path, tokens)
    np.save(off_path, offsets)
    return tokens, offsets


def minilm_texts(n: int, n_queries: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """n corpus passages and n_queries held-out passages (disjoint) from bench.datasets.text_corpus."""
    texts = text_corpus(n + n_queries)
    order = np.random.default_rng(seed).permutation(len(texts))
    return [texts[i] for i in order[n_queries:]], [texts[i] for i in order[:n_queries]]


QUERY_POOL = 500
"""Held-out passages set aside as queries whatever --queries is, so the corpus (and its cache)
depends on --n only."""


def load_minilm(n: int, n_queries: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    docs, queries = minilm_texts(n, max(QUERY_POOL, n_queries))
    q_tokens, q_off = minilm_token_sets(queries, 32)
    tokens, offsets = minilm_token_sets(docs, 128)
    return tokens, offsets, split(q_tokens.astype(np.float32), q_off)[:n_queries]


def load_synthetic(n: int, n_queries: int, dim: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Clustered token sets: 2,000 concept centres, 300 topics of 12 concepts each; a document
    picks one topic (70% of its tokens) plus a second one, a token is a concept centre plus noise."""
    rng = np.random.default_rng(seed)
    concepts = rng.standard_normal((2000, dim)).astype(np.float32)
    topics = np.stack([rng.choice(2000, 12, replace=False) for _ in range(300)])

    def token_set(length: int) -> np.ndarray:
        main, other = rng.choice(300, 2, replace=False)
        pick = np.where(rng.random(length) < 0.7, rng.choice(topics[main], length), rng.choice(topics[other], length))
        t = concepts[pick] + 0.6 * rng.standard_normal((length, dim)).astype(np.float32)
        return t / np.linalg.norm(t, axis=1, keepdims=True)

    sets = [token_set(int(rng.integers(16, 65))) for _ in range(n)]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64)
    return np.concatenate(sets).astype(np.float16), offsets, [token_set(16) for _ in range(n_queries)]


def split(tokens: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [tokens[offsets[i] : offsets[i + 1]] for i in range(offsets.size - 1)]


# -- measures ---------------------------------------------------------------------------------

class Clock:
    """Wall and process CPU seconds of a `with` block. Queries run single-threaded, so CPU
    seconds per query are the work done, unaffected by other processes on a shared machine;
    QPS "per CPU" is queries / CPU seconds."""

    def __enter__(self) -> Self:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / truth.shape[1] for f, t in zip(found, truth)]))


def contained(cands: list[np.ndarray], truth: np.ndarray) -> float:
    """Fraction of queries whose whole true top-10 lies inside their candidate list."""
    return float(np.mean([np.isin(t, c).all() for c, t in zip(cands, truth)]))


def fde_sweep(tokens32: np.ndarray, offsets: np.ndarray, queries: list[np.ndarray], truth: np.ndarray,
              settings: list[tuple[int, int, int]], rerank_ns: list[int]) -> list[dict]:
    """Exact FDE scan per setting: containment of the true top-10 in the FDE top-100, recall@10
    after reranking the FDE top-N by exact MaxSim."""
    from vecdb.index.muvera import FdeConfig, FdeEncoder
    from vecdb.kernels import maxsim_topk

    rows = []
    for reps, k_sim, d_proj, final_dim in settings:
        enc = FdeEncoder(tokens32.shape[1], FdeConfig(reps=reps, k_sim=k_sim, d_proj=d_proj, final_dim=final_dim))
        t0 = time.perf_counter()
        docs = enc.documents(tokens32, offsets)
        encode_s = time.perf_counter() - t0
        qf = np.stack([enc.query(q) for q in queries])
        order = np.argsort(-(qf @ docs.T), axis=1)[:, : max(rerank_ns + [CONTAIN])]
        del docs
        row = {"reps": reps, "k_sim": k_sim, "d_proj": d_proj, "final_dim": final_dim, "fde_dim": enc.fde_dim,
               "doc_fde_per_s": (offsets.size - 1) / encode_s,
               f"top{K}_in_fde_top{CONTAIN}": contained(list(order[:, :CONTAIN]), truth)}
        for n_cand in rerank_ns:
            found = [maxsim_topk(q, tokens32, offsets, K, candidates=order[i, :n_cand])[0][0]
                     for i, q in enumerate(queries)]
            row[f"recall@{K}_rerank{n_cand}"] = recall(found, truth)
        rows.append(row)
        print(f"  FDE R={reps:2d} k_sim={k_sim} d_proj={d_proj:2d} final={final_dim} ({enc.fde_dim:6d}-d): "
              f"top{K} in FDE top{CONTAIN} {row[f'top{K}_in_fde_top{CONTAIN}']:.3f}; "
              + "; ".join(f"rerank {n}: recall {row[f'recall@{K}_rerank{n}']:.3f}" for n in rerank_ns), flush=True)
    return rows


def run_dataset(name: str, tokens: np.ndarray, offsets: np.ndarray, queries: list[np.ndarray],
                args: argparse.Namespace) -> dict:
    from vecdb.index import MultiVectorIndex, MultiVectorIndexConfig
    from vecdb.index.muvera import FdeConfig
    from vecdb.kernels import Metric, maxsim_topk

    n, dim = offsets.size - 1, tokens.shape[1]
    n_tok = int(offsets[-1])
    print(f"\n== {name}: {n} points, {n_tok} token vectors ({n_tok / n:.1f}/point), {dim}-d, "
          f"{len(queries)} queries ({np.mean([len(q) for q in queries]):.1f} tokens)", flush=True)
    tokens32 = tokens.astype(np.float32)

    # 1. baseline: exhaustive MaxSim over float32 tokens
    with Clock() as clock:
        truth = np.stack([maxsim_topk(q, tokens32, offsets, K)[0][0] for q in queries])
    base_qps, base_wall_qps = len(queries) / clock.cpu, len(queries) / clock.wall
    print(f"  exhaustive MaxSim (float32 tokens): {base_qps:.2f} QPS per CPU ({base_wall_qps:.2f} wall)", flush=True)

    # 2. FDE settings, exact FDE scan
    sweep = fde_sweep(tokens32, offsets, queries, truth, args.settings, args.rerank)

    # 3. the index, main setting
    reps, k_sim, d_proj, final_dim = args.settings[0]
    config = MultiVectorIndexConfig(
        fde=FdeConfig(reps=reps, k_sim=k_sim, d_proj=d_proj, final_dim=final_dim), storage_dtype="float16", exhaustive_max=0,
        m=args.m, ef_construct=args.ef_construct, ef=args.ef, num_threads=args.build_threads, kernel_device="cpu",
        initial_tokens=n_tok,
    )
    index = MultiVectorIndex(dim, Metric.DOT, config)
    sets = split(tokens32, offsets)
    with Clock() as clock:
        for first in range(0, n, 2000):
            index.add(np.arange(first, min(n, first + 2000)), sets[first : first + 2000])
    build_s = clock.wall
    print(f"  index build (FDEs + HNSW, {args.build_threads} threads): {n / build_s:.0f} points/s", flush=True)

    sample = queries[: max(1, len(queries) // 5)]
    with Clock() as clock:
        exact16 = [index.search([q], K, exact=True).row(0)[0] for q in sample]
    exact16_qps = len(sample) / clock.cpu
    graph_top = [index.fde_candidates([q], CONTAIN).row(0)[0].astype(np.int64) for q in queries]
    rows = []
    for n_cand in args.candidates:
        index.search([queries[0]], K, candidates=n_cand)  # warm-up
        with Clock() as clock:
            found = [index.search([q], K, candidates=n_cand).row(0)[0].astype(np.int64) for q in queries]
        qps, wall_qps = len(queries) / clock.cpu, len(queries) / clock.wall
        rows.append({"candidates": n_cand, "ef": max(args.ef, n_cand), "recall@10": recall(found, truth),
                     "qps": qps, "qps_ratio": qps / base_qps, "wall_qps": wall_qps,
                     "wall_qps_ratio": wall_qps / base_wall_qps})
        print(f"  index candidates={n_cand:4d} (ef {max(args.ef, n_cand)}): recall@{K} {rows[-1]['recall@10']:.3f}, "
              f"{qps:.1f} QPS per CPU = {qps / base_qps:.1f}x exhaustive (wall {wall_qps / base_wall_qps:.1f}x)",
              flush=True)

    graph_bytes = index.graph.ram_bytes
    f16_tok = index.token_count * dim * 2
    memory = {
        "bytes_per_token_vector": {"float16": 2 * dim, "float32": 4 * dim},
        "token_bytes_per_point": {"float16": f16_tok / n, "float32": 2 * f16_tok / n},
        "fde_graph_bytes_per_point": graph_bytes / n,
        "ram_bytes_per_point": index.ram_bytes / n,
        "ram_bytes_per_point_if_float32": (index.ram_bytes + f16_tok) / n,
    }
    print(f"  bytes per token vector: float16 {2 * dim} vs float32 {4 * dim}; RAM per point "
          f"{memory['ram_bytes_per_point'] / 1024:.1f} KiB (tokens {f16_tok / n / 1024:.1f} KiB + FDE graph "
          f"{graph_bytes / n / 1024:.1f} KiB) vs {memory['ram_bytes_per_point_if_float32'] / 1024:.1f} KiB with float32 tokens",
          flush=True)
    return {
        "points": n, "token_vectors": n_tok, "dim": dim, "queries": len(queries),
        "baseline_exhaustive_qps": base_qps, "baseline_exhaustive_wall_qps": base_wall_qps,
        "index_exact_float16_qps": exact16_qps,
        "index_exact_float16_recall@10": recall(exact16, truth[: len(sample)]),
        "fde_settings_exact_scan": sweep,
        "index": {"reps": reps, "k_sim": k_sim, "d_proj": d_proj, "final_dim": final_dim, "m": args.m, "ef_construct": args.ef_construct,
                  "build_points_per_s": n / build_s,
                  f"graph_top{K}_in_fde_top{CONTAIN}": contained(graph_top, truth), "sweep": rows},
        "memory": memory,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small synthetic set only (< 60 s)")
    parser.add_argument("--datasets", default="minilm,synthetic")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--synthetic-n", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--settings", default="20:5:16,20:4:16,20:5:32,40:5:16,20:5:16:2048",
                        help="FDE settings reps:k_sim:d_proj[:final_dim], comma separated; the first builds the index")
    parser.add_argument("--rerank", default="100,200,400", help="FDE top-N reranked in the exact-scan sweep")
    parser.add_argument("--candidates", default="100,200,400", help="index candidates to sweep")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construct", type=int, default=100)
    parser.add_argument("--ef", type=int, default=128)
    parser.add_argument("--build-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "multivector.json")
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.synthetic_n, args.queries = "synthetic", 2000, 20
        args.settings, args.rerank, args.candidates = "10:4:16", "100", "100"
    args.settings = [tuple([int(x) for x in s.split(":")] + [0])[:4] for s in args.settings.split(",")]
    args.rerank = [int(x) for x in args.rerank.split(",")]
    args.candidates = [int(x) for x in args.candidates.split(",")]

    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    results = {}
    with threadpool_limits(1):
        for name in args.datasets.split(","):
            if name == "minilm":
                data = load_minilm(args.n, args.queries)
            elif name == "synthetic":
                data = load_synthetic(args.synthetic_n, args.queries)
            else:
                raise SystemExit(f"unknown dataset {name!r}; choose minilm or synthetic")
            results[name] = run_dataset(name, *data, args)
    record = {
        "k": K, "quick": args.quick, "results": results, "seconds": time.perf_counter() - started,
        "threads": "1 (BLAS and queries); build " + str(args.build_threads),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                 check=False, capture_output=True, text=True).stdout.strip(),
    }
    print(f"\n{'dataset':10} {'candidates':>10} {'recall@10':>10} {'QPS x exhaustive':>17} {'top10 in FDE top100':>20}")
    for name, res in results.items():
        for row in res["index"]["sweep"]:
            print(f"{name:10} {row['candidates']:>10} {row['recall@10']:>10.3f} {row['qps_ratio']:>17.1f} "
                  f"{res['index'][f'graph_top{K}_in_fde_top{CONTAIN}']:>20.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1))
    print(f"\nwrote {args.out} ({record['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
