"""What the snapshot methods of Client and AsyncClient send, and how they read the answers.

The same pattern as `_ops`: each function checks its arguments, builds the request and returns a
`Call` naming the RPC and the response parser. `download` prepares the server-streaming
DownloadSnapshot call; `Download` checks and writes the chunks as they arrive (a temporary file
next to the target, renamed into place only when size and SHA-256 match the snapshot's). This is
the only SDK module that touches snapshot messages.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vecdb.v1 import admin_service_pb2 as admin_pb
from vecdb_client import _wire, models
from vecdb_client._ops import Call, _rpc
from vecdb_client.errors import InvalidArgument, VecdbError

__all__ = [
    "SNAPSHOT_RPCS",
    "Download",
    "SnapshotMismatch",
    "create",
    "delete",
    "download",
    "list_snapshots",
    "restore",
]

CREATE_SNAPSHOT = _rpc("Admin", "CreateSnapshot", admin_pb.SnapshotInfo)
LIST_SNAPSHOTS = _rpc("Admin", "ListSnapshots", admin_pb.ListSnapshotsResponse)
DELETE_SNAPSHOT = _rpc("Admin", "DeleteSnapshot", admin_pb.DeleteSnapshotResponse)
RESTORE_SNAPSHOT = _rpc("Admin", "RestoreSnapshot", admin_pb.RestoreSnapshotResponse)
DOWNLOAD_SNAPSHOT = _rpc("Admin", "DownloadSnapshot", admin_pb.SnapshotChunk)

SNAPSHOT_RPCS = (CREATE_SNAPSHOT, LIST_SNAPSHOTS, DELETE_SNAPSHOT, RESTORE_SNAPSHOT, DOWNLOAD_SNAPSHOT)


class SnapshotMismatch(VecdbError):
    """A downloaded snapshot's size or SHA-256 differs from what the server announced (nothing was
    written to the target path): retry the download."""

    code = "DATA_LOSS"
    error_name = "snapshot_mismatch"


def _opt_name(value: object, where: str) -> str:
    return "" if value is None else _wire.check_name(value, where)


def _name(value: object, where: str = "name") -> str:
    name = _wire.check_name(value, where)
    if not name:
        raise InvalidArgument(f"{where}: is empty; name the snapshot (list_snapshots() shows the names)")
    return name


def snapshot_info(m: Any) -> models.SnapshotInfo:
    return models.SnapshotInfo(
        name=m.name, collection=m.collection or None, created_at=m.created_at, size_bytes=int(m.size_bytes),
        sha256=m.sha256, vecdb_version=m.vecdb_version,
        collections=tuple(models.SnapshotCollection(c.name, int(c.sequence), int(c.points_count))
                          for c in m.collections),
        with_cache=bool(m.with_cache),
    )


def create(collection: str | None) -> Call[models.SnapshotInfo]:
    request = admin_pb.CreateSnapshotRequest(collection=_opt_name(collection, "collection"))
    return Call(CREATE_SNAPSHOT, request, snapshot_info)


def list_snapshots(collection: str | None) -> Call[list[models.SnapshotInfo]]:
    request = admin_pb.ListSnapshotsRequest(collection=_opt_name(collection, "collection"))
    return Call(LIST_SNAPSHOTS, request, lambda r: [snapshot_info(s) for s in r.snapshots])


def delete(name: str) -> Call[None]:
    return Call(DELETE_SNAPSHOT, admin_pb.DeleteSnapshotRequest(name=_name(name)), lambda r: None)


def restore(name: str, collection: str | None, overwrite: bool) -> Call[models.RestoredCollection]:
    if not isinstance(overwrite, bool):
        raise InvalidArgument(f"overwrite: must be a bool, got {overwrite!r}")
    request = admin_pb.RestoreSnapshotRequest(
        name=_name(name), collection=_opt_name(collection, "collection"), overwrite=overwrite,
    )
    return Call(RESTORE_SNAPSHOT, request,
                lambda r: models.RestoredCollection(r.collection, int(r.points_count), int(r.sequence)))


@dataclass(frozen=True)
class DownloadPlan:
    """A prepared DownloadSnapshot call and where its bytes go."""

    rpc: Any
    request: Any
    path: Path


def download(name: str, path: str | os.PathLike[str], chunk_bytes: int = 0) -> DownloadPlan:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgument(f"path: must be a str or path, got {type(path).__name__}")
    target = Path(path)
    if target.is_dir():
        target = target / f"{_name(name)}.tar"
    request = admin_pb.DownloadSnapshotRequest(name=_name(name), chunk_bytes=_wire.uint32(chunk_bytes, "chunk_bytes"))
    return DownloadPlan(DOWNLOAD_SNAPSHOT, request, target)


class Download:
    """Writes a download's chunks to `<path>.part`, hashing them; `finish()` checks size and
    SHA-256 against the snapshot's and renames the file into place; `abort()` removes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(path.name + ".part")
        self._fh = open(self._tmp, "wb")  # noqa: SIM115 -- closed by finish/abort
        self._digest = hashlib.sha256()
        self._size = 0
        self.info: models.SnapshotInfo | None = None

    def add(self, chunk: Any) -> None:
        if chunk.HasField("info"):
            self.info = snapshot_info(chunk.info)
        if self.info is None or chunk.offset != self._size:
            raise SnapshotMismatch(f"snapshot download out of order at byte {self._size} (chunk at {chunk.offset}); retry")
        self._digest.update(chunk.data)
        self._fh.write(chunk.data)
        self._size += len(chunk.data)

    def finish(self) -> models.SnapshotInfo:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        info = self.info
        if info is None or self._size != info.size_bytes or self._digest.hexdigest() != info.sha256:
            self.abort()
            got = f"{self._size} bytes, sha256 {self._digest.hexdigest()}"
            want = "no snapshot info" if info is None else f"{info.size_bytes} bytes, sha256 {info.sha256}"
            raise SnapshotMismatch(f"downloaded snapshot does not match: got {got}, expected {want}; nothing was written "
                           f"to {self.path}; retry the download")
        os.replace(self._tmp, self.path)
        return info

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)
