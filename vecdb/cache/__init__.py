"""The category-aware semantic cache (issue 7).

`SemanticCache` answers "has a prompt like this been answered by this model?" with per-category
policies (`CachePolicy`: threshold, TTL, quota, exact-match-only, load adaptation). Answers live
in LMDB; per (category, model) HNSW graphs of ids live in memory and are rebuilt from LMDB on
open. See cache.py for the design.
"""

from __future__ import annotations

from vecdb.cache.cache import (
    CacheEntryRef,
    CacheItem,
    CacheLookup,
    CacheOptions,
    CategoryStats,
    ModelLoad,
    SemanticCache,
    normalize_prompt,
)
from vecdb.cache.classifier import NearestCentroid
from vecdb.cache.metrics import CacheMetrics
from vecdb.cache.policy import DEFAULT_CATEGORY, CachePolicy, LoadAdaptation

__all__ = [
    "DEFAULT_CATEGORY",
    "CacheEntryRef",
    "CacheItem",
    "CacheLookup",
    "CacheMetrics",
    "CacheOptions",
    "CachePolicy",
    "CategoryStats",
    "LoadAdaptation",
    "ModelLoad",
    "NearestCentroid",
    "SemanticCache",
    "normalize_prompt",
]
