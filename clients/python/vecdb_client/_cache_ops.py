"""What the semantic-cache methods of Client and AsyncClient send, and how they read the answers.

The same pattern as `_ops`: each function checks its arguments (types and what the wire cannot
carry; ranges are the server's to judge, so the message is the same from every client), builds
the request and returns a `Call` naming the RPC and the response parser. This is the only SDK
module that touches cache messages.

Thresholds, margins and loads travel as 32-bit floats; they are read back as the shortest
decimal with the same float32 value, so `cache_set_policy(p)` answers a policy equal to `p`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from vecdb.v1 import cache_service_pb2 as cache_pb
from vecdb.v1 import common_pb2 as common_pb
from vecdb_client import _wire, models
from vecdb_client._ops import Call, _rpc
from vecdb_client.errors import InvalidArgument

__all__ = [
    "CACHE_RPCS",
    "get_policy",
    "invalidate",
    "lookup",
    "report_false_hit",
    "report_load",
    "set_policy",
    "stats",
    "store",
]

CACHE_LOOKUP = _rpc("Cache", "Lookup", cache_pb.CacheLookupResponse)
CACHE_STORE = _rpc("Cache", "Store", cache_pb.CacheStoreResponse)
CACHE_INVALIDATE = _rpc("Cache", "Invalidate", cache_pb.CacheInvalidateResponse)
CACHE_STATS = _rpc("Cache", "Stats", cache_pb.CacheStatsResponse)
CACHE_GET_POLICY = _rpc("Cache", "GetPolicy", cache_pb.CachePolicy)
CACHE_SET_POLICY = _rpc("Cache", "SetPolicy", cache_pb.CachePolicy)
CACHE_REPORT_LOAD = _rpc("Cache", "ReportLoad", cache_pb.ReportLoadResponse)
CACHE_REPORT_FALSE_HIT = _rpc("Cache", "ReportFalseHit", cache_pb.ReportFalseHitResponse)

CACHE_RPCS = (
    CACHE_LOOKUP,
    CACHE_STORE,
    CACHE_INVALIDATE,
    CACHE_STATS,
    CACHE_GET_POLICY,
    CACHE_SET_POLICY,
    CACHE_REPORT_LOAD,
    CACHE_REPORT_FALSE_HIT,
)

_U64_MAX = 2**64 - 1


def _f32(value: float) -> float:
    """A float32 wire value as the shortest decimal with the same float32 value."""
    return float(str(np.float32(value)))


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{where}: must be a str, got {type(value).__name__}")
    return value


def _opt_str(value: object, where: str) -> str:
    return "" if value is None else _str(value, where)


def _u64(value: object, where: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"{where}: must be an int, got {value!r}")
    if not 0 <= int(value) <= _U64_MAX:
        raise InvalidArgument(f"{where}: must be 0 or more (0: unlimited), got {value!r}")
    return int(value)


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgument(f"{where}: must be a bool, got {value!r}")
    return bool(value)


# -- requests -------------------------------------------------------------------------------------


def lookup(
    prompt: str | None, vector: ArrayLike | None, category: str | None, model: str | None
) -> Call[models.CacheLookup]:
    if (prompt is None) == (vector is None):
        raise InvalidArgument("cache_lookup: pass exactly one of prompt, vector")
    request = cache_pb.CacheLookupRequest(
        category=_opt_str(category, "category"), model=_opt_str(model, "model")
    )
    if prompt is not None:
        request.text = _str(prompt, "prompt")
    else:
        assert vector is not None
        request.vector.CopyFrom(_wire.encode_vector(vector, "vector"))
    return Call(CACHE_LOOKUP, request, _lookup_result)


def store(
    prompt: str,
    answer: str,
    category: str | None,
    model: str | None,
    metadata: Mapping[str, Any] | None,
    vector: ArrayLike | None,
) -> Call[models.CacheEntryRef]:
    request = cache_pb.CacheStoreRequest(
        prompt=_str(prompt, "prompt"),
        answer=_str(answer, "answer"),
        category=_opt_str(category, "category"),
        model=_opt_str(model, "model"),
        metadata_json=_wire.payload_json(metadata, "metadata"),
    )
    if vector is not None:
        request.vector.CopyFrom(_wire.encode_vector(vector, "vector"))
    return Call(
        CACHE_STORE, request, lambda r: models.CacheEntryRef(entry_id=r.entry_id, category=r.category)
    )


def invalidate(
    entry_id: str | None, category: str | None, model: str | None, filter: Mapping[str, Any] | None
) -> Call[int]:
    given = [n for n, v in (("entry_id", entry_id), ("category", category), ("model", model),
                            ("filter", filter)) if v is not None]
    if len(given) != 1:
        raise InvalidArgument(
            "cache_invalidate: pass exactly one of entry_id, category, model, filter"
            + (f" (got {', '.join(given)})" if given else "")
        )
    request = cache_pb.CacheInvalidateRequest()
    if entry_id is not None:
        request.entry_id = _str(entry_id, "entry_id")
    elif category is not None:
        request.category = _str(category, "category")
    elif model is not None:
        request.model = _str(model, "model")
    else:
        request.filter.CopyFrom(_wire.build_filter(filter) or common_pb.Filter())
    return Call(CACHE_INVALIDATE, request, lambda r: int(r.removed))


def stats(category: str | None) -> Call[list[models.CacheCategoryStats]]:
    request = cache_pb.CacheStatsRequest(category=_opt_str(category, "category"))
    return Call(CACHE_STATS, request, lambda r: [_category_stats(s) for s in r.categories])


def get_policy(category: str) -> Call[models.CachePolicy]:
    request = cache_pb.GetCachePolicyRequest(category=_str(category, "category"))
    return Call(CACHE_GET_POLICY, request, _policy)


def set_policy(policy: models.CachePolicy) -> Call[models.CachePolicy]:
    return Call(CACHE_SET_POLICY, policy_message(policy), _policy)


def report_load(model: str, load: float) -> Call[None]:
    request = cache_pb.ReportLoadRequest(model=_str(model, "model"), load=_wire.real(load, "load"))
    return Call(CACHE_REPORT_LOAD, request, lambda r: None)


def report_false_hit(entry_id: str) -> Call[None]:
    request = cache_pb.ReportFalseHitRequest(entry_id=_str(entry_id, "entry_id"))
    return Call(CACHE_REPORT_FALSE_HIT, request, lambda r: None)


# -- policies -------------------------------------------------------------------------------------


def policy_message(policy: models.CachePolicy) -> cache_pb.CachePolicy:
    """Every field set: SetPolicy replaces the stored policy as a whole."""
    if not isinstance(policy, models.CachePolicy):
        raise InvalidArgument(f"policy: must be a CachePolicy, got {type(policy).__name__}")
    a = policy.adaptation
    if not isinstance(a, models.CacheLoadAdaptation):
        raise InvalidArgument(f"policy.adaptation: must be a CacheLoadAdaptation, got {type(a).__name__}")
    examples = policy.examples
    if isinstance(examples, str) or not all(isinstance(e, str) for e in examples):
        raise InvalidArgument("policy.examples: must be a sequence of str")
    adaptation = cache_pb.LoadAdaptation(
        **{name: _wire.real(getattr(a, name), f"policy.adaptation.{name}")
           for name in ("high_watermark", "low_watermark", "threshold_step", "max_threshold_relax",
                        "ttl_factor_step", "max_ttl_factor")}
    )
    return cache_pb.CachePolicy(
        category=_str(policy.category, "policy.category"),
        threshold=_wire.real(policy.threshold, "policy.threshold"),
        ttl_seconds=_wire.real(policy.ttl_seconds, "policy.ttl_seconds"),
        max_entries=_u64(policy.max_entries, "policy.max_entries"),
        max_bytes=_u64(policy.max_bytes, "policy.max_bytes"),
        exact_match_only=_bool(policy.exact_match_only, "policy.exact_match_only"),
        enabled=_bool(policy.enabled, "policy.enabled"),
        near_miss_margin=_wire.real(policy.near_miss_margin, "policy.near_miss_margin"),
        examples=list(examples),
        adaptation=adaptation,
    )


def _opt(msg: Any, name: str, default: float, *, f32: bool = True) -> Any:
    if not msg.HasField(name):
        return default
    value = getattr(msg, name)
    return _f32(value) if f32 else value


def _policy(msg: cache_pb.CachePolicy) -> models.CachePolicy:
    d = models.CachePolicy(msg.category)
    da = d.adaptation
    a = msg.adaptation
    return models.CachePolicy(
        category=msg.category,
        threshold=_opt(msg, "threshold", d.threshold),
        ttl_seconds=float(_opt(msg, "ttl_seconds", d.ttl_seconds, f32=False)),
        max_entries=int(msg.max_entries),
        max_bytes=int(msg.max_bytes),
        exact_match_only=bool(msg.exact_match_only),
        enabled=bool(_opt(msg, "enabled", d.enabled, f32=False)),
        near_miss_margin=_opt(msg, "near_miss_margin", d.near_miss_margin),
        examples=tuple(msg.examples),
        adaptation=models.CacheLoadAdaptation(
            high_watermark=_opt(a, "high_watermark", da.high_watermark),
            low_watermark=_opt(a, "low_watermark", da.low_watermark),
            threshold_step=_opt(a, "threshold_step", da.threshold_step),
            max_threshold_relax=_opt(a, "max_threshold_relax", da.max_threshold_relax),
            ttl_factor_step=_opt(a, "ttl_factor_step", da.ttl_factor_step),
            max_ttl_factor=_opt(a, "max_ttl_factor", da.max_ttl_factor),
        ),
    )


# -- responses ------------------------------------------------------------------------------------


def _lookup_result(r: cache_pb.CacheLookupResponse) -> models.CacheLookup:
    similarity = float(r.similarity)
    return models.CacheLookup(
        hit=bool(r.hit),
        category=r.category,
        similarity=similarity if math.isnan(similarity) else _f32(similarity),
        answer=r.answer if r.hit else None,
        entry_id=r.entry_id,
        age_seconds=float(r.age_seconds),
        metadata=_wire.payload_from_json(r.metadata_json),
        threshold=_f32(r.threshold),
        near_miss=bool(r.near_miss),
    )


def _category_stats(s: cache_pb.CategoryStats) -> models.CacheCategoryStats:
    return models.CacheCategoryStats(
        category=s.category,
        entries=int(s.entries),
        bytes=int(s.bytes),
        hits=int(s.hits),
        misses=int(s.misses),
        near_misses=int(s.near_misses),
        false_hits=int(s.false_hits),
        evictions=int(s.evictions),
        expiries=int(s.expiries),
        threshold=_f32(s.threshold),
        ttl_seconds=float(s.ttl_seconds),
        base_threshold=_f32(s.base_threshold),
        base_ttl_seconds=float(s.base_ttl_seconds),
        adaptation_level=int(s.adaptation_level),
        lookup_p50_ms=float(s.lookup_p50_ms),
        lookup_p99_ms=float(s.lookup_p99_ms),
        invalidations=int(s.invalidations),
    )
