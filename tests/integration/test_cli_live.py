"""The admin CLI against a real server on loopback: what an operator types, what they see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .server_process import ServerProcess


def vecdb(server: ServerProcess, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VECDB_ADDRESS": server.address}
    result = subprocess.run([sys.executable, "-m", "vecdb.cli", *args], env=env, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"vecdb {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def test_operator_workflow(server: ServerProcess, tmp_path: Path) -> None:
    assert vecdb(server, "health").stdout.strip() == "SERVING"
    vecdb(server, "collection", "create", "films", "--dim", "4", "--metric", "cosine", "--index", "genre:keyword")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((250, 4)).astype(np.float32)
    lines = [json.dumps({"id": i, "vector": vectors[i].tolist(), "payload": {"genre": ["drama", "comedy"][i % 2], "n": i}})
             for i in range(250)]
    source = tmp_path / "films.jsonl"
    source.write_text("\n".join(lines) + "\n")
    imported = vecdb(server, "import", "films", str(source), "--batch-size", "100")
    assert "250" in imported.stdout + imported.stderr
    assert not Path(str(source) + ".vecdb-import.json").exists(), "a finished import removes its progress file"

    assert json.loads(vecdb(server, "--json", "count", "films").stdout)["count"] == 250
    comedy = {"must": [{"key": "genre", "match": {"value": "comedy"}}]}
    assert json.loads(vecdb(server, "--json", "count", "films", "--filter", json.dumps(comedy)).stdout)["count"] == 125

    hits = json.loads(vecdb(server, "--json", "search", "films", "--vector", json.dumps(vectors[42].tolist()),
                            "--limit", "3", "--with-payload").stdout)
    assert hits[0]["id"] == 42 and hits[0]["payload"]["n"] == 42
    table = vecdb(server, "search", "films", "--vector", json.dumps(vectors[7].tolist()), "--limit", "2").stdout
    assert "7" in table.splitlines()[1] or "7" in table

    info = json.loads(vecdb(server, "--json", "collection", "info", "films").stdout)
    assert info["collection"]["points_count"] == 250 and info["stats"]["fields"][0]["indexed_points"] == 250
    assert "films" in vecdb(server, "collection", "list").stdout

    vecdb(server, "collection", "delete", "films", "--yes")
    assert "films" not in vecdb(server, "collection", "list").stdout


def test_import_resumes_after_a_bad_line(server: ServerProcess, tmp_path: Path) -> None:
    vecdb(server, "collection", "create", "resume", "--dim", "2")
    rows = [json.dumps({"id": i, "vector": [1.0, float(i)]}) for i in range(30)]
    rows[17] = '{"id": 17, "vector": [1.0, '  # cut off
    source = tmp_path / "points.jsonl"
    source.write_text("\n".join(rows) + "\n")
    failed = vecdb(server, "import", "resume", str(source), "--batch-size", "5", check=False)
    assert failed.returncode == 1 and "line 18" in failed.stderr and failed.stderr.count("\n") == 1
    assert json.loads(vecdb(server, "--json", "count", "resume").stdout)["count"] == 17
    rows[17] = json.dumps({"id": 17, "vector": [1.0, 17.0]})
    source.write_text("\n".join(rows) + "\n")
    vecdb(server, "import", "resume", str(source), "--batch-size", "5")
    assert json.loads(vecdb(server, "--json", "count", "resume").stdout)["count"] == 30


@pytest.mark.parametrize("args,needle", [
    (("count", "nope"), "collection 'nope' does not exist"),
    (("search", "nope", "--vector", "[1, 2]"), "collection 'nope' does not exist"),
    (("collection", "create", "bad/name", "--dim", "4"), "collection name"),
    (("--address", "127.0.0.1:1", "health"), "cannot reach vecdb at 127.0.0.1:1"),
])
def test_errors_are_one_readable_line(server: ServerProcess, args: tuple[str, ...], needle: str) -> None:
    result = vecdb(server, *args, check=False)
    assert result.returncode != 0
    assert needle in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
