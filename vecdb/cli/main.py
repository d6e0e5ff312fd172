"""`vecdb`: the admin command line, a thin layer over the vecdb_client SDK.

This module builds the argparse tree and turns every failure into one line on stderr. The
commands live in cmd_*.py; each registers its parsers and a `func(args) -> exit code`.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from vecdb.cli import (
    cmd_cache,
    cmd_collection,
    cmd_encoder,
    cmd_import,
    cmd_query,
    cmd_server,
    cmd_snapshot,
)
from vecdb.cli.common import EpilogFormatter
from vecdb.cli.errors import CommandFailed, UsageError, format_error, sdk_error_types

__all__ = ["DEFAULT_ADDRESS", "build_parser", "main"]

DEFAULT_ADDRESS = "localhost:6334"
DEFAULT_TIMEOUT = 30.0

EPILOG = """\
examples:
  vecdb serve --data-dir ./data
  vecdb health
  vecdb collection create docs --dim 384 --metric cosine --index color:keyword
  vecdb import docs points.jsonl
  vecdb search docs --vector-file query.npy --limit 5 --with-payload
  vecdb collection create notes --text-model all-MiniLM-L6-v2
  vecdb search notes --text "where did I park?" --limit 3
  vecdb encode --text "hello world" --kind dense
  vecdb models
  vecdb cache lookup --text "how to reverse a python list" --category code --model gpt-4o
  vecdb count docs --filter '{"must": [{"key": "color", "match": {"value": "red"}}]}'
  vecdb --json collection info docs
  vecdb collection delete docs --yes
  vecdb snapshot create docs && vecdb snapshot list

The global options work before or after the command. VECDB_DEBUG=1 shows tracebacks.
Run `vecdb COMMAND --help` for each command's options and examples.
"""


def _timeout(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {value:g}")
    return value or None  # 0: no deadline


def _global_options(*, top_level: bool) -> argparse.ArgumentParser:
    """--address, --timeout, --json. Below the top level their defaults are SUPPRESS, so a value
    given before the command is not overwritten by a default after it."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("global options")

    def default(value: object) -> object:
        return value if top_level else argparse.SUPPRESS

    address = os.environ.get("VECDB_ADDRESS") or DEFAULT_ADDRESS
    group.add_argument(
        "--address",
        metavar="HOST:PORT",
        default=default(address),
        help=f"server address (default: $VECDB_ADDRESS, else {DEFAULT_ADDRESS})",
    )
    group.add_argument(
        "--timeout",
        type=_timeout,
        metavar="SECONDS",
        default=default(DEFAULT_TIMEOUT),
        help=f"deadline per request; 0 for none (default: {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print one JSON document on stdout instead of tables",
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=default(None),
        help="API key sent with every call (default: $VECDB_API_KEY); prefer the variable, "
        "a flag shows in the process list",
    )
    group.add_argument(
        "--tls",
        action="store_true",
        default=default(False),
        help="connect over TLS, trusting the system's CAs (implied by --tls-ca)",
    )
    group.add_argument(
        "--tls-ca",
        metavar="FILE",
        default=default(None),
        help="PEM file of the CA (or self-signed certificate) to trust; implies --tls "
        "(default: $VECDB_TLS_CA)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vecdb",
        description="Admin command line of vecdb, a vector database served over gRPC.",
        epilog=EPILOG,
        formatter_class=EpilogFormatter,
        parents=[_global_options(top_level=True)],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parents = [_global_options(top_level=False)]
    for module in (cmd_server, cmd_collection, cmd_import, cmd_query, cmd_encoder, cmd_cache, cmd_snapshot):
        module.register(sub, parents)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 failure, 2 usage error, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit 2 here
    check = getattr(args, "check", None)  # what argparse cannot express; also exits 2 here
    if check is not None:
        try:
            check(args)
        except UsageError as exc:
            args.command_parser.error(str(exc))
    debug = os.environ.get("VECDB_DEBUG") == "1"
    expected: tuple[type[BaseException], ...] = (
        OSError,
        ValueError,
        UsageError,
        CommandFailed,
        *sdk_error_types(),
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:  # stdout closed early, e.g. `vecdb collection list | head -1`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- silence the flush at exit
        return 1
    except expected as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(format_error(exc, address=args.address, timeout=args.timeout) + "\n")
        return 2 if isinstance(exc, UsageError) else 1
    except SystemExit:
        raise
    except (
        BaseException
    ) as exc:  # a bug (or e.g. a stray CancelledError): one line unless debugging
        if debug:
            raise
        sys.stderr.write(
            f"error: unexpected {type(exc).__name__}: {exc} (set VECDB_DEBUG=1 for a traceback)\n"
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
