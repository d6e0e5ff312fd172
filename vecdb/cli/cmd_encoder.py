"""`vecdb encode` and `vecdb models`: the server's embedded text encoder."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from vecdb.cli.common import EpilogFormatter, connect, emit
from vecdb.cli.output import format_table, short_hash

__all__ = ["encoded_json", "encoded_rows", "models_table", "register"]

KINDS = ("dense", "multi", "sparse")
ROLES = ("document", "query")
FIRST = 5  # values shown per vector in the table

ENCODE_EPILOG = """\
examples:
  vecdb encode --text "hello world"
  vecdb encode --text "red running shoes" --text "a blue bike" --role query
  vecdb encode --text "late interaction" --kind multi --model colbert-small
  vecdb encode --text "term weights" --kind sparse --json

The table shows each vector's shape and its first values (for sparse vectors, the heaviest
terms as id:weight); --json prints every value.
"""

MODELS_EPILOG = """\
examples:
  vecdb models
  vecdb models --json
"""


def _shape(vector: Any) -> str:
    if isinstance(vector, np.ndarray):
        return (
            "(" + ", ".join(str(n) for n in vector.shape) + ("," if vector.ndim == 1 else "") + ")"
        )
    return f"{len(vector.indices)} terms"


def _first_values(vector: Any) -> str:
    if isinstance(vector, np.ndarray):
        row = vector if vector.ndim == 1 else vector[0] if len(vector) else vector.reshape(-1)
        values = " ".join(f"{float(v):.4f}" for v in row[:FIRST])
        return values + (" …" if row.size > FIRST else "")
    order = np.argsort(-vector.values, kind="stable")[:FIRST]
    terms = " ".join(f"{int(vector.indices[i])}:{float(vector.values[i]):.3f}" for i in order)
    return terms + (" …" if len(vector.values) > FIRST else "")


def encoded_rows(texts: list[str], results: list[Any]) -> list[list[Any]]:
    """Table rows: text, shape, tokens, truncated, first values."""
    return [
        [text, _shape(r.vector), r.n_tokens, "yes" if r.truncated else "", _first_values(r.vector)]
        for text, r in zip(texts, results)
    ]


def encoded_json(texts: list[str], results: list[Any], kind: str) -> dict[str, Any]:
    """The --json document: the model and, per text, the whole vector."""
    first = results[0] if results else None
    out: list[dict[str, Any]] = []
    for text, r in zip(texts, results):
        v = r.vector
        vector: Any = (
            v.tolist()
            if isinstance(v, np.ndarray)
            else {"indices": v.indices.tolist(), "values": v.values.tolist()}
        )
        shape = list(v.shape) if isinstance(v, np.ndarray) else [len(v.indices)]
        out.append(
            {
                "text": text,
                "shape": shape,
                "n_tokens": r.n_tokens,
                "truncated": r.truncated,
                "vector": vector,
            }
        )
    return {
        "model": getattr(first, "model", "") if first is not None else "",
        "model_hash": getattr(first, "model_hash", "") if first is not None else "",
        "kind": kind,
        "results": out,
    }


def run_encode(args: argparse.Namespace) -> int:
    texts: list[str] = list(args.text)
    with connect(args) as client:
        results = client.encode(texts, kind=args.kind, model=args.model, role=args.role)
    human = format_table(
        ["TEXT", "SHAPE", "TOKENS", "TRUNCATED", "FIRST VALUES"],
        encoded_rows(texts, results),
        max_width=[40, None, None, None, 80],
    )
    model = getattr(results[0], "model", "") if results else ""
    if model:
        model_hash = getattr(results[0], "model_hash", "")
        human += f"\nmodel: {model}" + (f" (hash {short_hash(model_hash)})" if model_hash else "")
    emit(args, human, encoded_json(texts, results, args.kind))
    return 0


def models_table(infos: list[Any]) -> str:
    if not infos:
        return "the server serves no encoder models"
    rows = [
        [m.name, m.dim, m.max_tokens, ",".join(m.kinds), m.device, short_hash(m.hash)]
        for m in infos
    ]
    return format_table(
        ["NAME", "DIM", "MAX TOKENS", "KINDS", "DEVICE", "HASH"], rows, max_width=[60]
    )


def run_models(args: argparse.Namespace) -> int:
    with connect(args) as client:
        infos = client.list_models()
    emit(args, models_table(infos), infos)
    return 0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> None:
    e = sub.add_parser(
        "encode",
        parents=parents,
        help="encode texts with the server's embedded encoder",
        description="Encode texts into vectors with the server's embedded encoder and show "
        "their shapes and first values (every value with --json).",
        epilog=ENCODE_EPILOG,
        formatter_class=EpilogFormatter,
    )
    e.add_argument(
        "--text",
        action="append",
        required=True,
        metavar="TEXT",
        help="a text to encode; repeat for several",
    )
    e.add_argument(
        "--kind", choices=KINDS, default="dense", help="vector kind (default: %(default)s)"
    )
    e.add_argument("--model", metavar="NAME", help="encoder model (default: the server's)")
    e.add_argument(
        "--role",
        choices=ROLES,
        default="document",
        help="encode as documents or as queries (default: %(default)s)",
    )
    e.set_defaults(func=run_encode)

    m = sub.add_parser(
        "models",
        parents=parents,
        help="list the server's encoder models",
        description="List the encoder models the server serves: dimension, window, kinds, "
        "device and the content hash of the weights.",
        epilog=MODELS_EPILOG,
        formatter_class=EpilogFormatter,
    )
    m.set_defaults(func=run_models)
