"""The public value types of the semantic cache: lookup results, store references, batch
items, per-category statistics, per-model load, and the cache's options."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from vecdb.cache.policy import DEFAULT_CATEGORY, CachePolicy
from vecdb.index import HnswIndexConfig

__all__ = [
    "CacheEntryRef",
    "CacheItem",
    "CacheLookup",
    "CacheOptions",
    "CategoryStats",
    "ModelLoad",
    "normalize_prompt",
]


def normalize_prompt(text: str) -> str:
    """What exact matching compares: stripped, whitespace collapsed, casefolded."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class CacheLookup:
    """The answer to one lookup. On a miss, `similarity` and `entry_id` describe the nearest
    live entry of the scope (nan and "" when there is none), for threshold tuning."""

    hit: bool
    category: str
    similarity: float
    answer: str | None = None
    entry_id: str = ""
    age_seconds: float = 0.0
    metadata: dict | None = None
    threshold: float = 0.0
    near_miss: bool = False


@dataclass(frozen=True)
class CacheEntryRef:
    entry_id: str
    category: str


@dataclass(frozen=True)
class CacheItem:
    """One entry for `store_many` (the arguments of `store`)."""

    prompt: str
    answer: str
    category: str = ""
    model: str = ""
    metadata: dict | None = None
    vector: np.ndarray | None = None


@dataclass(frozen=True)
class CategoryStats:
    """Counters since this process opened the cache; entries and bytes are what is held.

    threshold / ttl_seconds / adaptation_level are those of the most relaxed model of the
    category (level 0 and the base values when no model is under load).
    """

    category: str
    entries: int
    bytes: int
    hits: int
    misses: int
    near_misses: int
    false_hits: int
    evictions: int
    expiries: int
    threshold: float
    ttl_seconds: float
    base_threshold: float
    base_ttl_seconds: float
    adaptation_level: int
    lookup_p50_ms: float
    lookup_p99_ms: float
    invalidations: int = 0


@dataclass(frozen=True)
class ModelLoad:
    """A model's last reported load and its adaptation level per category (0 omitted)."""

    model: str
    load: float
    levels: dict[str, int]


@dataclass(frozen=True)
class CacheOptions:
    """Limits and tuning of a SemanticCache.

    max_prompt_bytes / max_answer_bytes / max_metadata_bytes: size limits (UTF-8 / JSON bytes).
    default_policy: the policy of category "default" until SetPolicy changes it (its name is
        forced to "default").
    map_size_bytes: LMDB map size (the most the cache can hold on disk).
    hnsw: graph parameters of every scope (num_threads speeds up bulk stores and the rebuild
        on open; a single lookup searches on one thread).
    search_k: candidates a vector lookup examines (the best unexpired one decides).
    classifier_min_similarity: a prompt whose nearest category centroid is less similar than
        this goes to "default".
    latency_reservoir: lookups per category kept for the p50/p99 in stats.
    """

    max_prompt_bytes: int = 64 * 1024
    max_answer_bytes: int = 1 << 20
    max_metadata_bytes: int = 64 * 1024
    default_policy: CachePolicy = field(default_factory=lambda: CachePolicy(DEFAULT_CATEGORY))
    map_size_bytes: int = 1 << 30
    hnsw: HnswIndexConfig = field(default_factory=lambda: HnswIndexConfig(
        ef_construct=100, ef=64, num_threads=min(8, os.cpu_count() or 1)))
    search_k: int = 4
    classifier_min_similarity: float = 0.2
    latency_reservoir: int = 4096
