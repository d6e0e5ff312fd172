"""Helpers shared by the command modules: connecting, JSON arguments, printing results."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vecdb.cli.errors import UsageError
from vecdb.cli.output import emit_json

if TYPE_CHECKING:
    from vecdb_client import Client

__all__ = ["EpilogFormatter", "connect", "emit", "parse_filter", "parse_json_arg", "security_options"]


class EpilogFormatter(argparse.HelpFormatter):
    """Wraps one-paragraph descriptions; keeps multi-line text (examples in epilogs) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def security_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Client keyword arguments of --api-key / $VECDB_API_KEY, --tls and --tls-ca / $VECDB_TLS_CA."""
    api_key = getattr(args, "api_key", None) or os.environ.get("VECDB_API_KEY") or None
    tls_ca = getattr(args, "tls_ca", None) or os.environ.get("VECDB_TLS_CA") or None
    options: dict[str, Any] = {}
    if api_key is not None:
        options["api_key"] = api_key
    if tls_ca is not None:
        path = Path(tls_ca)
        if not path.is_file():
            raise UsageError(f"--tls-ca {tls_ca}: no such file; give the PEM file of the CA to trust")
        options["root_certificates"] = path
    if getattr(args, "tls", False) or tls_ca is not None:
        options["tls"] = True
    return options


@contextmanager
def connect(args: argparse.Namespace, *, retries: int = 3) -> Iterator[Client]:
    """A client for --address with --timeout, --api-key and TLS options; closed afterwards when
    the SDK can close it."""
    from vecdb_client import Client

    client = Client(args.address, timeout=args.timeout, retries=retries, **security_options(args))
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
