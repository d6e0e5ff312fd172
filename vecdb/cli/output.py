"""Terminal output for the CLI: aligned tables for people, one JSON document for scripts."""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import numpy as np

__all__ = [
    "ELLIPSIS",
    "compact_json",
    "emit_json",
    "format_kv",
    "format_table",
    "human_bytes",
    "short_hash",
    "to_jsonable",
    "truncate",
]

ELLIPSIS = "…"


def truncate(text: str, width: int | None) -> str:
    """`text` on one line, cut to at most `width` characters (None: no limit) with "…"."""
    if "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    if width is None or len(text) <= width:
        return text
    if width < 1:
        return ""
    return text[: width - 1] + ELLIPSIS


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list, tuple)):
        return compact_json(value)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    max_width: int | Sequence[int | None] | None = 48,
) -> str:
    """Rows under their headers in aligned columns, numbers right-aligned.

    Cells longer than `max_width` (one limit for all columns, or one per column; None: no limit)
    are cut with "…". Dicts and lists are shown as compact JSON. The result has no trailing
    newline; an empty `rows` gives just the header line.
    """
    ncols = len(headers)
    if isinstance(max_width, Sequence):
        limits = list(max_width) + [None] * (ncols - len(max_width))
    else:
        limits = [max_width] * ncols
    texts: list[list[str]] = []
    for row in rows:
        if len(row) != ncols:
            raise ValueError(f"table row has {len(row)} cells, expected {ncols}")
        line = []
        for value, limit in zip(row, limits):
            text = _cell(value)
            line.append(truncate(text, limit))
        texts.append(line)
    numeric = [
        bool(rows) and all(_is_number(r[i]) or r[i] is None for r in rows) for i in range(ncols)
    ]
    widths = [max([len(h)] + [len(t[i]) for t in texts]) for i, h in enumerate(headers)]

    def render(cells: Sequence[str], header: bool) -> str:
        parts = []
        for i, text in enumerate(cells):
            right = numeric[i] and not header
            parts.append(text.rjust(widths[i]) if right else text.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    out = [render(headers, True)]
    out.extend(render(t, False) for t in texts)
    return "\n".join(out)


def format_kv(pairs: Sequence[tuple[str, Any]], *, max_width: int = 80) -> str:
    """`key: value` lines with the values aligned."""
    if not pairs:
        return ""
    width = max(len(k) for k, _ in pairs) + 1
    return "\n".join(f"{(k + ':').ljust(width)}  {truncate(_cell(v), max_width)}" for k, v in pairs)


def human_bytes(n: int | None) -> str:
    """1536 -> '1.5 KiB'."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def short_hash(value: str, n: int = 12) -> str:
    """The first `n` characters of a content hash, past an "algorithm:" prefix if any."""
    return value.rpartition(":")[2][:n]


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums, numpy values and tuples turned into plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def compact_json(value: Any) -> str:
    return json.dumps(to_jsonable(value), ensure_ascii=False, separators=(",", ":"))


def emit_json(value: Any, stream: TextIO | None = None) -> None:
    """Write `value` as one indented JSON document and a newline."""
    stream = stream if stream is not None else sys.stdout
    stream.write(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2))
    stream.write("\n")
