"""The committed gRPC stubs must match what scripts/gen_protos.py makes from proto/ today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_the_server_convert_layer_and_the_sdk_import_the_stubs() -> None:
    offenders = []
    for path in (ROOT / "vecdb").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("vecdb/v1/", "vecdb/server/")):
            continue
        if "vecdb.v1" in path.read_text() or "_pb2" in path.read_text():
            offenders.append(rel)
    for folder in ("index", "kernels"):
        offenders += [p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*.py") if "_pb2" in p.read_text()]
    assert offenders == []
