"""The Admin service: server information, statistics, index checkpoints and codebook retraining.

Snapshots (issue 9) answer UNIMPLEMENTED. Stats and Checkpoint run in the write executor, which
holds admin work so it never competes with query threads.
"""

from __future__ import annotations

from typing import Any, NoReturn

from grpc import aio

import vecdb
from vecdb.engine.errors import InvalidArgument, Unimplemented
from vecdb.server import convert_to_proto as to_proto
from vecdb.server.executors import run_in
from vecdb.server.state import ServerState
from vecdb.v1.admin_service_pb2_grpc import AdminServicer

__all__ = ["CAPABILITIES", "SNAPSHOT_CAPABILITY", "AdminService"]

CAPABILITIES: tuple[str, ...] = (
    "dense", "filters", "payload_indexes", "batch_query", "bulk_upsert", "quantization", "multivector",
    "sparse", "bm25", "hybrid",
)
"""What this version implements; clients check it before using optional features."""

SNAPSHOT_CAPABILITY = "snapshots (issue 9)"


class AdminService(AdminServicer):
    def __init__(self, state: ServerState) -> None:
        self._state = state

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

    def _refuse(self) -> NoReturn:
        raise Unimplemented(SNAPSHOT_CAPABILITY)

    async def CreateSnapshot(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()

    async def ListSnapshots(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()

    async def DeleteSnapshot(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()

    async def RestoreSnapshot(self, request: Any, context: aio.ServicerContext) -> Any:
        self._refuse()
