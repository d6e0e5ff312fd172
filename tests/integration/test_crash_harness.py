"""Crash-safety harness: SIGKILL the server at random moments of a write workload, many times.

One writer thread drives the real server through the SDK with bulk upserts (new and replaced
points), deletes by id and by filter, and explicit index checkpoints, while background checkpoints
run too (every few hundred changed points, and on a short timer). At a random moment the server
is killed with SIGKILL, restarted on the same data folder, and checked against a model of the
acknowledged writes:

- every acknowledged write is there, with its exact vector and payload, and nothing else is;
- the one write in flight at the kill (never acknowledged) is wholly applied or wholly absent:
  the server's state must equal the model either without it or with it, never something between;
- exact searches agree with brute force over the model, and the HNSW index (recovered from a
  checkpoint plus replay, or rebuilt) finds sampled points.

The server that was checked then serves the next trial, so N trials cost N restarts. Trials:
`VECDB_CRASH_TRIALS` (default 50 in CI); the `slow` variant runs more on a bigger collection.
Each trial also records the restart time (process start to first answered read) against the
collection size; the summary is printed (run with -s to see it).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecdb_client import Client, VectorParams, errors

from .server_process import ServerProcess

DIM = 8
GROUPS = 8


@dataclass
class Model:
    """The acknowledged state: point id -> (vector, payload)."""

    points: dict[int, tuple[np.ndarray, dict[str, Any]]] = field(default_factory=dict)

    def applied(self, op: tuple[Any, ...]) -> Model:
        points = dict(self.points)
        kind = op[0]
        if kind == "upsert":
            _, ids, vectors, payloads = op
            points.update({i: (v, p) for i, v, p in zip(ids, vectors, payloads)})
        elif kind == "delete":
            for i in op[1]:
                points.pop(i, None)
        elif kind == "delete_group":
            points = {i: vp for i, vp in points.items() if vp[1]["g"] != op[1]}
        return Model(points)

    def same_as(self, other: dict[int, tuple[np.ndarray, dict[str, Any]]]) -> bool:
        return self.points.keys() == other.keys() and all(
            np.array_equal(v, other[i][0]) and p == other[i][1] for i, (v, p) in self.points.items()
        )


class Writer(threading.Thread):
    """Runs random operations until the server dies; keeps the model of what was acknowledged
    and the operation in flight when the connection broke."""

    def __init__(self, address: str, model: Model, rng: np.random.Generator, pool: int, counter: int) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.model = model
        self.rng = rng
        self.pool = pool
        self.counter = counter  # makes every payload unique, so a replaced point is told apart
        self.in_flight: tuple[Any, ...] | None = None
        self.acknowledged = 0
        self.failure: BaseException | None = None

    def next_op(self) -> tuple[Any, ...]:
        r = self.rng.random()
        if r < 0.65:
            n = int(self.rng.integers(10, 120))
            ids = sorted(set(self.rng.integers(0, self.pool, n).tolist()))
            vectors = self.rng.standard_normal((len(ids), DIM)).astype(np.float32)
            payloads = []
            for _ in ids:
                self.counter += 1
                payloads.append({"g": int(self.rng.integers(0, GROUPS)), "v": self.counter})
            return ("upsert", ids, vectors, payloads)
        if r < 0.82:
            return ("delete", sorted(set(self.rng.integers(0, self.pool, int(self.rng.integers(1, 60))).tolist())))
        if r < 0.87:
            return ("delete_group", int(self.rng.integers(0, GROUPS)))
        return ("checkpoint",)

    def run(self) -> None:
        try:
            with Client(self.address, retries=0, timeout=10) as c:
                while True:
                    op = self.next_op()
                    self.in_flight = op
                    if op[0] == "upsert":
                        c.upsert("crash", op[1], op[2], payloads=op[3])
                    elif op[0] == "delete":
                        c.delete("crash", ids=op[1])
                    elif op[0] == "delete_group":
                        c.delete("crash", filter={"must": [{"key": "g", "match": {"value": op[1]}}]})
                    else:
                        c.checkpoint("crash")
                    self.model = self.model.applied(op)
                    self.in_flight = None
                    self.acknowledged += 1
        except (errors.Unavailable, errors.DeadlineExceeded, errors.Internal):
            return  # the server died under the call: `in_flight` was never acknowledged
        except Exception as exc:  # noqa: BLE001 -- anything else is a bug the test must report
            self.failure = exc


def _wait_ready(address: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    with Client(address, retries=0, timeout=5) as c:
        while True:
            try:
                c.count("crash")
                return
            except (errors.Unavailable, errors.DeadlineExceeded):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)


def _read_all(c: Client, pool: int) -> dict[int, tuple[np.ndarray, dict[str, Any]]]:
    out = {}
    for start in range(0, pool, 1000):
        for r in c.get("crash", list(range(start, min(pool, start + 1000))), with_payload=True, with_vectors=True):
            out[int(r.id)] = (np.asarray(r.vectors["default"], np.float32), r.payload)
    return out


def _check_searches(c: Client, model: Model, rng: np.random.Generator) -> None:
    if not model.points:
        assert c.query("crash", np.ones(DIM, np.float32), limit=5, exact=True).ids == []
        return
    ids = np.array(sorted(model.points))
    matrix = np.stack([model.points[i][0] for i in ids])
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    k = min(10, len(ids))
    for _ in range(3):  # exact search == brute force (cosine), tie-tolerant
        q = rng.standard_normal(DIM).astype(np.float32)
        expected = np.sort(unit @ (q / np.linalg.norm(q)))[::-1][:k]
        hits = c.query("crash", q, limit=k, exact=True)
        np.testing.assert_allclose(hits.scores, expected, atol=1e-5)
        allowed = set(ids[(unit @ (q / np.linalg.norm(q))) >= expected[-1] - 1e-5].tolist())
        assert set(hits.ids) <= allowed
    for i in rng.choice(ids, size=min(8, len(ids)), replace=False):  # the recovered HNSW index
        hits = c.query("crash", model.points[int(i)][0], limit=10, ef=128, exact=False)
        assert int(i) in hits.ids, f"point {i} is stored but its recovered index does not find it"


def run_trials(data_dir: Path, trials: int, pool: int, seed: int, max_delay_s: float) -> list[tuple[int, float]]:
    """Run `trials` kill/restart rounds; returns (points, restart seconds) per restart."""
    rng = np.random.default_rng(seed)
    # kernel_device cpu: "auto" would import torch to look for a GPU, seconds per restart
    env = {"VECDB_CHECKPOINT_EVERY_MUTATIONS": "300", "VECDB_CHECKPOINT_INTERVAL_S": "0.7", "VECDB_KERNEL_DEVICE": "cpu"}
    model = Model()
    counter = 0
    restarts: list[tuple[int, float]] = []
    server = ServerProcess(data_dir, **env).start()
    try:
        with Client(server.address, timeout=60) as c:
            c.create_collection("crash", VectorParams(dim=DIM))
        _wait_ready(server.address)
        outcomes = {"acked_only": 0, "in_flight_applied": 0}
        for trial in range(trials):
            writer = Writer(server.address, model, rng, pool, counter)
            writer.start()
            time.sleep(float(rng.uniform(0.02, max_delay_s)))
            server.kill()
            writer.join(30)
            assert not writer.is_alive(), "the writer hung after the kill"
            if writer.failure is not None:
                raise AssertionError(f"trial {trial}: the writer failed with an unexpected error") from writer.failure
            counter = writer.counter
            started = time.monotonic()
            server = ServerProcess(data_dir, **env).start()
            _wait_ready(server.address)
            restarts.append((len(writer.model.points), time.monotonic() - started))
            with Client(server.address, timeout=60) as c:
                found = _read_all(c, pool)
                assert c.count("crash") == len(found)
                if writer.model.same_as(found):
                    model = writer.model
                    outcomes["acked_only"] += 1
                else:
                    op = writer.in_flight
                    with_op = writer.model.applied(op) if op is not None else None
                    assert with_op is not None and with_op.same_as(found), (
                        f"trial {trial}: after the kill the server holds {len(found)} points, matching neither "
                        f"the {len(writer.model.points)} acknowledged nor them plus the whole in-flight "
                        f"{op[0] if op else 'nothing'}: an acknowledged write was lost or a batch is half-present"
                    )
                    model = with_op
                    outcomes["in_flight_applied"] += 1
                _check_searches(c, model, rng)
        print(f"\ncrash harness: {trials} SIGKILL trials, outcomes {outcomes}")
        return restarts
    finally:
        server.kill()


def _summary(restarts: list[tuple[int, float]]) -> str:
    points = np.array([p for p, _ in restarts])
    secs = np.array([s for _, s in restarts])
    lines = ["restart time (process start to first answered read) by collection size:"]
    for lo, hi in ((0, 500), (500, 2000), (2000, 10_000), (10_000, 10**9)):
        sel = (points >= lo) & (points < hi)
        if sel.any():
            lines.append(f"  {lo:>6}-{hi if hi < 10**9 else 'inf':<6} points: n={int(sel.sum()):3d} "
                         f"median {np.median(secs[sel]):.2f}s max {secs[sel].max():.2f}s")
    return "\n".join(lines)


def test_sigkill_during_writes_deletes_and_checkpoints_loses_nothing(tmp_path: Path) -> None:
    trials = int(os.environ.get("VECDB_CRASH_TRIALS", "50"))
    restarts = run_trials(tmp_path, trials, pool=1500, seed=2026, max_delay_s=0.4)
    assert len(restarts) == trials
    print(_summary(restarts))


@pytest.mark.slow
def test_sigkill_many_trials_on_a_bigger_collection(tmp_path: Path) -> None:
    trials = int(os.environ.get("VECDB_CRASH_TRIALS_SLOW", "300"))
    restarts = run_trials(tmp_path, trials, pool=20_000, seed=7, max_delay_s=1.5)
    assert len(restarts) == trials
    print(_summary(restarts))
