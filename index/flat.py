"""FlatIndex: exact search over vectors kept in one growable numpy array.

The baseline every approximate index is measured against, and the right choice for small
collections where a scan beats building a graph. Points live in slots of a capacity-doubling
array; a removed point's slot goes on a free list and is reused by the next new id.

File format (little-endian): magic b"VECDBFLT", u32 version, u32 dim, 8-byte ASCII metric name
(NUL-padded), u64 count, then count u64 ids, count*dim f32 vectors, and a u32 CRC-32 of all
preceding bytes.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vecdb.index.base import (
    MISSING_ID,
    IndexLoadError,
    Neighbors,
    as_ids,
    as_queries,
    as_vectors,
    check_k,
    dedupe_last,
)
from vecdb.index.exact import chunk_rows, exact_search, scoring_form
from vecdb.index.locking import RWLock
from vecdb.index.slots import SlotIds
from vecdb.kernels import Metric, normalize

__all__ = ["FlatIndex", "FlatIndexConfig"]

_MAGIC = b"VECDBFLT"
_VERSION = 1
_HEADER = struct.Struct("<8sII8sQ")
_CRC = struct.Struct("<I")
# Python-side bytes per id in the id -> slot dict (hash entry plus two int objects).
_DICT_ENTRY_BYTES = 64


@dataclass(frozen=True)
class FlatIndexConfig:
    """Tuning for FlatIndex.

    initial_capacity: slots allocated up front; storage doubles when it runs out.
    kernel_device: where the scoring kernels run ("cpu" or "cuda"; see vecdb.kernels.resolve_device).
    """

    initial_capacity: int = 1024
    kernel_device: str = "cpu"

    def __post_init__(self) -> None:
        if self.initial_capacity < 1:
            raise ValueError(f"initial_capacity must be >= 1, got {self.initial_capacity}")


class FlatIndex(SlotIds):
    """Exact k-NN over all metrics; thread-safe (concurrent searches, exclusive writes).

    For cosine the stored vectors are normalized on add (zero vectors stay zero), so
    `get_vectors` returns unit vectors. `ef` is accepted and ignored: every search is exact.
    """

    def __init__(self, dim: int, metric: Metric, config: FlatIndexConfig | None = None) -> None:
        if config is None:
            config = FlatIndexConfig()
        if not isinstance(config, FlatIndexConfig):
            raise TypeError(
                f"FlatIndex takes a FlatIndexConfig or None, got {type(config).__name__}"
            )
        if int(dim) < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = int(dim)
        self.metric = Metric(metric)
        self.config = config
        cap = config.initial_capacity
        self._vectors = np.zeros((cap, self.dim), dtype=np.float32)
        self._ids = np.full(cap, MISSING_ID, dtype=np.uint64)
        self._alive = np.zeros(cap, dtype=bool)
        self._slot_of: dict[int, int] = {}
        self._free: list[int] = []
        self._high = 0  # slots [0, _high) have been used at least once
        self._lock = RWLock()

    # -- mutation ---------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace points (later duplicates in one batch win)."""
        id_arr = as_ids(ids)
        vecs = as_vectors(vectors, self.dim, id_arr.size)
        id_arr, vecs = dedupe_last(id_arr, vecs)
        if id_arr.size == 0:
            return
        if self.metric is Metric.COSINE:
            vecs = normalize(vecs)
        with self._lock.write():
            id_list = id_arr.tolist()
            new_count = sum(1 for i in id_list if i not in self._slot_of)
            self._reserve(self._high + max(0, new_count - len(self._free)))
            slots = np.empty(len(id_list), dtype=np.int64)
            for j, point_id in enumerate(id_list):
                slot = self._slot_of.get(point_id)
                if slot is None:
                    if self._free:
                        slot = self._free.pop()
                    else:
                        slot = self._high
                        self._high += 1
                    self._slot_of[point_id] = slot
                slots[j] = slot
            self._vectors[slots] = vecs
            self._ids[slots] = id_arr
            self._alive[slots] = True

    def remove(self, ids: np.ndarray) -> None:
        """Delete points; unknown ids are ignored."""
        id_list = as_ids(ids).tolist()
        with self._lock.write():
            for point_id in id_list:
                slot = self._slot_of.pop(point_id, None)
                if slot is not None:
                    self._alive[slot] = False
                    self._ids[slot] = MISSING_ID
                    self._free.append(slot)

    def _reserve(self, slots_needed: int) -> None:
        cap = self._ids.size
        if slots_needed <= cap:
            return
        new_cap = max(2 * cap, slots_needed)
        vectors = np.zeros((new_cap, self.dim), dtype=np.float32)
        vectors[:cap] = self._vectors
        ids = np.full(new_cap, MISSING_ID, dtype=np.uint64)
        ids[:cap] = self._ids
        alive = np.zeros(new_cap, dtype=bool)
        alive[:cap] = self._alive
        self._vectors, self._ids, self._alive = vectors, ids, alive

    # -- queries ----------------------------------------------------------------------------

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        ef: int | None = None,
        exact: bool = False,
    ) -> Neighbors:
        """Exact best-first top-k over live points (or over `allowed` ones); `ef` is ignored."""
        q = as_queries(queries, self.dim)
        k = check_k(k)
        q, score_metric = scoring_form(q, self.metric)
        allowed_ids = None if allowed is None else as_ids(allowed)
        with self._lock.read():
            if allowed_ids is None:
                chunks = self._slab_chunks(chunk_rows(q.shape[0]))
            else:
                chunks = self._slot_chunks(self._slots_of(allowed_ids), chunk_rows(q.shape[0]))
            return exact_search(q, chunks, k, score_metric, self.config.kernel_device)

    def _slab_chunks(self, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, self._high, rows):
            stop = min(start + rows, self._high)
            alive = self._alive[start:stop]
            if alive.all():
                yield self._ids[start:stop], self._vectors[start:stop]
            else:
                yield self._ids[start:stop][alive], self._vectors[start:stop][alive]

    def _slot_chunks(self, slots: np.ndarray, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, slots.size, rows):
            part = slots[start : start + rows]
            yield self._ids[part], self._vectors[part]

    def _slots_of(self, ids: np.ndarray) -> np.ndarray:
        found = [self._slot_of.get(i) for i in ids.tolist()]
        slots = np.array([s for s in found if s is not None], dtype=np.int64)
        return np.unique(slots)

    def get_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors (n, dim) float32 in the order of `ids` (unit vectors for cosine)."""
        id_list = as_ids(ids).tolist()
        with self._lock.read():
            slots = []
            for point_id in id_list:
                slot = self._slot_of.get(point_id)
                if slot is None:
                    raise KeyError(f"id {point_id} is not in the index")
                slots.append(slot)
            return self._vectors[np.array(slots, dtype=np.int64)]

    @property
    def capacity(self) -> int:
        """Slots allocated; storage doubles when a batch needs more."""
        return int(self._ids.size)

    @property
    def ram_bytes(self) -> int:
        """Vector, id and liveness arrays plus the id -> slot dict and free list."""
        arrays = self._vectors.nbytes + self._ids.nbytes + self._alive.nbytes
        bookkeeping = sys.getsizeof(self._slot_of) + _DICT_ENTRY_BYTES * len(self._slot_of)
        return int(arrays + bookkeeping + sys.getsizeof(self._free))

    # -- persistence ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the live points to exactly `path` and fsync it."""
        with self._lock.read(), open(path, "wb") as f:
            header = _HEADER.pack(
                _MAGIC, _VERSION, self.dim, self.metric.value.encode("ascii"), len(self._slot_of)
            )
            crc = zlib.crc32(header)
            f.write(header)
            rows = chunk_rows(1)
            for want_ids in (True, False):
                for ids, vectors in self._slab_chunks(rows):
                    block = np.ascontiguousarray(ids if want_ids else vectors)
                    data = memoryview(block.astype(block.dtype.newbyteorder("<"), copy=False))
                    crc = zlib.crc32(data.cast("B"), crc)
                    f.write(data)
            f.write(_CRC.pack(crc))
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        dim: int,
        metric: Metric,
        config: FlatIndexConfig | None = None,
    ) -> FlatIndex:
        """Read a file written by `save`; IndexLoadError if it is unreadable or does not match."""
        metric = Metric(metric)
        try:
            ids, vectors = _read_file(Path(path), int(dim), metric)
        except OSError as exc:
            raise IndexLoadError(path, f"cannot read the file ({exc})") from exc
        index = cls(dim, metric, config)
        index._reserve(ids.size)
        n = ids.size
        index._vectors[:n] = vectors
        index._ids[:n] = ids
        index._alive[:n] = True
        index._slot_of = {point_id: slot for slot, point_id in enumerate(ids.tolist())}
        index._high = n
        return index


def _read_file(path: Path, dim: int, metric: Metric) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        raw = f.read(_HEADER.size)
        if len(raw) < _HEADER.size:
            raise IndexLoadError(path, f"file is {size} bytes, shorter than the header")
        magic, version, file_dim, file_metric, count = _HEADER.unpack(raw)
        if magic != _MAGIC:
            raise IndexLoadError(path, "not a flat index file (bad magic bytes)")
        if version != _VERSION:
            raise IndexLoadError(path, f"unsupported flat index version {version}")
        if file_dim != dim:
            raise IndexLoadError(path, f"file holds dim {file_dim}, expected {dim}")
        stored_metric = file_metric.rstrip(b"\0").decode("ascii", "replace")
        if stored_metric != metric.value:
            raise IndexLoadError(
                path, f"file holds metric {stored_metric!r}, expected {metric.value!r}"
            )
        expected = _HEADER.size + count * (8 + 4 * dim) + _CRC.size
        if size != expected:
            raise IndexLoadError(
                path, f"file is {size} bytes, expected {expected} for {count} points"
            )
        ids = np.fromfile(f, dtype="<u8", count=count).astype(np.uint64, copy=False)
        vectors = np.fromfile(f, dtype="<f4", count=count * dim).astype(np.float32, copy=False)
        (stored_crc,) = _CRC.unpack(f.read(_CRC.size))
    crc = zlib.crc32(vectors.data.cast("B"), zlib.crc32(ids.data.cast("B"), zlib.crc32(raw)))
    if crc != stored_crc:
        raise IndexLoadError(path, "checksum mismatch (file is corrupt)")
    if np.unique(ids).size != ids.size or (ids == MISSING_ID).any():
        raise IndexLoadError(path, "file holds duplicate or reserved ids")
    return ids, vectors.reshape(count, dim)
