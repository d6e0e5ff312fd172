"""The vecdb gRPC server: settings, the asyncio application and its entry points.

    from vecdb.server import Settings, build_server
    server = await build_server(Settings(port=0, data_dir=tmp))
    await server.wait_ready(); ...; await server.stop()

`run_forever(Settings.from_sources())` is the blocking entry behind `vecdb serve` and
`python -m vecdb.server`.
"""

from __future__ import annotations

from vecdb.server.app import VecdbServer, build_server, run_forever
from vecdb.server.settings import Settings

__all__ = ["Settings", "VecdbServer", "build_server", "run_forever"]
