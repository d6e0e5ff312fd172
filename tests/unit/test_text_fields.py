"""The server's text-sourced fields, with a fake encoder: resolution on create, filling on
upsert, the model checks that keep two models' vectors apart."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pytest

from vecdb.encoder import Encoded, EncodeKind, EncoderLimits, ModelInfo
from vecdb.engine.errors import FailedPrecondition, InvalidArgument
from vecdb.engine.schema import CollectionConfig, DenseField, TextSource
from vecdb.engine.types import UpsertBatch
from vecdb.server.text_fields import TextFields


@dataclass
class FakeModel:
    info: ModelInfo


@dataclass
class FakeRegistry:
    hash: str = "aaaa"
    limits: EncoderLimits = EncoderLimits(max_texts=3)

    def get(self, name: str | None) -> FakeModel:
        return FakeModel(ModelInfo(name=name or "minilm", hash=self.hash, dim=3, max_tokens=8,
                                   kinds=(EncodeKind.DENSE,), device="cpu", dtype="float32"))


@dataclass
class FakeBatcher:
    calls: list[list[str]] = field(default_factory=list)

    async def encode(self, model: str | None, texts: list[str], kinds: object, role: object) -> list[Encoded]:
        assert len(texts) <= 3, "the fake model takes 3 texts per call, like EncoderLimits(max_texts=3)"
        self.calls.append(list(texts))
        return [Encoded(dense=np.array([len(t), 1, 0], np.float32), multi=None, sparse=None,
                        truncated=len(t) > 10, n_tokens=len(t)) for t in texts]


def make(hash: str = "aaaa") -> tuple[TextFields, FakeBatcher]:
    batcher = FakeBatcher()
    return TextFields(FakeRegistry(hash=hash), batcher, ThreadPoolExecutor(1)), batcher  # type: ignore[arg-type]


def config(dim: int = 0, model: str = "", key: str = "", model_hash: str = "") -> CollectionConfig:
    return CollectionConfig(name="c", vectors=(DenseField("t", dim, text_source=TextSource(model, key, model_hash)),))


def test_resolve_names_the_model_and_fills_dim_and_hash() -> None:
    fields, _ = make()
    resolved = asyncio.run(fields.resolve(config()))
    assert resolved.vectors[0].dim == 3 and resolved.vectors[0].text_source == TextSource("minilm", "", "aaaa")
    with pytest.raises(InvalidArgument, match="dim = 5, but model 'minilm' gives 3-d"):
        asyncio.run(fields.resolve(config(dim=5)))


def test_fill_encodes_texts_in_slices_and_reports_truncation() -> None:
    fields, batcher = make()
    texts = ["a", "bb", "a long text here", "ccc", "d", "e", "f"]
    batch = UpsertBatch(ids=list(range(7)), vectors={}, texts=texts)
    filled, truncated = asyncio.run(fields.fill(config(3, "minilm", model_hash="aaaa"), batch, {}))
    assert [len(c) for c in batcher.calls] == [3, 3, 1]
    assert filled.vectors["t"][:, 0].tolist() == [len(t) for t in texts] and truncated == [2]


def test_fill_reads_a_payload_key_and_names_a_point_without_text() -> None:
    fields, _ = make()
    cfg = config(3, "minilm", key="body.text", model_hash="aaaa")
    batch = UpsertBatch(ids=[1, 2], vectors={}, payloads=[{"body": {"text": "xy"}}, {"body": {}}])
    with pytest.raises(InvalidArgument, match=r"points\[1\] \(id 2\).*payload key 'body.text'"):
        asyncio.run(fields.fill(cfg, batch, {}))
    filled, _ = asyncio.run(fields.fill(cfg, UpsertBatch(ids=[1], vectors={}, payloads=[{"body": {"text": "xy"}}]), {}))
    assert filled.vectors["t"][0, 0] == 2


def test_client_vectors_must_name_the_fields_model() -> None:
    fields, batcher = make()
    cfg = config(3, "minilm", model_hash="aaaa")
    batch = UpsertBatch(ids=[1], vectors={"t": np.ones((1, 3), np.float32)})
    with pytest.raises(InvalidArgument, match=r"name the model these vectors came from in models\['t'\]"):
        asyncio.run(fields.fill(cfg, batch, {}))
    with pytest.raises(FailedPrecondition, match="never mix"):
        asyncio.run(fields.fill(cfg, batch, {"t": "other"}))
    filled, _ = asyncio.run(fields.fill(cfg, batch, {"t": "minilm"}))
    assert filled.vectors["t"].tolist() == [[1, 1, 1]] and batcher.calls == []


def test_a_model_whose_weights_changed_is_refused() -> None:
    fields, _ = make(hash="bbbb")
    batch = UpsertBatch(ids=[1], vectors={}, texts=["x"])
    with pytest.raises(FailedPrecondition, match="hash to aaaa.*now hashes to bbbb"):
        asyncio.run(fields.fill(config(3, "minilm", model_hash="aaaa"), batch, {}))
    with pytest.raises(FailedPrecondition, match="bbbb"):
        asyncio.run(fields.query_vectors(config(3, "minilm", model_hash="aaaa").vectors[0], ["x"]))


def test_many_query_texts_are_encoded_in_slices() -> None:
    fields, batcher = make()
    field = config(3, "minilm", model_hash="aaaa").vectors[0]
    vectors = asyncio.run(fields.query_vectors(field, ["a", "bb", "ccc", "dddd", "eeeee"]))
    assert [len(c) for c in batcher.calls] == [3, 2] and [v[0] for v in vectors] == [1, 2, 3, 4, 5]
