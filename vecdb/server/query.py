"""The Query service: single-stage and hybrid search, one query or a batch, in the search executor.

Texts in a query are encoded here, before the engine sees the query: a stage on a field with an
encoder text source gets its vector (dense, token vectors or SPLADE weights) from that model; a
stage on a BM25 field keeps its text, which the engine analyzes itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from grpc import aio

from vecdb.engine.schema import CollectionConfig
from vecdb.engine.types import HybridQuery, NearestQuery, Rerank
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
        coll = self._state.database.collection(request.collection)
        config = coll.config
        q = to_domain.query_request(request, config, max_limit=self._state.settings.max_limit)
        if isinstance(q, HybridQuery):
            q = await self._encode_hybrid(config, q)
        else:
            [q] = await self._encode_texts(config, [q], [request.model])
        return await run_in(self._state.executors.search, lambda: to_proto.query_response(coll.query(q)))

    async def QueryBatch(self, request: Any, context: aio.ServicerContext) -> Any:
        """All queries are converted first (any error refuses the whole batch), then run in one
        engine call, which can search them together."""
        settings = self._state.settings
        coll = self._state.database.collection(request.collection)
        qs = to_domain.nearest_queries(
            request, coll.config, max_limit=settings.max_limit, max_queries=settings.max_queries_per_batch
        )
        if isinstance(qs, tuple):
            template, vectors = qs
            if request.template.model:
                self._check_model(coll.config, template, request.template.model, "template.model")
            return await run_in(self._state.executors.search,
                                lambda: to_proto.query_batch_response(coll.query_many(template, vectors)))
        qs = await self._encode_texts(coll.config, qs, [r.model for r in request.queries])
        return await run_in(self._state.executors.search,
                            lambda: to_proto.query_batch_response(coll.query_batch(qs) if qs else []))

    def _check_model(self, config: CollectionConfig, q: NearestQuery, declared: str, where: str) -> None:
        self._state.text_fields.check_declared_model(config.resolve_using(q.using), declared, where)

    async def _encode_texts(self, config: CollectionConfig, queries: list[NearestQuery],
                            models: list[str]) -> list[NearestQuery]:
        """Queries by text on encoder-backed fields get their vectors from the field's model (one
        encoder call per field); declared models of client-side vectors are checked against the
        field's. Texts for BM25 fields stay texts."""
        out = list(queries)
        by_field: dict[str, list[int]] = {}
        for i, (q, model) in enumerate(zip(queries, models)):
            where = f"queries[{i}]" if len(queries) > 1 else "query"
            if model:
                self._check_model(config, q, model, f"{where}.model")
            if q.text is not None:
                field = config.resolve_using(q.using)
                if field.text_source is not None:
                    by_field.setdefault(field.name, []).append(i)
        for name, members in by_field.items():
            vectors = await self._state.text_fields.query_vectors(config.field(name), [out[i].text for i in members])  # type: ignore[misc]
            for i, vec in zip(members, vectors):
                out[i] = dataclasses.replace(out[i], vector=vec, text=None)
        return out

    async def _encode_hybrid(self, config: CollectionConfig, q: HybridQuery) -> HybridQuery:
        """The hybrid query with every stage's (and the rerank's) text encoded where needed."""
        stages: list[NearestQuery | HybridQuery] = []
        for stage in q.prefetch:
            if isinstance(stage, HybridQuery):
                stages.append(await self._encode_hybrid(config, stage))
            else:
                [encoded] = await self._encode_texts(config, [stage], [""])
                stages.append(encoded)
        rerank = q.rerank
        if rerank is not None:
            [encoded] = await self._encode_texts(config, [rerank.query], [""])
            rerank = Rerank(encoded)
        return dataclasses.replace(q, prefetch=tuple(stages), rerank=rerank)
