from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .server_process import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server per test module, on loopback, with its own data folder."""
    with ServerProcess(Path(tmp_path_factory.mktemp("vecdb-data"))) as proc:
        yield proc
