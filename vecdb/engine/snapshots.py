"""Snapshots: one file holding a consistent copy of a collection, or of every collection.

A snapshot is an uncompressed tar under `<data_dir>/snapshots/`:

    <name>.tar    manifest.json first, then per collection
                      collections/<collection>/data.mdb          LMDB, compacted copy
                      collections/<collection>/index/...         index checkpoint + its manifest
                  and, in a whole-server snapshot whose server handed its cache over,
                      cache/lmdb/data.mdb                        the semantic cache's LMDB
    <name>.json   the snapshot's description (SnapshotInfo: scope, time, size, sha256 of the tar),
                  written after the tar is complete: a tar without it is unfinished and ignored

Point in time. Each collection is copied under the read side of its read-write lock: writers
wait (readers do not) while its index checkpoint is written into the snapshot and LMDB is copied
with `env.copy(compact=True)`; both therefore reflect exactly the same sequence number, and a
restore loads the checkpoint with nothing to replay. (The read lock is also what LMDB needs: the
collection grows its map only while no transaction of it is open.) Collections of a whole-server
snapshot are each consistent, copied one after another; there is no cross-collection point in
time because no write spans two collections. The cache's LMDB is copied with one read
transaction (it never grows its map); its in-memory index is rebuilt from it when it opens.

Names are generated (`<collection or _server>.<UTC time>.<8 hex>`) and every name coming in is
checked against that pattern, then resolved and checked to lie directly in the snapshot folder
and not to be a symbolic link, so no name can reach another file.

Restore. `restore_into_folder` unpacks a snapshot into a data folder that no server has open
(a new one, or one missing those collections): the offline path, also for whole-server
snapshots. `Database.restore_snapshot` restores one collection into the running database.
Every file is checked against the manifest's SHA-256 before anything is renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import lmdb

from vecdb.engine.checkpoint import atomic_write, fsync_dir, write_checkpoint
from vecdb.engine.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from vecdb.engine.storage import _META_SEQUENCE, key_iid

__all__ = [
    "FORMAT_VERSION",
    "SERVER_SCOPE",
    "SNAPSHOT_FOLDER",
    "CollectionCopy",
    "SnapshotInfo",
    "SnapshotStore",
    "copy_collection",
    "read_manifest",
    "restore_into_folder",
    "validate_snapshot_name",
]

log = logging.getLogger(__name__)

SNAPSHOT_FOLDER = "snapshots"
"""The snapshots' folder under a data folder."""

FORMAT_VERSION = 1
SERVER_SCOPE = "_server"
MANIFEST = "manifest.json"
CHUNK_BYTES = 1 << 20

_NAME_RE = re.compile(r"^(?:_server|[A-Za-z0-9][A-Za-z0-9_-]{0,63})\.\d{8}T\d{6}Z\.[0-9a-f]{8}$")
_MEMBER_RE = re.compile(r"^(?:collections/[A-Za-z0-9][A-Za-z0-9_-]{0,63}|cache/lmdb)(?:/[A-Za-z0-9_.:-]+)+$")


def validate_snapshot_name(name: object, where: str = "name") -> str:
    """The name if it is one this module could have generated, else InvalidArgument."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidArgument(
            f"{where} = {name!r} is not a snapshot name: names look like 'docs.20260101T120000Z.0a1b2c3d' "
            "(as create and list answer them); list snapshots to see them"
        )
    return name


@dataclass(frozen=True)
class CollectionCopy:
    """One collection inside a snapshot: its name, the sequence and point count it was copied at."""

    name: str
    sequence: int
    points_count: int


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot holds. collection: the collection of a one-collection snapshot, None for a
    whole-server snapshot. created_at: unix seconds. sha256: of the whole file (what a download
    is checked against). with_cache: whether the semantic cache was copied too."""

    name: str
    collection: str | None
    created_at: float
    size_bytes: int
    sha256: str
    vecdb_version: str
    collections: tuple[CollectionCopy, ...]
    with_cache: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "collection": self.collection, "created_at": self.created_at,
            "size_bytes": self.size_bytes, "sha256": self.sha256, "vecdb_version": self.vecdb_version,
            "collections": [vars(c) for c in self.collections], "with_cache": self.with_cache,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SnapshotInfo:
        return cls(
            name=str(raw["name"]), collection=raw.get("collection"), created_at=float(raw["created_at"]),
            size_bytes=int(raw["size_bytes"]), sha256=str(raw["sha256"]), vecdb_version=str(raw["vecdb_version"]),
            collections=tuple(CollectionCopy(str(c["name"]), int(c["sequence"]), int(c["points_count"]))
                              for c in raw["collections"]),
            with_cache=bool(raw.get("with_cache", False)),
        )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _lmdb_counts(folder: Path) -> tuple[int, int]:
    """(sequence, points) of a copied collection LMDB, read without locking (nobody else has it)."""
    env = lmdb.open(str(folder), max_dbs=8, readonly=True, lock=False, subdir=True)
    try:
        meta = env.open_db(b"meta", create=False)
        points = env.open_db(b"points", create=False)
        with env.begin() as txn:
            raw = txn.get(_META_SEQUENCE, db=meta)
            return (key_iid(raw) if raw else 0), int(txn.stat(points)["entries"])
    finally:
        env.close()


def copy_collection(collection: Any, dest: Path) -> CollectionCopy:
    """Copy a collection's data and a fresh index checkpoint of exactly the same sequence into
    `dest` (created). Writers of the collection wait meanwhile; readers go on.

    Uses the collection's lock, store and indexes: the copy must happen under the same lock the
    write path takes (see the module docstring).
    """
    dest.mkdir(parents=True)
    c = collection
    with c._lock.read():
        c._check_open()
        sequence = c._applied_seq
        points = len(c._payloads)
        write_checkpoint(dest / "index", sequence, {
            name: (c._kinds[name].checkpoint_kind, len(index), index.save) for name, index in c._indexes.items()
        })
        c._store.env.copy(str(dest), compact=True)
    copied_seq, copied_points = _lmdb_counts(dest)
    if (copied_seq, copied_points) != (sequence, points):  # cannot happen while writers wait; say so if it does
        raise FailedPrecondition(
            f"snapshot of collection {c.name!r} is inconsistent (LMDB copy at sequence {copied_seq} with "
            f"{copied_points} points, indexes at {sequence} with {points}); retry the snapshot"
        )
    return CollectionCopy(c.name, sequence, points)


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()


class SnapshotStore:
    """The snapshot folder of one data folder: create, list, read, delete snapshot files."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._root = self.folder.resolve()
        for leftover in self.folder.glob(".tmp-*"):
            log.info("removing unfinished snapshot %s", leftover)
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    # ---- names and paths ----------------------------------------------------------------------

    @staticmethod
    def new_name(scope: str | None) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        return f"{scope or SERVER_SCOPE}.{stamp}.{uuid.uuid4().hex[:8]}"

    def _inside(self, name: str, suffix: str) -> Path:
        """The path of a snapshot's file, refused unless it lies directly in the folder and is a
        regular file (not a link) — whatever the name validation let through."""
        path = self.folder / f"{name}{suffix}"
        if path.is_symlink():
            raise InvalidArgument(f"snapshot {name!r} is a symbolic link; snapshots must be regular files "
                                  f"in {self.folder}")
        resolved = path.resolve()
        if resolved.parent != self._root:
            raise InvalidArgument(f"snapshot name {name!r} leads outside the snapshot folder {self.folder}")
        return path

    def path(self, name: str, where: str = "name") -> Path:
        """The tar of an existing snapshot; InvalidArgument for a bad name, NotFound if absent."""
        validate_snapshot_name(name, where)
        path = self._inside(name, ".tar")
        info_path = self._inside(name, ".json")
        if not path.is_file() or not info_path.is_file():
            raise NotFound(f"snapshot {name!r} does not exist; list snapshots to see the names")
        return path

    # ---- reading ------------------------------------------------------------------------------

    def info(self, name: str, where: str = "name") -> SnapshotInfo:
        self.path(name, where)
        raw = json.loads(self._inside(name, ".json").read_text())
        return SnapshotInfo.from_dict(raw)

    def list(self, collection: str | None = None) -> list[SnapshotInfo]:
        """Every complete snapshot, oldest first; with `collection`, those holding it."""
        out = []
        for info_path in self.folder.glob("*.json"):
            name = info_path.name[:-len(".json")]
            if not _NAME_RE.match(name) or info_path.is_symlink():
                continue
            try:
                info = self.info(name)
            except (NotFound, InvalidArgument, ValueError, KeyError, OSError):
                continue
            if collection is None or any(c.name == collection for c in info.collections):
                out.append(info)
        return sorted(out, key=lambda i: (i.created_at, i.name))

    def chunks(self, name: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The snapshot file's bytes, `chunk_bytes` at a time. Opened before the first chunk, so a
        delete meanwhile does not cut the stream short."""
        if chunk_bytes < 1:
            raise InvalidArgument(f"chunk_bytes = {chunk_bytes}; use at least 1")
        fh = open(self.path(name), "rb")  # noqa: SIM115 -- closed by the generator

        def read() -> Iterator[bytes]:
            with fh:
                while data := fh.read(chunk_bytes):
                    yield data

        return read()

    # ---- writing ------------------------------------------------------------------------------

    def create(self, scope: str | None, fill: Callable[[Path], tuple[list[CollectionCopy], bool]],
               vecdb_version: str) -> SnapshotInfo:
        """Make a snapshot: `fill(staging)` copies the data into the staging folder laid out as in
        the tar and returns (collections, whether the cache was copied)."""
        name = self.new_name(scope)
        staging = self.folder / f".tmp-{name}"
        tmp_tar = self.folder / f".tmp-{name}.tar"
        try:
            collections, with_cache = fill(staging)
            created_at = time.time()
            files = {
                str(p.relative_to(staging)): {"size": p.stat().st_size, "sha256": _sha256_file(p)}
                for p in sorted(staging.rglob("*")) if p.is_file()
            }
            manifest = {
                "format": FORMAT_VERSION, "name": name, "collection": scope, "created_at": created_at,
                "vecdb_version": vecdb_version, "collections": [vars(c) for c in collections],
                "with_cache": with_cache, "files": files,
            }
            body = json.dumps(manifest, indent=1).encode()
            with open(tmp_tar, "wb") as fh:
                writer = _HashingWriter(fh)
                with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                    _add_bytes(tar, MANIFEST, body, created_at)
                    for rel in files:
                        tar.add(staging / rel, arcname=rel, recursive=False)
                fh.flush()
                os.fsync(fh.fileno())
            final = self.folder / f"{name}.tar"
            os.replace(tmp_tar, final)
            info = SnapshotInfo(name=name, collection=scope, created_at=created_at, size_bytes=writer.size,
                                sha256=writer.digest.hexdigest(), vecdb_version=vecdb_version,
                                collections=tuple(collections), with_cache=with_cache)
            atomic_write(self.folder / f"{name}.json", json.dumps(info.to_dict(), indent=1).encode())
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            tmp_tar.unlink(missing_ok=True)
        log.info("snapshot %s written: %d collection(s), %d bytes", name, len(collections), info.size_bytes)
        return info

    def delete(self, name: str) -> None:
        """Remove a snapshot; NotFound if there is none of that name."""
        path = self.path(name)
        self._inside(name, ".json").unlink(missing_ok=True)  # first: the snapshot stops being listed
        path.unlink(missing_ok=True)
        fsync_dir(self.folder)
        log.info("snapshot %s deleted", name)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    import io

    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mtime = int(mtime)
    member.mode = 0o644
    tar.addfile(member, io.BytesIO(data))


# ---- unpacking ------------------------------------------------------------------------------------


def read_manifest(snapshot_file: Path) -> dict[str, Any]:
    """The manifest of a snapshot file (its first member); InvalidArgument if it has none."""
    try:
        with tarfile.open(snapshot_file, mode="r|") as tar:
            member = tar.next()
            if member is None or member.name != MANIFEST or not member.isfile():
                raise InvalidArgument(f"{snapshot_file} is not a vecdb snapshot: it does not start with {MANIFEST}")
            fh = tar.extractfile(member)
            assert fh is not None
            manifest: dict[str, Any] = json.loads(fh.read())
    except (tarfile.TarError, ValueError) as exc:
        raise InvalidArgument(f"{snapshot_file} is not a readable vecdb snapshot ({exc})") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise FailedPrecondition(
            f"{snapshot_file} has snapshot format {manifest.get('format')!r}; this vecdb reads format {FORMAT_VERSION}"
        )
    return manifest


def _unpack(snapshot_file: Path, dest_root: Path, wanted: Callable[[str], Path | None]) -> set[str]:
    """Extract the members `wanted(name)` maps to a destination inside `dest_root` (never outside:
    member names with "." or ".." parts, or that resolve elsewhere, are refused), checking each against the
    manifest's size and SHA-256 (streamed, so nothing unchecked is ever left in place: the
    caller unpacks into hidden staging folders). Returns the members extracted."""
    files: dict[str, dict[str, Any]] = read_manifest(snapshot_file)["files"]
    seen: set[str] = set()
    with tarfile.open(snapshot_file, mode="r|") as tar:
        for member in tar:
            if member.name == MANIFEST:
                continue
            if (member.name not in files or not _MEMBER_RE.match(member.name) or not member.isfile()
                    or any(part in (".", "..") for part in member.name.split("/"))):
                raise InvalidArgument(f"{snapshot_file}: unexpected member {member.name!r}; the file is not "
                                      "a vecdb snapshot or was altered")
            dest = wanted(member.name)
            if dest is None:
                continue
            if not dest.resolve().is_relative_to(dest_root.resolve()):
                raise InvalidArgument(f"{snapshot_file}: member {member.name!r} would land outside {dest_root}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(member)
            assert src is not None
            digest = hashlib.sha256()
            with open(dest, "wb") as out:
                while chunk := src.read(CHUNK_BYTES):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != files[member.name]["sha256"]:
                raise FailedPrecondition(f"{snapshot_file}: {member.name} fails its checksum; the snapshot is "
                                         "corrupt (download it again, or use another snapshot)")
            seen.add(member.name)
    return seen


def unpack_collection(snapshot_file: Path, collection: str, dest: Path) -> CollectionCopy:
    """Unpack one collection of a snapshot into the folder `dest` (created; must not exist)."""
    manifest = read_manifest(snapshot_file)
    copies = {c["name"]: CollectionCopy(c["name"], int(c["sequence"]), int(c["points_count"]))
              for c in manifest["collections"]}
    if collection not in copies:
        raise NotFound(f"snapshot {manifest['name']!r} holds no collection {collection!r}; it holds "
                       f"{sorted(copies)}")
    prefix = f"collections/{collection}/"
    dest.mkdir(parents=True)

    def wanted(member: str) -> Path | None:
        return dest / member[len(prefix):] if member.startswith(prefix) else None

    done = _unpack(snapshot_file, dest, wanted)
    expected = {m for m in manifest["files"] if m.startswith(prefix)}
    if done != expected:
        raise FailedPrecondition(f"{snapshot_file}: members missing for collection {collection!r}: "
                                 f"{sorted(expected - done)}")
    fsync_dir(dest)
    return copies[collection]


def restore_into_folder(snapshot_file: Path, data_dir: Path, *, collections: list[str] | None = None,
                        overwrite: bool = False) -> list[CollectionCopy]:
    """Unpack a snapshot into a data folder no server has open: the offline restore.

    collections: which to restore (default: all the snapshot holds). A collection that already
    exists there is refused (AlreadyExists) unless `overwrite`. The cache of a whole-server
    snapshot is restored when it holds one and the folder has no cache yet (or `overwrite`).
    The data folder's lock is held throughout, so a running server there is refused.
    """
    from vecdb.engine.database import lock_data_dir, unlock_data_dir

    snapshot_file = Path(snapshot_file)
    manifest = read_manifest(snapshot_file)
    held = [c["name"] for c in manifest["collections"]]
    chosen = held if collections is None else collections
    for name in chosen:
        if name not in held:
            raise NotFound(f"snapshot {manifest['name']!r} holds no collection {name!r}; it holds {held}")
    data_dir = Path(data_dir)
    root = data_dir / "collections"
    root.mkdir(parents=True, exist_ok=True)
    fd = lock_data_dir(data_dir)
    try:
        clash = [n for n in chosen if (root / n).exists()]
        if clash and not overwrite:
            raise AlreadyExists(f"collection(s) {clash} already exist in {data_dir}; restore into a new folder, "
                                "or pass overwrite to replace them")
        restored = []
        for name in chosen:
            staging = root / f".{name}.restoring-{uuid.uuid4().hex}"
            try:
                restored.append(unpack_collection(snapshot_file, name, staging))
                final = root / name
                if final.exists():
                    doomed = root / f".{name}.deleting-{uuid.uuid4().hex}"
                    final.rename(doomed)
                    shutil.rmtree(doomed, ignore_errors=True)
                staging.rename(final)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        fsync_dir(root)
        if manifest.get("with_cache") and collections is None:
            _restore_cache(snapshot_file, data_dir, overwrite)
        return restored
    finally:
        unlock_data_dir(fd)


def _restore_cache(snapshot_file: Path, data_dir: Path, overwrite: bool) -> None:
    target = data_dir / "cache" / "lmdb"
    if target.exists() and not overwrite:
        log.warning("%s already has a cache; the snapshot's cache was not restored (pass overwrite)", data_dir)
        return
    staging = data_dir / f".cache.restoring-{uuid.uuid4().hex}"
    try:
        staging.mkdir()
        _unpack(snapshot_file, staging,
                lambda m: staging / m[len("cache/lmdb/"):] if m.startswith("cache/lmdb/") else None)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
