"""Vector fields the server fills from text with its embedded encoder.

A field with a text source names an encoder model that gives its kind of vectors: pooled dense
vectors for a dense field, per-token vectors for a multi-vector field, SPLADE term weights for
a sparse field (a BM25 field needs no model: the engine analyzes its text itself). On create, the field gets the model's
canonical name, its dimension (when the request left it 0) and the content hash of its weights.
On upsert, each point's text (its own, or a payload key) is encoded in micro-batches and becomes
the field's vectors, unless the request carries vectors for the field and names the model they
came from. On query, query text is encoded with the field's model. Every path checks that the
server's model still has the hash the field recorded: vectors from two models never mix.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

import numpy as np

from vecdb.encoder import Encoded, EncodeKind, EncoderModel, MicroBatcher, ModelRegistry, TextRole
from vecdb.engine.errors import FailedPrecondition, InvalidArgument
from vecdb.engine.payload import split_key, values_at
from vecdb.engine.schema import (
    CollectionConfig,
    DenseField,
    MultiVectorField,
    SparseField,
    VectorField,
)
from vecdb.engine.types import UpsertBatch
from vecdb.server.executors import run_in

__all__ = ["TextFields"]

def encode_kind(field: VectorField) -> EncodeKind:
    """The encoder output a text-sourced field takes."""
    if isinstance(field, MultiVectorField):
        return EncodeKind.MULTI
    if isinstance(field, SparseField):
        return EncodeKind.SPARSE
    return EncodeKind.DENSE


def _text_fields(config: CollectionConfig) -> list[VectorField]:
    return [f for f in config.vectors if f.text_source is not None]


def _field_values(field: VectorField, encoded: list[Encoded]) -> Any:
    """Encoder output as the engine's input for the field's kind."""
    kind = encode_kind(field)
    if kind is EncodeKind.DENSE:
        return np.stack([e.dense for e in encoded])  # type: ignore[misc]
    if kind is EncodeKind.MULTI:
        return [e.multi for e in encoded]
    return [e.sparse for e in encoded]


class TextFields:
    """The encoder's side of collections: resolving, filling and querying text-sourced fields."""

    def __init__(self, registry: ModelRegistry, batcher: MicroBatcher, executor: Executor) -> None:
        self.registry = registry
        self.batcher = batcher
        self._executor = executor

    async def model(self, name: str | None) -> EncoderModel:
        """The named model (the default when empty), loaded in the encoder executor on first use."""
        return await run_in(self._executor, self.registry.get, name or None)  # type: ignore[arg-type]

    async def resolve(self, config: CollectionConfig) -> CollectionConfig:
        """The config as it will be stored: every text source names its model canonically and
        records the model's weights hash; a dim of 0 becomes the model's dimension."""
        fields: list[VectorField] = []
        for vf in config.vectors:
            if vf.text_source is None:
                fields.append(vf)
                continue
            kind = encode_kind(vf)
            info = (await self.model(vf.text_source.model)).info
            if kind not in info.kinds:
                raise InvalidArgument(
                    f"vectors[{vf.name!r}].text_source.model = {info.name!r} gives {[k.value for k in info.kinds]} "
                    f"vectors, not {kind.value} ones; name a {kind.value} model for a {vf.kind} field"
                )
            source = dataclasses.replace(vf.text_source, model=info.name, model_hash=info.hash)
            if isinstance(vf, SparseField):
                fields.append(dataclasses.replace(vf, text_source=source))
                continue
            if vf.dim and vf.dim != info.dim:
                raise InvalidArgument(
                    f"vectors[{vf.name!r}].dim = {vf.dim}, but model {info.name!r} gives {info.dim}-d vectors; "
                    "leave dim 0 to take the model's"
                )
            fields.append(dataclasses.replace(vf, dim=info.dim, text_source=source))
        return dataclasses.replace(config, vectors=tuple(fields))

    async def checked_model(self, field: VectorField) -> EncoderModel:
        """The field's model, refused when its weights are not those the field was built with."""
        assert field.text_source is not None
        source = field.text_source
        model = await self.model(source.model)
        if source.model_hash and model.info.hash != source.model_hash:
            raise FailedPrecondition(
                f"field {field.name!r} was built with model {source.model!r} whose weights hash to "
                f"{source.model_hash}; the server's {source.model!r} now hashes to {model.info.hash}, so its "
                "vectors would not be comparable. Serve the original weights under that name, or create a new "
                "collection for the new model"
            )
        return model

    def check_declared_model(self, field: VectorField, declared: str, where: str) -> None:
        """A client says its vectors for `field` came from model `declared`: it must be the field's."""
        if field.text_source is None:
            raise InvalidArgument(f"{where} names a model for field {field.name!r}, which has no text source")
        if declared != field.text_source.model:
            raise FailedPrecondition(
                f"{where} = {declared!r}, but field {field.name!r} holds vectors of model "
                f"{field.text_source.model!r}: vectors from two models never mix in one field"
            )

    async def fill(self, config: CollectionConfig, batch: UpsertBatch,
                   declared: Mapping[str, str]) -> tuple[UpsertBatch, list[int]]:
        """The batch with every text-sourced field's vectors, and the positions of the points
        whose text was truncated to the model window."""
        for name, model_name in declared.items():
            self.check_declared_model(config.field(name), model_name, f"models[{name!r}]")
        vectors = dict(batch.vectors)
        truncated: set[int] = set()
        for field in _text_fields(config):
            if field.name in batch.vectors:
                if field.name not in declared:
                    assert field.text_source is not None
                    raise InvalidArgument(
                        f"vectors[{field.name!r}]: the field is computed from text by model "
                        f"{field.text_source.model!r}; send the texts instead, or name the model these "
                        f"vectors came from in models[{field.name!r}]"
                    )
                await self.checked_model(field)
                continue
            model = await self.checked_model(field)
            encoded = await self._encode(model, _source_texts(field, batch), TextRole.DOCUMENT, encode_kind(field))
            vectors[field.name] = _field_values(field, encoded)
            truncated.update(i for i, e in enumerate(encoded) if e.truncated)
        return dataclasses.replace(batch, vectors=vectors), sorted(truncated)

    async def chunk(self, config: CollectionConfig, batch: UpsertBatch, window_tokens: int,
                    overlap_tokens: int) -> UpsertBatch:
        """Each point's text split into overlapping token windows, one point per window (see
        the Chunking message in points_service.proto for the ids and payload keys)."""
        fields = _text_fields(config)
        if (len(fields) != 1 or not isinstance(fields[0], DenseField) or fields[0].text_source is None
                or fields[0].text_source.payload_key):
            raise InvalidArgument(
                "chunking needs a collection with exactly one text-sourced dense field reading the point's "
                f"text; {config.name!r} has {[f.name for f in fields] or 'none'}"
            )
        if batch.vectors:
            raise InvalidArgument("chunking computes every vector from the text windows; send texts, not vectors")
        model = await self.checked_model(fields[0])
        texts = _source_texts(fields[0], batch)
        spans = await run_in(self._executor, lambda: [model.chunk_spans(t, window_tokens, overlap_tokens) for t in texts])
        ids: list[Any] = []
        payloads: list[dict[str, Any] | None] = []
        chunk_texts: list[str | None] = []
        for i, (pid, text) in enumerate(zip(batch.ids, texts)):
            base = batch.payloads[i] if batch.payloads is not None else None
            for n, (start, end) in enumerate(spans[i]):
                ids.append(str(uuid.uuid5(uuid.NAMESPACE_URL, f"vecdb:{pid}#{n}")))
                payloads.append({**(base or {}), "_document": pid, "_chunk": n, "_chunk_start": start, "_chunk_end": end})
                chunk_texts.append(text[start:end])
        return UpsertBatch(ids=ids, vectors={}, payloads=payloads, texts=chunk_texts)

    async def query_vectors(self, field: VectorField, texts: list[str]) -> list[Any]:
        """Query text encoded (as queries) by the field's model, in the field's kind."""
        if field.text_source is None:
            raise InvalidArgument(
                f"field {field.name!r} has no text source, so it cannot be queried by text; "
                "query it with a vector, or create the field with a text source"
            )
        model = await self.checked_model(field)
        return list(_field_values(field, await self._encode(model, texts, TextRole.QUERY, encode_kind(field))))

    async def _encode(self, model: EncoderModel, texts: list[str], role: TextRole,
                      kind: EncodeKind = EncodeKind.DENSE) -> list[Encoded]:
        """Vectors of one kind for any number of texts, in slices the encoder accepts in one call."""
        step = self.registry.limits.max_texts
        encoded: list[Encoded] = []
        for start in range(0, len(texts), step):
            encoded += await self.batcher.encode(model.info.name, texts[start:start + step], frozenset({kind}), role)
        return encoded


def _source_texts(field: VectorField, batch: UpsertBatch) -> list[str]:
    assert field.text_source is not None
    key = field.text_source.payload_key
    texts: list[str] = []
    for i in range(len(batch.ids)):
        text: Any
        if key:
            payload = batch.payloads[i] if batch.payloads is not None else None
            text = next((v for v in values_at(payload, split_key(key)) if isinstance(v, str)), None)
        else:
            text = batch.texts[i] if batch.texts is not None else None
        if not text:
            where = f"payload key {key!r}" if key else "text"
            raise InvalidArgument(
                f"points[{i}] (id {batch.ids[i]!r}): field {field.name!r} is computed from the point's {where}, "
                "but the point has none; give it text or send vectors for the field"
            )
        texts.append(text)
    return texts
