"""The benchmarks run end to end at a tiny size, so bench/ cannot rot unnoticed. (Those whose
quick mode needs the cached MiniLM embeddings of 100k texts are left to their own runs.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dense_benchmark_runs_and_reports_ratios_and_recall(tmp_path: Path) -> None:
    out = tmp_path / "dense.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_dense.py"), "--dataset", "glove", "--n", "2000", "--queries", "50",
         "--threads", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bulk upsert (points/s)" in result.stdout and "recall@10" in result.stdout
    record = json.loads(out.read_text())
    assert record["n"] == 2000 and record["recall_vecdb"] >= 0.95 and record["upload_ratio"] > 0


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_load_benchmark_has_backpressure_and_no_errors(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    _run("bench_load.py", "--quick", "--synthetic", "--n", "500", "--duration", "3", "--baseline-duration", "1",
         "--out", str(out))
    r = json.loads(out.read_text())
    assert r["load"]["errors"] == 0 and r["load"]["backpressure"] > 0
    assert r["points_stored"] == r["points_expected"] and r["dense_recall_at_10"] >= 0.9


def test_multivector_benchmark_reports_recall_and_ratios(tmp_path: Path) -> None:
    out = tmp_path / "multivector.json"
    result = _run("bench_multivector.py", "--quick", "--out", str(out))
    assert "recall@10" in result.stdout
    assert json.loads(out.read_text())


def test_sparse_benchmark_matches_bm25s_and_scipy(tmp_path: Path) -> None:
    out = tmp_path / "sparse.json"
    _run("bench_sparse.py", "--quick", "--out", str(out))
    r = json.loads(out.read_text())
    assert r["bm25"]["top10_identical_modulo_ties"] == 1.0
