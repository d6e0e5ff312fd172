"""Dynamic micro-batching: concurrent encode calls gathered into shared model calls.

Callers asking the same model for the same kinds in the same role wait in one queue. A queue
sends a batch to the executor when it holds `max_batch` texts or when its oldest caller has
waited `max_wait_ms`, and keeps one batch in flight at a time: while the model works, the next
callers gather, so under load batches grow by themselves and at rest a lone caller waits at
most `max_wait_ms`. Results are split back to each caller in order.

Everything here runs on the event loop except the model call, which runs in the executor; its
result comes back through the asyncio future that `run_in_executor` gives (the loop sets it,
thread-safely). Bad input is refused before queueing, so it fails only its own caller; a model
call that raises fails every caller in its batch. A caller with more than `max_batch` texts is
split into several pieces, transparently.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from vecdb.encoder.registry import ModelRegistry
from vecdb.encoder.types import Encoded, EncodeKind, TextRole
from vecdb.encoder.validation import parse_kinds, parse_role
from vecdb.engine.errors import FailedPrecondition, Internal, InvalidArgument

__all__ = ["BatcherStats", "MicroBatcher"]

_Key = tuple[str, frozenset[EncodeKind], TextRole]


@dataclass(frozen=True)
class BatcherStats:
    """Counters since the batcher was made: model calls, texts encoded, the largest batch, and
    texts waiting now."""

    calls: int
    texts: int
    largest_batch: int
    pending: int


class _Piece:
    """Up to max_batch texts of one caller, and the future their results go to."""

    __slots__ = ("arrived", "future", "texts")

    def __init__(self, texts: list[str], future: asyncio.Future[list[Encoded]], arrived: float) -> None:
        self.texts = texts
        self.future = future
        self.arrived = arrived


class _Queue:
    __slots__ = ("n_texts", "pieces", "running", "timer")

    def __init__(self) -> None:
        self.pieces: deque[_Piece] = deque()
        self.n_texts = 0
        self.timer: asyncio.TimerHandle | None = None
        self.running = False


class MicroBatcher:
    """Gathers concurrent `encode` calls into model calls of up to `max_batch` texts.

    registry: the models (a model loads in the executor on its first call). executor: where
    model calls run (one or more threads; calls into one model are serialized by the model).
    max_batch: texts per model call. max_wait_ms: how long the first caller of a batch waits for
    company. Use it from one event loop.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        executor: Executor,
        *,
        max_batch: int = 64,
        max_wait_ms: float = 2.0,
    ) -> None:
        if max_batch < 1:
            raise InvalidArgument(f"max_batch = {max_batch}: use at least 1")
        if max_wait_ms < 0:
            raise InvalidArgument(f"max_wait_ms = {max_wait_ms}: use 0 or more")
        self.registry = registry
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self._executor = executor
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: dict[_Key, _Queue] = {}
        self._inflight: set[asyncio.Future[list[Encoded]]] = set()
        self._closed = False
        self._calls = 0
        self._texts = 0
        self._largest = 0

    async def encode(
        self,
        model: str | None,
        texts: Sequence[str],
        kinds: Iterable[EncodeKind | str],
        role: TextRole | str = TextRole.DOCUMENT,
    ) -> list[Encoded]:
        """One `Encoded` per text, in order. Raises the registry's errors for an unknown model,
        kinds it does not give and bad texts, before anything is queued."""
        if self._closed:
            raise FailedPrecondition("the encoder is shutting down and takes no new texts")
        name = self.registry.resolve(model)
        asked = parse_kinds(kinds)
        text_role = parse_role(role)
        self.registry.check_kinds(name, asked)
        self.registry.validate_texts(texts)
        loop = self._bind()
        key = (name, asked, text_role)
        now = loop.time()
        pieces = [
            _Piece(list(texts[start:start + self.max_batch]), loop.create_future(), now)
            for start in range(0, len(texts), self.max_batch)
        ]
        queue = self._queues.setdefault(key, _Queue())
        for piece in pieces:
            queue.pieces.append(piece)
            queue.n_texts += len(piece.texts)
        self._pump(key, queue)
        if len(pieces) == 1:
            return await pieces[0].future  # a cancelled caller cancels its piece
        try:
            parts = await asyncio.gather(*(p.future for p in pieces))
        except BaseException:
            for p in pieces:
                p.future.cancel()
            raise
        return [e for part in parts for e in part]

    async def close(self) -> None:
        """Refuse new calls, send what is queued without waiting for company, and return once
        every queued caller has its answer."""
        self._closed = True
        for key, queue in list(self._queues.items()):
            self._pump(key, queue)
        while self._inflight:
            await asyncio.wait(set(self._inflight))

    def stats(self) -> BatcherStats:
        pending = sum(q.n_texts for q in self._queues.values())
        return BatcherStats(self._calls, self._texts, self._largest, pending)

    # -- on the event loop --------------------------------------------------------------------------

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and (self._inflight or any(q.pieces for q in self._queues.values())):
                raise RuntimeError("this MicroBatcher has work queued on another event loop")
            self._loop = loop
            self._queues.clear()
        return loop

    def _pump(self, key: _Key, queue: _Queue, *, expired: bool = False) -> None:
        """Send the next batch of `queue` if it is due and none is in flight; else make sure a
        timer will look again when the oldest caller has waited long enough."""
        loop = self._loop
        assert loop is not None
        while not queue.running and queue.pieces:
            while queue.pieces and queue.pieces[0].future.done():  # cancelled callers
                queue.n_texts -= len(queue.pieces.popleft().texts)
            if not queue.pieces:
                break
            oldest = queue.pieces[0].arrived
            due = (
                expired or self._closed or queue.n_texts >= self.max_batch
                or loop.time() - oldest >= self.max_wait_s
            )
            if not due:
                if queue.timer is None:
                    queue.timer = loop.call_at(oldest + self.max_wait_s, self._on_timer, key, queue)
                return
            expired = False
            if queue.timer is not None:
                queue.timer.cancel()
                queue.timer = None
            batch: list[_Piece] = []
            size = 0
            while queue.pieces and size + len(queue.pieces[0].texts) <= self.max_batch:
                piece = queue.pieces.popleft()
                queue.n_texts -= len(piece.texts)
                if not piece.future.done():
                    batch.append(piece)
                    size += len(piece.texts)
            if batch:
                self._dispatch(key, queue, batch)
        if not queue.pieces and not queue.running and queue.timer is None and self._queues.get(key) is queue:
            del self._queues[key]

    def _on_timer(self, key: _Key, queue: _Queue) -> None:
        queue.timer = None
        self._pump(key, queue, expired=True)

    def _dispatch(self, key: _Key, queue: _Queue, batch: list[_Piece]) -> None:
        assert self._loop is not None
        name, kinds, role = key
        texts = [t for piece in batch for t in piece.texts]
        try:
            future = self._loop.run_in_executor(self._executor, self._call, name, texts, kinds, role)
        except RuntimeError as exc:  # the executor was shut down
            error = FailedPrecondition(f"the encoder executor is stopped: {exc}")
            for piece in batch:
                if not piece.future.done():
                    piece.future.set_exception(error)
            return
        queue.running = True
        self._inflight.add(future)
        self._calls += 1
        self._texts += len(texts)
        self._largest = max(self._largest, len(texts))
        future.add_done_callback(functools.partial(self._on_done, key, queue, batch))

    def _on_done(self, key: _Key, queue: _Queue, batch: list[_Piece],
                 future: asyncio.Future[list[Encoded]]) -> None:
        self._inflight.discard(future)
        queue.running = False
        if future.cancelled():
            for piece in batch:
                piece.future.cancel()
        elif (error := future.exception()) is not None:
            for piece in batch:
                if not piece.future.done():
                    piece.future.set_exception(error)
        else:
            results = future.result()
            expected = sum(len(p.texts) for p in batch)
            if len(results) != expected:
                mismatch = Internal(f"model {key[0]!r} gave {len(results)} results for {expected} texts")
                for piece in batch:
                    if not piece.future.done():
                        piece.future.set_exception(mismatch)
            else:
                offset = 0
                for piece in batch:
                    part = results[offset:offset + len(piece.texts)]
                    offset += len(piece.texts)
                    if not piece.future.done():
                        piece.future.set_result(part)
        self._pump(key, queue)

    # -- in the executor ----------------------------------------------------------------------------

    def _call(self, name: str, texts: list[str], kinds: frozenset[EncodeKind], role: TextRole) -> list[Encoded]:
        return self.registry.get(name).encode(texts, kinds, role)
