"""A collection: one LMDB store, one in-memory index per vector field, and the payload table.

The collection is a self-contained shard: it owns its folder and could live in another process.

Write path: validate and encode outside any lock; then, under the write side of the collection's
read-write lock, commit one LMDB transaction (sync on) that writes the points, logs the touched
internal ids under a new sequence number and bumps the counters; then apply the same change to
the indexes and the payload table. A write is acknowledged only after both. Reads hold the read
side, so they always see LMDB and memory agree.

Recovery: the payload table is rebuilt from LMDB; each index is loaded from its checkpoint and
the change log after the checkpoint's sequence is replayed against LMDB's current state, or,
when the checkpoint is missing or corrupt, rebuilt from the stored vectors.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import lmdb
import numpy as np

from vecdb.engine.checkpoint import read_manifest, verified_path, write_checkpoint
from vecdb.engine.deadline import check_deadline
from vecdb.engine.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from vecdb.engine.filter_eval import select
from vecdb.engine.filters import Filter
from vecdb.engine.hybrid import Ranking, both, check_hybrid, fuse, rank_order, select_diverse
from vecdb.engine.ids import decode_point_id, encode_point_id
from vecdb.engine.kinds import FieldKind, field_kind
from vecdb.engine.options import EngineOptions
from vecdb.engine.payload import decode_payload
from vecdb.engine.payload_index import PayloadTable
from vecdb.engine.schema import CollectionConfig, DenseField, VectorField
from vecdb.engine.storage import CollectionStore, StoredRecord
from vecdb.engine.types import (
    CollectionInfo,
    CollectionStats,
    Diversity,
    FieldStats,
    Hits,
    HybridQuery,
    NearestQuery,
    PointId,
    Record,
    Rerank,
    ScrollPage,
    UpdateResult,
    UpsertBatch,
)
from vecdb.engine.validation import (
    PreparedUpsert,
    check_query_matrix,
    check_query_shape,
    check_query_vector,
    check_vector_fields,
    point_keys,
    prepare_upsert,
)
from vecdb.index import IndexLoadError, Neighbors, VectorIndex
from vecdb.index.locking import RWLock
from vecdb.kernels.metrics import Metric

__all__ = ["Collection"]

log = logging.getLogger(__name__)

_MAX_MAP_GROWTHS = 8  # each doubles the LMDB map: one write may grow it 256-fold
_REBUILD_BATCH = 10_000
_AUTO_RETRAIN_UNTIL = 65_536
"""A quantized field retrains itself as it grows until its codebook has seen this many points."""


class _NothingToCommit(Exception):
    """Raised inside a write transaction to abort it when the mutation touches nothing."""


class Collection:
    """One collection's data, indexes and locks. Every public method is thread-safe."""

    def __init__(self, path: Path, config: CollectionConfig, options: EngineOptions,
                 background: Executor | None = None) -> None:
        self.path = path
        self.config = config
        self.options = options
        self._background = background
        self._kinds: dict[str, FieldKind] = {f.name: field_kind(f, options) for f in config.vectors}
        self._store = CollectionStore(path, map_size=options.map_size_bytes, field_names=list(self._kinds))
        self._index_dir = path / "index"
        self._lock = RWLock()
        self._checkpoint_mutex = threading.Lock()
        self._checkpoint_pending = False
        self._retrain_pending: set[str] = set()
        self._closed = False
        self._payloads = PayloadTable(config.payload_indexes)
        self._indexes: dict[str, VectorIndex] = {}
        self._applied_seq = 0
        self._checkpoint_seq = 0
        self._changed_since_checkpoint = 0
        self._recover()

    @property
    def name(self) -> str:
        return self.config.name

    # ---- recovery ---------------------------------------------------------------------------

    def _recover(self) -> None:
        started = time.monotonic()
        with self._store.begin() as txn:
            self._applied_seq = self._store.sequence(txn)
            for iid, rec in self._store.iter_records(txn):
                self._payloads.set(iid, decode_point_id(rec.point_key), decode_payload(rec.payload_json))
            trimmed = self._store.trimmed_through(txn)
        manifest = read_manifest(self._index_dir)
        if manifest is not None and manifest.sequence > self._applied_seq:
            log.warning("%s: index checkpoint is ahead of the data (seq %d > %d); rebuilding",
                        self.name, manifest.sequence, self._applied_seq)
            manifest = None
        if manifest is not None and manifest.sequence < trimmed:
            # The change log after this checkpoint was already dropped (the index files are older
            # than the data, e.g. copied at different moments): replay would miss changes.
            log.warning("%s: index checkpoint (seq %d) is older than the change log (trimmed through %d); "
                        "rebuilding", self.name, manifest.sequence, trimmed)
            manifest = None
        all_loaded = manifest is not None
        for name, kind in self._kinds.items():
            index = self._load_checkpoint(kind, manifest)
            if index is None:
                all_loaded = False
                index = self._rebuild(kind)
            else:
                assert manifest is not None
                self._replay(kind, index, manifest.sequence)
            self._indexes[name] = index
        self._checkpoint_seq = manifest.sequence if (all_loaded and manifest) else -1
        log.info("%s: opened %d points at sequence %d in %.2fs", self.name, len(self._payloads),
                 self._applied_seq, time.monotonic() - started)

    def _load_checkpoint(self, kind: FieldKind, manifest: Any) -> VectorIndex | None:
        if manifest is None or kind.name not in manifest.fields:
            return None
        entry = manifest.fields[kind.name]
        path = verified_path(self._index_dir, entry)
        if path is None or entry.kind != kind.checkpoint_kind:
            return None
        try:
            return kind.load_index(path)
        except IndexLoadError as exc:
            log.warning("%s: %s; rebuilding field %r from storage", self.name, exc, kind.name)
            return None

    def _stored_batches(self, txn: lmdb.Transaction, kind: FieldKind,
                        batch: int = _REBUILD_BATCH) -> Iterator[tuple[np.ndarray, Any]]:
        """Every stored (internal ids, decoded vectors) of a field, `batch` points at a time."""
        ids: list[int] = []
        blobs: list[bytes] = []
        for iid, data in self._store.iter_vectors(txn, kind.name):
            ids.append(iid)
            blobs.append(data)
            if len(ids) >= batch:
                check_deadline(f"a scan of field {kind.name!r}")
                yield np.array(ids, dtype=np.uint64), kind.decode(blobs)
                ids, blobs = [], []
        if ids:
            yield np.array(ids, dtype=np.uint64), kind.decode(blobs)

    def _rebuild(self, kind: FieldKind) -> VectorIndex:
        with self._store.begin() as txn:
            index = kind.build_index(self._stored_batches(txn, kind))
        log.info("%s: rebuilt index of field %r from storage (%d points)", self.name, kind.name, len(index))
        return index

    def _replay(self, kind: FieldKind, index: VectorIndex, since: int) -> None:
        with self._store.begin() as txn:
            changed = self._store.changed_since(txn, since)
            present = [int(i) for i in changed if self._store.vector_bytes(txn, kind.name, int(i)) is not None]
            absent = np.setdiff1d(changed, np.array(present, dtype=np.uint64))
            if present:
                index.add(np.array(present, dtype=np.uint64), self._read_vectors(txn, kind.name, present))
        if absent.size:
            index.remove(absent)
        if changed.size:
            log.info("%s: replayed %d changed points into field %r", self.name, changed.size, kind.name)

    def _read_vectors(self, txn: lmdb.Transaction, name: str, iids: Iterable[int]) -> Any:
        return self._kinds[name].decode([self._store.vector_bytes(txn, name, i) or b"" for i in iids])

    def _originals(self, name: str) -> Callable[[np.ndarray], np.ndarray]:
        def read(iids: np.ndarray) -> np.ndarray:
            with self._store.begin() as txn:
                return self._read_vectors(txn, name, iids.tolist())  # type: ignore[no-any-return]
        return read

    def _scan(self, name: str) -> Callable[[int], Iterator[tuple[np.ndarray, np.ndarray]]]:
        def scan(batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
            with self._store.begin() as txn:
                yield from self._stored_batches(txn, self._kinds[name], batch)
        return scan

    # ---- writes -----------------------------------------------------------------------------

    def _commit(self, body: Callable[[lmdb.Transaction, int], tuple[np.ndarray, int]]) -> tuple[int, np.ndarray]:
        """Run `body(txn, next_iid) -> (touched iids, next_iid)` in one synced transaction.

        Call with the write lock held. Returns (sequence, touched iids). Doubles the LMDB map and
        retries when it is full: no read transaction of this collection is open while the write
        lock is held, which set_mapsize needs.
        """
        self._check_open()
        for _ in range(_MAX_MAP_GROWTHS + 1):
            try:
                with self._store.begin(write=True) as txn:
                    sequence = self._store.sequence(txn) + 1
                    iids, next_iid = body(txn, self._store.next_iid(txn))
                    self._store.log_change(txn, sequence, iids)
                    self._store.set_counters(txn, sequence=sequence, next_iid=next_iid)
                return sequence, iids
            except lmdb.MapFullError:
                log.info("%s: LMDB map full, growing to %d bytes", self.name, self._store.grow())
            except lmdb.DiskError as exc:
                raise ResourceExhausted(f"collection {self.name!r}: the disk is full ({exc}); free space and retry") from None
        raise ResourceExhausted(
            f"collection {self.name!r}: this write does not fit the storage map even at "
            f"{self._store.map_size()} bytes; split it into smaller batches or raise map_size_bytes"
        )

    def upsert(self, batch: UpsertBatch) -> UpdateResult:
        """Insert or replace points, atomically and durably."""
        prepared = prepare_upsert(
            self.config, self._kinds, batch, max_points=self.options.max_batch_points,
            max_payload_bytes=self.options.max_payload_bytes,
        )
        replaced: list[int] = []
        with self._lock.write():
            sequence, touched = self._commit(lambda txn, next_iid: self._write_points(txn, next_iid, prepared, replaced))
            iids = touched[:len(prepared)]
            if replaced:
                old = np.array(replaced, dtype=np.uint64)
                for index in self._indexes.values():
                    index.remove(old)
                for iid in replaced:
                    self._payloads.remove(iid)
            for name, index in self._indexes.items():
                part = prepared.fields[name]
                ids = iids if part.present is None else iids[part.present]
                if ids.size:
                    index.add(ids, part.values)
            for iid, point_id, payload in zip(iids.tolist(), prepared.ids, prepared.payloads):
                self._payloads.set(iid, point_id, payload)
            self._applied_seq = sequence
        self._note_changes(len(prepared))
        self._note_growth()
        return UpdateResult(sequence=sequence, count=len(prepared))

    def _write_points(self, txn: lmdb.Transaction, next_iid: int, p: PreparedUpsert,
                      replaced: list[int]) -> tuple[np.ndarray, int]:
        """Write every point under a fresh internal id. A point that already exists loses its old
        internal id (recorded in `replaced`): in the graph, a removal plus an insert into the freed
        slot is several times cheaper than hnswlib's in-place update, and an internal id is never
        reused, so a stale index entry can never name another point."""
        replaced.clear()
        iids = np.arange(next_iid, next_iid + len(p), dtype=np.uint64)
        store = self._store
        for i, key in enumerate(p.keys):
            old = store.lookup_iid(txn, key)
            if old is not None:
                store.delete_point(txn, old, key)
                replaced.append(old)
            record = StoredRecord(key, p.payload_json[i], p.texts[i])
            blobs = {name: blob for name, part in p.fields.items() if (blob := part.blobs[i]) is not None}
            store.put_point(txn, int(iids[i]), record, blobs)
        touched = np.concatenate([iids, np.array(replaced, dtype=np.uint64)])
        return touched, next_iid + len(p)

    def delete_ids(self, ids: list[PointId]) -> UpdateResult:
        """Delete points by id; ids that do not exist are ignored."""
        _, keys = point_keys(list(ids))
        with self._lock.write():
            return self._delete(keys)

    def delete_filter(self, filt: Filter) -> UpdateResult:
        """Delete every point the filter matches."""
        with self._lock.write():
            iids = self._select(filt, self._payloads.all_ids())
            with self._store.begin() as txn:
                keys = [rec.point_key for i in iids.tolist() if (rec := self._store.record(txn, i)) is not None]
            return self._delete(keys)

    def _delete(self, keys: list[bytes]) -> UpdateResult:
        def body(txn: lmdb.Transaction, next_iid: int) -> tuple[np.ndarray, int]:
            found = []
            for key in keys:
                iid = self._store.lookup_iid(txn, key)
                if iid is not None:
                    self._store.delete_point(txn, iid, key)
                    found.append(iid)
            if not found:
                raise _NothingToCommit
            return np.unique(np.array(found, dtype=np.uint64)), next_iid

        try:
            sequence, iids = self._commit(body)
        except _NothingToCommit:
            return UpdateResult(sequence=self._applied_seq, count=0)
        for index in self._indexes.values():
            index.remove(iids)
        for iid in iids.tolist():
            self._payloads.remove(iid)
        self._applied_seq = sequence
        self._note_changes(int(iids.size))
        return UpdateResult(sequence=sequence, count=int(iids.size))

    # ---- reads ------------------------------------------------------------------------------

    def _resolve_ids(self, ids: Iterable[PointId]) -> np.ndarray:
        with self._store.begin() as txn:
            found = [self._store.lookup_iid(txn, encode_point_id(pid)) for pid in ids]
        return np.unique(np.array([i for i in found if i is not None], dtype=np.uint64))

    def _select(self, filt: Filter, candidates: np.ndarray) -> np.ndarray:
        return select(filt, candidates, self._payloads, self._resolve_ids)

    def _record(self, txn: lmdb.Transaction, iid: int, with_payload: bool, with_vectors: tuple[str, ...]) -> Record | None:
        stored = self._store.record(txn, iid)
        if stored is None:
            return None
        vectors = {}
        for name in with_vectors:
            blob = self._store.vector_bytes(txn, name, iid)
            if blob is not None:
                vectors[name] = self._kinds[name].output([blob])[0]
        return Record(
            id=decode_point_id(stored.point_key),
            payload=decode_payload(stored.payload_json) if with_payload else None,
            vectors=vectors,
            text=stored.text if with_payload else None,
        )

    def get(self, ids: list[PointId], *, with_payload: bool = True, with_vectors: tuple[str, ...] = ()) -> list[Record]:
        """Points by id, in request order; ids that do not exist are left out."""
        _, keys = point_keys(list(ids))
        check_vector_fields(self.config, with_vectors)
        out = []
        with self._reading(), self._store.begin() as txn:
            for key in keys:
                iid = self._store.lookup_iid(txn, key)
                record = self._record(txn, iid, with_payload, with_vectors) if iid is not None else None
                if record is not None:
                    out.append(record)
        return out

    def count(self, filt: Filter | None = None) -> int:
        with self._reading():
            if filt is None:
                return len(self._payloads)
            return int(self._select(filt, self._payloads.all_ids()).size)

    def scroll(self, *, filter: Filter | None = None, limit: int = 10, offset: PointId | None = None,
               with_payload: bool = True, with_vectors: tuple[str, ...] = ()) -> ScrollPage:
        """A page of points in id order starting at `offset`, and the id the next page starts at."""
        if not 1 <= limit <= self.options.max_limit:
            raise InvalidArgument(f"limit = {limit} is out of range [1, {self.options.max_limit}]")
        check_vector_fields(self.config, with_vectors)
        start = point_keys([offset], "offset")[1][0] if offset is not None else None
        with self._reading():
            allowed = set(self._select(filter, self._payloads.all_ids()).tolist()) if filter is not None else None
            records: list[Record] = []
            next_offset: PointId | None = None
            with self._store.begin() as txn:
                for key, iid in self._store.iter_points(txn, start):
                    if allowed is not None and iid not in allowed:
                        continue
                    if len(records) == limit:
                        next_offset = decode_point_id(key)
                        break
                    record = self._record(txn, iid, with_payload, with_vectors)
                    if record is not None:
                        records.append(record)
        return ScrollPage(records=records, next_offset=next_offset)

    def query(self, q: NearestQuery | HybridQuery) -> Hits:
        """The best points for one query: a single stage, or prefetch stages fused."""
        if isinstance(q, HybridQuery):
            return self.query_hybrid(q)
        return self.query_batch([q])[0]

    def query_batch(self, queries: list[NearestQuery]) -> list[Hits]:
        """Answer many queries; those that share field, filter and search parameters go to the
        index as one batch."""
        fields = [self._query_field(q, f"queries[{i}]" if len(queries) > 1 else "query") for i, q in enumerate(queries)]
        results = [Hits.empty()] * len(queries)
        with self._reading():
            targets = self._query_targets(queries, fields)
            groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
            for i, q in enumerate(queries):
                groups[(fields[i].name, q.filter, q.ef, q.exact)].append(i)
            allowed_by_filter: dict[Filter, np.ndarray] = {}
            for (name, filt, ef, exact), members in groups.items():
                k = max(queries[i].offset + queries[i].limit for i in members)
                found = self._search(self.config.field(name), filt, ef, exact, [targets[i] for i in members], k,
                                     allowed_by_filter)
                if found is None:
                    continue
                with self._store.begin() as txn:
                    for row, i in enumerate(members):
                        results[i] = self._scored(txn, queries[i], fields[i], *found.row(row))
        return results

    def query_many(self, template: NearestQuery, vectors: np.ndarray) -> list[Hits]:
        """One query per row of `vectors` (q, dim), each with the template's other parameters
        (its own vector and point stay unset): checked once, searched in one index call."""
        field = self._query_field(template, "template", target=False)
        if not isinstance(field, DenseField):
            raise InvalidArgument(f"template.using = {field.name!r} is a {field.kind} field; the compact batch "
                                  "form (template + vectors) is for dense fields")
        matrix = check_query_matrix(field, vectors, "vectors")
        with self._reading():
            found = self._search(field, template.filter, template.ef, template.exact, matrix,
                                 template.offset + template.limit, {})
            if found is None:
                return [Hits.empty()] * len(matrix)
            with self._store.begin() as txn:
                return [self._scored(txn, template, field, *found.row(row)) for row in range(len(matrix))]

    def _query_field(self, q: NearestQuery, where: str, *, target: bool = True) -> VectorField:
        check_query_shape(q, self.options.max_limit, where, target=target)
        field = self.config.resolve_using(q.using)
        self._check_output_fields(q.with_vectors)
        return field

    def _check_output_fields(self, names: tuple[str, ...]) -> None:
        check_vector_fields(self.config, names)
        for name in names:
            if not isinstance(self.config.field(name), DenseField):
                raise InvalidArgument(
                    f"with_vectors names the {self.config.field(name).kind} field {name!r}; query results carry "
                    "dense vectors only: read other fields' vectors with Get"
                )

    def _search(self, field: VectorField, filt: Filter | None, ef: int | None, exact: bool, targets: Any,
                k: int, allowed_by_filter: dict[Filter, np.ndarray]) -> Neighbors | None:
        """Search one field for every query target; None when the filter admits no point.
        Call with the read lock held. A filter admitting few points is answered exactly."""
        allowed = None
        if filt is not None:
            if filt not in allowed_by_filter:
                allowed_by_filter[filt] = self._select(filt, self._payloads.all_ids())
            allowed = allowed_by_filter[filt]
            if allowed.size == 0:
                return None
            exact = exact or allowed.size <= self.options.exact_scan_threshold
        return self._kinds[field.name].search(
            self._indexes[field.name], targets, k, allowed=allowed, ef=ef, exact=exact,
            originals=self._originals(field.name), scan=self._scan(field.name),
        )

    def _query_targets(self, queries: list[NearestQuery], fields: list[VectorField]) -> list[Any]:
        """Each query's target in the form its field's kind searches with. Dense vectors are
        checked all at once when they are well-formed (the common case), one by one (for the
        precise error) when any is not."""
        out: list[Any] = [None] * len(queries)
        where = [f"queries[{i}]" if len(queries) > 1 else "query" for i in range(len(queries))]
        by_field: dict[str, list[int]] = defaultdict(list)
        for i, q in enumerate(queries):
            if q.vector is not None and isinstance(fields[i], DenseField):
                by_field[fields[i].name].append(i)
            elif q.text is not None and getattr(self._kinds[fields[i].name], "text_key", None) is None:
                raise InvalidArgument(
                    f"{where[i]}.text: field {fields[i].name!r} has no text source, so it cannot be queried by "
                    "text; query it with a vector, or create the field with a text source"
                )
            elif q.vector is not None or q.text is not None:
                value = q.vector if q.vector is not None else q.text
                out[i] = self._kinds[fields[i].name].check_query(value, f"{where[i]}.{'vector' if q.vector is not None else 'text'}")
        for members in by_field.values():
            field = fields[members[0]]
            assert isinstance(field, DenseField)
            try:
                matrix = np.asarray([queries[i].vector for i in members], dtype=np.float32)
                ok = matrix.ndim == 2 and matrix.shape[1] == field.dim and bool(np.isfinite(matrix).all())
                if ok and field.metric is Metric.COSINE:
                    ok = bool(np.any(matrix, axis=1).all())
            except (ValueError, TypeError):
                ok = False
            if not ok:
                for i in members:
                    check_query_vector(field, queries[i].vector, f"{where[i]}.vector")
            for row, i in enumerate(members):
                out[i] = matrix[row]
        pending = [i for i, q in enumerate(queries) if q.point is not None]
        if pending:
            with self._store.begin() as txn:
                for i in pending:
                    out[i] = self._point_target(txn, queries[i].point, fields[i], f"{where[i]}.point")
        return out

    def _point_target(self, txn: lmdb.Transaction, point: PointId | None, field: VectorField, where: str) -> Any:
        (key,) = point_keys([point], where)[1]
        iid = self._store.lookup_iid(txn, key)
        if iid is None:
            raise NotFound(f"{where} = {point!r}: no such point in collection {self.name!r}")
        blob = self._store.vector_bytes(txn, field.name, iid)
        if blob is None:
            raise InvalidArgument(f"{where} = {point!r} has no vector in field {field.name!r} to search with")
        return self._kinds[field.name].decode([blob])[0]

    def _scored(self, txn: lmdb.Transaction, q: NearestQuery | HybridQuery, field: VectorField | None, ids: np.ndarray,
                scores: np.ndarray, higher_is_better: bool | None = None) -> Hits:
        ids, scores = ids[q.offset:q.offset + q.limit], scores[q.offset:q.offset + q.limit]
        if higher_is_better is None:
            assert field is not None
            higher_is_better = self._kinds[field.name].higher_is_better
        if q.score_threshold is not None:
            # Results are sorted best-first, so the ones that pass form a prefix.
            passing = scores >= q.score_threshold if higher_is_better else scores <= q.score_threshold
            cut = int(np.argmin(passing)) if not passing.all() else len(passing)
            ids, scores = ids[:cut], scores[:cut]
        iids = ids.tolist()
        hits = Hits(ids=list(map(self._payloads.point_ids.__getitem__, iids)), scores=scores)
        if not q.with_payload and not q.with_vectors:
            return hits
        records = [self._store.record(txn, i) for i in iids]
        return Hits(
            ids=hits.ids, scores=scores,
            payloads=[decode_payload(r.payload_json) if r else None for r in records] if q.with_payload else None,
            vectors={name: self._read_vectors(txn, name, iids) for name in q.with_vectors},
            texts=[r.text if r else None for r in records] if q.with_payload else None,
        )

    # ---- hybrid queries ---------------------------------------------------------------------

    def query_hybrid(self, q: HybridQuery) -> Hits:
        """Prefetch stages, fused, optionally reranked and diversified (see HybridQuery)."""
        check_hybrid(q, self.options.max_limit)
        self._check_output_fields(q.with_vectors)
        with self._reading():
            ranking = self._run_hybrid(q, None, "query", {})
            with self._store.begin() as txn:
                return self._scored(txn, q, None, ranking.ids, ranking.scores.astype(np.float32),
                                    ranking.higher_is_better)

    def _run_hybrid(self, q: HybridQuery, outer: Filter | None, where: str,
                    allowed_by_filter: dict[Filter, np.ndarray]) -> Ranking:
        """The candidates of a hybrid query, best first (all of them: the caller pages)."""
        filt = both(outer, q.filter)
        rankings = []
        for i, stage in enumerate(q.prefetch):
            here = f"{where}.prefetch[{i}]"
            if isinstance(stage, HybridQuery):
                rankings.append(self._run_hybrid(stage, filt, here, allowed_by_filter))
            else:
                rankings.append(self._run_stage(stage, filt, here, allowed_by_filter))
        fused = fuse(rankings, q.fusion)
        if q.rerank is not None:
            fused = self._rerank(fused, q.rerank, f"{where}.rerank")
        if q.diversity is not None:
            fused = self._diversify(fused, q.diversity, q.offset + q.limit, f"{where}.diversity")
        return fused

    def _run_stage(self, stage: NearestQuery, outer: Filter | None, where: str,
                   allowed_by_filter: dict[Filter, np.ndarray]) -> Ranking:
        field = self._query_field(stage, where)
        (target,) = self._query_targets([stage], [field])
        kind = self._kinds[field.name]
        found = self._search(field, both(outer, stage.filter), stage.ef, stage.exact, [target],
                             stage.offset + stage.limit, allowed_by_filter)
        if found is None:
            return Ranking(np.empty(0, np.uint64), np.empty(0, np.float32), kind.higher_is_better)
        ids, scores = found.row(0)
        ids, scores = ids[stage.offset:], scores[stage.offset:]
        if stage.score_threshold is not None:
            passing = scores >= stage.score_threshold if kind.higher_is_better else scores <= stage.score_threshold
            ids, scores = ids[passing], scores[passing]
        return Ranking(ids.astype(np.uint64), scores.astype(np.float32), kind.higher_is_better)

    def _rerank(self, fused: Ranking, rerank: Rerank, where: str) -> Ranking:
        stage = rerank.query
        field = self.config.resolve_using(stage.using)
        (target,) = self._query_targets([stage], [field])
        kind = self._kinds[field.name]
        scores = kind.score(self._indexes[field.name], target, fused.ids, self._originals(field.name))
        order = rank_order(scores, kind.higher_is_better)
        return Ranking(fused.ids[order], scores[order].astype(np.float32), kind.higher_is_better)

    def _diversify(self, fused: Ranking, diversity: Diversity, limit: int, where: str) -> Ranking:
        field = self.config.resolve_using(diversity.using)
        if not isinstance(field, DenseField):
            raise InvalidArgument(f"{where}.using = {field.name!r} is a {field.kind} field; diversity measures "
                                  "similarity over a dense field's vectors")
        if fused.ids.size == 0:
            return fused
        vectors = self._originals(field.name)(fused.ids)
        relevance = fused.scores if fused.higher_is_better else -fused.scores
        relevance = np.nan_to_num(relevance.astype(np.float64), nan=-np.inf)
        chosen = select_diverse(diversity.method, relevance, vectors, limit, diversity.lambda_, field.metric)
        return Ranking(fused.ids[chosen], fused.scores[chosen], fused.higher_is_better)

    # ---- checkpoints, stats, lifecycle ------------------------------------------------------

    def _note_changes(self, n: int) -> None:
        self._changed_since_checkpoint += n
        if (self._background is not None and not self._checkpoint_pending
                and self._changed_since_checkpoint >= self.options.checkpoint_every_mutations):
            self._checkpoint_pending = True
            self._background.submit(self._background_checkpoint)

    def _note_growth(self) -> None:
        """Retrain a quantized field's codebook in the background each time the field has grown
        fourfold since it was trained, until it was trained on `_AUTO_RETRAIN_UNTIL` points: a
        codebook fitted on a small first batch would otherwise serve a large collection."""
        if self._background is None:
            return
        for name, kind in self._kinds.items():
            if getattr(kind, "quantization", None) is None or name in self._retrain_pending:
                continue
            index = self._indexes[name]
            trained = int(index.codebook_info().get("trained_on", 0))  # type: ignore[attr-defined]
            if trained < _AUTO_RETRAIN_UNTIL and len(index) >= 4 * max(trained, 1):
                self._retrain_pending.add(name)
                self._background.submit(self._background_retrain, name)

    def _background_retrain(self, name: str) -> None:
        try:
            self.retrain(name)
        except FailedPrecondition:
            pass  # the collection closed meanwhile
        except Exception:  # the old codebook keeps serving; an explicit retrain can follow
            log.exception("%s: background retraining of field %r failed", self.name, name)
        finally:
            self._retrain_pending.discard(name)

    def _background_checkpoint(self) -> None:
        try:
            self.checkpoint()
        except Exception:  # a failed background checkpoint costs only replay time later
            log.exception("%s: background checkpoint failed", self.name)
        finally:
            self._checkpoint_pending = False

    def checkpoint(self, *, force: bool = False) -> int:
        """Write every index checkpoint if anything changed since the last; returns its sequence."""
        with self._checkpoint_mutex:
            with self._lock.read():
                self._check_open()
                sequence = self._applied_seq
                if sequence == self._checkpoint_seq and not force:
                    return sequence
                changed = self._changed_since_checkpoint
                write_checkpoint(self._index_dir, sequence, {
                    name: (self._kinds[name].checkpoint_kind, len(index), index.save)
                    for name, index in self._indexes.items()
                })
            with self._lock.write(), self._store.begin(write=True) as txn:
                self._store.trim_changes(txn, sequence)
            self._checkpoint_seq = sequence
            self._changed_since_checkpoint = max(0, self._changed_since_checkpoint - changed)
            return sequence

    def retrain(self, field_name: str) -> FieldStats:
        """Re-train a quantized field's codebook (new mean, levels and scales) on the stored
        originals and rebuild its codes, then checkpoint.

        Reads and writes go on meanwhile: the new index is built from one LMDB snapshot under
        the read lock, then the changes committed since are replayed into it and it replaces
        the old one under the write lock. Checkpoints wait (the change log must stay whole).
        """
        field = self.config.field(field_name)
        kind = self._kinds[field.name]
        if not isinstance(field, DenseField) or field.quantization is None:
            raise FailedPrecondition(
                f"field {field.name!r} of collection {self.name!r} is not quantized; only a quantized "
                "dense field has a codebook to retrain"
            )
        with self._checkpoint_mutex:
            with self._lock.read():
                self._check_open()
                with self._store.begin() as txn:
                    built_at = self._store.sequence(txn)
                    fresh = kind.build_index(self._stored_batches(txn, kind))
            with self._lock.write():
                self._check_open()
                self._replay(kind, fresh, built_at)
                self._indexes[field.name] = fresh
                self._checkpoint_seq = -1
        log.info("%s: retrained the codebook of field %r on %d points", self.name, field.name, len(fresh))
        self.checkpoint(force=True)
        return next(f for f in self.stats().fields if f.name == field.name)

    def info(self) -> CollectionInfo:
        with self._reading():
            return CollectionInfo(config=self.config, points_count=len(self._payloads), sequence=self._applied_seq)

    def stats(self) -> CollectionStats:
        with self._reading():
            index_bytes = sum(p.stat().st_size for p in self._index_dir.glob("*")) if self._index_dir.exists() else 0
            fields = tuple(
                FieldStats(name=name, kind=self.config.field(name).kind, indexed_points=len(index),
                           index_capacity=getattr(index, "capacity", len(index)), ram_bytes=index.ram_bytes,
                           checkpoint_sequence=max(self._checkpoint_seq, 0),
                           **self._kinds[name].describe(index))
                for name, index in self._indexes.items()
            )
            return CollectionStats(name=self.name, points_count=len(self._payloads), sequence=self._applied_seq,
                                   disk_bytes=self._store.disk_bytes() + index_bytes, fields=fields)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock.read():
            self._check_open()
            yield

    def _check_open(self) -> None:
        if self._closed:
            raise FailedPrecondition(f"collection {self.name!r} is closed or being deleted")

    def close(self, *, checkpoint: bool = True) -> None:
        """Checkpoint (unless told not to) and release the LMDB environment."""
        if self._closed:
            return
        if checkpoint:
            self.checkpoint()
        with self._lock.write():
            self._closed = True
            self._store.close()

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, points={len(self._payloads)}, sequence={self._applied_seq})"

