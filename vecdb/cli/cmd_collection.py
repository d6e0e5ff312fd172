"""`vecdb collection create | list | info | delete`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vecdb.cli.common import EpilogFormatter, connect, emit, parse_json_arg
from vecdb.cli.errors import CommandFailed, UsageError, sdk_error_types, status_name
from vecdb.cli.output import format_kv, format_table, human_bytes, short_hash, to_jsonable

__all__ = ["check_create", "parse_index", "register", "text_source_summary", "vector_specs"]

METRICS = ("cosine", "dot", "l2")
DTYPES = ("float32", "float16")
INDEX_TYPES = ("keyword", "integer", "float", "bool")
_SPEC_KEYS = {"dim", "metric", "storage_dtype", "dtype", "hnsw", "text_source", "quantization"}
_QUANTIZATION_KEYS = {"method", "bits", "binary_method", "oversampling", "rescore", "query_mode"}
_TEXT_SOURCE_KEYS = {"model", "payload_key"}
_HNSW_KEYS = ("m", "ef_construct", "ef")

CREATE_EPILOG = """\
examples:
  vecdb collection create docs --dim 384
  vecdb collection create docs --dim 768 --metric dot --dtype float16 --m 32 --ef-construct 400
  vecdb collection create shop --dim 384 --index color:keyword --index price:float
  vecdb collection create papers --vectors-json \\
      '{"title": {"dim": 384}, "body": {"dim": 768, "metric": "dot", "hnsw": {"m": 32}}}'
  vecdb collection create notes --text-model all-MiniLM-L6-v2
  vecdb collection create shop --text-model all-MiniLM-L6-v2 --text-key description
  vecdb collection create papers --vectors-json \\
      '{"title": {"text_source": {"model": "all-MiniLM-L6-v2"}}, "body": {"dim": 768}}'

With --text-model the server computes the field's vectors from each point's text (or, with
--text-key, from that payload key) with its embedded encoder; --dim may be left out: the
model's dimension. `vecdb models` lists the server's models.

With --vectors-json, --metric, --dtype, --m, --ef-construct and --ef are defaults for the
fields that do not set them. HNSW values left out use the server defaults (m 16,
ef_construct 200, ef 64).
"""

GROUP_EPILOG = """\
examples:
  vecdb collection create docs --dim 384 --metric cosine
  vecdb collection list
  vecdb collection info docs
  vecdb collection delete docs --yes
"""


# --------------------------------------------------------------------------------- parsing


def parse_index(text: str) -> tuple[str, str]:
    """--index KEY:TYPE -> (key, type)."""
    key, sep, kind = text.rpartition(":")
    kind = kind.strip().lower()
    if not sep or not key or kind not in INDEX_TYPES:
        raise argparse.ArgumentTypeError(
            f"expected KEY:TYPE with TYPE one of {', '.join(INDEX_TYPES)}, got {text!r}"
        )
    return key, kind


def parse_quantization(text: str) -> dict[str, Any]:
    """--quantize: "int8", "binary", "binary:BITS" or "binary:BITS:METHOD"."""
    parts = text.split(":")
    if parts[0] == "int8" and len(parts) == 1:
        return {"method": "int8"}
    if parts[0] == "binary" and len(parts) <= 3:
        spec: dict[str, Any] = {"method": "binary"}
        if len(parts) > 1:
            if not parts[1].isdigit() or not 1 <= int(parts[1]) <= 4:
                raise argparse.ArgumentTypeError(f"bits must be 1-4, got {parts[1]!r}")
            spec["bits"] = int(parts[1])
        if len(parts) > 2:
            if parts[2] not in ("threshold", "recurrent_residual"):
                raise argparse.ArgumentTypeError(
                    f"method must be threshold or recurrent_residual, got {parts[2]!r}"
                )
            spec["binary_method"] = parts[2]
        return spec
    raise argparse.ArgumentTypeError(
        f"expected int8, binary, binary:BITS or binary:BITS:METHOD, got {text!r}"
    )


def _quantization(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - _QUANTIZATION_KEYS:
        raise UsageError(
            f'{where}: quantization must be an object like {{"method": "binary", "bits": 2}} '
            f"with keys from {sorted(_QUANTIZATION_KEYS)}, got {value!r}"
        )
    return dict(value)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _spec(
    dim: Any,
    metric: Any,
    dtype: Any,
    hnsw: dict[str, int],
    where: str,
    text_source: dict[str, str] | None = None,
    quantization: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if dim is None and text_source is not None:
        dim = 0  # the server fills in the model's dimension
    elif isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        if text_source is not None:
            raise UsageError(
                f"{where}: dim must be a positive integer or left out (the model's), got {dim!r}"
            )
        raise UsageError(f"{where}: dim must be a positive integer, got {dim!r}")
    if metric not in METRICS:
        raise UsageError(f"{where}: metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if dtype not in DTYPES:
        raise UsageError(f"{where}: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    for key, value in hnsw.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"{where}: hnsw.{key} must be a positive integer, got {value!r}")
    return {
        "dim": dim,
        "metric": metric,
        "storage_dtype": dtype,
        "hnsw": dict(hnsw) if any(hnsw.values()) else None,
        "text_source": text_source,
        "quantization": quantization,
    }


def _text_source(value: Any, where: str) -> dict[str, str]:
    if (
        not isinstance(value, dict)
        or set(value) - _TEXT_SOURCE_KEYS
        or not isinstance(value.get("model"), str)
        or not value["model"]
        or not isinstance(value.get("payload_key", ""), str)
    ):
        raise UsageError(
            f'{where}: text_source must be an object like {{"model": "all-MiniLM-L6-v2", '
            f'"payload_key": "body"}} (payload_key optional), got {value!r}'
        )
    return {"model": value["model"], "payload_key": value.get("payload_key", "")}


def check_create(args: argparse.Namespace) -> None:
    """What argparse cannot say about `collection create`: which shape options go together."""
    if args.dim is None and args.vectors_json is None and args.text_model is None:
        raise UsageError("one of the arguments --dim --vectors-json --text-model is required")
    if args.text_model is not None and args.vectors_json is not None:
        raise UsageError(
            "--text-model goes with --dim or alone; with --vectors-json give each field a "
            '"text_source": {"model": ...}'
        )
    if args.text_key is not None and args.text_model is None:
        raise UsageError("--text-key goes with --text-model")
    if args.vectors_json is not None and (args.quantize or args.oversampling or args.no_rescore):
        raise UsageError(
            '--quantize, --oversampling and --no-rescore go with --dim; with --vectors-json give '
            'each field a "quantization": {"method": ...}'
        )
    if (args.oversampling or args.no_rescore) and not args.quantize:
        raise UsageError("--oversampling and --no-rescore go with --quantize")


def vector_specs(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The vector fields to create, as {name: {dim, metric, storage_dtype, hnsw, text_source}}
    plain dicts (dim 0: the text source model's dimension)."""
    defaults = {"m": args.m or 0, "ef_construct": args.ef_construct or 0, "ef": args.ef or 0}
    metric, dtype = args.metric or "cosine", args.dtype or "float32"
    check_create(args)
    if args.vectors_json is None:
        text_source = None
        if args.text_model is not None:
            text_source = {"model": args.text_model, "payload_key": args.text_key or ""}
        quantization = None
        if args.quantize:
            quantization = dict(args.quantize)
            if args.oversampling:
                quantization["oversampling"] = args.oversampling
            if args.no_rescore:
                quantization["rescore"] = False
        return {
            args.field
            or "default": _spec(args.dim, metric, dtype, defaults, "--dim", text_source, quantization)
        }
    if args.field is not None:
        raise UsageError("--field goes with --dim; with --vectors-json the keys name the fields")
    value = parse_json_arg(args.vectors_json, "--vectors-json")
    if not isinstance(value, dict) or not value:
        raise UsageError('--vectors-json must be an object of fields, e.g. {"title": {"dim": 384}}')
    specs = {}
    for name, entry in value.items():
        where = f"--vectors-json field {name!r}"
        if not isinstance(entry, dict):
            raise UsageError(f'{where}: expected an object like {{"dim": 384}}')
        unknown = set(entry) - _SPEC_KEYS
        if unknown:
            raise UsageError(
                f"{where}: unknown key {min(unknown)!r} (known: dim, metric, storage_dtype, hnsw, "
                "text_source, quantization)"
            )
        hnsw_in = entry.get("hnsw") or {}
        if not isinstance(hnsw_in, dict) or set(hnsw_in) - set(_HNSW_KEYS):
            raise UsageError(f"{where}: hnsw must be an object with keys m, ef_construct, ef")
        hnsw = {k: hnsw_in.get(k, defaults[k]) for k in _HNSW_KEYS}
        specs[str(name)] = _spec(
            entry.get("dim"),
            entry.get("metric", metric),
            entry.get("storage_dtype", entry.get("dtype", dtype)),
            hnsw,
            where,
            None if entry.get("text_source") is None else _text_source(entry["text_source"], where),
            None if entry.get("quantization") is None else _quantization(entry["quantization"], where),
        )
    return specs


def _to_sdk(specs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from vecdb_client import HnswParams, QuantizationParams, TextSource, VectorParams

    return {
        name: VectorParams(
            dim=s["dim"],
            metric=s["metric"],
            storage_dtype=s["storage_dtype"],
            hnsw=HnswParams(**s["hnsw"]) if s["hnsw"] else None,
            text_source=TextSource(**s["text_source"]) if s.get("text_source") else None,
            quantization=QuantizationParams(**s["quantization"]) if s.get("quantization") else None,
        )
        for name, s in specs.items()
    }


# ------------------------------------------------------------------------------- rendering


def _text(value: Any) -> str:
    value = getattr(value, "value", value)  # enums print as their value
    return "" if value is None else str(value)


def text_source_summary(source: Any) -> str:
    """'all-MiniLM-L6-v2 (payload "body", hash 1a2b3c4d5e6f)'; "" for no text source."""
    if source is None:
        return ""
    notes = []
    if source.payload_key:
        notes.append(f"payload {source.payload_key!r}")
    if getattr(source, "model_hash", ""):
        notes.append(f"hash {short_hash(source.model_hash)}")
    model = source.model or "(server default)"
    return f"{model} ({', '.join(notes)})" if notes else model


def _field_summary(params: Any) -> str:
    parts = [f"{params.dim}d" if getattr(params, "dim", 0) else "", _text(params.metric)]
    source = getattr(params, "text_source", None)
    if source is not None:
        parts.append(f"from text by {source.model or '(server default)'}")
    q = getattr(params, "quantization", None)
    if q is not None:
        parts.append(quantization_summary(q))
    return " ".join(p for p in parts if p)


def quantization_summary(q: Any) -> str:
    """'binary 2-bit threshold x4 rescore' / 'int8 x4'."""
    if q is None:
        return ""
    head = "int8" if q.method == "int8" else f"binary {q.bits}-bit {q.binary_method}"
    tail = f" x{q.oversampling:g}" if q.oversampling else ""
    return head + tail + ("" if q.rescore else " no-rescore")


def _vectors_summary(info: Any) -> str:
    return ", ".join(f"{name}: {_field_summary(p)}" for name, p in info.vectors.items())


def _indexes_summary(info: Any) -> str:
    return ", ".join(f"{k}:{_text(v)}" for k, v in (info.payload_indexes or {}).items())


# -------------------------------------------------------------------------------- commands


def run_create(args: argparse.Namespace) -> int:
    specs = vector_specs(args)
    indexes = dict(args.index or [])
    with connect(args) as client:
        info = client.create_collection(args.name, _to_sdk(specs), payload_indexes=indexes or None)
    human = f"created collection {info.name!r} ({_vectors_summary(info)})"
    if indexes:
        human += f"; payload indexes: {_indexes_summary(info)}"
    emit(args, human, info)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        infos = sorted(client.list_collections(), key=lambda i: i.name)
    rows = [[i.name, i.points_count, _vectors_summary(i), _indexes_summary(i)] for i in infos]
    human = (
        format_table(
            ["NAME", "POINTS", "VECTORS", "PAYLOAD INDEXES"], rows, max_width=[40, None, 60, 40]
        )
        if rows
        else "no collections; create one with `vecdb collection create NAME --dim N`"
    )
    emit(args, human, infos)
    return 0


def _stats_for(client: Any, name: str) -> Any | None:
    try:
        found = client.stats(name)
    except sdk_error_types() as exc:
        if status_name(exc) == "UNIMPLEMENTED":
            return None
        raise
    return next((s for s in found if s.name == name), None)


def run_info(args: argparse.Namespace) -> int:
    with connect(args) as client:
        info = client.get_collection(args.name)
        stats = _stats_for(client, args.name)
    field_stats = {f.name: f for f in stats.fields} if stats is not None else {}
    pairs: list[tuple[str, Any]] = [
        ("collection", info.name),
        ("points", info.points_count),
        ("sequence", info.sequence),
    ]
    if stats is not None:
        ram = sum(f.ram_bytes for f in stats.fields)
        pairs += [("disk", human_bytes(stats.disk_bytes)), ("ram", human_bytes(ram))]
    headers = [
        "FIELD",
        "KIND",
        "DIM",
        "METRIC",
        "DTYPE",
        "M",
        "EF_CONSTRUCT",
        "EF",
        "INDEXED",
        "CAPACITY",
        "RAM",
        "VECTOR RAM",
        "CHECKPOINT SEQ",
    ]
    with_quantization = any(getattr(p, "quantization", None) for p in info.vectors.values())
    if with_quantization:
        headers.append("QUANTIZATION")
    with_text = any(getattr(p, "text_source", None) is not None for p in info.vectors.values())
    if with_text:
        headers.append("TEXT SOURCE")
    rows = []
    for name, p in info.vectors.items():
        h, f = p.hnsw, field_stats.get(name)
        rows.append(
            [
                name,
                f.kind if f is not None else "dense",
                p.dim,
                _text(p.metric),
                _text(p.storage_dtype),
                h.m if h is not None and h.m else None,
                h.ef_construct if h is not None and h.ef_construct else None,
                h.ef if h is not None and h.ef else None,
                f.indexed_points if f is not None else None,
                f.index_capacity if f is not None else None,
                human_bytes(f.ram_bytes) if f is not None else "",
                _vector_ram(f),
                f.checkpoint_sequence if f is not None else None,
            ]
            + ([quantization_summary(p.quantization)] if with_quantization else [])
            + ([text_source_summary(getattr(p, "text_source", None))] if with_text else [])
        )
    widths: list[int | None] = [*(48 for _ in headers[1:]), 64]
    parts = [format_kv(pairs), "", format_table(headers, rows, max_width=widths)]
    if info.payload_indexes:
        index_rows = [[k, _text(v)] for k, v in info.payload_indexes.items()]
        parts += ["", format_table(["PAYLOAD INDEX", "TYPE"], index_rows)]
    data = {"collection": to_jsonable(info), "stats": to_jsonable(stats)}
    emit(args, "\n".join(parts), data)
    return 0


def _vector_ram(f: Any) -> str:
    """The vector data in memory, and the saving against float32 when there is one."""
    if f is None or not f.vector_ram_bytes:
        return ""
    text = human_bytes(f.vector_ram_bytes)
    if f.float32_bytes and f.vector_ram_bytes < f.float32_bytes:
        text += f" ({f.float32_bytes / f.vector_ram_bytes:.0f}x < float32)"
    return text


def run_retrain(args: argparse.Namespace) -> int:
    with connect(args) as client:
        stats = client.retrain_quantization(args.name, args.field)
    codebook = stats.codebook or {}
    text = (
        f"retrained {args.name}/{args.field}: {stats.indexed_points} points, "
        f"vector RAM {_vector_ram(stats)}, codebook {codebook}"
    )
    emit(args, text, to_jsonable(stats))
    return 0


def _confirm(prompt: str) -> bool:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def run_delete(args: argparse.Namespace) -> int:
    with connect(args) as client:
        if not args.yes:
            if not sys.stdin.isatty():
                raise CommandFailed(
                    f"refusing to delete collection {args.name!r} without confirmation: "
                    "stdin is not a terminal; pass --yes"
                )
            info = client.get_collection(args.name)
            if not _confirm(
                f"Delete collection {info.name!r} and its {info.points_count} points? "
                "This cannot be undone. [y/N] "
            ):
                sys.stderr.write("not deleted\n")
                return 1
        deleted = bool(client.delete_collection(args.name))
    if not deleted and not args.json:
        raise CommandFailed(
            f"collection {args.name!r} does not exist; list collections to see the names"
        )
    emit(args, f"deleted collection {args.name!r}", {"collection": args.name, "deleted": deleted})
    return 0 if deleted else 1


# -------------------------------------------------------------------------------- parser


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> None:
    group = sub.add_parser(
        "collection",
        parents=parents,
        help="create, list, inspect and delete collections",
        description="Create, list, inspect and delete collections.",
        epilog=GROUP_EPILOG,
        formatter_class=EpilogFormatter,
    )
    actions = group.add_subparsers(dest="collection_command", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create",
        parents=parents,
        help="create a collection",
        description="Create a collection with one or more dense vector fields.",
        epilog=CREATE_EPILOG,
        formatter_class=EpilogFormatter,
    )
    create.add_argument("name", help="collection name: 1-64 characters from [A-Za-z0-9_-]")
    # One of --dim, --vectors-json, --text-model (with or without --dim): see check_create.
    shape = create.add_mutually_exclusive_group()
    shape.add_argument(
        "--dim",
        type=_positive,
        metavar="N",
        help="dimension of the single vector field (with --text-model: optional)",
    )
    shape.add_argument(
        "--vectors-json",
        metavar="JSON",
        help='several fields: \'{"title": {"dim": 384, "metric": "cosine"}, ...}\' (or @file.json)',
    )
    create.add_argument("--metric", choices=METRICS, help="similarity (default: cosine)")
    create.add_argument("--dtype", choices=DTYPES, help="storage type (default: float32)")
    create.add_argument("--field", metavar="NAME", help='vector field name (default: "default")')
    create.add_argument(
        "--text-model",
        metavar="MODEL",
        help="the server computes the field's vectors from text with this encoder model "
        "(see `vecdb models`)",
    )
    create.add_argument(
        "--text-key",
        metavar="KEY",
        help='with --text-model: the payload key holding the text (default: the point\'s "text")',
    )
    create.add_argument(
        "--m", type=_positive, metavar="N", help="HNSW links per node (server default 16)"
    )
    create.add_argument(
        "--ef-construct",
        type=_positive,
        metavar="N",
        help="HNSW build breadth (server default 200)",
    )
    create.add_argument(
        "--ef", type=_positive, metavar="N", help="HNSW default search breadth (default 64)"
    )
    create.add_argument(
        "--quantize",
        type=parse_quantization,
        metavar="SPEC",
        help="keep compact codes in memory: int8, binary, binary:BITS (1-4) or "
        "binary:BITS:recurrent_residual; the originals stay on disk for rescoring",
    )
    create.add_argument(
        "--oversampling",
        type=float,
        metavar="X",
        help="with --quantize: candidates drawn from the codes = limit x X (default 4)",
    )
    create.add_argument(
        "--no-rescore",
        action="store_true",
        help="with --quantize: rank by code scores alone (no exact rescoring)",
    )
    create.add_argument(
        "--index",
        action="append",
        type=parse_index,
        metavar="KEY:TYPE",
        help=f"payload index, TYPE one of {', '.join(INDEX_TYPES)}; repeatable",
    )
    create.set_defaults(func=run_create, check=check_create, command_parser=create)

    listing = actions.add_parser(
        "list", parents=parents, help="list collections", description="List collections."
    )
    listing.set_defaults(func=run_list)

    info = actions.add_parser(
        "info",
        parents=parents,
        help="configuration, counts and resource use of a collection",
        description="Show a collection's fields, payload indexes, point count, and RAM per "
        "field and disk use.",
    )
    info.add_argument("name")
    info.set_defaults(func=run_info)

    retrain = actions.add_parser(
        "retrain",
        parents=parents,
        help="re-train a quantized field's codebook on all stored vectors",
        description="Re-train a quantized field's codebook (mean, levels, scales) on every "
        "stored original and rebuild its codes. Run it after a bulk load: the codebook is first "
        "trained on the points that arrived first.",
    )
    retrain.add_argument("name")
    retrain.add_argument("field", help="the quantized vector field")
    retrain.set_defaults(func=run_retrain)

    delete = actions.add_parser(
        "delete",
        parents=parents,
        help="delete a collection and all its points",
        description="Delete a collection and all its points. Asks for confirmation on a "
        "terminal; elsewhere --yes is required.",
    )
    delete.add_argument("name")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(func=run_delete)
