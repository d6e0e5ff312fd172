"""The Query service: nearest-neighbour search, one query or a batch, in the search executor."""

from __future__ import annotations

from typing import Any

from grpc import aio

from vecdb.server import convert_to_domain as to_domain
from vecdb.server import convert_to_proto as to_proto
from vecdb.server.executors import run_in
from vecdb.server.state import ServerState
from vecdb.v1.query_service_pb2_grpc import QueryServicer

__all__ = ["QueryService"]


class QueryService(QueryServicer):
    def __init__(self, state: ServerState) -> None:
        self._state = state

    async def Query(self, request: Any, context: aio.ServicerContext) -> Any:
        def query() -> Any:
            coll = self._state.database.collection(request.collection)
            config = self._state.config_if(request.collection, to_domain.needs_config(request.with_vectors))
            q = to_domain.nearest_query(request, config, max_limit=self._state.settings.max_limit)
            return to_proto.query_response(coll.query(q))

        return await run_in(self._state.executors.search, query)

    async def QueryBatch(self, request: Any, context: aio.ServicerContext) -> Any:
        """All queries are converted first (any error refuses the whole batch), then run in one
        engine call, which can search them together."""

        def query_batch() -> Any:
            settings = self._state.settings
            coll = self._state.database.collection(request.collection)
            config = self._state.config_if(request.collection, to_domain.batch_needs_config(request))
            qs = to_domain.nearest_queries(
                request, config, max_limit=settings.max_limit, max_queries=settings.max_queries_per_batch
            )
            if isinstance(qs, tuple):
                return to_proto.query_batch_response(coll.query_many(*qs))
            return to_proto.query_batch_response(coll.query_batch(qs) if qs else [])

        return await run_in(self._state.executors.search, query_batch)
