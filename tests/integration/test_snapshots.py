"""Snapshots through the real server: create while writes go on, list, download (SDK and CLI,
checked against the server's SHA-256), restore online and offline into a new data folder that a
second server then serves, delete, and names that cannot reach outside the snapshot folder."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from vecdb.cli.main import main as cli
from vecdb_client import AsyncClient, Client, VectorParams, errors

from .server_process import ServerProcess

DIM = 8
BATCH = 25


def _batch(b: int) -> tuple[list[int], np.ndarray, list[dict[str, int]]]:
    ids = list(range(b * BATCH, b * BATCH + BATCH))
    return ids, np.random.default_rng(b).standard_normal((BATCH, DIM)).astype(np.float32), [{"b": b}] * BATCH


def _check_restored(client: Client, collection: str, points: int) -> None:
    """The restored collection holds whole batches 0..k-1 with the right vectors and payloads,
    and its index answers nearest-neighbour queries for them."""
    assert points % BATCH == 0, "a batch is atomic: a snapshot holds all of it or none of it"
    assert client.count(collection) == points
    for b in range(points // BATCH):
        ids, vectors, payloads = _batch(b)
        records = client.get(collection, ids, with_payload=True, with_vectors=True)
        assert [r.id for r in records] == ids
        for r, v, p in zip(records, vectors, payloads):
            np.testing.assert_array_equal(r.vectors["default"], v)
            assert r.payload == p
    if points:
        _, vectors, _ = _batch(points // BATCH - 1)
        assert client.query(collection, vectors[3], limit=1, exact=False).ids == [points - BATCH + 3]


@pytest.fixture(scope="module")
def loaded(server: ServerProcess) -> ServerProcess:
    with Client(server.address) as c:
        c.create_collection("snap", VectorParams(dim=DIM))
        for b in range(8):
            c.upsert("snap", *_batch(b)[:2], payloads=_batch(b)[2])
        c.create_collection("other", VectorParams(dim=DIM))
        c.upsert("other", [1, 2], np.ones((2, DIM), np.float32))
    return server


def test_snapshot_while_writing_then_download_and_restore_offline(loaded: ServerProcess, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    acked: list[int] = []

    def writer() -> None:
        with Client(loaded.address) as c:
            b = 8
            while not stop.is_set() and b < 400:
                ids, vectors, payloads = _batch(b)
                c.upsert("snap", ids, vectors, payloads=payloads)
                acked.append(b)
                b += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with Client(loaded.address) as c:
            info = c.create_snapshot("snap")
    finally:
        stop.set()
        thread.join()
    assert acked, "writes kept being acknowledged around the snapshot"
    [copy] = info.collections
    assert info.collection == "snap" and copy.name == "snap" and copy.points_count >= 8 * BATCH

    # download with the SDK: the file matches the server's checksum
    with Client(loaded.address) as c:
        got = c.download_snapshot(info.name, tmp_path, chunk_bytes=64 * 1024)
    path = tmp_path / f"{info.name}.tar"
    assert got == info and hashlib.sha256(path.read_bytes()).hexdigest() == info.sha256

    # and with the CLI
    assert cli(["--address", loaded.address, "--json", "snapshot", "download", info.name,
                "--output", str(tmp_path / "cli.tar")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["snapshot"]["sha256"] == info.sha256
    assert (tmp_path / "cli.tar").read_bytes() == path.read_bytes()

    # restore offline into a new data folder, serve it, and find exactly the snapshot's points
    assert cli(["snapshot", "restore-offline", str(tmp_path / "cli.tar"), "--data-dir", str(tmp_path / "new")]) == 0
    with ServerProcess(tmp_path / "new") as second, Client(second.address) as c2:
        assert [i.name for i in c2.list_collections()] == ["snap"]
        assert c2.get_collection("snap").points_count == copy.points_count
        _check_restored(c2, "snap", copy.points_count)
    # a second offline restore into the same folder is refused
    assert cli(["snapshot", "restore-offline", str(tmp_path / "cli.tar"), "--data-dir", str(tmp_path / "new")]) == 1
    assert "already exist" in capsys.readouterr().err


def test_restore_online_list_and_delete(loaded: ServerProcess) -> None:
    with Client(loaded.address) as c:
        info = c.create_snapshot("other")
        assert info.name in [s.name for s in c.list_snapshots("other")]
        assert info.name not in [s.name for s in c.list_snapshots("snap")]
        c.upsert("other", [3], np.zeros((1, DIM), np.float32) + 2)
        with pytest.raises(errors.AlreadyExists):
            c.restore_snapshot(info.name)
        restored = c.restore_snapshot(info.name, overwrite=True)
        assert (restored.name, restored.points_count) == ("other", 2)
        assert c.count("other") == 2 and c.get("other", [3]) == []
        # the restored collection keeps serving writes and queries
        c.upsert("other", [4], np.ones((1, DIM), np.float32))
        assert c.count("other") == 3

        whole = c.create_snapshot()
        assert whole.collection is None and {"snap", "other"} <= {x.name for x in whole.collections}
        with pytest.raises(errors.FailedPrecondition, match="offline"):
            c.restore_snapshot(whole.name)
        c.delete_collection("other")
        assert c.restore_snapshot(whole.name, collection="other").points_count == 3

        c.delete_snapshot(info.name)
        assert info.name not in [s.name for s in c.list_snapshots()]
        with pytest.raises(errors.NotFound):
            c.delete_snapshot(info.name)
        with pytest.raises(errors.NotFound):
            c.create_snapshot("no-such-collection")


@pytest.mark.parametrize("name", ["../snapshots/x", "/etc/passwd", "..", "a/../../b.tar",
                                  "snap.20260101T000000Z.0a1b2c3d/../../.lock"])
def test_names_that_try_to_escape_are_invalid_over_the_wire(loaded: ServerProcess, name: str) -> None:
    with Client(loaded.address) as c:
        for call in (c.delete_snapshot, c.restore_snapshot):
            with pytest.raises(errors.InvalidArgument):
                call(name)
        with pytest.raises(errors.InvalidArgument):
            c.download_snapshot(name, loaded.data_dir.parent / "x.tar")
    assert (loaded.data_dir / ".lock").exists()


def test_async_client_lists_and_downloads(loaded: ServerProcess, tmp_path: Path) -> None:
    async def go() -> tuple[object, object]:
        async with AsyncClient(loaded.address) as c:
            info = await c.create_snapshot("snap")
            listed = await c.list_snapshots("snap")
            got = await c.download_snapshot(info.name, tmp_path / "a.tar")
            await c.delete_snapshot(info.name)
            return info, (listed, got)

    info, (listed, got) = asyncio.run(go())
    assert info in listed and got == info
    assert hashlib.sha256((tmp_path / "a.tar").read_bytes()).hexdigest() == info.sha256  # type: ignore[attr-defined]


def test_cli_create_list_delete(loaded: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--address", loaded.address, "--json", "snapshot"]
    assert cli([*base, "create", "snap"]) == 0
    name = json.loads(capsys.readouterr().out)["name"]
    assert cli([*base, "list", "--collection", "snap"]) == 0
    assert name in [s["name"] for s in json.loads(capsys.readouterr().out)]
    assert cli([*base, "delete", name, "--yes"]) == 0
    capsys.readouterr()
    assert cli([*base, "delete", name, "--yes"]) == 1
    assert "does not exist" in capsys.readouterr().err
