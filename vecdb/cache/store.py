"""LMDB storage of the semantic cache: the source of truth the in-memory part is rebuilt from.

One LMDB environment (`<cache folder>/lmdb`), opened with sync on, so a committed store,
eviction or invalidation is on disk when the call returns. Named databases:

    meta      encoder_id, dim, format version
    entries   entry id (16 bytes) -> what lookups decide with: created time, TTL, byte size,
              normalized-prompt hash, category, model and the prompt vector (float32, LE)
    answers   entry id -> prompt text and answer text
    metadata  entry id -> metadata JSON (only entries that have metadata)
    expiry    expires-at (order-preserving float64) + entry id -> b"" (entries with a TTL), in expiry
              order so `sweep` reads only what is due
    policies  category name (UTF-8) -> policy JSON

`answers` is read only by `read_answer` (a hit), which counts its calls in `answer_reads`: tests
use the counter to prove that a miss never touches the answer store.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lmdb
import numpy as np

from vecdb.engine.errors import ResourceExhausted

__all__ = ["CacheStore", "EntryRecord", "StoredAnswer", "id_key", "key_id"]

_FORMAT_VERSION = b"1"
_ENTRY_HEAD = struct.Struct("<ddQ16sBHH")  # created, ttl, nbytes, prompt hash, has vector, len(cat), len(model)
_ANSWER_HEAD = struct.Struct("<II")  # len(prompt), len(answer)
_EXPIRES = struct.Struct(">Q")
_DOUBLE = struct.Struct(">d")
_SIGN = 1 << 63


def _ordered(t: float) -> bytes:
    """float64 -> 8 bytes whose byte order is the numeric order (negative times included)."""
    (bits,) = _EXPIRES.unpack(_DOUBLE.pack(t))
    return _EXPIRES.pack(bits ^ 0xFFFFFFFFFFFFFFFF if bits & _SIGN else bits | _SIGN)


def _unordered(key: bytes) -> float:
    (bits,) = _EXPIRES.unpack_from(key)
    bits = bits & ~_SIGN if bits & _SIGN else bits ^ 0xFFFFFFFFFFFFFFFF
    return float(_DOUBLE.unpack(_EXPIRES.pack(bits))[0])


def id_key(entry_id: str) -> bytes:
    return bytes.fromhex(entry_id)


def key_id(key: bytes) -> str:
    return bytes(key).hex()


@dataclass(frozen=True)
class EntryRecord:
    """An `entries` value: everything a lookup decides with (never the answer)."""

    entry_id: str
    category: str
    model: str
    created_at: float
    ttl_seconds: float  # 0 = never expires
    nbytes: int
    prompt_hash: bytes
    vector: np.ndarray | None  # (dim,) float32, unit norm

    @property
    def expires_at(self) -> float:
        return self.created_at + self.ttl_seconds if self.ttl_seconds > 0 else float("inf")

    def encode(self) -> bytes:
        cat, model = self.category.encode(), self.model.encode()
        head = _ENTRY_HEAD.pack(self.created_at, self.ttl_seconds, self.nbytes, self.prompt_hash,
                                self.vector is not None, len(cat), len(model))
        vec = b"" if self.vector is None else np.asarray(self.vector, dtype="<f4").tobytes()
        return head + cat + model + vec

    @classmethod
    def decode(cls, entry_id: str, data: bytes) -> EntryRecord:
        created, ttl, nbytes, phash, has_vec, lc, lm = _ENTRY_HEAD.unpack_from(data)
        pos = _ENTRY_HEAD.size
        cat = bytes(data[pos:pos + lc]).decode()
        pos += lc
        model = bytes(data[pos:pos + lm]).decode()
        pos += lm
        vector = np.frombuffer(bytes(data[pos:]), dtype="<f4").astype(np.float32) if has_vec else None
        return cls(entry_id, cat, model, created, ttl, int(nbytes), bytes(phash), vector)


@dataclass(frozen=True)
class StoredAnswer:
    prompt: str
    answer: str
    metadata: dict[str, Any] | None


def _expiry_key(record: EntryRecord) -> bytes | None:
    if record.ttl_seconds <= 0:
        return None
    return _ordered(record.expires_at) + id_key(record.entry_id)


class CacheStore:
    """The cache's LMDB environment. Thread-safe (LMDB readers run concurrently; writes go
    through one write transaction at a time, which the cache serializes anyway)."""

    def __init__(self, path: Path, *, map_size: int) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(
            str(self.path / "lmdb"), map_size=map_size, max_dbs=8, sync=True, metasync=True,
            readahead=False, max_readers=512,
        )
        self._meta = self.env.open_db(b"meta")
        self._entries = self.env.open_db(b"entries")
        self._answers = self.env.open_db(b"answers")
        self._metadata = self.env.open_db(b"metadata")
        self._expiry = self.env.open_db(b"expiry")
        self._policies = self.env.open_db(b"policies")
        self._reads_lock = threading.Lock()
        self.answer_reads = 0  # calls of read_answer: a miss must never add to it

    # -- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.env.begin(db=self._meta) as txn:
            value = txn.get(key.encode())
        return None if value is None else bytes(value).decode()

    def set_meta(self, values: dict[str, str]) -> None:
        with self.env.begin(write=True, db=self._meta) as txn:
            txn.put(b"version", _FORMAT_VERSION)
            for key, value in values.items():
                txn.put(key.encode(), value.encode())

    # -- policies ----------------------------------------------------------------------------

    def load_policies(self) -> dict[str, dict[str, Any]]:
        with self.env.begin(db=self._policies) as txn:
            return {bytes(k).decode(): json.loads(bytes(v)) for k, v in txn.cursor()}

    def put_policy(self, category: str, data: dict[str, Any]) -> None:
        with self.env.begin(write=True, db=self._policies) as txn:
            txn.put(category.encode(), json.dumps(data, separators=(",", ":")).encode())

    # -- entries -----------------------------------------------------------------------------

    def iter_entries(self) -> Iterator[EntryRecord]:
        """Every entry record (no answers), in id order."""
        with self.env.begin(db=self._entries, buffers=True) as txn:
            for key, value in txn.cursor():
                yield EntryRecord.decode(key_id(key), value)

    def write(self, add: list[tuple[EntryRecord, str, str, bytes | None]], remove: list[EntryRecord]) -> None:
        """One synced transaction: add (record, prompt, answer, metadata JSON) and remove entries.
        ResourceExhausted (nothing written) when the LMDB map is full."""
        try:
            self._write(add, remove)
        except lmdb.MapFullError:
            raise ResourceExhausted(
                f"the cache store at {self.path} is full (LMDB map size {self.env.info()['map_size']} bytes); "
                "set quotas (max_entries / max_bytes), invalidate entries or raise map_size_bytes") from None

    def _write(self, add: list[tuple[EntryRecord, str, str, bytes | None]], remove: list[EntryRecord]) -> None:
        with self.env.begin(write=True) as txn:
            for record in remove:
                key = id_key(record.entry_id)
                txn.delete(key, db=self._entries)
                txn.delete(key, db=self._answers)
                txn.delete(key, db=self._metadata)
                ekey = _expiry_key(record)
                if ekey is not None:
                    txn.delete(ekey, db=self._expiry)
            for record, prompt, answer, meta in add:
                key = id_key(record.entry_id)
                txn.put(key, record.encode(), db=self._entries)
                p, a = prompt.encode(), answer.encode()
                txn.put(key, _ANSWER_HEAD.pack(len(p), len(a)) + p + a, db=self._answers)
                if meta is not None:
                    txn.put(key, meta, db=self._metadata)
                ekey = _expiry_key(record)
                if ekey is not None:
                    txn.put(ekey, b"", db=self._expiry)

    def read_answer(self, entry_id: str) -> StoredAnswer | None:
        """Prompt, answer and metadata of one entry (None if it is gone). Only hits call this."""
        with self._reads_lock:
            self.answer_reads += 1
        key = id_key(entry_id)
        with self.env.begin() as txn:
            raw = txn.get(key, db=self._answers)
            meta = txn.get(key, db=self._metadata)
        if raw is None:
            return None
        lp, la = _ANSWER_HEAD.unpack_from(raw)
        pos = _ANSWER_HEAD.size
        prompt = bytes(raw[pos:pos + lp]).decode()
        answer = bytes(raw[pos + lp:pos + lp + la]).decode()
        return StoredAnswer(prompt, answer, None if meta is None else json.loads(bytes(meta)))

    def read_metadata(self, entry_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Metadata of entries (for Invalidate by filter); never reads answers."""
        out: dict[str, dict[str, Any] | None] = {}
        with self.env.begin(db=self._metadata) as txn:
            for entry_id in entry_ids:
                raw = txn.get(id_key(entry_id))
                out[entry_id] = None if raw is None else json.loads(bytes(raw))
        return out

    def due(self, now: float) -> list[str]:
        """Ids of entries whose stored expiry time is <= now, earliest first."""
        out: list[str] = []
        with self.env.begin(db=self._expiry) as txn:
            for key, _ in txn.cursor():
                if _unordered(key) > now:
                    break
                out.append(key_id(key[_EXPIRES.size:]))
        return out

    def close(self) -> None:
        self.env.close()
