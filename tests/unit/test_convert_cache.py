"""The Cache service's wire conversions, both directions, on the server (convert_cache) and in
the SDK (_cache_ops): round trips, defaults of unset fields, and bad input refused by field."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from google.protobuf import descriptor_pool

import vecdb_client
from vecdb.cache.cache import CacheEntryRef, CacheLookup, CategoryStats
from vecdb.cache.policy import CachePolicy, LoadAdaptation
from vecdb.engine.errors import InvalidArgument
from vecdb.engine.filters import Filter
from vecdb.server import convert_cache as convert
from vecdb.server import convert_to_domain as to_domain
from vecdb.v1 import cache_service_pb2 as cache_pb
from vecdb.v1 import common_pb2 as common_pb
from vecdb_client import _cache_ops, errors, models

POLICY = CachePolicy(
    "code", threshold=0.92, ttl_seconds=3600.5, max_entries=100, max_bytes=1 << 20, exact_match_only=True,
    enabled=False, near_miss_margin=0.07, examples=("sort a list in python", "fix this segfault"),
    adaptation=LoadAdaptation(high_watermark=0.9, low_watermark=0.3, threshold_step=0.01,
                              max_threshold_relax=0.05, ttl_factor_step=0.25, max_ttl_factor=2.0),
)


LIMITS = {"max_prompt_bytes": 1024, "max_answer_bytes": 1024, "max_metadata_bytes": 1024}


def _vector(arr: np.ndarray, dtype: int = common_pb.FLOAT32) -> common_pb.Vector:
    return common_pb.Vector(data=arr.tobytes(), dtype=dtype, shape=list(arr.shape))


# ---- requests ------------------------------------------------------------------------------


def test_lookup_by_text_and_by_vector() -> None:
    args = convert.lookup_args(cache_pb.CacheLookupRequest(text="hello there", category="chat", model="m1"),
                              max_prompt_bytes=100)
    assert (args.prompt, args.vector, args.category, args.model) == ("hello there", None, "chat", "m1")

    vec = np.array([0.5, -1.0, 2.0], np.float16)
    args = convert.lookup_args(cache_pb.CacheLookupRequest(vector=_vector(vec, common_pb.FLOAT16)), max_prompt_bytes=1)
    assert args.prompt is None and args.vector is not None and args.vector.dtype == np.float32
    np.testing.assert_array_equal(args.vector, vec.astype(np.float32))
    assert (args.category, args.model) == ("", "")


@pytest.mark.parametrize("request_, needle", [
    (cache_pb.CacheLookupRequest(), "set text"),
    (cache_pb.CacheLookupRequest(text="   "), "text is empty"),
    (cache_pb.CacheLookupRequest(text="é" * 33), "text is 66 bytes, over the server maximum 64"),
    (cache_pb.CacheLookupRequest(vector=_vector(np.ones((2, 3), np.float32))), "not one vector"),
    (cache_pb.CacheLookupRequest(vector=_vector(np.ones(3, np.int8), common_pb.INT8)), "FLOAT32 or FLOAT16"),
    (cache_pb.CacheLookupRequest(vector=common_pb.Vector(data=b"\0" * 5, shape=[3])), "needs 12"),
])
def test_bad_lookups_are_refused_naming_the_field(request_: cache_pb.CacheLookupRequest, needle: str) -> None:
    with pytest.raises(InvalidArgument, match=needle):
        convert.lookup_args(request_, max_prompt_bytes=64)


def test_store_parses_metadata_and_the_optional_vector() -> None:
    req = cache_pb.CacheStoreRequest(prompt="p", answer="a", category="c", model="m",
                                     metadata_json='{"lang": "py", "n": [1, 2]}')
    args = convert.store_args(req, **LIMITS)
    assert (args.prompt, args.answer, args.category, args.model) == ("p", "a", "c", "m")
    assert args.metadata == {"lang": "py", "n": [1, 2]} and args.vector is None

    req.vector.CopyFrom(_vector(np.arange(4, dtype=np.float32)))
    req.metadata_json = ""
    args = convert.store_args(req, **LIMITS)
    assert args.metadata is None
    np.testing.assert_array_equal(args.vector, np.arange(4, dtype=np.float32))


@pytest.mark.parametrize("fields, needle", [
    ({"prompt": "", "answer": "a"}, "prompt is empty"),
    ({"prompt": "p", "answer": "a", "metadata_json": "[1, 2]"}, "must be a JSON object"),
    ({"prompt": "p", "answer": "a", "metadata_json": "{nope"}, "not valid JSON"),
    ({"prompt": "p", "answer": "a", "metadata_json": '{"k": "' + "x" * 100 + '"}'}, "over the server maximum 64"),
    ({"prompt": "p" * 65, "answer": "a"}, "prompt is 65 bytes, over the server maximum 64"),
    ({"prompt": "p", "answer": ""}, "answer is empty"),
    ({"prompt": "p", "answer": "ü" * 33}, "answer is 66 bytes, over the server maximum 64"),
])
def test_bad_stores_are_refused_naming_the_field(fields: dict[str, str], needle: str) -> None:
    with pytest.raises(InvalidArgument, match=needle):
        convert.store_args(cache_pb.CacheStoreRequest(**fields), max_prompt_bytes=64, max_answer_bytes=64,
                           max_metadata_bytes=64)


def test_invalidate_takes_exactly_one_selector() -> None:
    assert convert.invalidate_args(cache_pb.CacheInvalidateRequest(entry_id="ab" * 16)) == convert.InvalidateArgs(
        entry_id="ab" * 16)
    assert convert.invalidate_args(cache_pb.CacheInvalidateRequest(category="code")).category == "code"
    # An empty model name is a model of its own (the LLM the caller left unnamed).
    assert convert.invalidate_args(cache_pb.CacheInvalidateRequest(model="")) == convert.InvalidateArgs(model="")
    msg = common_pb.Filter(must=[common_pb.Condition(field=common_pb.FieldCondition(
        key="lang", match=common_pb.MatchValue(keyword="py")))])
    args = convert.invalidate_args(cache_pb.CacheInvalidateRequest(filter=msg))
    assert isinstance(args.filter, Filter) and args.filter == to_domain.filter_(msg, "filter")
    assert (args.entry_id, args.category, args.model) == (None, None, None)

    for req, needle in [
        (cache_pb.CacheInvalidateRequest(), "exactly one of"),
        (cache_pb.CacheInvalidateRequest(entry_id=""), "entry_id is empty"),
        (cache_pb.CacheInvalidateRequest(category=""), "category is empty"),
        (cache_pb.CacheInvalidateRequest(filter=common_pb.Filter()), "filter has no conditions"),
    ]:
        with pytest.raises(InvalidArgument, match=needle):
            convert.invalidate_args(req)


def test_small_requests() -> None:
    assert convert.get_policy_category(cache_pb.GetCachePolicyRequest(category="code")) == "code"
    assert convert.stats_category(cache_pb.CacheStatsRequest()) is None
    assert convert.stats_category(cache_pb.CacheStatsRequest(category="x")) == "x"
    # 0.9 is not a float32; it comes back as 0.9, not 0.8999999761581421.
    assert convert.load_report(cache_pb.ReportLoadRequest(model="gpt", load=0.9)) == ("gpt", 0.9)
    assert convert.false_hit_entry(cache_pb.ReportFalseHitRequest(entry_id="e1")) == "e1"
    with pytest.raises(InvalidArgument, match="category is empty"):
        convert.get_policy_category(cache_pb.GetCachePolicyRequest())
    with pytest.raises(InvalidArgument, match="entry_id is empty"):
        convert.false_hit_entry(cache_pb.ReportFalseHitRequest())
    assert math.isnan(convert.float32_value(float("nan")))


# ---- policies ------------------------------------------------------------------------------


def test_policy_round_trips_exactly() -> None:
    msg = convert.policy_message(POLICY)
    back = convert.policy(cache_pb.CachePolicy.FromString(msg.SerializeToString()))
    assert back == POLICY
    assert convert.policy(convert.policy_message(CachePolicy("x"))) == CachePolicy("x")


def test_unset_policy_fields_take_the_defaults_not_zero() -> None:
    assert convert.policy(cache_pb.CachePolicy(category="chat")) == CachePolicy("chat")
    msg = cache_pb.CachePolicy(category="chat", threshold=0.0, enabled=False,
                               adaptation=cache_pb.LoadAdaptation(threshold_step=0.05))
    p = convert.policy(msg)
    assert (p.threshold, p.enabled, p.ttl_seconds) == (0.0, False, CachePolicy("chat").ttl_seconds)
    assert p.adaptation == LoadAdaptation(threshold_step=0.05)


def test_policy_needs_a_category_and_leaves_ranges_to_the_cache() -> None:
    with pytest.raises(InvalidArgument, match="category is empty"):
        convert.policy(cache_pb.CachePolicy(threshold=0.5))
    # Out-of-range values pass through unchanged, so the cache's validate() names them.
    p = convert.policy(cache_pb.CachePolicy(category="c", threshold=1.5, ttl_seconds=-1.0))
    assert (p.threshold, p.ttl_seconds) == (1.5, -1.0)
    with pytest.raises(InvalidArgument, match="threshold"):
        p.validate()


# ---- responses -----------------------------------------------------------------------------


def test_lookup_responses_hit_and_miss() -> None:
    hit = CacheLookup(True, "code", 0.97, "xs[::-1]", "ab" * 16, 12.5, {"lang": "py"}, 0.9)
    msg = convert.lookup_response(hit)
    assert (msg.hit, msg.answer, msg.entry_id, msg.age_seconds, msg.category) == (
        True, "xs[::-1]", "ab" * 16, 12.5, "code")
    assert msg.metadata_json == '{"lang":"py"}' and msg.similarity == pytest.approx(0.97)
    assert msg.threshold == pytest.approx(0.9) and not msg.near_miss

    miss = convert.lookup_response(CacheLookup(False, "default", float("nan"), threshold=0.92))
    assert not miss.hit and miss.answer == "" and miss.entry_id == "" and math.isnan(miss.similarity)
    assert miss.metadata_json == ""
    near = convert.lookup_response(CacheLookup(False, "c", 0.88, entry_id="e", threshold=0.9, near_miss=True))
    assert near.near_miss and near.entry_id == "e"


def test_store_invalidate_and_stats_responses() -> None:
    assert convert.store_response(CacheEntryRef("e1", "code")) == cache_pb.CacheStoreResponse(
        entry_id="e1", category="code")
    assert convert.invalidate_response(7).removed == 7
    s = CategoryStats("code", entries=3, bytes=300, hits=5, misses=7, near_misses=2, false_hits=1, evictions=4,
                      expiries=6, threshold=0.88, ttl_seconds=7200.0, base_threshold=0.92, base_ttl_seconds=3600.0,
                      adaptation_level=2, lookup_p50_ms=0.25, lookup_p99_ms=1.5, invalidations=8)
    [c] = convert.stats_response([s]).categories
    ints = ("entries", "bytes", "hits", "misses", "near_misses", "false_hits", "evictions", "expiries",
            "adaptation_level", "invalidations")
    assert {n: getattr(c, n) for n in ints} == {n: getattr(s, n) for n in ints}
    for n in ("threshold", "ttl_seconds", "base_threshold", "base_ttl_seconds", "lookup_p50_ms", "lookup_p99_ms"):
        assert getattr(c, n) == pytest.approx(getattr(s, n)), n


# ---- the SDK side --------------------------------------------------------------------------


@pytest.mark.parametrize("sdk_type, core_type", [
    (models.CacheLookup, CacheLookup),
    (models.CacheEntryRef, CacheEntryRef),
    (models.CacheCategoryStats, CategoryStats),
    (models.CachePolicy, CachePolicy),
    (models.CacheLoadAdaptation, LoadAdaptation),
])
def test_sdk_types_mirror_the_core_types(sdk_type: type, core_type: type) -> None:
    sdk = [(f.name, f.default) for f in dataclasses.fields(sdk_type)]
    core = [(f.name, f.default) for f in dataclasses.fields(core_type)]
    assert sdk == core
    assert getattr(vecdb_client, sdk_type.__name__) is sdk_type


def test_a_policy_goes_from_the_sdk_to_the_cache_and_back_unchanged() -> None:
    sdk_policy = models.CachePolicy(
        "code", threshold=0.93, ttl_seconds=60.0, max_entries=5, max_bytes=0, exact_match_only=False,
        enabled=True, near_miss_margin=0.1, examples=("a", "b"),
        adaptation=models.CacheLoadAdaptation(high_watermark=0.8, max_ttl_factor=4.0),
    )
    wire = cache_pb.CachePolicy.FromString(_cache_ops.set_policy(sdk_policy).request.SerializeToString())
    domain = convert.policy(wire)
    assert dataclasses.asdict(domain) == dataclasses.asdict(sdk_policy)
    answer = cache_pb.CachePolicy.FromString(convert.policy_message(domain).SerializeToString())
    assert _cache_ops.set_policy(sdk_policy).parse(answer) == sdk_policy
    # A message with only the category set reads as the default policy, in the SDK too.
    assert _cache_ops._policy(cache_pb.CachePolicy(category="x")) == models.CachePolicy("x")


def test_sdk_parses_lookups_and_stats() -> None:
    hit = convert.lookup_response(CacheLookup(True, "code", 0.97, "ans", "e1", 3.0, {"k": 1}, 0.92))
    r = _cache_ops.lookup("q", None, "code", "m").parse(cache_pb.CacheLookupResponse.FromString(hit.SerializeToString()))
    assert r == models.CacheLookup(True, "code", 0.97, "ans", "e1", 3.0, {"k": 1}, 0.92, False)
    miss = _cache_ops.lookup("q", None, "", "").parse(convert.lookup_response(CacheLookup(False, "d", float("nan"))))
    assert not miss.hit and miss.answer is None and math.isnan(miss.similarity) and miss.metadata is None

    s = CategoryStats("c", 1, 10, 2, 3, 1, 0, 0, 0, 0.9, 60.0, 0.92, 30.0, 1, 0.1, 0.2)
    [back] = _cache_ops.stats(None).parse(convert.stats_response([s]))
    assert dataclasses.asdict(back) == dataclasses.asdict(s)


def test_sdk_builds_requests() -> None:
    call = _cache_ops.lookup(None, [1.0, 0.0, 0.5], "code", "gpt")
    assert call.rpc.path == "/vecdb.v1.Cache/Lookup" and call.request.WhichOneof("prompt") == "vector"
    np.testing.assert_array_equal(to_domain.vector_array(call.request.vector, "v"), [1.0, 0.0, 0.5])
    call = _cache_ops.store("p", "a", "c", "m", {"lang": "py"}, None)
    assert call.request.metadata_json == '{"lang":"py"}' and not call.request.HasField("vector")
    call = _cache_ops.invalidate(None, None, None, {"must": [{"key": "lang", "match": {"value": "py"}}]})
    assert convert.invalidate_args(call.request).filter is not None
    assert _cache_ops.invalidate(None, None, "", None).request.WhichOneof("selector") == "model"
    assert _cache_ops.report_load("m", 0.5).request.load == 0.5


@pytest.mark.parametrize("make, needle", [
    (lambda: _cache_ops.lookup(None, None, "", ""), "exactly one of prompt, vector"),
    (lambda: _cache_ops.lookup("p", [1.0], "", ""), "exactly one of prompt, vector"),
    (lambda: _cache_ops.lookup(None, [[1.0, 2.0]], "", ""), "1-D"),
    (lambda: _cache_ops.store("p", 3, "", "", None, None), "answer"),  # type: ignore[arg-type]
    (lambda: _cache_ops.store("p", "a", "", "", {"x": {1}}, None), "metadata"),  # type: ignore[dict-item]
    (lambda: _cache_ops.invalidate("e", "c", None, None), "got entry_id, category"),
    (lambda: _cache_ops.invalidate(None, None, None, None), "exactly one of"),
    (lambda: _cache_ops.set_policy(models.CachePolicy("c", max_entries=-1)), "max_entries"),
    (lambda: _cache_ops.set_policy(models.CachePolicy("c", threshold="high")), "threshold"),  # type: ignore[arg-type]
    (lambda: _cache_ops.report_load("m", "busy"), "load"),  # type: ignore[arg-type]
])
def test_sdk_refuses_what_the_wire_cannot_carry(make: object, needle: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=needle):
        make()  # type: ignore[operator]


def test_cache_rpc_table_matches_the_proto() -> None:
    pool = descriptor_pool.Default()
    service = pool.FindServiceByName("vecdb.v1.Cache")
    assert {rpc.path.rsplit("/", 1)[1] for rpc in _cache_ops.CACHE_RPCS} == set(service.methods_by_name)
    for rpc in _cache_ops.CACHE_RPCS:
        desc = service.methods_by_name[rpc.path.rsplit("/", 1)[1]]
        assert rpc.deserialize(b"").DESCRIPTOR.full_name == desc.output_type.full_name, rpc.path
