"""Snapshot messages: domain snapshot descriptions to protobuf (the server's only snapshot
conversion; requests are read field by field in admin.py, they carry only names and flags)."""

from __future__ import annotations

from typing import Any

from vecdb.engine.snapshots import SnapshotInfo
from vecdb.engine.types import CollectionInfo
from vecdb.v1 import admin_service_pb2 as admin_pb

__all__ = ["deleted", "restored", "snapshot_chunk", "snapshot_info", "snapshot_list"]


def snapshot_info(info: SnapshotInfo) -> Any:
    return admin_pb.SnapshotInfo(
        name=info.name, size_bytes=info.size_bytes, created_at=info.created_at, collection=info.collection or "",
        collections=[admin_pb.SnapshotCollection(name=c.name, sequence=c.sequence, points_count=c.points_count)
                     for c in info.collections],
        sha256=info.sha256, vecdb_version=info.vecdb_version, with_cache=info.with_cache,
    )


def snapshot_list(infos: list[SnapshotInfo]) -> Any:
    return admin_pb.ListSnapshotsResponse(snapshots=[snapshot_info(i) for i in infos])


def deleted() -> Any:
    return admin_pb.DeleteSnapshotResponse()


def restored(info: CollectionInfo) -> Any:
    return admin_pb.RestoreSnapshotResponse(collection=info.config.name, points_count=info.points_count,
                                            sequence=info.sequence)


def snapshot_chunk(data: bytes, offset: int, info: SnapshotInfo | None = None) -> Any:
    chunk = admin_pb.SnapshotChunk(data=data, offset=offset)
    if info is not None:
        chunk.info.CopyFrom(snapshot_info(info))
    return chunk
