"""The Encoder service: text in, vectors out, through the shared micro-batcher."""

from __future__ import annotations

from typing import Any

from grpc import aio

from vecdb.server import convert_to_domain as to_domain
from vecdb.server import convert_to_proto as to_proto
from vecdb.server.executors import run_in
from vecdb.server.state import ServerState
from vecdb.v1.encoder_service_pb2_grpc import EncoderServicer

__all__ = ["EncoderService"]


class EncoderService(EncoderServicer):
    def __init__(self, state: ServerState) -> None:
        self._state = state

    async def Encode(self, request: Any, context: aio.ServicerContext) -> Any:
        """Concurrent calls are gathered into shared model calls by the micro-batcher."""
        texts, kind, model_name, role = to_domain.encode_args(request)
        text_fields = self._state.text_fields
        model = await text_fields.model(model_name)
        encoded = await text_fields.batcher.encode(model.info.name, texts, frozenset({kind}), role)
        return to_proto.encode_response(encoded, kind, model.info)

    async def ListModels(self, request: Any, context: aio.ServicerContext) -> Any:
        """Every configured model, loading the ones not loaded yet."""
        text_fields = self._state.text_fields
        infos = await run_in(self._state.executors.encoder, text_fields.registry.load_all)
        return to_proto.list_models(infos)
