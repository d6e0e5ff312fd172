"""`python -m vecdb.server [--config FILE] [--host H] [--port P] [--data-dir D] [--log-level L]`.

Flags override the environment (VECDB_*), which overrides the config file, which overrides the
defaults; see `vecdb.server.settings`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vecdb.server.app import run_forever
from vecdb.server.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vecdb.server", description="Run the vecdb gRPC server.")
    parser.add_argument("--config", type=Path, default=None, help="TOML settings file (default: $VECDB_CONFIG)")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--log-level", default=None)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_sources(
            args.config, host=args.host, port=args.port, data_dir=args.data_dir, log_level=args.log_level
        )
    except ValueError as exc:
        print(f"vecdb: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    run_forever(settings)


if __name__ == "__main__":
    main()
