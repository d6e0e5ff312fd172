"""`vecdb search` and `vecdb count`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from vecdb.cli.common import EpilogFormatter, connect, emit, parse_filter, parse_json_arg
from vecdb.cli.errors import UsageError
from vecdb.cli.output import compact_json, format_table

__all__ = ["query_vector", "register", "results_table"]

SEARCH_EPILOG = """\
examples:
  vecdb search docs --vector '[0.12, -0.03, 0.88]' --limit 5
  vecdb search docs --vector-file query.npy --with-payload
  vecdb search shop --vector-file q.npy --field title \\
      --filter '{"must": [{"key": "color", "match": {"value": "red"}},
                          {"key": "price", "range": {"lte": 50}}]}'
  vecdb search docs --vector-file q.npy --exact --json
  vecdb search notes --text "where did I park?" --limit 3 --with-payload
  vecdb search docs --text "rust borrow checker" --hybrid dense,bm25 --limit 10
  vecdb search docs --text "rust borrow checker" --hybrid dense,bm25 --fusion dbsf \
      --candidates 200 --rerank colbert --diversity mmr:0.7

--hybrid runs one prefetch stage per named field with the same --text (each stage draws
--candidates points), fuses them (--fusion rrf|dbsf|weighted, default rrf), optionally rescores
the fused candidates exactly with --rerank FIELD and picks the results for variety with
--diversity mmr|coverage[:LAMBDA] over the first dense field named.

--text is encoded by the server, as a query, with the model of the field's text source
(a field created with `vecdb collection create ... --text-model MODEL`).

Filters are Qdrant-style: must / should / must_not lists of conditions (match, any, range,
has_id, is_empty). --filter @file.json reads the filter from a file.
"""

COUNT_EPILOG = """\
examples:
  vecdb count docs
  vecdb count shop --filter '{"must": [{"key": "color", "match": {"value": "red"}}]}'
"""


def query_vector(text: str | None, path: Path | None, row: int = 0) -> np.ndarray:
    """The query from --vector (a JSON list) or --vector-file (.npy, one vector or a row)."""
    if text is not None:
        value = parse_json_arg(text, "--vector")
        try:
            vector = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            vector = np.empty((0, 0), dtype=np.float32)
        if vector.ndim != 1 or vector.size == 0:
            raise UsageError("--vector must be a JSON list of numbers, e.g. '[0.1, 0.2, 0.3]'")
        return vector
    assert path is not None
    array = np.load(path, allow_pickle=False)
    if array.ndim == 2 and array.shape[0] >= 1:
        if not 0 <= row < array.shape[0]:
            raise UsageError(f"--row {row} is out of range: {path} holds {array.shape[0]} vectors")
        array = array[row]
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.number):
        raise UsageError(
            f"{path} must hold one vector (shape (dim,) or (n, dim)), got {array.shape}"
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def results_table(points: list[Any], *, with_payload: bool) -> str:
    if not points:
        return "no results"
    headers = ["RANK", "ID", "SCORE"] + (["PAYLOAD"] if with_payload else [])
    rows = []
    for rank, p in enumerate(points, 1):
        row: list[Any] = [rank, str(p.id), round(float(p.score), 6)]
        if with_payload:
            row.append(compact_json(p.payload) if p.payload else "")
        rows.append(row)
    return format_table(headers, rows, max_width=[None, 40, None, 80])


def parse_diversity(text: str) -> tuple[str, float]:
    """--diversity: "mmr", "coverage", "mmr:0.7"."""
    method, _, weight = text.partition(":")
    if method not in ("mmr", "coverage"):
        raise argparse.ArgumentTypeError(f"expected mmr or coverage[:LAMBDA], got {text!r}")
    try:
        value = float(weight) if weight else 0.5
    except ValueError:
        raise argparse.ArgumentTypeError(f"LAMBDA must be a number in [0, 1], got {weight!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"LAMBDA must be in [0, 1], got {value}")
    return method, value


def _hybrid_fields(text: str) -> list[str]:
    fields = [f.strip() for f in text.split(",") if f.strip()]
    if len(fields) < 1:
        raise argparse.ArgumentTypeError("expected field names separated by commas, e.g. dense,bm25")
    return fields


def run_hybrid(args: argparse.Namespace) -> int:
    from vecdb_client import Diversity, Fusion, Prefetch, Rerank

    if args.text is None:
        raise UsageError("--hybrid needs --text: every stage searches its field with the same text")
    stages = [Prefetch(using=f, text=args.text, limit=args.candidates) for f in args.hybrid]
    rerank = Rerank(using=args.rerank, text=args.text) if args.rerank else None
    diversity = None
    if args.diversity:
        method, weight = args.diversity
        diversity = Diversity(method, weight, using=args.diversity_field or "")
    with connect(args) as client:
        points = client.query(
            args.collection,
            prefetch=stages,
            fusion=Fusion(args.fusion or "rrf"),
            rerank=rerank,
            diversity=diversity,
            filter=parse_filter(args.filter),
            limit=args.limit,
            score_threshold=args.score_threshold,
            with_payload=args.with_payload,
            with_vectors=args.with_vectors,
        )
    emit(args, results_table(list(points), with_payload=args.with_payload), list(points))
    return 0


def run_search(args: argparse.Namespace) -> int:
    if args.hybrid:
        return run_hybrid(args)
    for flag in ("fusion", "rerank", "diversity"):
        if getattr(args, flag):
            raise UsageError(f"--{flag} goes with --hybrid")
    text = args.text
    vector = None if text is not None else query_vector(args.vector, args.vector_file, args.row)
    query_filter = parse_filter(args.filter)
    with connect(args) as client:
        points = client.query(
            args.collection,
            vector,
            text=text,
            using=args.field or "",
            filter=query_filter,
            limit=args.limit,
            score_threshold=args.score_threshold,
            with_payload=args.with_payload,
            with_vectors=args.with_vectors,
            ef=args.ef,
            exact=args.exact,
        )
    emit(args, results_table(list(points), with_payload=args.with_payload), list(points))
    return 0


def run_count(args: argparse.Namespace) -> int:
    query_filter = parse_filter(args.filter)
    with connect(args) as client:
        n = client.count(args.collection, query_filter)
    emit(args, str(n), {"collection": args.collection, "count": n})
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> None:
    p = sub.add_parser(
        "search",
        parents=parents,
        help="nearest-neighbour search with one query vector or text",
        description="Search a collection with one query vector, or a text the server encodes, "
        "and print the nearest points.",
        epilog=SEARCH_EPILOG,
        formatter_class=EpilogFormatter,
    )
    p.add_argument("collection")
    query = p.add_mutually_exclusive_group(required=True)
    query.add_argument("--vector", metavar="JSON", help="the query as a JSON list of numbers")
    query.add_argument(
        "--vector-file", type=Path, metavar="FILE.npy", help="the query from an .npy file"
    )
    query.add_argument(
        "--text", metavar="TEXT", help="the query as text, encoded by the server (text fields)"
    )
    p.add_argument(
        "--row", type=int, default=0, help="which row of a 2-d --vector-file (default: 0)"
    )
    p.add_argument("--field", metavar="NAME", help="vector field to search (default: the default)")
    p.add_argument("--limit", type=_positive, default=10, help="results (default: %(default)s)")
    p.add_argument("--filter", metavar="JSON", help="Qdrant-style filter (or @file.json)")
    p.add_argument(
        "--score-threshold",
        type=float,
        metavar="S",
        help="minimum score (cosine, dot) or maximum distance (l2)",
    )
    p.add_argument("--with-payload", action="store_true", help="show payloads")
    p.add_argument("--with-vectors", action="store_true", help="return vectors (with --json)")
    p.add_argument("--ef", type=_positive, help="HNSW search breadth for this query")
    p.add_argument("--exact", action="store_true", help="exact search instead of HNSW")
    p.add_argument(
        "--hybrid",
        type=_hybrid_fields,
        metavar="F1,F2",
        help="hybrid search: one stage per field (dense, sparse, BM25, multi-vector) with --text",
    )
    p.add_argument("--fusion", choices=("rrf", "dbsf", "weighted"), help="with --hybrid (default rrf)")
    p.add_argument(
        "--candidates",
        type=_positive,
        default=100,
        help="with --hybrid: points each stage draws (default: %(default)s)",
    )
    p.add_argument("--rerank", metavar="FIELD", help="with --hybrid: rescore the fused candidates exactly")
    p.add_argument(
        "--diversity",
        type=parse_diversity,
        metavar="METHOD[:LAMBDA]",
        help="with --hybrid: mmr or coverage, LAMBDA in [0, 1] (1 = relevance only; default 0.5)",
    )
    p.add_argument("--diversity-field", metavar="FIELD", help="dense field for --diversity")
    p.set_defaults(func=run_search)

    c = sub.add_parser(
        "count",
        parents=parents,
        help="count points, optionally matching a filter",
        description="Count the points of a collection, optionally those matching a filter.",
        epilog=COUNT_EPILOG,
        formatter_class=EpilogFormatter,
    )
    c.add_argument("collection")
    c.add_argument("--filter", metavar="JSON", help="Qdrant-style filter (or @file.json)")
    c.set_defaults(func=run_count)
