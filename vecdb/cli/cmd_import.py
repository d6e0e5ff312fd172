"""`vecdb import`: bulk-load a JSONL or .npy file, resumably, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vecdb.cli.common import EpilogFormatter, connect, emit
from vecdb.cli.importer import ImportSummary, load_state, run_import, state_path_for
from vecdb.cli.sources import open_source

__all__ = ["register", "summary_line"]

EPILOG = """\
input formats:
  jsonl  one point per line:
           {"id": 1, "vector": [0.1, 0.2, ...], "payload": {"color": "red"}, "text": "..."}
           {"id": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "vectors": {"title": [...]}}
           {"id": 2, "text": "the server encodes this", "payload": {"color": "blue"}}
         "vector" goes to --field; "vectors" names the fields. A line with "text" and no
         vectors leaves them to the server's encoder (fields created with --text-model; a
         field with --text-key reads the text from that payload key); the lines of one file
         either all carry vectors or all leave them to the server. Blank lines are ignored.
  npy    an (n, dim) array for --field; ids from --ids (an .npy of integers or UUID
         strings) or 0..n-1; payloads from --payloads (JSONL, one object per row)

resuming:
  After each stored batch the progress is written to FILE.vecdb-import.json. Rerunning the
  same command resumes after the rows already stored (re-sent rows are harmless: upserts
  are idempotent); the file is removed when the import completes. A bad line stops the
  import and keeps the progress, so a corrected file resumes; --skip-bad reports and skips
  bad lines instead. --no-resume starts from the first row.

examples:
  vecdb import docs points.jsonl
  vecdb import docs vectors.npy --ids ids.npy --payloads payloads.jsonl --batch-size 5000
  vecdb import papers papers.jsonl --skip-bad --no-resume
  vecdb import notes notes.jsonl          # lines of {"id": ..., "text": ...}
"""


def summary_line(summary: ImportSummary) -> str:
    text = (
        f"imported {summary.rows:,} rows into {summary.collection!r} in "
        f"{summary.elapsed_s:.1f} s ({summary.rows_per_s:,.0f} rows/s)"
    )
    if summary.skipped:
        text += f"; skipped {summary.skipped:,} bad lines"
    if summary.resumed:
        text += f"; resumed after {summary.rows_before:,} rows stored earlier"
    return text


def _collection_fields(client: Any, collection: str) -> tuple[dict[str, int], dict[str, str]]:
    """The collection's dense fields -> dimension, and its fields with a text source -> the
    payload key they read ("" for the point's text)."""
    info = client.get_collection(collection)
    dims = {
        name: int(p.dim) for name, p in info.vectors.items() if int(getattr(p, "dim", 0) or 0) > 0
    }
    text_fields = {
        name: str(p.text_source.payload_key or "")
        for name, p in info.vectors.items()
        if getattr(p, "text_source", None) is not None
    }
    return dims, text_fields


def run(args: argparse.Namespace) -> int:
    state_path = state_path_for(args.file)
    bar: tqdm[Any] | None = None
    unit = "rows" if (args.format or "").lower() == "npy" or args.file.suffix == ".npy" else "lines"

    def on_start(done: int, total: int | None) -> None:
        nonlocal bar
        bar = tqdm(
            total=total,
            initial=done,
            unit=f" {unit}",
            unit_scale=True,
            desc=f"import {args.collection}",
            file=sys.stderr,
            disable=True if args.no_progress else None,  # None: only on a terminal
            dynamic_ncols=True,
        )

    def advance(n: int) -> None:
        if bar is not None:
            bar.update(n)

    def warn(message: str) -> None:
        tqdm.write(f"warning: {message}", file=sys.stderr)

    with connect(args) as client:
        dims, text_fields = _collection_fields(client, args.collection)
        source = open_source(
            args.file,
            format=args.format,
            ids_path=args.ids,
            payloads_path=args.payloads,
            field=args.field,
            dims=dims,
            text_fields=text_fields,
        )

        def send(ids: Any, vectors: Any, payloads: Any, texts: Any) -> Any:
            return client.upsert(args.collection, ids, vectors, payloads=payloads, texts=texts)

        try:
            summary = run_import(
                source,
                send,
                collection=args.collection,
                batch_size=args.batch_size,
                resume=args.resume,
                skip_bad=args.skip_bad,
                state_path=state_path,
                progress=advance,
                warn=warn,
                on_start=on_start,
            )
        except BaseException as exc:
            if bar is not None:
                bar.close()
                bar = None
            if not isinstance(exc, ValueError):
                _note_resume(state_path)
            raise
        finally:
            if bar is not None:
                bar.close()
    if summary.note:
        sys.stderr.write(f"note: {summary.note}\n")
    data = {
        "collection": summary.collection,
        "rows": summary.rows,
        "skipped": summary.skipped,
        "rows_before": summary.rows_before,
        "elapsed_s": round(summary.elapsed_s, 3),
        "rows_per_s": round(summary.rows_per_s, 1),
        "sequence": summary.sequence,
    }
    emit(args, summary_line(summary), data)
    return 0


def _note_resume(state_path: Path) -> None:
    try:
        state = load_state(state_path)
    except ValueError:
        return
    if state is not None:
        sys.stderr.write(
            f"note: {state.get('rows_done', 0):,} rows are stored; rerun the same command to "
            f"resume (progress in {state_path})\n"
        )


def _batch_size(text: str) -> int:
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
        "import",
        parents=parents,
        help="bulk-load points from a JSONL or .npy file (resumable)",
        description="Bulk-load points from a JSONL or .npy file in batches; each batch is "
        "stored atomically and durably, and an interrupted import resumes where it stopped.",
        epilog=EPILOG,
        formatter_class=EpilogFormatter,
    )
    p.add_argument("collection", help="target collection (must exist)")
    p.add_argument("file", type=Path, help="input file")
    p.add_argument(
        "--format", choices=("jsonl", "npy"), help="input format (default: from the extension)"
    )
    p.add_argument("--ids", type=Path, metavar="FILE.npy", help="ids for --format npy")
    p.add_argument(
        "--payloads", type=Path, metavar="FILE.jsonl", help="payloads for --format npy, one per row"
    )
    p.add_argument(
        "--field",
        default="default",
        metavar="NAME",
        help='vector field for "vector" / npy rows (default: %(default)s)',
    )
    p.add_argument(
        "--batch-size",
        type=_batch_size,
        default=1000,
        metavar="N",
        help="points per request (default: %(default)s)",
    )
    p.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="continue an interrupted import of this file (default: on)",
    )
    p.add_argument(
        "--skip-bad", action="store_true", help="report and skip bad lines instead of stopping"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
