"""The engine's collection: write path, reads, queries, bad input, recovery."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from vecdb.engine.database import Database
from vecdb.engine.errors import (
    AlreadyExists,
    CollectionNotFound,
    FieldNotFound,
    InvalidArgument,
    NotFound,
)
from vecdb.engine.filters import Filter, Match, Range
from vecdb.engine.schema import (
    PayloadIndexConfig,
    PayloadIndexType,
    StorageDType,
)
from vecdb.engine.types import NearestQuery, UpsertBatch
from vecdb.kernels.metrics import Metric

from .engine_helpers import dense_config, open_db, random_vectors, simulate_crash


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    database = open_db(tmp_path)
    yield database
    database.close()


def _fill(db: Database, n: int = 100, dim: int = 8, **cfg: object) -> np.ndarray:
    db.create_collection(dense_config(dim=dim, **cfg))  # type: ignore[arg-type]
    vectors = random_vectors(n, dim)
    payloads = [{"i": i, "parity": "even" if i % 2 == 0 else "odd"} for i in range(n)]
    db.collection("docs").upsert(UpsertBatch(ids=list(range(n)), vectors={"v": vectors}, payloads=payloads))
    return vectors


def _exact_top(vectors: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    sims = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
    return list(np.argsort(-sims)[:k])


def test_upsert_get_count_and_query(db: Database) -> None:
    vectors = _fill(db)
    coll = db.collection("docs")
    assert coll.count() == 100
    [rec] = coll.get([7], with_payload=True, with_vectors=("v",))
    assert rec.id == 7 and rec.payload == {"i": 7, "parity": "odd"}
    np.testing.assert_allclose(rec.vectors["v"], vectors[7])
    hits = coll.query(NearestQuery(vector=vectors[3], limit=5, with_payload=True))
    assert hits[0].id == 3 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.id for h in hits] == _exact_top(vectors, vectors[3], 5)
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_upsert_replaces_existing_point(db: Database) -> None:
    vectors = _fill(db)
    coll = db.collection("docs")
    coll.upsert(UpsertBatch(ids=[5], vectors={"v": vectors[9:10]}, payloads=[{"new": True}]))
    assert coll.count() == 100
    [rec] = coll.get([5])
    assert rec.payload == {"new": True}
    hits = coll.query(NearestQuery(vector=vectors[9], limit=2))
    assert {h.id for h in hits} == {5, 9}


def test_sequence_numbers_increase_with_each_mutation(db: Database) -> None:
    _fill(db)
    coll = db.collection("docs")
    s1 = coll.delete_ids([1, 2]).sequence
    s2 = coll.upsert(UpsertBatch(ids=[1], vectors={"v": random_vectors(1, 8)})).sequence
    assert 1 < s1 < s2 == coll.info().sequence
    noop = coll.delete_ids([12345])
    assert noop.count == 0 and noop.sequence == s2


def test_delete_by_ids_and_filter(db: Database) -> None:
    vectors = _fill(db)
    coll = db.collection("docs")
    assert coll.delete_ids([0, 1, 999]).count == 2
    assert coll.get([0, 1]) == []
    removed = coll.delete_filter(Filter(must=(Match("parity", "even"),)))
    assert removed.count == 49
    assert coll.count() == 49
    hits = coll.query(NearestQuery(vector=vectors[4], limit=49))
    assert all(h.id % 2 == 1 for h in hits) and len(hits) == 49


def test_filtered_query_is_exact_for_selective_filters(db: Database) -> None:
    vectors = _fill(db, n=300)
    coll = db.collection("docs")
    filt = Filter(must=(Range("i", lt=40),))
    hits = coll.query(NearestQuery(vector=vectors[100], limit=10, filter=filt))
    expected = [int(i) for i in _exact_top(vectors[:40], vectors[100], 10)]
    assert [h.id for h in hits] == expected


def test_k_larger_than_collection_and_score_threshold(db: Database) -> None:
    vectors = _fill(db, n=20)
    coll = db.collection("docs")
    assert len(coll.query(NearestQuery(vector=vectors[0], limit=500))) == 20
    hits = coll.query(NearestQuery(vector=vectors[0], limit=20, score_threshold=0.3))
    assert hits and all(h.score >= 0.3 for h in hits)
    page2 = coll.query(NearestQuery(vector=vectors[0], limit=5, offset=5))
    full = coll.query(NearestQuery(vector=vectors[0], limit=10))
    assert [h.id for h in page2] == [h.id for h in full[5:]]


def test_query_by_point_id(db: Database) -> None:
    vectors = _fill(db)
    hits = db.collection("docs").query(NearestQuery(point=42, limit=3))
    assert hits[0].id == 42
    with pytest.raises(NotFound, match="point = 4242"):
        db.collection("docs").query(NearestQuery(point=4242, limit=3))
    assert vectors.shape[0] == 100


def test_l2_scores_are_distances(db: Database) -> None:
    vectors = _fill(db, metric=Metric.L2)
    hits = db.collection("docs").query(NearestQuery(vector=vectors[0] + 0.1, limit=3))
    d = np.linalg.norm(vectors - (vectors[0] + 0.1), axis=1)
    assert hits[0].id == 0 and hits[0].score == pytest.approx(float(d[0]), rel=1e-4)
    assert hits[0].score <= hits[1].score


def test_scroll_pages_through_every_point_in_id_order(db: Database) -> None:
    _fill(db, n=25)
    coll = db.collection("docs")
    u = str(uuid.UUID(int=1))
    coll.upsert(UpsertBatch(ids=[u], vectors={"v": random_vectors(1, 8)}))
    seen, offset = [], None
    while True:
        page = coll.scroll(limit=10, offset=offset)
        seen += [r.id for r in page.records]
        if page.next_offset is None:
            break
        offset = page.next_offset
    assert seen == list(range(25)) + [u]
    odd = coll.scroll(filter=Filter(must=(Match("parity", "odd"),)), limit=100)
    assert [r.id for r in odd.records] == list(range(1, 25, 2)) and odd.next_offset is None


@pytest.mark.parametrize("vectors,message", [
    (np.ones((2, 7), np.float32), "dimension 7 does not match"),
    (np.array([[1, 2, 3, 4, 5, 6, 7, np.nan]] * 2, np.float32), r"vectors\['v'\]\[0\] contains NaN"),
    (np.array([[1.0] * 8, [np.inf] + [0.0] * 7], np.float32), r"\[1\] contains NaN or Inf"),
    (np.zeros((2, 8), np.float32), "all zeros"),
    (np.ones((3, 8), np.float32), r"shape \[3, 8\]"),
    (np.ones((2, 0), np.float32), "dimension 0"),
    ([[1.0] * 8, [1.0] * 7], "ragged"),
    (np.array([["a"] * 8] * 2), "must hold numbers"),
])
def test_bad_vectors_are_refused_and_nothing_is_written(db: Database, vectors: object, message: str) -> None:
    _fill(db, n=10)
    coll = db.collection("docs")
    before = coll.info().sequence
    with pytest.raises(InvalidArgument, match=message):
        coll.upsert(UpsertBatch(ids=[100, 101], vectors={"v": vectors}))  # type: ignore[dict-item]
    assert coll.count() == 10 and coll.info().sequence == before and coll.get([100, 101]) == []


def test_a_bad_point_anywhere_rejects_the_whole_batch(db: Database) -> None:
    _fill(db, n=10)
    coll = db.collection("docs")
    payloads: list[dict | None] = [{"ok": 1}] * 5 + [{"bad": object()}]
    with pytest.raises(InvalidArgument, match=r"payloads\[5\]"):
        coll.upsert(UpsertBatch(ids=list(range(100, 106)), vectors={"v": random_vectors(6, 8)}, payloads=payloads))
    with pytest.raises(InvalidArgument, match=r"ids\[2\] = 100 repeats ids\[0\]"):
        coll.upsert(UpsertBatch(ids=[100, 101, 100], vectors={"v": random_vectors(3, 8)}))
    with pytest.raises(InvalidArgument, match=r"ids\[1\]"):
        coll.upsert(UpsertBatch(ids=[100, -5], vectors={"v": random_vectors(2, 8)}))
    with pytest.raises(FieldNotFound, match="no vector field 'w'"):
        coll.upsert(UpsertBatch(ids=[100], vectors={"v": random_vectors(1, 8), "w": random_vectors(1, 8)}))
    with pytest.raises(InvalidArgument, match="is missing"):
        coll.upsert(UpsertBatch(ids=[100], vectors={}))
    with pytest.raises(InvalidArgument, match="at least one point"):
        coll.upsert(UpsertBatch(ids=[], vectors={"v": np.empty((0, 8), np.float32)}))
    assert coll.count() == 10


@pytest.mark.parametrize("query,error,message", [
    (NearestQuery(vector=np.ones(8), limit=0), InvalidArgument, r"limit = 0 is out of range"),
    (NearestQuery(vector=np.ones(8), limit=10_001), InvalidArgument, "server maximum"),
    (NearestQuery(vector=np.ones(9)), InvalidArgument, "dimension 9"),
    (NearestQuery(vector=np.ones((2, 8))), InvalidArgument, r"shape \[2, 8\]"),
    (NearestQuery(vector=np.full(8, np.nan)), InvalidArgument, "NaN"),
    (NearestQuery(), InvalidArgument, "exactly one"),
    (NearestQuery(vector=np.ones(8), using="nope"), FieldNotFound, "no vector field 'nope'"),
    (NearestQuery(vector=np.ones(8), with_vectors=("nope",)), FieldNotFound, "nope"),
    (NearestQuery(vector=np.ones(8), ef=0), InvalidArgument, "ef = 0"),
])
def test_bad_queries_are_refused_with_the_field_named(db: Database, query: NearestQuery, error: type, message: str) -> None:
    _fill(db, n=10)
    with pytest.raises(error, match=message):
        db.collection("docs").query(query)


def test_collection_lifecycle_errors(db: Database) -> None:
    _fill(db, n=5)
    with pytest.raises(AlreadyExists):
        db.create_collection(dense_config())
    with pytest.raises(CollectionNotFound, match="'ghost'"):
        db.collection("ghost")
    with pytest.raises(InvalidArgument, match="collection name"):
        db.create_collection(dense_config(name="../escape"))
    assert db.delete_collection("docs") and not db.delete_collection("docs")
    assert not db.exists("docs") and db.list_collections() == []


def test_float16_storage_round_trips_within_precision(db: Database) -> None:
    vectors = _fill(db, storage_dtype=StorageDType.FLOAT16)
    [rec] = db.collection("docs").get([3], with_vectors=("v",))
    np.testing.assert_allclose(rec.vectors["v"], vectors[3], rtol=1e-3, atol=1e-3)
    with pytest.raises(InvalidArgument, match="float16 range"):
        db.collection("docs").upsert(UpsertBatch(ids=[1000], vectors={"v": np.full((1, 8), 1e6, np.float32)}))


def test_restart_replays_writes_after_the_last_checkpoint(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    vectors = _fill(db, n=50)
    coll = db.collection("docs")
    coll.checkpoint()
    coll.upsert(UpsertBatch(ids=[1000], vectors={"v": vectors[7:8] * 2}, payloads=[{"late": True}]))
    coll.delete_ids([3])
    simulate_crash(db)
    db2 = open_db(tmp_path)
    coll2 = db2.collection("docs")
    assert coll2.count() == 50
    assert coll2.get([3]) == [] and coll2.get([1000])[0].payload == {"late": True}
    hits = coll2.query(NearestQuery(vector=vectors[7], limit=2))
    assert {h.id for h in hits} == {7, 1000}
    assert 3 not in {h.id for h in coll2.query(NearestQuery(vector=vectors[3], limit=50))}
    db2.close()


@pytest.mark.parametrize("damage", ["delete", "corrupt", "truncate_manifest"])
def test_damaged_checkpoint_means_rebuild_not_data_loss(tmp_path: Path, damage: str) -> None:
    db = open_db(tmp_path)
    vectors = _fill(db, n=60)
    db.close()
    index_dir = tmp_path / "collections" / "docs" / "index"
    files = [p for p in index_dir.iterdir() if p.name != "manifest.json"]
    assert files, "close() should have written a checkpoint"
    if damage == "delete":
        for p in files:
            p.unlink()
    elif damage == "corrupt":
        data = bytearray(files[0].read_bytes())
        data[len(data) // 2] ^= 0xFF
        files[0].write_bytes(bytes(data))
    else:
        (index_dir / "manifest.json").write_text("{not json")
    db2 = open_db(tmp_path)
    coll = db2.collection("docs")
    assert coll.count() == 60
    hits = coll.query(NearestQuery(vector=vectors[11], limit=1))
    assert hits[0].id == 11
    db2.close()


def test_payload_index_gives_same_answers_as_a_scan(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    db.create_collection(dense_config(name="plain"))
    db.create_collection(dense_config(name="indexed", indexes=(PayloadIndexConfig("i", PayloadIndexType.INTEGER),)))
    vectors = random_vectors(200, 8)
    for name in ("plain", "indexed"):
        db.collection(name).upsert(UpsertBatch(ids=list(range(200)), vectors={"v": vectors}, payloads=[{"i": i} for i in range(200)]))
    filt = Filter(must=(Range("i", gte=50, lt=70),))
    a = db.collection("plain").query(NearestQuery(vector=vectors[0], limit=10, filter=filt))
    b = db.collection("indexed").query(NearestQuery(vector=vectors[0], limit=10, filter=filt))
    assert [h.id for h in a] == [h.id for h in b] and all(50 <= h.id < 70 for h in a)
    db.close()


def test_a_data_folder_is_used_by_one_process_at_a_time(tmp_path: Path) -> None:
    from vecdb.engine.errors import FailedPrecondition

    db = open_db(tmp_path)
    with pytest.raises(FailedPrecondition, match="in use by another vecdb process"):
        open_db(tmp_path)
    db.close()
    open_db(tmp_path).close()


def test_a_write_many_times_the_map_size_grows_the_map(tmp_path: Path) -> None:
    db = open_db(tmp_path, map_size_bytes=1 << 20)
    db.create_collection(dense_config(dim=256))
    vectors = random_vectors(4000, 256)  # ~4 MB of float32: four doublings of a 1 MiB map
    db.collection("docs").upsert(UpsertBatch(ids=list(range(4000)), vectors={"v": vectors}))
    assert db.collection("docs").count() == 4000
    db.close()


def test_an_index_checkpoint_older_than_the_trimmed_change_log_is_rebuilt(tmp_path: Path) -> None:
    """Index files from an earlier moment than the data (say, copied separately) cannot be
    replayed up to date once the change log was trimmed: they must be rebuilt, not trusted."""
    import shutil

    db = open_db(tmp_path)
    vectors = _fill(db, n=30)
    coll = db.collection("docs")
    coll.checkpoint()
    index_dir = tmp_path / "collections" / "docs" / "index"
    old_checkpoint = tmp_path / "old-index"
    shutil.copytree(index_dir, old_checkpoint)
    coll.upsert(UpsertBatch(ids=[500], vectors={"v": vectors[:1] * -1}))
    coll.delete_ids([4])
    coll.checkpoint()  # trims the change log past the old checkpoint
    db.close()
    shutil.rmtree(index_dir)
    shutil.copytree(old_checkpoint, index_dir)
    db2 = open_db(tmp_path)
    coll2 = db2.collection("docs")
    assert coll2.query(NearestQuery(vector=vectors[0] * -1, limit=1))[0].id == 500
    assert 4 not in {h.id for h in coll2.query(NearestQuery(vector=vectors[4], limit=30))}
    db2.close()


def test_float16_fields_score_the_same_before_and_after_a_rebuild(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    vectors = _fill(db, n=40, storage_dtype=StorageDType.FLOAT16)
    q = vectors[3] + 0.01
    before = db.collection("docs").query(NearestQuery(vector=q, limit=5, exact=True))
    db.close()
    for p in (tmp_path / "collections" / "docs" / "index").iterdir():
        p.unlink()
    db2 = open_db(tmp_path)
    after = db2.collection("docs").query(NearestQuery(vector=q, limit=5, exact=True))
    assert [h.id for h in after] == [h.id for h in before]
    assert [h.score for h in after] == [h.score for h in before]
    db2.close()


def test_query_many_equals_one_query_per_row(db: Database) -> None:
    vectors = _fill(db, n=200)
    coll = db.collection("docs")
    template = NearestQuery(limit=4, filter=Filter(must=(Match("parity", "odd"),)), with_payload=True)
    many = coll.query_many(template, vectors[:6])
    one_by_one = [coll.query(NearestQuery(vector=v, limit=4, filter=template.filter, with_payload=True)) for v in vectors[:6]]
    assert [h.ids for h in many] == [h.ids for h in one_by_one]
    assert [h.payloads for h in many] == [h.payloads for h in one_by_one]
    with pytest.raises(InvalidArgument, match=r"vectors\[1\] contains NaN"):
        coll.query_many(template, np.stack([vectors[0], np.full(8, np.nan, np.float32)]))
    with pytest.raises(InvalidArgument, match="carries no vector"):
        coll.query_many(NearestQuery(vector=vectors[0]), vectors[:2])


def test_checkpoint_all_carries_on_past_a_collection_that_fails(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    for name in ("a", "b"):
        db.create_collection(dense_config(name=name))
        db.collection(name).upsert(UpsertBatch(ids=[1, 2], vectors={"v": random_vectors(2, 8)}))
    db.collection("a").close(checkpoint=False)  # its checkpoint now raises FailedPrecondition
    db.checkpoint_all()
    assert db.collection("b").stats().fields[0].checkpoint_sequence == db.collection("b").info().sequence
    db._collections.pop("a")
    db.close()
