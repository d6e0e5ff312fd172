"""Helpers shared by the command modules: connecting, JSON arguments, printing results."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vecdb.cli.errors import UsageError
from vecdb.cli.output import emit_json

if TYPE_CHECKING:
    from vecdb_client import Client

__all__ = ["connect", "parse_json_arg", "parse_filter", "emit", "EpilogFormatter"]


class EpilogFormatter(argparse.HelpFormatter):
    """Wraps one-paragraph descriptions; keeps multi-line text (examples in epilogs) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


@contextmanager
def connect(args: argparse.Namespace, *, retries: int = 3) -> Iterator[Client]:
    """A client for --address with --timeout; closed afterwards when the SDK can close it."""
    from vecdb_client import Client

    client = Client(args.address, timeout=args.timeout, retries=retries)
    try:
        yield client
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()


def parse_json_arg(text: str, option: str) -> Any:
    """A JSON option value; "@path" reads the JSON from a file."""
    source = option
    if text.startswith("@"):
        path = Path(text[1:])
        text = path.read_text(encoding="utf-8")
        source = f"{option} file {path}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc.msg} (column {exc.colno})") from None


def parse_filter(text: str | None) -> dict[str, Any] | None:
    """--filter '{"must": [...]}' (Qdrant-style), or None when not given."""
    if text is None:
        return None
    value = parse_json_arg(text, "--filter")
    if not isinstance(value, dict):
        raise UsageError(
            '--filter must be a JSON object such as {"must": [{"key": "color", "match": '
            '{"value": "red"}}]}'
        )
    return value


def emit(args: argparse.Namespace, human: str, data: Any) -> None:
    """`data` as one JSON document with --json, else the human text."""
    if args.json:
        emit_json(data)
    elif human:
        sys.stdout.write(human.rstrip("\n") + "\n")
