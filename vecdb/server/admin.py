"""The Admin service: server information, statistics, index checkpoints, codebook retraining
and snapshots.

Stats, Checkpoint and the snapshot calls run in the write executor, which holds admin work so it
never competes with query threads. DownloadSnapshot streams the file: each chunk is read in the
write executor too, and the file is opened before the first chunk, so deleting the snapshot
meanwhile does not cut the download short. Errors of every call, the stream's included, are
mapped to statuses by the interceptor (vecdb.server.errors).

A whole-server snapshot includes the semantic cache when the server hands its LMDB environment
over (`cache_env`, a callable answering the open cache's environment or None).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from grpc import aio

import vecdb
from vecdb.engine.errors import InvalidArgument
from vecdb.engine.snapshots import CHUNK_BYTES
from vecdb.server import convert_snapshot
from vecdb.server import convert_to_proto as to_proto
from vecdb.server.executors import run_in
from vecdb.server.state import ServerState
from vecdb.v1.admin_service_pb2_grpc import AdminServicer

__all__ = ["CAPABILITIES", "MAX_CHUNK_BYTES", "AdminService"]

MAX_CHUNK_BYTES = 4 * CHUNK_BYTES
"""The largest DownloadSnapshot chunk a client may ask for (below the default message limit)."""

CAPABILITIES: tuple[str, ...] = (
    "dense", "filters", "payload_indexes", "batch_query", "bulk_upsert", "quantization", "multivector",
    "sparse", "bm25", "hybrid", "snapshots",
)
"""What this version implements; clients check it before using optional features."""



class AdminService(AdminServicer):
    def __init__(self, state: ServerState, cache_env: Callable[[], Any] | None = None) -> None:
        self._state = state
        self._cache_env = cache_env

    async def ServerInfo(self, request: Any, context: aio.ServicerContext) -> Any:
        """Answers while the database is still opening: it touches no engine state."""
        s = self._state.settings
        return to_proto.server_info(
            version=vecdb.__version__,
            data_dir=str(s.data_dir.resolve()),
            capabilities=CAPABILITIES + (("cache",) if s.cache_enabled else ()),
            max_limit=s.max_limit,
            max_message_bytes=s.max_message_bytes,
        )

    async def Stats(self, request: Any, context: aio.ServicerContext) -> Any:
        def stats() -> Any:
            return to_proto.stats(self._state.database.stats(request.collection or None))

        return await run_in(self._state.executors.write, stats)

    async def Checkpoint(self, request: Any, context: aio.ServicerContext) -> Any:
        def checkpoint() -> Any:
            if not request.collection:
                raise InvalidArgument("collection is empty: name the collection to checkpoint")
            return to_proto.checkpoint(self._state.database.collection(request.collection).checkpoint())

        return await run_in(self._state.executors.write, checkpoint)

    async def RetrainQuantization(self, request: Any, context: aio.ServicerContext) -> Any:
        def retrain() -> Any:
            if not request.collection:
                raise InvalidArgument("collection is empty: name the collection whose field to retrain")
            if not request.field:
                raise InvalidArgument("field is empty: name the quantized vector field to retrain")
            return to_proto.field_stats(self._state.database.collection(request.collection).retrain(request.field))

        return await run_in(self._state.executors.write, retrain)

    async def CreateSnapshot(self, request: Any, context: aio.ServicerContext) -> Any:
        def create() -> Any:
            collection = request.collection or None
            env = self._cache_env() if (collection is None and self._cache_env is not None) else None
            info = self._state.database.create_snapshot(collection, extra_lmdb={"cache": env} if env else None)
            return convert_snapshot.snapshot_info(info)

        return await run_in(self._state.executors.write, create)

    async def ListSnapshots(self, request: Any, context: aio.ServicerContext) -> Any:
        def list_() -> Any:
            return convert_snapshot.snapshot_list(self._state.database.list_snapshots(request.collection or None))

        return await run_in(self._state.executors.write, list_)

    async def DeleteSnapshot(self, request: Any, context: aio.ServicerContext) -> Any:
        def delete() -> Any:
            self._state.database.delete_snapshot(_name(request.name))
            return convert_snapshot.deleted()

        return await run_in(self._state.executors.write, delete)

    async def RestoreSnapshot(self, request: Any, context: aio.ServicerContext) -> Any:
        def restore() -> Any:
            info = self._state.database.restore_snapshot(
                _name(request.name), collection=request.collection or None, overwrite=request.overwrite,
            )
            return convert_snapshot.restored(info)

        return await run_in(self._state.executors.write, restore)

    async def DownloadSnapshot(self, request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
        """Server-streaming; errors (also those before the first chunk) are mapped by the
        interceptor's stream wrapper like any other call's."""
        executor = self._state.executors.write
        name = _name(request.name)
        size = request.chunk_bytes or CHUNK_BYTES
        if size > MAX_CHUNK_BYTES:
            raise InvalidArgument(f"chunk_bytes = {size} is over the limit {MAX_CHUNK_BYTES}; ask for less, or 0")
        db = self._state.database
        info, chunks = await run_in(executor, lambda: (db.snapshot_info(name), db.snapshots.chunks(name, size)))
        offset = 0
        try:
            while True:
                data = await run_in(executor, next, chunks, None)
                if data is None:
                    break
                yield convert_snapshot.snapshot_chunk(data, offset, info if offset == 0 else None)
                offset += len(data)
            if offset == 0:  # an empty file still announces itself
                yield convert_snapshot.snapshot_chunk(b"", 0, info)
        finally:
            chunks.close()  # closes the file; cheap, and safe in a cancelled task


def _name(name: str) -> str:
    if not name:
        raise InvalidArgument("name is empty: name the snapshot (list snapshots to see the names)")
    return name
