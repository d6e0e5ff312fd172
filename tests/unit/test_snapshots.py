"""Snapshots in the engine: a consistent copy while writes go on, restore into the running
database and into a new folder, and names that cannot escape the snapshot folder."""

from __future__ import annotations

import json
import os
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from vecdb.engine.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from vecdb.engine.snapshots import read_manifest, restore_into_folder, validate_snapshot_name
from vecdb.engine.types import NearestQuery, UpsertBatch

from .engine_helpers import dense_config, open_db, random_vectors


def _fill(db, name: str, n: int, seed: int = 0) -> np.ndarray:
    db.create_collection(dense_config(name))
    vectors = random_vectors(n, 8, seed)
    db.collection(name).upsert(UpsertBatch(ids=list(range(n)), vectors={"v": vectors},
                                           payloads=[{"i": i} for i in range(n)]))
    return vectors


def _state(coll, n: int = 1000) -> dict[int, tuple[bytes, object]]:
    """Every point with an id below n: id -> (vector bytes, payload)."""
    records = coll.get(list(range(n)), with_payload=True, with_vectors=("v",))
    return {r.id: (np.asarray(r.vectors["v"], np.float32).tobytes(), r.payload) for r in records}


def test_snapshot_restores_into_a_new_folder_with_the_same_points_and_search(tmp_path: Path) -> None:
    with open_db(tmp_path / "a") as db:
        vectors = _fill(db, "docs", 300)
        db.collection("docs").delete_ids(list(range(0, 300, 3)))
        before = _state(db.collection("docs"))
        info = db.create_snapshot("docs")
        assert info.collection == "docs" and [c.name for c in info.collections] == ["docs"]
        assert info.collections[0].points_count == 200
        assert info.collections[0].sequence == db.collection("docs").info().sequence
        snapshot_file = db.snapshots.path(info.name)
    restored = restore_into_folder(snapshot_file, tmp_path / "b")
    assert [c.name for c in restored] == ["docs"]
    with open_db(tmp_path / "b") as db2:
        coll = db2.collection("docs")
        assert _state(coll) == before
        # the index came from the snapshot's checkpoint (same sequence, nothing replayed)
        assert coll.stats().fields[0].checkpoint_sequence == info.collections[0].sequence
        hits = coll.query(NearestQuery(vector=vectors[4], limit=3))
        assert hits.ids[0] == 4


def test_snapshot_is_one_point_in_time_while_writes_go_on(tmp_path: Path) -> None:
    """Each batch is 20 points with one batch number in every payload: a consistent copy holds
    whole batches 0..k-1 for some k, and its sequence says which."""
    with open_db(tmp_path / "a") as db:
        db.create_collection(dense_config("docs"))
        coll = db.collection("docs")
        stop = threading.Event()
        sequences: dict[int, int] = {}

        def writer() -> None:
            batch = 0
            while not stop.is_set() and batch < 2000:
                ids = list(range(batch * 20, batch * 20 + 20))
                r = coll.upsert(UpsertBatch(ids=ids, vectors={"v": random_vectors(20, 8, batch)},
                                            payloads=[{"b": batch}] * 20))
                sequences[r.sequence] = batch
                batch += 1

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            infos = []
            for _ in range(3):
                infos.append(db.create_snapshot("docs"))
        finally:
            stop.set()
            thread.join()
        assert len(sequences) > 0
        for i, info in enumerate(infos):
            target = tmp_path / f"r{i}"
            restore_into_folder(db.snapshots.path(info.name), target)
            with open_db(target) as db2:
                c2 = db2.collection("docs")
                n = c2.count()
                assert n % 20 == 0, "a batch is atomic: a snapshot holds all of it or none of it"
                batches = n // 20
                assert c2.info().sequence == info.collections[0].sequence
                if batches:
                    assert sequences[info.collections[0].sequence] == batches - 1
                    recs = c2.get(list(range(n)), with_payload=True)
                    assert sorted({r.payload["b"] for r in recs}) == list(range(batches))


def test_whole_server_snapshot_holds_every_collection_and_restores_offline(tmp_path: Path) -> None:
    with open_db(tmp_path / "a") as db:
        _fill(db, "one", 50, seed=1)
        _fill(db, "two", 70, seed=2)
        info = db.create_snapshot()
        assert info.collection is None
        assert [(c.name, c.points_count) for c in info.collections] == [("one", 50), ("two", 70)]
        with pytest.raises(FailedPrecondition, match="offline"):
            db.restore_snapshot(info.name)
        # one collection of a whole-server snapshot can be restored online
        db.delete_collection("two")
        assert db.restore_snapshot(info.name, collection="two").points_count == 70
        path = db.snapshots.path(info.name)
    restore_into_folder(path, tmp_path / "b")
    with open_db(tmp_path / "b") as db2:
        assert [c.config.name for c in db2.list_collections()] == ["one", "two"]
        assert db2.collection("one").count() == 50
    with pytest.raises(AlreadyExists):
        restore_into_folder(path, tmp_path / "b")
    restore_into_folder(path, tmp_path / "b", collections=["one"], overwrite=True)


def test_restore_online_refuses_an_existing_collection_unless_overwrite(tmp_path: Path) -> None:
    with open_db(tmp_path) as db:
        _fill(db, "docs", 40)
        info = db.create_snapshot("docs")
        db.collection("docs").upsert(UpsertBatch(ids=[1000], vectors={"v": random_vectors(1, 8, 9)}))
        with pytest.raises(AlreadyExists):
            db.restore_snapshot(info.name)
        assert db.collection("docs").count() == 41
        restored = db.restore_snapshot(info.name, overwrite=True)
        assert restored.points_count == 40 and db.collection("docs").count() == 40
        assert db.collection("docs").get([1000]) == []
        db.delete_collection("docs")
        assert db.restore_snapshot(info.name).points_count == 40
    with open_db(tmp_path) as db:  # the restored collection persists across a restart
        assert db.collection("docs").count() == 40


def test_list_and_delete(tmp_path: Path) -> None:
    with open_db(tmp_path) as db:
        _fill(db, "one", 5)
        _fill(db, "two", 5)
        a = db.create_snapshot("one")
        b = db.create_snapshot()
        assert [s.name for s in db.list_snapshots()] == [a.name, b.name]
        assert [s.name for s in db.list_snapshots("two")] == [b.name]
        assert db.snapshot_info(a.name) == a
        db.delete_snapshot(a.name)
        assert [s.name for s in db.list_snapshots()] == [b.name]
        with pytest.raises(NotFound):
            db.delete_snapshot(a.name)
        with pytest.raises(NotFound):
            db.restore_snapshot(a.name)


@pytest.mark.parametrize("name", [
    "../x", "../../etc/passwd", "/etc/passwd", "one/../../x", "", ".", "..", "docs.20260101T000000Z.0a1b2c3d/../x",
    "docs.20260101T000000Z.0A1B2C3D", "docs\x00.tar", "docs.20260101T000000Z.0a1b2c3d.tar",
])
def test_names_that_could_escape_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    with open_db(tmp_path) as db:
        for call in (db.delete_snapshot, db.restore_snapshot, db.snapshot_info, db.snapshots.chunks):
            with pytest.raises(InvalidArgument):
                call(name)


def test_a_symlink_in_the_snapshot_folder_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.tar"
    secret.write_bytes(b"not yours")
    (outside / "secret.json").write_text("{}")
    with open_db(tmp_path / "data") as db:
        name = "docs.20260101T000000Z.0a1b2c3d"
        folder = db.snapshots.folder
        os.symlink(secret, folder / f"{name}.tar")
        os.symlink(outside / "secret.json", folder / f"{name}.json")
        assert validate_snapshot_name(name) == name
        for call in (db.delete_snapshot, db.restore_snapshot, db.snapshots.chunks):
            with pytest.raises(InvalidArgument, match="symbolic link"):
                call(name)
        assert db.list_snapshots() == []
    assert secret.read_bytes() == b"not yours"


def test_a_corrupt_snapshot_is_refused_and_restores_nothing(tmp_path: Path) -> None:
    with open_db(tmp_path / "a") as db:
        _fill(db, "docs", 30)
        info = db.create_snapshot("docs")
        path = db.snapshots.path(info.name)
    manifest = read_manifest(path)
    assert manifest["vecdb_version"] and manifest["collections"][0]["points_count"] == 30
    member = next(m for m in manifest["files"] if m.endswith("data.mdb"))
    # flip bytes inside the LMDB member without changing the tar layout
    with tarfile.open(path) as tar:
        offset = tar.getmember(member).offset_data
    with open(path, "r+b") as fh:
        fh.seek(offset + 100)
        fh.write(b"\xff" * 16)
    with pytest.raises(FailedPrecondition, match="checksum"):
        restore_into_folder(path, tmp_path / "b")
    assert not any((tmp_path / "b" / "collections").iterdir())


def test_offline_restore_refuses_a_folder_a_database_holds(tmp_path: Path) -> None:
    with open_db(tmp_path / "a") as db:
        _fill(db, "docs", 5)
        path = db.snapshots.path(db.create_snapshot("docs").name)
        with open_db(tmp_path / "b"), pytest.raises(FailedPrecondition, match="in use"):
            restore_into_folder(path, tmp_path / "b")


def test_manifest_checksums_match_the_files(tmp_path: Path) -> None:
    import hashlib

    with open_db(tmp_path) as db:
        _fill(db, "docs", 10)
        info = db.create_snapshot("docs")
        path = db.snapshots.path(info.name)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == info.sha256
        assert path.stat().st_size == info.size_bytes
        assert b"".join(db.snapshots.chunks(info.name, 4096)) == path.read_bytes()
        stored = json.loads((path.parent / f"{info.name}.json").read_text())
        assert stored["sha256"] == info.sha256


def test_a_snapshot_file_whose_members_point_outside_is_refused(tmp_path: Path) -> None:
    """A crafted file (manifest and all) naming a member collections/x/../../../evil is refused
    before anything is written outside the restore's staging folder."""
    import hashlib
    import io

    evil = b"owned"
    name = "collections/docs/../../../evil"
    manifest = {"format": 1, "name": "docs.20260101T000000Z.0a1b2c3d", "collection": "docs", "created_at": 0.0,
                "vecdb_version": "0", "collections": [{"name": "docs", "sequence": 1, "points_count": 1}],
                "with_cache": False, "files": {name: {"size": len(evil), "sha256": hashlib.sha256(evil).hexdigest()}}}
    path = tmp_path / "crafted.tar"
    with tarfile.open(path, "w") as tar:
        for member, data in (("manifest.json", json.dumps(manifest).encode()), (name, evil)):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(InvalidArgument, match="unexpected member"):
        restore_into_folder(path, tmp_path / "data")
    assert not list(tmp_path.rglob("evil"))


def test_an_unfinished_snapshot_is_cleared_at_start(tmp_path: Path) -> None:
    with open_db(tmp_path) as db:
        _fill(db, "docs", 5)
        db.create_snapshot("docs")
        (db.snapshots.folder / ".tmp-docs.20260101T000000Z.0a1b2c3d").mkdir()
        (db.snapshots.folder / ".tmp-docs.20260101T000000Z.0a1b2c3d.tar").write_bytes(b"half")
    with open_db(tmp_path) as db:
        assert [p.name for p in db.snapshots.folder.iterdir() if p.name.startswith(".tmp-")] == []
        assert len(db.list_snapshots()) == 1
