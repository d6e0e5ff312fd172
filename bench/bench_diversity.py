"""Diversity (MMR, coverage-aware greedy) against plain top-k on real MiniLM embeddings, in one run.

    python bench/bench_diversity.py            # 100k passages, 200 held-out queries
    python bench/bench_diversity.py --quick    # 20 queries (< 60 s once the embeddings are cached)

For each held-out query: the exact top-`--candidates` passages by cosine form the candidate set
(the prefetch stage); plain top-k, `mmr` and `coverage_select` each pick k of them. Quality is
reported per method, as ratios against plain top-k measured on the same candidates:

* relevance: mean cosine of the picks to the query (what diversity gives up);
* intra-list similarity: mean pairwise cosine among the picks (lower is more diverse);
* near-duplicate pairs: pairs of picks with cosine >= 0.9, per query;
* coverage: mean over all candidates of max(0, best cosine to a pick) (what coverage maximizes).

"coverage" uses the objective as defined (coverage summed over all candidates, so it dominates
unless lambda is near 1); "coverage k/n" passes coverage_scale = k / candidates, which puts
coverage on the scale of the k relevance scores, as in MMR.

Time is reported per query and as a ratio against the exact candidate search (a flat scan of the
base set), since selecting the plain top-k from a scored candidate list is nearly free. At
lambda = 1 both methods must return exactly the plain top-k; the run checks it on every query.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.datasets import minilm_embeddings, split_queries, text_corpus
from vecdb.index import coverage_select, mmr

NEAR_DUPLICATE = 0.9


def quality(picks: np.ndarray, rel: np.ndarray, cand: np.ndarray) -> dict[str, float]:
    chosen = cand[picks]
    pair = chosen @ chosen.T
    upper = pair[np.triu_indices(len(picks), 1)]
    cover = np.maximum((cand @ chosen.T).max(axis=1), 0.0)
    return {
        "relevance": float(rel[picks].mean()),
        "intra_list_similarity": float(upper.mean()),
        "near_duplicate_pairs": float((upper >= NEAR_DUPLICATE).sum()),
        "coverage": float(cover.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="passages (base + queries)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=200, help="prefetch size per query")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.5, 0.7, 0.9])
    parser.add_argument("--quick", action="store_true", help="20 queries, lambdas 0.5 and 0.7")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "diversity-minilm.json"
    )
    args = parser.parse_args()
    if args.quick:
        args.queries, args.lambdas = min(args.queries, 20), [0.5, 0.7]

    vectors = minilm_embeddings(text_corpus(args.n))
    base, queries = split_queries(vectors, args.queries)
    base = np.ascontiguousarray(base)
    k, c = args.k, args.candidates

    kinds = (
        ("mmr", mmr, {}),
        ("coverage", coverage_select, {}),
        ("coverage k/n", coverage_select, {"coverage_scale": k / c}),
    )
    methods = {"top-k": None} | {
        f"{name} l={lam:g}": (fn, lam, kw) for lam in args.lambdas for name, fn, kw in kinds
    }
    totals: dict[str, dict[str, float]] = {m: {} for m in methods}
    seconds = dict.fromkeys(methods, 0.0)
    search_seconds = 0.0
    exact_at_one = True
    for q in queries:
        start = time.perf_counter()
        sims = base @ q
        top = np.argpartition(-sims, c)[:c]
        top = top[np.argsort(-sims[top], kind="stable")]
        search_seconds += time.perf_counter() - start
        rel = sims[top].astype(np.float64)
        cand = base[top]
        for name, spec in methods.items():
            start = time.perf_counter()
            if spec is None:
                picks = np.argsort(-rel, kind="stable")[:k]
            else:
                fn, lam, kw = spec
                picks = fn(rel, cand, k, lambda_=lam, **kw)
            seconds[name] += time.perf_counter() - start
            for key, value in quality(picks, rel, cand).items():
                totals[name][key] = totals[name].get(key, 0.0) + value
        plain = np.argsort(-rel, kind="stable")[:k]
        for fn in (mmr, coverage_select):
            exact_at_one &= bool(np.array_equal(fn(rel, cand, k, lambda_=1.0), plain))

    n_q = len(queries)
    base_row = {key: v / n_q for key, v in totals["top-k"].items()}
    search_ms = search_seconds / n_q * 1e3
    print(
        f"MiniLM {base.shape[0]} x {base.shape[1]}, {n_q} queries, {c} candidates, k={k}; "
        f"exact candidate search {search_ms:.2f} ms/query"
    )
    print(f"lambda=1 equals plain top-k on every query: {exact_at_one}")
    header = f"{'method':<22}{'relevance':>16}{'intra-sim':>16}{'dup pairs':>12}{'coverage':>16}{'ms/query':>10}{'x search':>10}"
    print(header)
    rows = []
    for name in methods:
        row = {key: v / n_q for key, v in totals[name].items()}
        ms = seconds[name] / n_q * 1e3
        print(
            f"{name:<22}"
            f"{row['relevance']:>8.4f} ({row['relevance'] / base_row['relevance']:.3f}x)"
            f"{row['intra_list_similarity']:>8.4f} ({row['intra_list_similarity'] / base_row['intra_list_similarity']:.3f}x)"
            f"{row['near_duplicate_pairs']:>12.2f}"
            f"{row['coverage']:>8.4f} ({row['coverage'] / base_row['coverage']:.3f}x)"
            f"{ms:>10.2f}{ms / search_ms:>10.3f}"
        )
        rows.append(
            {
                "method": name,
                **row,
                "ms_per_query": ms,
                "ratio_to_search": ms / search_ms,
                **{
                    f"{key}_ratio_to_topk": row[key] / base_row[key] for key in row if base_row[key]
                },
            }
        )
    record = {
        "benchmark": "diversity",
        "dataset": "minilm",
        "n_base": int(base.shape[0]),
        "dim": int(base.shape[1]),
        "queries": n_q,
        "candidates": c,
        "k": k,
        "lambda_one_equals_topk": exact_at_one,
        "search_ms_per_query": search_ms,
        "methods": rows,
        "quick": args.quick,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    if not exact_at_one:
        raise SystemExit("lambda=1 did not reproduce plain top-k")


if __name__ == "__main__":
    main()
