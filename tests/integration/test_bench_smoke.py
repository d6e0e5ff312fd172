"""The dense benchmark runs end to end at a tiny size, so bench/ cannot rot unnoticed."""

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
