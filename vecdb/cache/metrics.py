"""Prometheus metrics of one SemanticCache, on its own CollectorRegistry.

Counters per category: hits, misses, near-misses (misses just under the threshold), false-hit
reports, evictions (quota, LRU), expiries (TTL), invalidations (Invalidate, encoder change,
false-hit removal). Gauges: entries and bytes per category, each model's adaptation level and
last reported load, the effective threshold per (category, model) once a model has reported.
Histogram: lookup latency per category. The server exposes `registry` next to its own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["CacheMetrics"]

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class CacheMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry

        def counter(name: str, doc: str) -> Counter:
            return Counter(f"vecdb_cache_{name}", doc, ["category"], registry=r)

        self.hits = counter("hits", "Lookups answered from the cache")
        self.misses = counter("misses", "Lookups that found no entry at or above the threshold")
        self.near_misses = counter("near_misses", "Misses within near_miss_margin of the threshold")
        self.false_hits = counter("false_hits", "Hits reported wrong by the caller (ReportFalseHit)")
        self.evictions = counter("evictions", "Entries evicted by the category quota (LRU)")
        self.expiries = counter("expiries", "Entries removed because their TTL ran out")
        self.invalidations = counter("invalidations", "Entries removed by Invalidate, encoder change or false-hit reports")
        self.stores = counter("stores", "Entries stored")
        self.entries = Gauge("vecdb_cache_entries", "Entries held", ["category"], registry=r)
        self.bytes = Gauge("vecdb_cache_bytes", "Prompt + answer + metadata bytes held", ["category"], registry=r)
        self.adaptation_level = Gauge(
            "vecdb_cache_adaptation_level", "Load-adaptation level of a model (0 = none)", ["model"], registry=r)
        self.load = Gauge("vecdb_cache_model_load", "Last load reported for a model (0..1)", ["model"], registry=r)
        self.threshold = Gauge(
            "vecdb_cache_effective_threshold", "Threshold in effect after load adaptation",
            ["category", "model"], registry=r)
        self.ttl_factor = Gauge(
            "vecdb_cache_ttl_factor", "TTL multiplier in effect after load adaptation",
            ["category", "model"], registry=r)
        self.lookup_seconds = Histogram(
            "vecdb_cache_lookup_seconds", "Lookup latency (encoding included when the cache encodes)",
            ["category"], buckets=_LATENCY_BUCKETS, registry=r)
