"""The database: a data folder of collections, each in its own sub-folder.

Layout:
    <data_dir>/collections/<name>/        one collection (LMDB files + index/ checkpoints)
    <data_dir>/collections/.<name>.*      a collection being created or deleted

Creating a collection builds it under a hidden name and renames it into place, so a crash never
leaves half a collection visible; deleting renames it away first, then removes the files.
Leftover hidden folders are cleared at start-up.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vecdb.engine.collection import Collection
from vecdb.engine.errors import AlreadyExists, CollectionNotFound, FailedPrecondition
from vecdb.engine.options import EngineOptions
from vecdb.engine.schema import CollectionConfig, validate_collection_name
from vecdb.engine.storage import CollectionStore
from vecdb.engine.types import CollectionInfo, CollectionStats

__all__ = ["Database", "EngineOptions"]

log = logging.getLogger(__name__)


class Database:
    """Every collection under one data folder. Thread-safe."""

    def __init__(self, data_dir: Path, options: EngineOptions | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.options = options or EngineOptions()
        self._root = self.data_dir / "collections"
        self._root.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._lock_data_dir()
        self._lock = threading.RLock()
        self._closed = False
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vecdb-checkpoint")
        self._collections: dict[str, Collection] = {}
        for leftover in self._root.glob(".*"):
            log.info("removing unfinished collection folder %s", leftover)
            shutil.rmtree(leftover, ignore_errors=True)
        for path in sorted(p for p in self._root.iterdir() if p.is_dir()):
            config = CollectionStore.read_config(path)
            self._collections[config.name] = Collection(path, config, self.options, self._background)

    def _lock_data_dir(self) -> int:
        """Hold an exclusive lock on the data folder: two processes writing one LMDB set would
        each keep its own in-memory indexes and checkpoints, and corrupt the other's view."""
        fd = os.open(self.data_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FailedPrecondition(
                f"data folder {self.data_dir} is in use by another vecdb process; stop it or choose another --data-dir"
            ) from None
        return fd

    def create_collection(self, config: CollectionConfig) -> CollectionInfo:
        config.validate()
        with self._lock:
            self._check_open()
            if config.name in self._collections:
                raise AlreadyExists(f"collection {config.name!r} already exists; delete it first or pick another name")
            staging = self._root / f".{config.name}.creating-{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                store = CollectionStore(staging, map_size=self.options.map_size_bytes, field_names=[])
                store.write_config(config)
                store.close()
                final = self._root / config.name
                staging.rename(final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            collection = Collection(final, config, self.options, self._background)
            self._collections[config.name] = collection
            log.info("created collection %r", config.name)
            return collection.info()

    def collection(self, name: str) -> Collection:
        with self._lock:
            self._check_open()
            try:
                return self._collections[name]
            except KeyError:
                raise CollectionNotFound(name) from None

    def collection_info(self, name: str) -> CollectionInfo:
        return self.collection(name).info()

    def list_collections(self) -> list[CollectionInfo]:
        with self._lock:
            collections = sorted(self._collections.values(), key=lambda c: c.name)
        return [c.info() for c in collections]

    def exists(self, name: str) -> bool:
        with self._lock:
            return name in self._collections

    def delete_collection(self, name: str) -> bool:
        """Drop a collection and its files; False if it did not exist."""
        validate_collection_name(name)
        with self._lock:
            self._check_open()
            collection = self._collections.pop(name, None)
            if collection is None:
                return False
            collection.close(checkpoint=False)
            doomed = self._root / f".{name}.deleting-{uuid.uuid4().hex}"
            collection.path.rename(doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        log.info("deleted collection %r", name)
        return True

    def stats(self, name: str | None = None) -> list[CollectionStats]:
        if name:
            return [self.collection(name).stats()]
        with self._lock:
            collections = sorted(self._collections.values(), key=lambda c: c.name)
        return [c.stats() for c in collections]

    def checkpoint_all(self) -> None:
        """Checkpoint every collection that changed; a failure is logged and does not stop the
        others (a failed checkpoint costs replay time at the next start, never data)."""
        with self._lock:
            collections = list(self._collections.values())
        for c in collections:
            try:
                c.checkpoint()
            except Exception:
                if self.exists(c.name):  # one deleted meanwhile has nothing left to save
                    log.exception("checkpoint of collection %r failed", c.name)

    def close(self) -> None:
        """Checkpoint every index and close every store. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._background.shutdown(wait=True)
            for c in self._collections.values():
                try:
                    c.close()
                except Exception:
                    log.exception("closing collection %r failed; its index will be replayed on start", c.name)
            self._collections.clear()
            os.close(self._lock_fd)  # releases the data-folder lock

    def _check_open(self) -> None:
        if self._closed:
            raise FailedPrecondition("the database is closed")

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
