"""The database: a data folder of collections, each in its own sub-folder.

Layout:
    <data_dir>/collections/<name>/        one collection (LMDB files + index/ checkpoints)
    <data_dir>/collections/.<name>.*      a collection being created or deleted

Creating a collection builds it under a hidden name and renames it into place, so a crash never
leaves half a collection visible; deleting renames it away first, then removes the files.
Leftover hidden folders are cleared at start-up.

Snapshots (see vecdb.engine.snapshots) live in <data_dir>/snapshots/. A collection being copied
into a snapshot cannot be deleted or replaced meanwhile: delete, restore and close wait for the
copy to finish (it holds the collection's read lock, so it takes about as long as reading its
LMDB file once).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self

from vecdb.engine.collection import Collection
from vecdb.engine.errors import AlreadyExists, CollectionNotFound, FailedPrecondition
from vecdb.engine.options import EngineOptions
from vecdb.engine.schema import CollectionConfig, validate_collection_name
from vecdb.engine.snapshots import (
    SNAPSHOT_FOLDER,
    CollectionCopy,
    SnapshotInfo,
    SnapshotStore,
    copy_collection,
    unpack_collection,
)
from vecdb.engine.storage import CollectionStore
from vecdb.engine.types import CollectionInfo, CollectionStats

__all__ = ["Database", "EngineOptions", "lock_data_dir", "unlock_data_dir"]

log = logging.getLogger(__name__)


def lock_data_dir(data_dir: Path) -> int:
    """Take the exclusive lock of a data folder; returns the descriptor that holds it.

    Two processes writing one LMDB set would each keep its own in-memory indexes and
    checkpoints, and corrupt the other's view; an offline restore must not run under a server.
    """
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(data_dir) / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise FailedPrecondition(
            f"data folder {data_dir} is in use by another vecdb process; stop it or choose another --data-dir"
        ) from None
    return fd


def unlock_data_dir(fd: int) -> None:
    os.close(fd)  # closing the descriptor releases the lock


class Database:
    """Every collection under one data folder. Thread-safe."""

    def __init__(self, data_dir: Path, options: EngineOptions | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.options = options or EngineOptions()
        self._root = self.data_dir / "collections"
        self._root.mkdir(parents=True, exist_ok=True)
        self._lock_fd = lock_data_dir(self.data_dir)
        self._lock = threading.RLock()
        self._copying: Counter[str] = Counter()  # collections being copied into a snapshot
        self._copied = threading.Condition(self._lock)
        self._snapshots: SnapshotStore | None = None
        if (self.data_dir / SNAPSHOT_FOLDER).is_dir():
            self._snapshots = SnapshotStore(self.data_dir / SNAPSHOT_FOLDER)  # clears unfinished snapshots
        self._closed = False
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vecdb-checkpoint")
        self._collections: dict[str, Collection] = {}
        for leftover in self._root.glob(".*"):
            log.info("removing unfinished collection folder %s", leftover)
            shutil.rmtree(leftover, ignore_errors=True)
        for path in sorted(p for p in self._root.iterdir() if p.is_dir()):
            config = CollectionStore.read_config(path)
            self._collections[config.name] = Collection(path, config, self.options, self._background)

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
            self._copied.wait_for(lambda: not self._copying[name])
            collection = self._collections.pop(name, None)
            if collection is None:
                return False
            doomed = self._retire(collection)
        shutil.rmtree(doomed, ignore_errors=True)
        log.info("deleted collection %r", name)
        return True

    def _retire(self, collection: Collection) -> Path:
        """Close a collection (already out of the table) and rename its folder away; call with
        the lock held. Returns the renamed folder, for the caller to remove."""
        collection.close(checkpoint=False)
        doomed = self._root / f".{collection.name}.deleting-{uuid.uuid4().hex}"
        collection.path.rename(doomed)
        return doomed

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

    # ---- snapshots ----------------------------------------------------------------------------

    @property
    def snapshots(self) -> SnapshotStore:
        """The snapshot folder <data_dir>/snapshots (created on first use)."""
        with self._lock:
            if self._snapshots is None:
                self._snapshots = SnapshotStore(self.data_dir / SNAPSHOT_FOLDER)
            return self._snapshots

    def create_snapshot(self, collection: str | None = None, *,
                        extra_lmdb: Mapping[str, Any] | None = None) -> SnapshotInfo:
        """Snapshot one collection, or (collection None) every collection, while reads and
        writes go on; each collection is copied at one point in time (see vecdb.engine.snapshots).

        extra_lmdb: other open LMDB environments to include, by role; only "cache" (the semantic
        cache's, restored to <data_dir>/cache/lmdb) is known. Only a whole-server snapshot takes it.
        """
        import vecdb

        if collection is not None:
            validate_collection_name(collection)
        extras = dict(extra_lmdb or {}) if collection is None else {}
        unknown = set(extras) - {"cache"}
        if unknown:
            raise ValueError(f"extra_lmdb: unknown roles {sorted(unknown)}; only 'cache' is known")
        with self._lock:
            self._check_open()
            if collection is not None:
                chosen = [self.collection(collection)]
            else:
                chosen = sorted(self._collections.values(), key=lambda c: c.name)
            for c in chosen:
                self._copying[c.name] += 1

        def fill(staging: Path) -> tuple[list[CollectionCopy], bool]:
            staging.mkdir()
            copies = [copy_collection(c, staging / "collections" / c.name) for c in chosen]
            env = extras.get("cache")
            if env is not None:
                (staging / "cache" / "lmdb").mkdir(parents=True)
                env.copy(str(staging / "cache" / "lmdb"), compact=True)
            return copies, env is not None

        try:
            return self.snapshots.create(collection, fill, vecdb.__version__)
        finally:
            with self._lock:
                for c in chosen:
                    self._copying[c.name] -= 1
                self._copied.notify_all()

    def list_snapshots(self, collection: str | None = None) -> list[SnapshotInfo]:
        """Every snapshot, oldest first; with `collection`, those that hold it."""
        if collection is not None:
            validate_collection_name(collection)
        return self.snapshots.list(collection)

    def snapshot_info(self, name: str) -> SnapshotInfo:
        return self.snapshots.info(name)

    def delete_snapshot(self, name: str) -> None:
        """Remove a snapshot file; NotFound when there is none of that name."""
        self.snapshots.delete(name)

    def restore_snapshot(self, name: str, *, collection: str | None = None,
                         overwrite: bool = False) -> CollectionInfo:
        """Restore one collection from a snapshot into this database, under its own name.

        collection: which collection of a whole-server snapshot (a one-collection snapshot's own
        by default). A collection of that name that exists is refused with AlreadyExists unless
        `overwrite`, which replaces it (calls on the old one in flight fail, nothing mixes).
        Whole-server restores are offline: `vecdb snapshot restore-offline`.
        """
        info = self.snapshots.info(name)
        if collection is None:
            if info.collection is None:
                raise FailedPrecondition(
                    f"snapshot {name!r} holds the whole server ({len(info.collections)} collections): restore it "
                    "offline into a new data folder (vecdb snapshot restore-offline), or name one collection to restore"
                )
            collection = info.collection
        validate_collection_name(collection)
        path = self.snapshots.path(name)
        with self._lock:
            self._check_open()
            if collection in self._collections and not overwrite:
                raise AlreadyExists(f"collection {collection!r} exists; delete it first, or restore with overwrite "
                                    "to replace it")
        staging = self._root / f".{collection}.restoring-{uuid.uuid4().hex}"
        doomed: Path | None = None
        try:
            unpack_collection(path, collection, staging)  # checked against the manifest's checksums
            config = CollectionStore.read_config(staging)
            if config.name != collection:
                raise FailedPrecondition(f"snapshot {name!r}: the copy of {collection!r} names itself "
                                         f"{config.name!r}; the snapshot is corrupt")
            with self._lock:
                self._check_open()
                self._copied.wait_for(lambda: not self._copying[collection])
                old = self._collections.pop(collection, None)
                if old is not None:
                    if not overwrite:
                        self._collections[collection] = old
                        raise AlreadyExists(f"collection {collection!r} was created meanwhile; restore with "
                                            "overwrite to replace it")
                    doomed = self._retire(old)
                final = self._root / collection
                staging.rename(final)
                restored = Collection(final, config, self.options, self._background)
                self._collections[collection] = restored
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if doomed is not None:
                shutil.rmtree(doomed, ignore_errors=True)
        log.info("restored collection %r from snapshot %s", collection, name)
        return restored.info()

    def close(self) -> None:
        """Checkpoint every index and close every store. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._copied.wait_for(lambda: not any(self._copying.values()))
            self._closed = True
            self._background.shutdown(wait=True)
            for c in self._collections.values():
                try:
                    c.close()
                except Exception:
                    log.exception("closing collection %r failed; its index will be replayed on start", c.name)
            self._collections.clear()
            unlock_data_dir(self._lock_fd)

    def _check_open(self) -> None:
        if self._closed:
            raise FailedPrecondition("the database is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
