"""Start the real vecdb server as a child process on loopback, and stop or kill it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

_LISTENING = re.compile(r"vecdb listening on (\S+):(\d+)")


class ServerProcess:
    """`python -m vecdb.server` on 127.0.0.1 with an OS-chosen port and the given data folder."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.env = {**os.environ, "VECDB_DATA_DIR": str(data_dir), "VECDB_HOST": "127.0.0.1", "VECDB_PORT": "0",
                    "VECDB_CHECKPOINT_INTERVAL_S": "3600", "VECDB_PRELOAD_MODELS": "0", "HF_HUB_OFFLINE": "1",
                    "VECDB_METRICS_PORT": "0", **env}
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.output: list[str] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.output = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vecdb.server"], env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )
        found = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                m = _LISTENING.search(line)
                if m and not found.is_set():
                    self.port = int(m.group(2))
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("vecdb server did not start:\n" + "".join(self.output))
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful: in-flight calls finish, indexes are checkpointed)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
