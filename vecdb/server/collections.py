"""The Collections service: create, inspect and drop collections."""

from __future__ import annotations

from typing import Any

from grpc import aio

from vecdb.server import convert_to_domain as to_domain
from vecdb.server import convert_to_proto as to_proto
from vecdb.server.executors import run_in
from vecdb.server.state import ServerState
from vecdb.v1.collections_service_pb2_grpc import CollectionsServicer

__all__ = ["CollectionsService"]


class CollectionsService(CollectionsServicer):
    """Creates and drops run in the write executor, reads in the search executor."""

    def __init__(self, state: ServerState) -> None:
        self._state = state

    async def Create(self, request: Any, context: aio.ServicerContext) -> Any:
        """Text-sourced fields are resolved against the encoder first (model name, dimension,
        weights hash), so the stored config says exactly which model fills them."""
        config = to_domain.collection_config(request)
        if any(vf.text_source is not None for vf in config.vectors):
            config = await self._state.text_fields.resolve(config)

        def create() -> Any:
            return to_proto.collection_info(self._state.database.create_collection(config))

        return await run_in(self._state.executors.write, create)

    async def Get(self, request: Any, context: aio.ServicerContext) -> Any:
        def get() -> Any:
            return to_proto.collection_info(self._state.database.collection_info(request.name))

        return await run_in(self._state.executors.search, get)

    async def List(self, request: Any, context: aio.ServicerContext) -> Any:
        def list_() -> Any:
            return to_proto.list_collections(self._state.database.list_collections())

        return await run_in(self._state.executors.search, list_)

    async def Delete(self, request: Any, context: aio.ServicerContext) -> Any:
        def delete() -> Any:
            return to_proto.delete_collection(self._state.database.delete_collection(request.name))

        return await run_in(self._state.executors.write, delete)

    async def Exists(self, request: Any, context: aio.ServicerContext) -> Any:
        def exists() -> Any:
            return to_proto.exists(self._state.database.exists(request.name))

        return await run_in(self._state.executors.search, exists)
