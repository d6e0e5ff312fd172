"""The built wheel installs exactly the packages DESIGN.md names: `vecdb` (with vecdb.index and
vecdb.kernels mapped in from the top-level folders) and `vecdb_client`, never a generic top-level
`index` or `kernels`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contents(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "data", "build", "*.egg-info", "bench"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("vecdb-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"vecdb", "vecdb_client", f"{wheel.name.split('-py')[0]}.dist-info"}
    for required in ("vecdb/index/hnsw.py", "vecdb/kernels/dense.py", "vecdb/v1/query_service_pb2.pyi",
                     "vecdb/py.typed", "vecdb_client/py.typed", "vecdb/server/app.py", "vecdb/cli/main.py"):
        assert required in names, required
