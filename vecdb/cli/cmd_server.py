"""`vecdb serve`, `vecdb health` and `vecdb info`."""

from __future__ import annotations

import argparse
from pathlib import Path

from vecdb.cli.common import EpilogFormatter, connect, emit
from vecdb.cli.errors import CommandFailed
from vecdb.cli.output import format_kv, human_bytes

__all__ = ["register"]

SERVE_EPILOG = """\
Options left out come from the environment, then the config file, then the defaults.

examples:
  vecdb serve --data-dir ./data
  vecdb serve --config vecdb.toml --port 7334
  vecdb serve --host 0.0.0.0 --port 6334 --data-dir /var/lib/vecdb
"""

HEALTH_EPILOG = """\
Exit code 0 only when the server answers SERVING, so it fits shell checks:
  vecdb health && vecdb import docs points.jsonl
  vecdb --address db:6334 --timeout 2 health
"""


def run_serve(args: argparse.Namespace) -> int:
    try:
        from vecdb.server.app import run_forever
        from vecdb.server.settings import Settings
    except ImportError as exc:
        raise CommandFailed(
            f"the vecdb server cannot start here ({exc}); install it with "
            "`pip install 'vecdb[server]'`"
        ) from exc
    settings = Settings.from_sources(
        config_file=args.config, data_dir=args.data_dir, host=args.host, port=args.port
    )
    run_forever(settings)
    return 0


def run_health(args: argparse.Namespace) -> int:
    with connect(args, retries=0) as client:
        status = client.health()
    status = str(getattr(status, "name", status))
    emit(args, status, {"address": args.address, "status": status})
    return 0 if status == "SERVING" else 1


def run_info(args: argparse.Namespace) -> int:
    with connect(args) as client:
        info = client.server_info()
    pairs = [
        ("address", args.address),
        ("version", info.version),
        ("data dir", info.data_dir),
        ("capabilities", ", ".join(info.capabilities)),
        ("max limit", info.max_limit),
        ("max message", human_bytes(info.max_message_bytes)),
    ]
    emit(args, format_kv(pairs, max_width=200), info)
    return 0


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range [0, 65535]")
    return value


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> None:
    serve = sub.add_parser(
        "serve",
        parents=parents,
        help="run the vecdb server in the foreground",
        description="Run the vecdb gRPC server until SIGINT or SIGTERM.",
        epilog=SERVE_EPILOG,
        formatter_class=EpilogFormatter,
    )
    serve.add_argument("--data-dir", type=Path, metavar="DIR", help="where collections live")
    serve.add_argument("--host", help="interface to listen on")
    serve.add_argument("--port", type=_port, help="port to listen on")
    serve.add_argument("--config", type=Path, metavar="FILE", help="settings file")
    serve.set_defaults(func=run_serve)

    health = sub.add_parser(
        "health",
        parents=parents,
        help="print SERVING or NOT_SERVING; exit 0 only when serving",
        description="Ask the server's health service whether it is serving.",
        epilog=HEALTH_EPILOG,
        formatter_class=EpilogFormatter,
    )
    health.set_defaults(func=run_health)

    info = sub.add_parser(
        "info",
        parents=parents,
        help="server version, data directory, capabilities and limits",
        description="Show the server's version, data directory, capabilities and limits.",
    )
    info.set_defaults(func=run_info)
