"""LMDB storage of one collection: the source of truth.

One LMDB environment per collection folder, opened with sync on, so a committed transaction is
on disk when `commit` returns. Named databases:

    meta        config (JSON), sequence, next internal id
    points      point-id key (ids.encode_point_id) -> internal id (8 bytes, big-endian)
    records     internal id -> point key, payload JSON and text (see `encode_record`)
    changes     sequence (8 bytes, big-endian) -> internal ids touched by that mutation
    vec:<name>  internal id -> the field's vector, little-endian, in its storage dtype

Internal ids are never reused, so the index labels of a deleted point can never come back
attached to another point. The change log lets start-up replay mutations newer than an index
checkpoint; it is trimmed once a checkpoint covers them.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb
import numpy as np

from vecdb.engine.schema import CollectionConfig

__all__ = ["CollectionStore", "StoredRecord", "iid_key", "key_iid"]

_META_CONFIG = b"config"
_META_SEQUENCE = b"sequence"
_META_NEXT_IID = b"next_iid"
_META_TRIMMED = b"changes_trimmed_through"
_U64 = struct.Struct(">Q")
_RECORD_HEAD = struct.Struct(">BBI")  # flags, key length, payload length
_HAS_TEXT = 1


def iid_key(iid: int) -> bytes:
    return _U64.pack(iid)


def key_iid(key: bytes) -> int:
    return int(_U64.unpack(key)[0])


class StoredRecord:
    """A decoded `records` value: point key, payload JSON bytes and text."""

    __slots__ = ("payload_json", "point_key", "text")

    def __init__(self, point_key: bytes, payload_json: bytes, text: str | None) -> None:
        self.point_key = point_key
        self.payload_json = payload_json
        self.text = text

    def encode(self) -> bytes:
        flags = _HAS_TEXT if self.text is not None else 0
        head = _RECORD_HEAD.pack(flags, len(self.point_key), len(self.payload_json))
        return head + self.point_key + self.payload_json + (self.text or "").encode()

    @classmethod
    def decode(cls, data: bytes) -> StoredRecord:
        flags, key_len, payload_len = _RECORD_HEAD.unpack_from(data)
        pos = _RECORD_HEAD.size
        key = bytes(data[pos:pos + key_len])
        pos += key_len
        payload = bytes(data[pos:pos + payload_len])
        pos += payload_len
        text = bytes(data[pos:]).decode() if flags & _HAS_TEXT else None
        return cls(key, payload, text)


class CollectionStore:
    """The LMDB environment of one collection and its named databases."""

    def __init__(self, path: Path, *, map_size: int, field_names: list[str]) -> None:
        self.path = path
        self.env = lmdb.open(
            str(path), map_size=map_size, max_dbs=8 + len(field_names), max_readers=1024,
            sync=True, metasync=True, subdir=True, readahead=False, lock=True,
        )
        self.meta = self.env.open_db(b"meta")
        self.points = self.env.open_db(b"points")
        self.records = self.env.open_db(b"records")
        self.changes = self.env.open_db(b"changes")
        self.vectors = {name: self.env.open_db(b"vec:" + name.encode()) for name in field_names}
        # Stored vectors read one point at a time (queries, rescoring, with_vectors); not by the
        # bulk iteration of a rebuild. Lets tests check that rescoring reads only candidates.
        self.vector_reads = 0

    # ---- lifecycle --------------------------------------------------------------------------

    @staticmethod
    def read_config(path: Path) -> CollectionConfig:
        env = lmdb.open(str(path), max_dbs=8, readonly=True, lock=False, subdir=True)
        try:
            with env.begin(db=env.open_db(b"meta", create=False)) as txn:
                raw = txn.get(_META_CONFIG)
        finally:
            env.close()
        if raw is None:
            raise ValueError(f"{path} holds no collection config")
        return CollectionConfig.from_dict(json.loads(raw))

    def write_config(self, config: CollectionConfig) -> None:
        with self.env.begin(write=True) as txn:
            txn.put(_META_CONFIG, json.dumps(config.to_dict()).encode(), db=self.meta)

    def grow(self) -> int:
        """Double the map size. Only call with no transaction open in this process on this env."""
        new_size = self.env.info()["map_size"] * 2
        self.env.set_mapsize(new_size)
        return int(new_size)

    def map_size(self) -> int:
        return int(self.env.info()["map_size"])

    def close(self) -> None:
        self.env.close()

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.glob("*.mdb"))

    # ---- transactions -----------------------------------------------------------------------

    def begin(self, *, write: bool = False) -> lmdb.Transaction:
        return self.env.begin(write=write, buffers=False)

    def sequence(self, txn: lmdb.Transaction) -> int:
        raw = txn.get(_META_SEQUENCE, db=self.meta)
        return key_iid(raw) if raw else 0

    def next_iid(self, txn: lmdb.Transaction) -> int:
        raw = txn.get(_META_NEXT_IID, db=self.meta)
        return key_iid(raw) if raw else 0

    def set_counters(self, txn: lmdb.Transaction, *, sequence: int, next_iid: int) -> None:
        txn.put(_META_SEQUENCE, iid_key(sequence), db=self.meta)
        txn.put(_META_NEXT_IID, iid_key(next_iid), db=self.meta)

    def count(self, txn: lmdb.Transaction) -> int:
        return int(txn.stat(self.points)["entries"])

    # ---- points -----------------------------------------------------------------------------

    def lookup_iid(self, txn: lmdb.Transaction, point_key: bytes) -> int | None:
        raw = txn.get(point_key, db=self.points)
        return key_iid(raw) if raw is not None else None

    def record(self, txn: lmdb.Transaction, iid: int) -> StoredRecord | None:
        raw = txn.get(iid_key(iid), db=self.records)
        return StoredRecord.decode(raw) if raw is not None else None

    def put_point(self, txn: lmdb.Transaction, iid: int, record: StoredRecord, vectors: dict[str, bytes]) -> None:
        key = iid_key(iid)
        txn.put(record.point_key, key, db=self.points)
        txn.put(key, record.encode(), db=self.records)
        for name, data in vectors.items():
            txn.put(key, data, db=self.vectors[name])

    def delete_point(self, txn: lmdb.Transaction, iid: int, point_key: bytes) -> None:
        key = iid_key(iid)
        txn.delete(point_key, db=self.points)
        txn.delete(key, db=self.records)
        for db in self.vectors.values():
            txn.delete(key, db=db)

    def vector_bytes(self, txn: lmdb.Transaction, field: str, iid: int) -> bytes | None:
        self.vector_reads += 1
        return txn.get(iid_key(iid), db=self.vectors[field])  # type: ignore[no-any-return]

    def iter_points(self, txn: lmdb.Transaction, start_key: bytes | None = None) -> Iterator[tuple[bytes, int]]:
        """(point key, internal id) in point-id order, from `start_key` on."""
        cursor = txn.cursor(db=self.points)
        positioned = cursor.set_range(start_key) if start_key is not None else cursor.first()
        if not positioned:
            return
        for key, value in cursor:
            yield bytes(key), key_iid(value)

    def iter_records(self, txn: lmdb.Transaction) -> Iterator[tuple[int, StoredRecord]]:
        for key, value in txn.cursor(db=self.records):
            yield key_iid(key), StoredRecord.decode(value)

    def iter_vectors(self, txn: lmdb.Transaction, field: str) -> Iterator[tuple[int, bytes]]:
        for key, value in txn.cursor(db=self.vectors[field]):
            yield key_iid(key), value

    # ---- change log -------------------------------------------------------------------------

    def log_change(self, txn: lmdb.Transaction, sequence: int, iids: np.ndarray) -> None:
        txn.put(iid_key(sequence), np.asarray(iids, dtype="<u8").tobytes(), db=self.changes)

    def changed_since(self, txn: lmdb.Transaction, sequence: int) -> np.ndarray:
        """Internal ids touched by mutations after `sequence`."""
        cursor = txn.cursor(db=self.changes)
        parts: list[np.ndarray] = []
        if cursor.set_range(iid_key(sequence + 1)):
            for _, value in cursor:
                parts.append(np.frombuffer(value, dtype="<u8"))
        return np.unique(np.concatenate(parts)).astype(np.uint64) if parts else np.empty(0, np.uint64)

    def trimmed_through(self, txn: lmdb.Transaction) -> int:
        """The sequence up to which the change log was dropped: a checkpoint older than this
        cannot be brought up to date by replay."""
        raw = txn.get(_META_TRIMMED, db=self.meta)
        return key_iid(raw) if raw else 0

    def trim_changes(self, txn: lmdb.Transaction, up_to: int) -> int:
        """Drop change-log entries at or below `up_to`; returns how many were dropped."""
        txn.put(_META_TRIMMED, iid_key(max(up_to, self.trimmed_through(txn))), db=self.meta)
        cursor = txn.cursor(db=self.changes)
        dropped = 0
        if cursor.first():
            while key_iid(cursor.key()) <= up_to:
                cursor.delete()
                dropped += 1
                if not cursor.key():
                    break
        return dropped


def decode_vector(data: bytes, dtype: np.dtype[Any], dim: int) -> np.ndarray:
    return np.frombuffer(data, dtype=dtype, count=dim)
