"""Id bookkeeping shared by the indexes that keep points in numbered slots.

Flat, quantized, inverted (sparse / BM25) and multi-vector indexes each map a point id to a slot
of their arrays: `_slot_of` (id -> slot), `_ids[slot]`, `_alive[slot]` and `_high` (slots ever
used). `SlotIds` answers the id questions of the VectorIndex contract from that state, under the
index's read lock.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

__all__ = ["SlotIds"]


class SlotIds:
    """`live_ids`, `__len__` and `__contains__` over `_slot_of`, `_ids`, `_alive`, `_high`."""

    _slot_of: dict[int, int]
    _ids: np.ndarray
    _alive: np.ndarray
    _high: int
    _lock: Any

    def live_ids(self) -> np.ndarray:
        """Every id in the index, uint64, in slot order."""
        with self._lock.read():
            return self._ids[: self._high][self._alive[: self._high]]

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, point_id: object) -> bool:
        try:
            return operator.index(point_id) in self._slot_of  # type: ignore[arg-type]
        except TypeError:
            return False
