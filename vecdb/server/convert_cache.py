"""Wire <-> domain for the Cache service: the only module that touches cache protobuf messages.

Requests become small frozen argument records (`LookupArgs`, `StoreArgs`, ...) or a
`vecdb.cache.CachePolicy`; cache results become response messages. Checks here are those that
need only the request (a prompt is present, a vector is one vector, metadata is a JSON object,
exactly one invalidation selector); semantic checks (thresholds in [0, 1], TTL >= 0, size limits,
the vector's dimension) are the cache's, so they read the same in-process and over gRPC. Every
error is an `InvalidArgument` naming the field.

Thresholds, margins and loads travel as 32-bit floats; they are read back as the shortest
decimal that has the same float32 value (0.92 stays 0.92, not 0.9200000166893005), so a policy
round-trips through SetPolicy / GetPolicy unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vecdb.cache.policy import CachePolicy, LoadAdaptation
from vecdb.engine.errors import InvalidArgument
from vecdb.engine.filters import Filter
from vecdb.server import convert_to_domain as to_domain
from vecdb.v1 import cache_service_pb2 as cache_pb

if TYPE_CHECKING:
    from vecdb.cache.cache import CacheEntryRef, CacheLookup, CategoryStats

__all__ = [
    "InvalidateArgs",
    "LookupArgs",
    "StoreArgs",
    "false_hit_entry",
    "float32_value",
    "get_policy_category",
    "invalidate_args",
    "invalidate_response",
    "load_report",
    "lookup_args",
    "lookup_response",
    "policy",
    "policy_message",
    "report_false_hit_response",
    "report_load_response",
    "stats_category",
    "stats_response",
    "store_args",
    "store_response",
]

_FLOAT_DTYPES = ("float32", "float16")
_DEFAULT_POLICY = CachePolicy("default")
_DEFAULT_ADAPTATION = LoadAdaptation()


@dataclass(frozen=True)
class LookupArgs:
    """A Lookup: exactly one of prompt (text) and vector (float32, shape [dim])."""

    prompt: str | None
    vector: np.ndarray | None
    category: str
    model: str


@dataclass(frozen=True)
class StoreArgs:
    """A Store: the prompt always; the vector when the caller computed it."""

    prompt: str
    answer: str
    category: str
    model: str
    metadata: dict[str, Any] | None
    vector: np.ndarray | None


@dataclass(frozen=True)
class InvalidateArgs:
    """An Invalidate: exactly one selector is not None."""

    entry_id: str | None = None
    category: str | None = None
    model: str | None = None
    filter: Filter | None = None


def float32_value(value: float) -> float:
    """A float32 wire value as the shortest decimal with the same float32 value (NaN stays NaN)."""
    return float(str(np.float32(value)))


# ---- wire -> domain --------------------------------------------------------------------------


def _vector(msg: Any, where: str) -> np.ndarray:
    arr = to_domain.vector_array(msg, where)
    if arr.ndim != 1:
        shape = "[" + ", ".join(str(s) for s in arr.shape) + "]"
        raise InvalidArgument(f"{where}: shape {shape} is not one vector; use shape [dim]")
    if arr.dtype.name not in _FLOAT_DTYPES:
        raise InvalidArgument(f"{where}.dtype is {arr.dtype.name.upper()}; a prompt vector is FLOAT32 or FLOAT16")
    return arr.astype(np.float32)


def _check_text(text: str, where: str, max_bytes: int, what: str) -> None:
    if not text.strip():
        raise InvalidArgument(f"{where} is empty; give {what}")
    # len(text) <= bytes <= 4 * len(text): encode only when the character count is not decisive.
    size = len(text) if 4 * len(text) <= max_bytes else len(text.encode("utf-8"))
    if size > max_bytes:
        raise InvalidArgument(f"{where} is {size} bytes, over the server maximum {max_bytes}")


def lookup_args(req: cache_pb.CacheLookupRequest, *, max_prompt_bytes: int) -> LookupArgs:
    kind = req.WhichOneof("prompt")
    if kind is None:
        raise InvalidArgument("prompt: set text (the prompt) or vector (its embedding)")
    if kind == "text":
        _check_text(req.text, "text", max_prompt_bytes, "the prompt to look up")
        return LookupArgs(prompt=req.text, vector=None, category=req.category, model=req.model)
    return LookupArgs(prompt=None, vector=_vector(req.vector, "vector"), category=req.category, model=req.model)


def store_args(req: cache_pb.CacheStoreRequest, *, max_prompt_bytes: int, max_answer_bytes: int,
               max_metadata_bytes: int) -> StoreArgs:
    """Sizes are checked here as well as in the cache, so an oversized request is refused before
    its prompt is encoded."""
    _check_text(req.prompt, "prompt", max_prompt_bytes, "the prompt whose answer is stored")
    _check_text(req.answer, "answer", max_answer_bytes, "the model's answer text")
    metadata = to_domain.payload(req.metadata_json, "metadata_json", max_metadata_bytes)
    vector = _vector(req.vector, "vector") if req.HasField("vector") else None
    return StoreArgs(
        prompt=req.prompt, answer=req.answer, category=req.category, model=req.model,
        metadata=metadata, vector=vector,
    )


def invalidate_args(req: cache_pb.CacheInvalidateRequest) -> InvalidateArgs:
    kind = req.WhichOneof("selector")
    if kind is None:
        raise InvalidArgument("selector: set exactly one of entry_id, category, model, filter")
    if kind == "entry_id":
        if not req.entry_id:
            raise InvalidArgument("entry_id is empty; give the id a Store or a hit returned")
        return InvalidateArgs(entry_id=req.entry_id)
    if kind == "category":
        if not req.category:
            raise InvalidArgument("category is empty; name the category to invalidate")
        return InvalidateArgs(category=req.category)
    if kind == "model":
        return InvalidateArgs(model=req.model)
    f = to_domain.filter_(req.filter, "filter")
    if not (f.must or f.should or f.must_not):
        raise InvalidArgument(
            "filter has no conditions; give must / should / must_not conditions on the metadata "
            "(to remove a whole category or model, invalidate by category or model)"
        )
    return InvalidateArgs(filter=f)


def stats_category(req: cache_pb.CacheStatsRequest) -> str | None:
    """The category the stats are limited to, None for all."""
    return req.category or None


def get_policy_category(req: cache_pb.GetCachePolicyRequest) -> str:
    if not req.category:
        raise InvalidArgument("category is empty; name the category whose policy you want")
    return str(req.category)


def _opt(msg: Any, name: str, default: Any, *, f32: bool = False) -> Any:
    if not msg.HasField(name):
        return default
    value = getattr(msg, name)
    return float32_value(value) if f32 else value


def _adaptation(msg: cache_pb.LoadAdaptation) -> LoadAdaptation:
    d = _DEFAULT_ADAPTATION
    return LoadAdaptation(
        high_watermark=_opt(msg, "high_watermark", d.high_watermark, f32=True),
        low_watermark=_opt(msg, "low_watermark", d.low_watermark, f32=True),
        threshold_step=_opt(msg, "threshold_step", d.threshold_step, f32=True),
        max_threshold_relax=_opt(msg, "max_threshold_relax", d.max_threshold_relax, f32=True),
        ttl_factor_step=_opt(msg, "ttl_factor_step", d.ttl_factor_step, f32=True),
        max_ttl_factor=_opt(msg, "max_ttl_factor", d.max_ttl_factor, f32=True),
    )


def policy(msg: cache_pb.CachePolicy) -> CachePolicy:
    """A CachePolicy message as a domain policy; unset optional fields take the defaults. Not
    validated here: the cache's set_policy validates (and names the field)."""
    if not msg.category:
        raise InvalidArgument("category is empty; name the category the policy is for")
    d = _DEFAULT_POLICY
    return CachePolicy(
        category=msg.category,
        threshold=_opt(msg, "threshold", d.threshold, f32=True),
        ttl_seconds=float(_opt(msg, "ttl_seconds", d.ttl_seconds)),
        max_entries=int(msg.max_entries),
        max_bytes=int(msg.max_bytes),
        exact_match_only=bool(msg.exact_match_only),
        enabled=bool(_opt(msg, "enabled", d.enabled)),
        near_miss_margin=_opt(msg, "near_miss_margin", d.near_miss_margin, f32=True),
        examples=tuple(msg.examples),
        adaptation=_adaptation(msg.adaptation) if msg.HasField("adaptation") else _DEFAULT_ADAPTATION,
    )


def load_report(req: cache_pb.ReportLoadRequest) -> tuple[str, float]:
    """(model, load); the load's range is the cache's to check."""
    return str(req.model), float32_value(req.load)


def false_hit_entry(req: cache_pb.ReportFalseHitRequest) -> str:
    if not req.entry_id:
        raise InvalidArgument("entry_id is empty; give the id of the hit that was wrong")
    return str(req.entry_id)


# ---- domain -> wire --------------------------------------------------------------------------


def _json(value: dict[str, Any] | None) -> str:
    if not value:
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def lookup_response(r: CacheLookup) -> cache_pb.CacheLookupResponse:
    return cache_pb.CacheLookupResponse(
        hit=bool(r.hit),
        answer=r.answer or "",
        similarity=float(r.similarity),
        entry_id=r.entry_id,
        age_seconds=float(r.age_seconds),
        category=r.category,
        metadata_json=_json(r.metadata),
        threshold=float(r.threshold),
        near_miss=bool(r.near_miss),
    )


def store_response(ref: CacheEntryRef) -> cache_pb.CacheStoreResponse:
    return cache_pb.CacheStoreResponse(entry_id=ref.entry_id, category=ref.category)


def invalidate_response(removed: int) -> cache_pb.CacheInvalidateResponse:
    return cache_pb.CacheInvalidateResponse(removed=int(removed))


def stats_response(stats: Sequence[CategoryStats]) -> cache_pb.CacheStatsResponse:
    return cache_pb.CacheStatsResponse(
        categories=[
            cache_pb.CategoryStats(
                category=s.category,
                entries=int(s.entries),
                hits=int(s.hits),
                misses=int(s.misses),
                near_misses=int(s.near_misses),
                false_hits=int(s.false_hits),
                evictions=int(s.evictions),
                expiries=int(s.expiries),
                threshold=float(s.threshold),
                ttl_seconds=float(s.ttl_seconds),
                bytes=int(s.bytes),
                base_threshold=float(s.base_threshold),
                base_ttl_seconds=float(s.base_ttl_seconds),
                adaptation_level=int(s.adaptation_level),
                lookup_p50_ms=float(s.lookup_p50_ms),
                lookup_p99_ms=float(s.lookup_p99_ms),
                invalidations=int(s.invalidations),
            )
            for s in stats
        ]
    )


def policy_message(p: CachePolicy) -> cache_pb.CachePolicy:
    """Every field set, so the answer says exactly what is stored."""
    a = p.adaptation
    return cache_pb.CachePolicy(
        category=p.category,
        threshold=float(p.threshold),
        ttl_seconds=float(p.ttl_seconds),
        max_entries=int(p.max_entries),
        max_bytes=int(p.max_bytes),
        exact_match_only=bool(p.exact_match_only),
        enabled=bool(p.enabled),
        near_miss_margin=float(p.near_miss_margin),
        examples=list(p.examples),
        adaptation=cache_pb.LoadAdaptation(
            high_watermark=float(a.high_watermark),
            low_watermark=float(a.low_watermark),
            threshold_step=float(a.threshold_step),
            max_threshold_relax=float(a.max_threshold_relax),
            ttl_factor_step=float(a.ttl_factor_step),
            max_ttl_factor=float(a.max_ttl_factor),
        ),
    )


def report_load_response() -> cache_pb.ReportLoadResponse:
    return cache_pb.ReportLoadResponse()


def report_false_hit_response() -> cache_pb.ReportFalseHitResponse:
    return cache_pb.ReportFalseHitResponse()
