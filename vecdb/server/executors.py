"""Named thread pools: the only place engine work runs.

The event loop never runs hnswlib, LMDB or numpy-heavy work; servicers hand it to one of two
pools. "vecdb-search" (search_workers threads) serves reads and queries, which hnswlib and LMDB
run with the GIL released. "vecdb-write" (write_workers threads, 1 by default) serves mutations
and admin work: LMDB has a single writer anyway, and a separate pool keeps a burst of writes from
starving queries (and the other way round). "vecdb-encoder" (one thread) runs the torch models.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Executors", "run_in"]

T = TypeVar("T")


@dataclass(frozen=True)
class Executors:
    search: ThreadPoolExecutor
    write: ThreadPoolExecutor
    encoder: ThreadPoolExecutor

    @classmethod
    def create(cls, *, search_workers: int, write_workers: int) -> Executors:
        return cls(
            search=ThreadPoolExecutor(max_workers=search_workers, thread_name_prefix="vecdb-search"),
            write=ThreadPoolExecutor(max_workers=write_workers, thread_name_prefix="vecdb-write"),
            # One thread: a model call already uses every core through torch's own threads, and
            # the micro-batcher gathers concurrent requests into that one call.
            encoder=ThreadPoolExecutor(max_workers=1, thread_name_prefix="vecdb-encoder"),
        )

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop every pool; with wait, return only after the work already queued has finished."""
        self.search.shutdown(wait=wait)
        self.write.shutdown(wait=wait)
        self.encoder.shutdown(wait=wait)


async def run_in(executor: ThreadPoolExecutor, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run fn(*args, **kwargs) in `executor` and await its result.

    The caller's contextvars (the request id) travel with it, so engine log lines can name the
    request. Cancelling the awaiting call does not stop the thread: a write that has started is
    committed or rolled back by the engine as a whole.
    """
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(executor, functools.partial(ctx.run, fn, *args, **kwargs))
