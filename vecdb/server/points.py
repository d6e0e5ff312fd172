"""The Points service: write, read, count, page through and delete points.

Mutations run in the write executor, reads in the search executor; each call parses, calls the
engine and converts the answer in one executor hop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from grpc import aio

from vecdb.engine.errors import InvalidArgument, VecdbError
from vecdb.engine.types import UpdateResult, UpsertBatch
from vecdb.server import convert_to_domain as to_domain
from vecdb.server import convert_to_proto as to_proto
from vecdb.server.executors import run_in
from vecdb.server.state import ServerState
from vecdb.v1.points_service_pb2_grpc import PointsServicer

__all__ = ["PointsService"]


class PointsService(PointsServicer):
    def __init__(self, state: ServerState) -> None:
        self._state = state

    async def _upsert(self, request: Any) -> tuple[UpdateResult, list[int]]:
        """Convert, fill text-sourced fields through the encoder, write. Returns the result and
        the positions of points whose text was truncated. A collection without text work takes
        one executor hop for conversion and write together."""
        settings = self._state.settings
        collection = self._state.database.collection(request.collection)
        config = collection.config  # an attribute: no lock on the event loop

        def convert() -> UpsertBatch:
            return to_domain.upsert_batch(
                request, max_payload_bytes=settings.max_payload_bytes, max_batch_points=settings.max_batch_points
            )

        needs_text = (request.HasField("chunking") or bool(request.models)
                      or any(vf.text_source is not None for vf in config.vectors))
        if not needs_text:
            return await run_in(self._state.executors.write, lambda: collection.upsert(convert())), []
        batch = await run_in(self._state.executors.write, convert)
        if request.HasField("chunking"):
            window, overlap = to_domain.chunking(request.chunking)
            batch = await self._state.text_fields.chunk(config, batch, window, overlap)
        batch, truncated = await self._state.text_fields.fill(config, batch, dict(request.models))
        return await run_in(self._state.executors.write, collection.upsert, batch), truncated

    async def Upsert(self, request: Any, context: aio.ServicerContext) -> Any:
        result, truncated = await self._upsert(request)
        return to_proto.update_result(result, truncated)

    async def UpsertStream(self, request_iterator: AsyncIterator[Any], context: aio.ServicerContext) -> Any:
        """Commit each message as its own atomic batch as it arrives; answer with the totals.

        Every message names the same collection (later ones may leave it empty). A failing
        message ends the call with its error; the batches before it stay committed, and the
        error says how many.
        """
        collection = ""
        total = 0
        sequence = 0
        index = -1
        truncated: list[int] = []
        async for request in request_iterator:
            index += 1
            if not collection:
                collection = request.collection
            elif request.collection and request.collection != collection:
                err = InvalidArgument(
                    f"collection = {request.collection!r} differs from {collection!r} named earlier in the stream"
                )
                raise _in_stream(err, index, total)
            if not request.collection:
                request.collection = collection
            try:
                result, cut = await self._upsert(request)
            except VecdbError as err:
                raise _in_stream(err, index, total) from None
            truncated += [total + i for i in cut]  # positions within the whole stream
            total += result.count
            sequence = result.sequence
        return to_proto.update_result(UpdateResult(sequence=sequence, count=total), truncated)

    async def Get(self, request: Any, context: aio.ServicerContext) -> Any:
        def get() -> Any:
            coll = self._state.database.collection(request.collection)
            config = self._state.config_if(request.collection, to_domain.needs_config(request.with_vectors))
            ids = to_domain.point_ids(request.ids, "ids")
            return to_proto.get_points(coll.get(ids, **to_domain.get_args(request, config)))

        return await run_in(self._state.executors.search, get)

    async def Delete(self, request: Any, context: aio.ServicerContext) -> Any:
        def delete() -> UpdateResult:
            selector = to_domain.delete_selector(request)
            coll = self._state.database.collection(request.collection)
            if isinstance(selector, list):
                return coll.delete_ids(selector)
            return coll.delete_filter(selector)

        return to_proto.update_result(await run_in(self._state.executors.write, delete))

    async def Count(self, request: Any, context: aio.ServicerContext) -> Any:
        def count() -> Any:
            flt = to_domain.optional_filter(request)
            return to_proto.count(self._state.database.collection(request.collection).count(flt))

        return await run_in(self._state.executors.search, count)

    async def Scroll(self, request: Any, context: aio.ServicerContext) -> Any:
        def scroll() -> Any:
            coll = self._state.database.collection(request.collection)
            config = self._state.config_if(request.collection, to_domain.needs_config(request.with_vectors))
            args = to_domain.scroll_args(request, config, max_limit=self._state.settings.max_limit)
            return to_proto.scroll_page(coll.scroll(**args))

        return await run_in(self._state.executors.search, scroll)


def _in_stream(err: VecdbError, index: int, committed_points: int) -> VecdbError:
    """The error, its message prefixed with where in the stream it happened."""
    err.message = (
        f"UpsertStream message {index}: {err.message} "
        f"(the {index} message(s) before it stay committed: {committed_points} points)"
    )
    err.args = (err.message,)
    return err
