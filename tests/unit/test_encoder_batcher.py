"""The micro-batcher: concurrent callers share model calls and each gets exactly its own vectors.

The real packaged MiniLM (loaded once for the module) checks vectors against direct calls; a fake
model, fast and instrumented, drives the concurrency, failure and shutdown cases.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from vecdb.encoder import (
    Encoded,
    EncodeKind,
    EncoderLimits,
    EncoderModel,
    MicroBatcher,
    ModelRegistry,
    ModelSpec,
    TextRole,
)
from vecdb.engine.errors import FailedPrecondition, InvalidArgument, NotFound

DENSE = frozenset({EncodeKind.DENSE})
BOTH = frozenset({EncodeKind.DENSE, EncodeKind.MULTI})


@pytest.fixture(scope="module")
def minilm() -> EncoderModel:
    return EncoderModel.load(ModelSpec("minilm", "minilm"), device="cpu")


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="test-encoder")
    yield pool
    pool.shutdown(wait=True)


class _Counting:
    """Wraps a model's encode, recording the size of every model call and the thread it ran on."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[int] = []
        self.threads: set[int] = set()
        self._encode: Any = model.encode

    def __call__(self, texts: list[str], kinds: frozenset[EncodeKind], role: TextRole) -> list[Encoded]:
        self.calls.append(len(texts))
        self.threads.add(threading.get_ident())
        result: list[Encoded] = self._encode(texts, kinds, role)
        return result


class _FakeModel:
    """Encodes a text as [len(text), hash-ish], after an optional delay; fails on request."""

    def __init__(self, spec: ModelSpec, delay_s: float = 0.0) -> None:
        self.spec = spec
        self.info = type("Info", (), {"name": spec.name, "kinds": spec.kinds, "hash": "fake"})()
        self.delay_s = delay_s
        self.fail: Exception | None = None

    def encode(self, texts: list[str], kinds: frozenset[EncodeKind], role: TextRole = TextRole.DOCUMENT
               ) -> list[Encoded]:
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail is not None:
            raise self.fail
        return [
            Encoded(dense=np.array([len(t), sum(map(ord, t)) % 9973, role == TextRole.QUERY], np.float32),
                    multi=None, sparse=None, truncated=False, n_tokens=len(t))
            for t in texts
        ]


def _fake_registry(delay_s: float = 0.0, **kwargs: Any) -> tuple[ModelRegistry, _Counting]:
    model = _FakeModel(ModelSpec("minilm", "minilm"), delay_s)
    counting = _Counting(model)
    model.encode = counting  # type: ignore[method-assign,assignment]

    def loader(spec: ModelSpec, device: str) -> Any:
        return model

    return ModelRegistry(loader=loader, **kwargs), counting


def _want(text: str, role: TextRole = TextRole.DOCUMENT) -> list[float]:
    return [len(text), sum(map(ord, text)) % 9973, role == TextRole.QUERY]


# -- with the real model ------------------------------------------------------------------------------


def test_concurrent_callers_get_their_own_vectors(minilm: EncoderModel, executor: ThreadPoolExecutor,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    registry = ModelRegistry(device="cpu", loader=lambda spec, device: minilm)
    counting = _Counting(minilm)
    monkeypatch.setattr(minilm, "encode", counting)
    words = (EncoderModel.__doc__ or "").split() + (MicroBatcher.__doc__ or "").split()
    callers = [[" ".join(words[i:i + 3 + i % 7])] + ([f"caller {i} second text"] if i % 3 == 0 else [])
               for i in range(32)]

    async def main() -> list[list[Encoded]]:
        batcher = MicroBatcher(registry, executor, max_batch=64, max_wait_ms=5.0)
        loop_thread = threading.get_ident()
        out = await asyncio.gather(*(batcher.encode(None, texts, BOTH, TextRole.QUERY) for texts in callers))
        assert loop_thread not in counting.threads  # the model ran in the executor
        await batcher.close()
        return out

    results = asyncio.run(main())
    assert len(counting.calls) < len(callers)
    assert sum(counting.calls) == sum(len(t) for t in callers)
    monkeypatch.undo()
    for texts, got in zip(callers, results):
        direct = minilm.encode(texts, BOTH, TextRole.QUERY)
        assert len(got) == len(texts)
        for g, d in zip(got, direct):
            assert g.dense is not None and d.dense is not None and g.multi is not None and d.multi is not None
            np.testing.assert_allclose(g.dense, d.dense, atol=1e-5)
            assert g.multi.shape == d.multi.shape and g.n_tokens == d.n_tokens
            np.testing.assert_allclose(g.multi, d.multi, atol=1e-5)


def test_first_call_loads_the_model_in_the_executor(executor: ThreadPoolExecutor) -> None:
    loads: list[int] = []

    def loader(spec: ModelSpec, device: str) -> Any:
        loads.append(threading.get_ident())
        return _FakeModel(spec)

    registry = ModelRegistry(loader=loader)

    async def main() -> int:
        batcher = MicroBatcher(registry, executor)
        await asyncio.gather(*(batcher.encode("minilm", [f"t{i}"], DENSE, TextRole.DOCUMENT) for i in range(4)))
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert len(loads) == 1 and loads[0] != loop_thread


# -- with a fake model ----------------------------------------------------------------------------------


def test_heavy_concurrency_each_caller_gets_its_own(executor: ThreadPoolExecutor) -> None:
    registry, counting = _fake_registry(delay_s=0.002, limits=EncoderLimits(max_texts=40))
    rng = random.Random(7)
    callers = [([f"c{i}-t{j}-" + "x" * rng.randrange(20) for j in range(rng.randrange(1, 40))],
                rng.choice(list(TextRole))) for i in range(300)]

    async def one(batcher: MicroBatcher, texts: list[str], role: TextRole) -> list[Encoded]:
        await asyncio.sleep(rng.random() * 0.02)
        return await batcher.encode("minilm", texts, DENSE, role)

    async def main() -> list[list[Encoded]]:
        batcher = MicroBatcher(registry, executor, max_batch=16, max_wait_ms=1.0)
        out = await asyncio.gather(*(one(batcher, texts, role) for texts, role in callers))
        await batcher.close()
        assert batcher.stats().calls == len(counting.calls) and batcher.stats().pending == 0
        return out

    results = asyncio.run(main())
    for (texts, role), got in zip(callers, results):
        assert [list(e.dense) for e in got] == [_want(t, role) for t in texts]  # type: ignore[arg-type]
    assert max(counting.calls) <= 16
    assert sum(counting.calls) == sum(len(t) for t, _ in callers)
    pieces = sum(-(-len(t) // 16) for t, _ in callers)  # callers split into pieces of <= 16 texts
    assert len(counting.calls) < pieces  # pieces of different callers shared calls


def test_a_caller_over_max_batch_is_split(executor: ThreadPoolExecutor) -> None:
    registry, counting = _fake_registry()
    texts = [f"text number {i}" for i in range(10)]

    async def main() -> list[Encoded]:
        batcher = MicroBatcher(registry, executor, max_batch=4, max_wait_ms=1.0)
        return await batcher.encode(None, texts, DENSE, TextRole.DOCUMENT)

    got = asyncio.run(main())
    assert [list(e.dense) for e in got] == [_want(t) for t in texts]  # type: ignore[arg-type]
    assert sorted(counting.calls) == [2, 4, 4]


def test_a_failing_model_call_fails_every_caller_in_its_batch(executor: ThreadPoolExecutor) -> None:
    registry, counting = _fake_registry()
    model = registry.get("minilm")
    model.fail = RuntimeError("CUDA out of memory")  # type: ignore[attr-defined]

    async def main() -> list[Any]:
        batcher = MicroBatcher(registry, executor, max_batch=64, max_wait_ms=5.0)
        out = await asyncio.gather(*(batcher.encode(None, [f"t{i}"], DENSE, TextRole.DOCUMENT) for i in range(6)),
                                   return_exceptions=True)
        model.fail = None  # type: ignore[attr-defined]
        after = await batcher.encode(None, ["fine"], DENSE, TextRole.DOCUMENT)  # the batcher goes on
        return [*out, after]

    *failed, after = asyncio.run(main())
    assert len(counting.calls) == 2 and counting.calls[0] == 6
    assert all(isinstance(e, RuntimeError) and "out of memory" in str(e) for e in failed)
    assert list(after[0].dense) == _want("fine")


def test_bad_input_fails_only_its_caller(executor: ThreadPoolExecutor) -> None:
    registry, counting = _fake_registry(limits=EncoderLimits(max_texts=3, max_text_bytes=50))
    requests: list[tuple[Any, Any, Any]] = [
        (None, ["good one"], DENSE),
        (None, ["ok", ""], DENSE),
        (None, ["a", "b", "c", "d"], DENSE),
        (None, ["x" * 51], DENSE),
        (None, ["bad \udc80"], DENSE),
        ("e5", ["ok"], DENSE),
        (None, ["ok"], frozenset({EncodeKind.SPARSE})),
        (None, ["good two"], DENSE),
    ]

    async def main() -> list[Any]:
        batcher = MicroBatcher(registry, executor, max_batch=64, max_wait_ms=5.0)
        return await asyncio.gather(
            *(batcher.encode(m, t, k, TextRole.DOCUMENT) for m, t, k in requests), return_exceptions=True
        )

    out = asyncio.run(main())
    assert list(out[0][0].dense) == _want("good one") and list(out[7][0].dense) == _want("good two")
    assert [type(e) for e in out[1:7]] == [InvalidArgument] * 4 + [NotFound, InvalidArgument]
    assert "texts[1] is empty" in str(out[1]) and "texts[0] is not valid UTF-8" in str(out[4])
    assert counting.calls == [2]  # the two good callers, in one call


def test_a_cancelled_caller_does_not_disturb_the_others(executor: ThreadPoolExecutor) -> None:
    registry, counting = _fake_registry(delay_s=0.01)

    async def main() -> tuple[list[Encoded], list[Encoded]]:
        batcher = MicroBatcher(registry, executor, max_batch=4, max_wait_ms=1.0)
        first = asyncio.ensure_future(batcher.encode(None, ["a", "b", "c", "d"], DENSE, TextRole.DOCUMENT))
        doomed = asyncio.ensure_future(batcher.encode(None, [f"d{i}" for i in range(8)], DENSE, TextRole.DOCUMENT))
        last = asyncio.ensure_future(batcher.encode(None, ["z"], DENSE, TextRole.DOCUMENT))
        await asyncio.sleep(0)
        doomed.cancel()
        got = await asyncio.gather(first, last)
        with pytest.raises(asyncio.CancelledError):
            await doomed
        await batcher.close()
        return got[0], got[1]

    first, last = asyncio.run(main())
    assert [list(e.dense) for e in first] == [_want(t) for t in "abcd"]  # type: ignore[arg-type]
    assert list(last[0].dense) == _want("z")  # type: ignore[arg-type]
    assert "d0" not in "".join(str(c) for c in counting.calls) and sum(counting.calls) == 5


def test_close_drains_queued_callers_then_refuses(executor: ThreadPoolExecutor) -> None:
    registry, counting = _fake_registry(delay_s=0.02)

    async def main() -> tuple[list[list[Encoded]], Exception | None]:
        batcher = MicroBatcher(registry, executor, max_batch=2, max_wait_ms=1000.0)
        tasks = [asyncio.ensure_future(batcher.encode(None, [f"t{i}"], DENSE, TextRole.DOCUMENT)) for i in range(5)]
        await asyncio.sleep(0)
        started = time.monotonic()
        await batcher.close()
        assert all(t.done() for t in tasks) and time.monotonic() - started < 0.9  # no 1 s wait
        refused = None
        try:
            await batcher.encode(None, ["late"], DENSE, TextRole.DOCUMENT)
        except FailedPrecondition as exc:
            refused = exc
        return [t.result() for t in tasks], refused

    results, refused = asyncio.run(main())
    assert [list(r[0].dense) for r in results] == [_want(f"t{i}") for i in range(5)]  # type: ignore[arg-type]
    assert isinstance(refused, FailedPrecondition) and "shutting down" in str(refused)
    assert counting.calls == [2, 2, 1]


def test_a_lone_caller_waits_about_max_wait(executor: ThreadPoolExecutor) -> None:
    registry, counting = _fake_registry()

    async def main() -> float:
        batcher = MicroBatcher(registry, executor, max_batch=64, max_wait_ms=30.0)
        await batcher.encode(None, ["warm"], DENSE, TextRole.DOCUMENT)
        started = time.monotonic()
        await batcher.encode(None, ["alone"], DENSE, TextRole.DOCUMENT)
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    assert 0.025 <= elapsed < 0.5 and counting.calls == [1, 1]


def test_bad_settings_are_refused(executor: ThreadPoolExecutor) -> None:
    registry, _ = _fake_registry()
    with pytest.raises(InvalidArgument, match="max_batch"):
        MicroBatcher(registry, executor, max_batch=0)
    with pytest.raises(InvalidArgument, match="max_wait_ms"):
        MicroBatcher(registry, executor, max_wait_ms=-1)
