"""Engine tunables, set by the server from its settings."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["EngineOptions"]


@dataclass(frozen=True)
class EngineOptions:
    """Limits and tunables of the storage engine.

    max_limit: the largest k a query may ask for. max_batch_points: points per upsert call.
    max_payload_bytes: serialized size of one payload. map_size_bytes: initial LMDB map size per
    collection (virtual; it doubles when full). checkpoint_every_mutations: points changed since
    the last index checkpoint that trigger a background checkpoint. search_threads: threads one
    index call uses for a batch of queries or an insert batch. exact_scan_threshold: a filter
    admitting at most this many points is answered by an exact scan (recall 1.0) instead of the
    graph. kernel_device: where scoring kernels run, "cpu" or "cuda" (already resolved; see
    vecdb.kernels.resolve_device).
    """

    max_limit: int = 10_000
    max_batch_points: int = 100_000
    max_payload_bytes: int = 1 << 20
    map_size_bytes: int = 1 << 36
    checkpoint_every_mutations: int = 50_000
    search_threads: int = max(1, os.cpu_count() or 1)
    exact_scan_threshold: int = 2_000
    kernel_device: str = "cpu"
