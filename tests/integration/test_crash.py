"""Crash safety: every acknowledged write survives SIGKILL, and a lost or corrupt index checkpoint
costs a rebuild, never data."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from vecdb_client import Client, VectorParams

from .server_process import ServerProcess

DIM = 12


def _check_all_present(client: Client, acknowledged: dict[int, np.ndarray]) -> None:
    assert client.count("crash") == len(acknowledged)
    ids = sorted(acknowledged)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        records = client.get("crash", chunk, with_vectors=True)
        assert [r.id for r in records] == chunk
        for r in records:
            np.testing.assert_array_equal(r.vectors["default"], acknowledged[r.id])
    rng = np.random.default_rng(3)
    for i in rng.choice(ids, size=min(20, len(ids)), replace=False):
        hits = client.query("crash", acknowledged[int(i)], limit=1, exact=False)
        assert hits[0].id == int(i), "an acknowledged point must be searchable after restart"


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    acknowledged: dict[int, np.ndarray] = {}
    with ServerProcess(tmp_path) as server:
        with Client(server.address, retries=0) as client:
            client.create_collection("crash", VectorParams(dim=DIM))
            # A first part is checkpointed, the rest lives only in LMDB + the change log.
            for batch in range(6):
                ids = list(range(batch * 200, batch * 200 + 200))
                vectors = rng.standard_normal((200, DIM)).astype(np.float32)
                client.upsert("crash", ids, vectors)
                acknowledged.update(zip(ids, vectors))
                if batch == 2:
                    client.checkpoint("crash")
            deleted = list(range(0, 1200, 7))
            client.delete("crash", deleted)
            for i in deleted:
                acknowledged.pop(i)
        server.kill()  # right after the last acknowledged write: no shutdown code runs

    with ServerProcess(tmp_path) as server, Client(server.address) as client:
        _check_all_present(client, acknowledged)


def test_kill_9_during_a_stream_of_writes_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    acknowledged: dict[int, np.ndarray] = {}
    with ServerProcess(tmp_path) as server:
        with Client(server.address, retries=0) as client:
            client.create_collection("crash", VectorParams(dim=DIM))
        stop = threading.Event()

        def writer() -> None:
            with Client(server.address, retries=0) as c:
                next_id = 0
                while not stop.is_set() and next_id < 100_000:
                    ids = list(range(next_id, next_id + 50))
                    vectors = rng.standard_normal((50, DIM)).astype(np.float32)
                    try:
                        c.upsert("crash", ids, vectors)
                    except Exception:
                        return  # the server died mid-call: this batch was never acknowledged
                    acknowledged.update(zip(ids, vectors))
                    next_id += 50

        thread = threading.Thread(target=writer)
        thread.start()
        while len(acknowledged) < 1000 and thread.is_alive():
            stop.wait(0.01)
        server.kill()
        stop.set()
        thread.join(30)
    assert len(acknowledged) >= 1000
    with ServerProcess(tmp_path) as server, Client(server.address) as client:
        # Every acknowledged point is there; an unacknowledged in-flight batch is all-or-nothing.
        present = client.count("crash")
        assert present in (len(acknowledged), len(acknowledged) + 50)
        records = client.get("crash", sorted(acknowledged), with_vectors=True)
        assert len(records) == len(acknowledged)


@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_lost_or_corrupt_checkpoint_means_rebuild(tmp_path: Path, damage: str) -> None:
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((800, DIM)).astype(np.float32)
    with ServerProcess(tmp_path) as server:
        with Client(server.address) as client:
            client.create_collection("crash", VectorParams(dim=DIM))
            client.upsert("crash", list(range(800)), vectors)
        assert server.stop() == 0  # graceful: writes the checkpoint
    index_dir = tmp_path / "collections" / "crash" / "index"
    [checkpoint] = [p for p in index_dir.iterdir() if p.name != "manifest.json"]
    if damage == "delete":
        checkpoint.unlink()
    else:
        data = bytearray(checkpoint.read_bytes())
        for pos in range(100, len(data), len(data) // 7):
            data[pos] ^= 0x5A
        checkpoint.write_bytes(bytes(data))
    with ServerProcess(tmp_path) as server, Client(server.address) as client:
        _check_all_present(client, dict(enumerate(vectors)))
        assert any("rebuil" in line for line in server.output), "".join(server.output)
