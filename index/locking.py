"""A readers-writer lock for indexes whose structure must not change under a running query.

hnswlib allows many concurrent queries but no add, delete, resize or set_ef while one runs;
numpy-backed indexes swap arrays when they grow. Searches take `read()`, mutations take
`write()`. The lock prefers writers: once a writer waits, new readers queue behind it, so a
steady stream of searches cannot starve upserts. It is not reentrant: never take it again
while holding it (a reader that asks again would deadlock behind a waiting writer).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RWLock"]


class RWLock:
    """Many readers or one writer, writer-preferring, not reentrant."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold shared access for the duration of the `with` block."""
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold exclusive access for the duration of the `with` block."""
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            except BaseException:
                self._writers_waiting -= 1
                self._cond.notify_all()  # readers queued behind this writer may go now
                raise
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
