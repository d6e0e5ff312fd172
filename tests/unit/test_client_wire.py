"""The SDK's conversions and call handling, without a real server.

Pure conversion tests (filters, vectors, ids, payloads, error mapping, public signatures) plus a
few calls against tiny in-test fake gRPC servers built on the generated servicer base classes
(retries, typed errors from trailers, deadlines, client-streaming upload).
"""

from __future__ import annotations

import asyncio
import inspect
import pickle
import re
import sys
import threading
import time
import typing
import uuid
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.message import Message

import vecdb_client
from vecdb.v1 import collections_service_pb2 as coll_pb
from vecdb.v1 import collections_service_pb2_grpc as coll_grpc
from vecdb.v1 import common_pb2 as common_pb
from vecdb.v1 import encoder_service_pb2 as enc_pb
from vecdb.v1 import encoder_service_pb2_grpc as enc_grpc
from vecdb.v1 import points_service_pb2 as points_pb
from vecdb.v1 import points_service_pb2_grpc as points_grpc
from vecdb.v1 import query_service_pb2 as query_pb
from vecdb_client import (
    AsyncClient,
    Client,
    CollectionInfo,
    Record,
    VectorParams,
    _ops,
    _transport,
    _wire,
    errors,
    models,
)

UUID_A = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"


def invalid(match: str) -> Any:
    return pytest.raises(errors.InvalidArgument, match=match)


# -- filters --------------------------------------------------------------------------------------


def test_match_value_picks_the_wire_type_and_checks_bool_before_int() -> None:
    f = _wire.build_filter(
        {
            "must": [
                {"key": "color", "match": {"value": "red"}},
                {"key": "n", "match": {"value": 3}},
                {"key": "flag", "match": {"value": True}},
                {"key": "flag2", "match": {"value": np.bool_(False)}},
                {"key": "big", "match": {"value": np.int64(-(2**63))}},
            ]
        }
    )
    assert f is not None
    values = [c.field.match for c in f.must]
    assert [v.WhichOneof("value") for v in values] == [
        "keyword",
        "integer",
        "boolean",
        "boolean",
        "integer",
    ]
    assert values[0].keyword == "red" and values[1].integer == 3
    assert values[2].boolean is True and values[3].boolean is False
    assert values[4].integer == -(2**63)
    assert [c.field.key for c in f.must] == ["color", "n", "flag", "flag2", "big"]


def test_match_any_range_has_id_is_empty_and_clauses() -> None:
    f = _wire.build_filter(
        {
            "must": [
                {"key": "tags", "match": {"any": ["a", "b"]}},
                {"key": "year", "match": {"any": [2020, np.int32(2021)]}},
                {"key": "price", "range": {"gte": 1, "lt": 10.5, "gt": None}},
            ],
            "should": [{"has_id": [7, UUID_A.upper()]}],
            "must_not": [{"is_empty": {"key": "notes"}}],
        }
    )
    assert f is not None
    assert list(f.must[0].field.any.keywords) == ["a", "b"] and not f.must[0].field.any.integers
    assert list(f.must[1].field.any.integers) == [2020, 2021]
    rng = f.must[2].field.range
    assert rng.HasField("gte") and rng.HasField("lt")
    assert not rng.HasField("gt") and not rng.HasField("lte")
    assert (rng.gte, rng.lt) == (1.0, 10.5)
    ids = f.should[0].has_id.ids
    assert ids[0].num == 7 and ids[1].uuid == UUID_A
    assert f.must_not[0].is_empty.key == "notes"


def test_nested_filters_and_single_condition_clause() -> None:
    f = _wire.build_filter(
        {
            "must": [
                {
                    "should": [
                        {"key": "a", "match": {"value": 1}},
                        {"key": "b", "match": {"value": 2}},
                    ]
                },
                {"must_not": [{"has_id": [1]}], "must": [{"key": "c", "range": {"lte": 0}}]},
            ],
            "must_not": {"key": "d", "match": {"value": "x"}},  # one condition instead of a list
        }
    )
    assert f is not None
    nested = f.must[0].filter
    assert f.must[0].WhichOneof("condition") == "filter"
    assert [c.field.key for c in nested.should] == ["a", "b"] and not nested.must
    assert f.must[1].filter.must_not[0].has_id.ids[0].num == 1
    assert f.must[1].filter.must[0].field.range.lte == 0.0
    assert f.must_not[0].field.match.keyword == "x"
    assert _wire.build_filter(None) is None
    assert _wire.build_filter({}) == common_pb.Filter()


BAD_FILTERS = [
    (
        {"must": [{"key": "a", "match": {"value": 1}}, {"has_id": [1]}, {"key": "p", "range": {}}]},
        "filter.must[2].range: needs at least one of gt, gte, lt, lte",
    ),
    ({"must": [{"key": "p", "range": {"gt": None}}]}, "filter.must[0].range: needs at least one"),
    ({"mus": []}, "filter: unknown key 'mus'; a filter has must, should, must_not"),
    ("color = red", "filter: a filter is a dict"),
    ({"must": "x"}, "filter.must: must be a list of conditions"),
    (
        {"must": [{"key": "a"}]},
        "filter.must[0]: a field condition needs exactly one of match, range",
    ),
    (
        {"must": [{"key": "a", "match": {"value": 1}, "range": {"gt": 1}}]},
        "filter.must[0]: a field condition needs exactly one",
    ),
    (
        {"must": [{"key": "a", "match": {"value": 1.5}}]},
        "filter.must[0].match.value: must be a str, int or bool",
    ),
    (
        {"must": [{"key": "a", "match": {"value": 2**63}}]},
        "filter.must[0].match.value: 9223372036854775808 does not fit",
    ),
    ({"must": [{"key": "a", "match": {"text": "x"}}]}, "filter.must[0].match: must be"),
    (
        {"must": [{"key": "", "match": {"value": "x"}}]},
        "filter.must[0].key: must be a non-empty str",
    ),
    (
        {"must": [{"key": "a", "match": {"any": []}}]},
        "filter.must[0].match.any: needs at least one value",
    ),
    (
        {"must": [{"key": "a", "match": {"any": ["x", 1]}}]},
        "filter.must[0].match.any[1]: values must be all str or all int",
    ),
    ({"must": [{"key": "a", "match": {"any": [1, True]}}]}, "filter.must[0].match.any[1]"),
    ({"must": [{"key": "a", "match": {"any": "abc"}}]}, "filter.must[0].match.any: must be a list"),
    ({"must": [{"key": "a", "range": {"gte": "1"}}]}, "filter.must[0].range.gte: must be a number"),
    (
        {"must": [{"key": "a", "range": {"gte": True}}]},
        "filter.must[0].range.gte: must be a number",
    ),
    (
        {"must": [{"key": "a", "range": {"gte": 1, "from": 2}}]},
        "filter.must[0].range: unknown key 'from'",
    ),
    (
        {"must": [{"key": "a", "match": {"value": 1}, "boost": 2}]},
        "filter.must[0]: unknown key 'boost'",
    ),
    ({"should": [{"has_id": [1, -3]}]}, "filter.should[0].has_id[1]: -3 is out of range"),
    ({"should": [{"has_id": 5}]}, "filter.should[0].has_id: must be a list of point ids"),
    ({"must_not": [{"is_empty": "notes"}]}, "filter.must_not[0].is_empty: must be"),
    ({"must": [{"should": [{"foo": 1}]}]}, "filter.must[0].should[0]: unknown condition"),
    ({"must": [{}]}, "filter.must[0]: unknown condition"),
    ({"must": [["key", "a"]]}, "filter.must[0]: a condition is a dict"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_FILTERS)
def test_malformed_filters_name_the_json_path(bad: Any, message: str) -> None:
    with invalid(re.escape(message)):
        _wire.build_filter(bad)


def test_filter_error_message_is_exactly_path_colon_problem() -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        _wire.build_filter({"must": [{"has_id": [1]}, {"has_id": [2]}, {"key": "p", "range": {}}]})
    assert info.value.message == "filter.must[2].range: needs at least one of gt, gte, lt, lte"
    assert info.value.code == "INVALID_ARGUMENT" and info.value.request_id is None


def test_filters_reach_every_request_that_takes_one() -> None:
    flt = {"must": [{"key": "a", "match": {"value": "x"}}]}
    expected = _wire.build_filter(flt)
    assert _ops.count("c", flt).request.filter == expected
    assert _ops.delete("c", None, flt).request.filter == expected
    assert _ops.scroll("c", flt, 10, None, True, False).request.filter == expected
    batch = _ops.query_batch(
        "c",
        np.ones((2, 3)),
        using="",
        filter=flt,
        limit=5,
        offset=0,
        score_threshold=None,
        with_payload=False,
        with_vectors=False,
        ef=None,
        exact=False,
    ).request
    assert batch.template.filter == expected and not batch.queries
    assert list(batch.vectors.shape) == [2, 3] and not batch.template.HasField("query")
    with invalid(r"filter.must\[0\].key"):
        _ops.count("c", {"must": [{"key": 3, "match": {"value": 1}}]})


# -- vectors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire_dtype", "np_dtype"),
    [
        (np.arange(6, dtype=np.float32).reshape(2, 3), common_pb.FLOAT32, np.float32),
        (np.arange(6, dtype=np.float16).reshape(2, 3), common_pb.FLOAT16, np.float16),
        (np.arange(6, dtype=np.float64).reshape(2, 3) / 7, common_pb.FLOAT32, np.float32),
        ([[0.5, 1, 2], [3, 4, 5.25]], common_pb.FLOAT32, np.float32),
        ([[0, 1, 2], [3, 4, 5]], common_pb.FLOAT32, np.float32),  # int lists are floats
        (np.arange(6, dtype=np.int8).reshape(2, 3), common_pb.INT8, np.int8),
        (np.arange(6, dtype=np.uint8).reshape(2, 3), common_pb.UINT8, np.uint8),
        (np.arange(6, dtype=">f4").reshape(2, 3), common_pb.FLOAT32, np.float32),  # big-endian in
    ],
)
def test_vector_encoding_round_trip(value: Any, wire_dtype: int, np_dtype: Any) -> None:
    vec = _wire.encode_vector(value, "vectors", ndim=2)
    assert vec.dtype == wire_dtype
    assert list(vec.shape) == [2, 3]
    expected = np.asarray(value).astype(np_dtype)
    assert vec.data == expected.astype(expected.dtype.newbyteorder("<")).tobytes()
    back = _wire.decode_vector(vec)
    assert back.dtype == np.dtype(np_dtype) and back.shape == (2, 3)
    np.testing.assert_array_equal(back, expected)


def test_float64_is_sent_as_float32_and_single_vectors_are_1d() -> None:
    vec = _wire.encode_vector(np.array([0.1, 0.2, 0.3]), "vector")
    assert vec.dtype == common_pb.FLOAT32 and list(vec.shape) == [3] and len(vec.data) == 12
    np.testing.assert_array_equal(
        np.frombuffer(vec.data, "<f4"), np.array([0.1, 0.2, 0.3], dtype=np.float32)
    )
    strided = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]  # not contiguous
    np.testing.assert_array_equal(
        _wire.decode_vector(_wire.encode_vector(strided, "v", 2)), strided
    )


def test_decoded_vectors_are_numpy_and_checked() -> None:
    vec = common_pb.Vector(
        data=np.arange(4, dtype="<f2").tobytes(), dtype=common_pb.FLOAT16, shape=[4]
    )
    arr = _wire.decode_vector(vec)
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float16
    no_shape = common_pb.Vector(data=np.ones(3, "<f4").tobytes())  # dtype unset means float32
    assert _wire.decode_vector(no_shape).shape == (3,)
    with pytest.raises(errors.Internal, match="do not fill shape"):
        _wire.decode_vector(common_pb.Vector(data=b"\0" * 8, dtype=common_pb.FLOAT32, shape=[3]))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([[1.0, 2.0], [3.0]], "rows must all have the same length"),
        (["a", "b"], "is not numeric"),
        ([True, False], "is not numeric"),
        (np.ones((2, 2)), r"expected a 1-D array \(dim,\), got shape \(2, 2\)"),
    ],
)
def test_bad_vectors(value: Any, message: str) -> None:
    with invalid(message):
        _wire.encode_vector(value, "vector")


def test_batch_vectors_default_field_named_fields_and_shape_checks() -> None:
    assert list(_wire.batch_vectors(np.ones((3, 4)), 3)) == ["default"]
    named = _wire.batch_vectors({"title": np.ones((2, 4)), "body": [[1, 2], [3, 4]]}, 2)
    assert {k: v.shape for k, v in named.items()} == {"title": (2, 4), "body": (2, 2)}
    assert _wire.batch_vectors([0.1, 0.2], 1)["default"].shape == (1, 2)  # one id, one 1-D vector
    with invalid(r"vectors: expected shape \(n, dim\) with n = 4 .* got \(3, 4\)"):
        _wire.batch_vectors(np.ones((3, 4)), 4)
    with invalid(r"vectors\['body'\]: expected shape"):
        _wire.batch_vectors({"body": np.ones(4)}, 2)


def test_upsert_request_is_one_column_wise_batch() -> None:
    call = _ops.upsert(
        "docs",
        [1, UUID_A],
        np.ones((2, 3), dtype=np.float64),
        [{"lang": "en", "n": np.int64(3)}, None],
        ["hello", None],
    )
    assert call.rpc is _ops.UPSERT
    req = call.request
    assert req.collection == "docs" and not req.points
    assert [i.WhichOneof("id") for i in req.batch.ids] == ["num", "uuid"]
    assert req.batch.vectors["default"].dtype == common_pb.FLOAT32
    assert list(req.batch.vectors["default"].shape) == [2, 3]
    assert list(req.batch.payloads_json) == ['{"lang":"en","n":3}', ""]
    assert list(req.batch.texts) == ["hello", ""]
    with invalid("payloads: has 1 entries for 2 ids"):
        _ops.upsert("docs", [1, 2], np.ones((2, 3)), [{}], None)
    with invalid(r"texts\[1\]: must be a str or None"):
        _ops.upsert("docs", [1, 2], np.ones((2, 3)), None, ["a", 5])


def test_query_requests() -> None:
    kw: dict[str, Any] = {
        "using": "emb",
        "filter": None,
        "limit": 5,
        "offset": 2,
        "score_threshold": 0.5,
        "with_payload": True,
        "with_vectors": "emb",
        "ef": 128,
        "exact": False,
    }
    req = _ops.query("docs", [1, 2, 3], point=None, **kw).request
    assert req.query.WhichOneof("kind") == "vector" and list(req.query.vector.shape) == [3]
    assert (req.using, req.limit, req.offset, req.params.ef) == ("emb", 5, 2, 128)
    assert req.HasField("score_threshold") and req.score_threshold == 0.5
    assert req.with_vectors.enable and list(req.with_vectors.fields) == ["emb"]  # str is one name
    by_point = _ops.query("docs", None, point=UUID_A.upper(), **kw).request
    assert by_point.query.point.uuid == UUID_A
    plain = _ops.query(
        "docs",
        [1.0],
        using="",
        point=None,
        filter=None,
        limit=10,
        offset=0,
        score_threshold=None,
        with_payload=False,
        with_vectors=[],
        ef=None,
        exact=False,
    ).request
    assert not plain.HasField("score_threshold") and not plain.HasField("params")
    assert not plain.with_vectors.enable  # [] means no vectors, not all of them
    with invalid("exactly one of vector, point"):
        _ops.query("docs", [1.0], point=3, **kw)
    with invalid("exactly one of vector, point"):
        _ops.query("docs", None, point=None, **kw)
    with invalid("limit: must be an int"):
        _ops.query("docs", [1.0], point=None, **{**kw, "limit": -1})
    batch = _ops.query_batch("docs", np.eye(3), **kw).request
    assert not batch.queries and batch.collection == "docs"  # the compact template + matrix form
    assert np.frombuffer(batch.vectors.data, "<f4").reshape(3, 3).tolist() == np.eye(3).tolist()
    assert batch.template.using == "emb" and batch.template.limit == 5
    with invalid(r"vectors: expected a 2-D array \(q, dim\)"):
        _ops.query_batch("docs", [1.0, 2.0], **kw)


def test_create_collection_request_and_info() -> None:
    req = _ops.create_collection(
        "docs",
        VectorParams(4, metric="L2", storage_dtype="float16", hnsw=models.HnswParams(m=8)),
        {"lang": "keyword", "year": "integer"},
    ).request
    (field,) = req.vectors
    assert field.name == "default" and field.dense.dim == 4
    assert field.dense.metric == coll_pb.L2 and field.dense.storage_dtype == common_pb.FLOAT16
    assert field.dense.hnsw.m == 8
    assert [(p.key, p.type) for p in req.payload_indexes] == [
        ("lang", coll_pb.KEYWORD),
        ("year", coll_pb.INTEGER),
    ]
    two = _ops.create_collection(
        "d", {"a": VectorParams(2), "b": VectorParams(3, "dot")}, None
    ).request
    assert [(f.name, f.dense.metric, f.dense.HasField("hnsw")) for f in two.vectors] == [
        ("a", coll_pb.COSINE, False),
        ("b", coll_pb.DOT, False),
    ]
    with invalid(r"vectors\['default'\].metric: 'cos' is not one of cosine, dot, l2"):
        _ops.create_collection("d", VectorParams(2, metric="cos"), None)
    with invalid(r"payload_indexes\['x'\]: 'text' is not one of"):
        _ops.create_collection("d", VectorParams(2), {"x": "text"})
    info = _wire.collection_info(
        coll_pb.CollectionInfo(
            name="docs",
            vectors=list(req.vectors),
            payload_indexes=list(req.payload_indexes),
            points_count=3,
            sequence=9,
        )
    )
    assert info == CollectionInfo(
        name="docs",
        vectors={"default": VectorParams(4, "l2", "float16", models.HnswParams(8, 0, 0))},
        payload_indexes={"lang": "keyword", "year": "integer"},
        points_count=3,
        sequence=9,
    )


# -- ids ------------------------------------------------------------------------------------------


def test_ids_ints_and_canonical_uuids() -> None:
    ids = _wire.point_ids(
        [
            0,
            2**64 - 1,
            np.uint64(5),
            UUID_A.upper(),
            "{" + UUID_A + "}",
            UUID_A.replace("-", ""),
            "urn:uuid:" + UUID_A,
            uuid.UUID(UUID_A),
        ]
    )
    assert [i.num for i in ids[:3]] == [0, 2**64 - 1, 5]
    assert {i.uuid for i in ids[3:]} == {UUID_A}
    assert [_wire.id_from_wire(i) for i in ids[:4]] == [0, 2**64 - 1, 5, UUID_A]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (True, r"ids\[1\]: True is a bool"),
        (-1, r"ids\[1\]: -1 is out of range"),
        (2**64, r"ids\[1\]: 18446744073709551616 is out of range"),
        (1.0, r"ids\[1\]: 1.0 \(float\) is not a point id"),
        ("not-a-uuid", r"ids\[1\]: 'not-a-uuid' is not a UUID"),
        ("12", r"ids\[1\]: '12' is not a UUID"),
        (None, r"ids\[1\]: None \(NoneType\) is not a point id"),
    ],
)
def test_bad_ids_are_named_with_their_index(bad: Any, message: str) -> None:
    with invalid(message):
        _wire.point_ids([1, bad, 3])
    with invalid(message):
        _ops.upsert("c", [1, bad, 3], np.ones((3, 2)), None, None)


def test_ids_must_be_a_sequence() -> None:
    with invalid("ids: must be a sequence of point ids, got str"):
        _wire.point_ids(UUID_A)
    with invalid("offset: -5 is out of range"):
        _ops.scroll("c", None, 10, -5, True, False)
    with invalid("delete: pass exactly one of ids, filter"):
        _ops.delete("c", [1], {"must": []})
    with invalid("delete: pass exactly one of ids, filter"):
        _ops.delete("c", None, None)


# -- payloads -------------------------------------------------------------------------------------


def test_payloads_are_compact_json_and_errors_name_the_point() -> None:
    assert _wire.payload_json({"a": [1, 2], "b": "é"}, "p") == '{"a":[1,2],"b":"é"}'
    assert (
        _wire.payload_json({"v": np.float32(0.5), "arr": np.arange(2)}, "p")
        == '{"v":0.5,"arr":[0,1]}'
    )
    assert _wire.payload_json(None, "p") == ""
    with invalid(r"payloads\[1\]: payload is not JSON-serializable: .*object"):
        _ops.upsert("c", [1, 2], np.ones((2, 2)), [{"ok": 1}, {"bad": object()}], None)
    with invalid(r"payloads\[0\]: payload is not JSON-serializable"):
        _ops.upsert("c", [1], np.ones((1, 2)), [{"x": float("nan")}], None)
    with invalid(r"payloads\[0\]: a payload is a dict"):
        _ops.upsert("c", [1], np.ones((1, 2)), [[1, 2]], None)
    assert _wire.payload_from_json('{"a":1}') == {"a": 1}
    assert _wire.payload_from_json("") is None


def test_records_and_scored_points_decode_to_plain_python() -> None:
    vec = common_pb.VectorInput(dense=_wire.encode_vector([1.0, 2.0], "v"))
    rec = _wire.record(
        common_pb.Record(
            id=common_pb.PointId(uuid=UUID_A),
            payload_json='{"a":1}',
            vectors={"default": vec},
            text="hi",
        )
    )
    assert rec == Record(UUID_A, {"a": 1}, {"default": np.array([1.0, 2.0], np.float32)}, "hi")
    assert rec != Record(UUID_A, {"a": 1}, {"default": np.array([1.0, 3.0], np.float32)}, "hi")
    bare = _wire.record(common_pb.Record(id=common_pb.PointId(num=4)))
    assert bare == Record(4, None, {}, None)
    plain = _wire.hits(
        common_pb.ScoredPoints(num_ids=[1, 0], uuid_ids={1: UUID_A}, scores=[0.25, 0.125])
    )
    assert plain.ids == [1, UUID_A] and plain.scores.tolist() == [0.25, 0.125] and len(plain) == 2
    hit = plain[0]
    assert (hit.id, hit.score, hit.payload, hit.vectors, hit.text) == (1, 0.25, None, {}, None)
    assert [h.id for h in plain] == [1, UUID_A] and plain == [plain[0], plain[1]]
    rich = _wire.hits(
        common_pb.ScoredPoints(
            num_ids=[7, 8],
            scores=[1.0, 0.5],
            payloads_json=['{"a":1}', ""],
            texts=["t", ""],
            vectors={"default": _wire.encode_array(np.array([[1, 2], [3, 4]], np.float32))},
        )
    )
    assert rich[0].payload == {"a": 1} and rich[1].payload is None and rich.texts == ["t", None]
    assert rich[1].vectors["default"].tolist() == [3, 4] and [h.id for h in rich[1:]] == [8]
    page = _ops._scroll_page(
        points_pb.ScrollResponse(
            points=[common_pb.Record(id=common_pb.PointId(num=1))],
            next_offset=common_pb.PointId(num=2),
        )
    )
    assert page.next_offset == 2 and [r.id for r in page.records] == [1]
    assert _ops._scroll_page(points_pb.ScrollResponse()).next_offset is None


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "trailers", "cls", "error_name"),
    [
        (
            "INVALID_ARGUMENT",
            [("vecdb-error-name", "collection_not_found")],
            errors.CollectionNotFound,
            "collection_not_found",
        ),
        (
            "NOT_FOUND",
            [("vecdb-error-name", "collection_not_found")],
            errors.CollectionNotFound,
            "collection_not_found",
        ),
        (
            "NOT_FOUND",
            [("vecdb-error-name", "field_not_found")],
            errors.FieldNotFound,
            "field_not_found",
        ),
        ("NOT_FOUND", [], errors.NotFound, "not_found"),
        (
            "INVALID_ARGUMENT",
            [("vecdb-error-name", "invalid_argument")],
            errors.InvalidArgument,
            "invalid_argument",
        ),
        (
            "INVALID_ARGUMENT",
            [("vecdb-error-name", "a_future_name")],
            errors.InvalidArgument,
            "a_future_name",
        ),
        ("ALREADY_EXISTS", [], errors.AlreadyExists, "already_exists"),
        ("FAILED_PRECONDITION", [], errors.FailedPrecondition, "failed_precondition"),
        (
            "UNIMPLEMENTED",
            [("vecdb-error-name", "unimplemented")],
            errors.Unimplemented,
            "unimplemented",
        ),
        ("INTERNAL", [("vecdb-error-name", "internal")], errors.Internal, "internal"),
        ("UNAVAILABLE", [], errors.Unavailable, "unavailable"),
        ("DEADLINE_EXCEEDED", [], errors.DeadlineExceeded, "deadline_exceeded"),
        ("UNAUTHENTICATED", [], errors.Unauthenticated, "unauthenticated"),
        ("PERMISSION_DENIED", [], errors.PermissionDenied, "permission_denied"),
        ("UNKNOWN", [], errors.VecdbError, "unknown"),
        ("DATA_LOSS", [], errors.VecdbError, "data_loss"),
    ],
)
def test_error_mapping_name_first_then_code(
    code: str, trailers: list[tuple[str, str]], cls: type, error_name: str
) -> None:
    err = errors.from_status(code, "boom", trailers, request_id="sent-1")
    assert type(err) is cls
    assert (err.code, err.message, err.error_name, err.request_id) == (
        code,
        "boom",
        error_name,
        "sent-1",
    )
    assert str(err) == "boom"


def test_error_request_id_and_retry_after_from_trailers() -> None:
    err = errors.from_status(
        "RESOURCE_EXHAUSTED",
        "busy",
        [
            ("vecdb-error-name", "resource_exhausted"),
            ("vecdb-request-id", "srv-9"),
            ("retry-after-ms", "250"),
        ],
        request_id="sent-1",
    )
    assert isinstance(err, errors.ResourceExhausted)
    assert err.retry_after_s == 0.25 and err.request_id == "srv-9"
    cases: list[tuple[list[tuple[str, str | bytes]], float | None]] = [
        ([], None),
        ([("retry-after-ms", b"100")], 0.1),
        ([("retry-after-ms", "soon")], None),
    ]
    for trailers, expected in cases:
        other = errors.from_status("RESOURCE_EXHAUSTED", "x", trailers)
        assert isinstance(other, errors.ResourceExhausted) and other.retry_after_s == expected
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is errors.ResourceExhausted
    assert (copy.message, copy.code, copy.request_id, copy.retry_after_s) == (
        "busy",
        "RESOURCE_EXHAUSTED",
        "srv-9",
        0.25,
    )


class _FakeRpcError(grpc.RpcError):  # type: ignore[misc]
    def __init__(
        self, code: grpc.StatusCode, details: str, trailers: tuple[tuple[str, str], ...]
    ) -> None:
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._trailers


def test_error_from_rpc_error() -> None:
    exc = _FakeRpcError(
        grpc.StatusCode.NOT_FOUND, "no field 'x'", (("vecdb-error-name", "field_not_found"),)
    )
    err = _transport.error_from_rpc(exc, "rid-1")
    assert (
        isinstance(err, errors.FieldNotFound)
        and err.code == "NOT_FOUND"
        and err.request_id == "rid-1"
    )


def _attempts(retries: int = 3, timeout: float | None = 30.0) -> _transport.Attempts:
    return _transport.Attempts(_transport.Settings(timeout, retries, "p-", 1024), ...)


def test_retry_policy() -> None:
    attempts = _attempts(retries=3)
    assert attempts.request_id.startswith("p-") and attempts.metadata == (
        ("vecdb-request-id", attempts.request_id),
    )
    unavailable = errors.Unavailable("down")
    delays = [attempts.retry_delay(unavailable) for _ in range(4)]
    assert delays[3] is None  # three retries, then give up
    for i, d in enumerate(delays[:3]):
        assert d is not None and 0.05 * 2**i * 0.5 <= d <= 0.05 * 2**i
    assert _attempts().retry_delay(errors.InvalidArgument("bad")) is None
    assert _attempts().retry_delay(errors.Internal("bug")) is None
    assert _attempts().retry_delay(errors.ResourceExhausted("too big")) is None
    hinted = _attempts().retry_delay(errors.ResourceExhausted("busy", retry_after_s=0.4))
    assert hinted is not None and hinted >= 0.4
    assert (
        _attempts(timeout=0.1).retry_delay(errors.ResourceExhausted("busy", retry_after_s=5))
        is None
    )
    late = _attempts(retries=20, timeout=None)
    late.retried = 10
    assert late.retry_delay(unavailable) <= 2.0  # type: ignore[operator]


def test_client_settings_are_checked() -> None:
    with invalid("retries: must be an int >= 0"):
        Client("127.0.0.1:1", retries=-1)
    with invalid("timeout: must be a positive number"):
        Client("127.0.0.1:1", timeout=0)
    with invalid("max_message_bytes"):
        AsyncClient("127.0.0.1:1", max_message_bytes=0)
    assert _transport.channel_options(123) == [
        ("grpc.max_send_message_length", 123),
        ("grpc.max_receive_message_length", 123),
    ]


# -- health ---------------------------------------------------------------------------------------


def test_health_codec_matches_grpc_health() -> None:
    health_pb2 = pytest.importorskip("grpc_health.v1.health_pb2")
    for service in ("", "vecdb.v1.Points", "é" * 200):
        assert (
            _wire.encode_health_request(service)
            == health_pb2.HealthCheckRequest(service=service).SerializeToString()
        )
    for name, value in health_pb2.HealthCheckResponse.ServingStatus.items():
        data = health_pb2.HealthCheckResponse(status=value).SerializeToString()
        assert _wire.decode_health_status(data) == name
        assert (
            _wire.decode_health_status(b"\x12\x03abc" + data + b"\x1d\0\0\0\0") == name
        )  # unknown fields
    assert _wire.decode_health_status(b"\x08\x07") == "UNKNOWN"


# -- public surface -------------------------------------------------------------------------------


def _public_methods(cls: type) -> dict[str, Any]:
    return {n: m for n, m in vars(cls).items() if not n.startswith("_") and callable(m)}


def test_no_protobuf_type_in_public_signatures() -> None:
    checked = 0
    for cls in (Client, AsyncClient):
        for name, method in _public_methods(cls).items():
            text = str(inspect.signature(method)) + repr(method.__annotations__)
            hints = typing.get_type_hints(method)
            assert "pb2" not in text and "protobuf" not in text, (cls, name, text)
            assert "pb2" not in repr(hints) and "protobuf" not in repr(hints), (cls, name, hints)
            checked += 1
    for name in vecdb_client.__all__:
        obj = getattr(vecdb_client, name)
        if inspect.isclass(obj) and hasattr(obj, "__dataclass_fields__"):
            assert "pb2" not in repr(typing.get_type_hints(obj)), name
    assert checked >= 2 * 20


def test_sync_and_async_clients_have_the_same_api() -> None:
    sync, aio = _public_methods(Client), _public_methods(AsyncClient)
    assert set(sync) == set(aio)
    for name in sync:
        assert inspect.iscoroutinefunction(aio[name]), name
        assert (
            inspect.signature(sync[name]).parameters == inspect.signature(aio[name]).parameters
        ), name
        assert (sync[name].__doc__ or "").strip() and (aio[name].__doc__ or "").strip(), name
    assert sorted(sync) == sorted(
        [
            "close",
            "health",
            "create_collection",
            "get_collection",
            "list_collections",
            "delete_collection",
            "collection_exists",
            "upsert",
            "upload",
            "get",
            "delete",
            "count",
            "scroll",
            "query",
            "query_batch",
            "server_info",
            "stats",
            "checkpoint",
            "retrain_quantization",
            "encode",
            "list_models",
            "cache_lookup",
            "cache_store",
            "cache_invalidate",
            "cache_stats",
            "cache_get_policy",
            "cache_set_policy",
            "cache_report_load",
            "cache_report_false_hit",
            "create_snapshot",
            "list_snapshots",
            "delete_snapshot",
            "restore_snapshot",
            "download_snapshot",
        ]
    )


def test_rpc_table_matches_the_proto() -> None:
    pool = descriptor_pool.Default()
    for rpc in _ops.VECDB_RPCS:
        service, method = rpc.path.strip("/").split("/")
        desc = pool.FindServiceByName(service).methods_by_name[method]
        response = rpc.deserialize(b"")
        assert response.DESCRIPTOR.full_name == desc.output_type.full_name, rpc.path


# -- against fake servers -------------------------------------------------------------------------


@contextmanager
def fake_server(
    collections: coll_grpc.CollectionsServicer | None = None,
    points: points_grpc.PointsServicer | None = None,
    encoder: enc_grpc.EncoderServicer | None = None,
) -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    if encoder is not None:
        enc_grpc.add_EncoderServicer_to_server(encoder, server)  # type: ignore[no-untyped-call]
    if collections is not None:
        add = coll_grpc.add_CollectionsServicer_to_server
        add(collections, server)  # type: ignore[no-untyped-call]
    if points is not None:
        points_grpc.add_PointsServicer_to_server(points, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)


LIST_ANSWER = coll_pb.ListCollectionsResponse(
    collections=[
        coll_pb.CollectionInfo(
            name="docs",
            vectors=[
                coll_pb.VectorFieldConfig(
                    name="default", dense=coll_pb.DenseParams(dim=4, metric=coll_pb.DOT)
                )
            ],
            points_count=3,
            sequence=7,
        )
    ]
)
DOCS = CollectionInfo("docs", {"default": VectorParams(4, "dot")}, {}, 3, 7)


class FlakyList(coll_grpc.CollectionsServicer):
    """Fails the first `failures` calls with `code` (and `trailers`), then answers."""

    def __init__(
        self,
        failures: int,
        code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
        trailers: tuple[tuple[str, str], ...] = (),
        delay: float = 0.0,
    ) -> None:
        self.failures, self.code, self.trailers, self.delay = failures, code, trailers, delay
        self.request_ids: list[str] = []

    def List(self, request: Any, context: grpc.ServicerContext) -> coll_pb.ListCollectionsResponse:
        self.request_ids.append(dict(context.invocation_metadata()).get("vecdb-request-id", ""))
        time.sleep(self.delay)
        if len(self.request_ids) <= self.failures:
            context.set_trailing_metadata(self.trailers)
            context.abort(self.code, f"failure {len(self.request_ids)}")
        return LIST_ANSWER


def test_client_retries_unavailable_then_answers() -> None:
    fake = FlakyList(failures=2)
    with (
        fake_server(collections=fake) as address,
        Client(address, request_id_prefix="t-") as client,
    ):
        assert client.list_collections() == [DOCS]
    assert len(fake.request_ids) == 3
    assert len(set(fake.request_ids)) == 1 and fake.request_ids[0].startswith("t-")


def test_client_gives_up_after_retries() -> None:
    fake = FlakyList(failures=5)
    with (
        fake_server(collections=fake) as address,
        Client(address, retries=1) as client,
        pytest.raises(errors.Unavailable) as info,
    ):
        client.list_collections()
    assert len(fake.request_ids) == 2
    assert info.value.request_id == fake.request_ids[0] and info.value.message == "failure 2"


def test_typed_error_from_trailers_is_not_retried() -> None:
    fake = FlakyList(
        failures=1,
        code=grpc.StatusCode.INVALID_ARGUMENT,
        trailers=(("vecdb-error-name", "collection_not_found"), ("vecdb-request-id", "srv-1")),
    )
    with (
        fake_server(collections=fake) as address,
        Client(address) as client,
        pytest.raises(errors.CollectionNotFound) as info,
    ):
        client.list_collections()
    assert len(fake.request_ids) == 1
    assert (info.value.code, info.value.request_id) == ("INVALID_ARGUMENT", "srv-1")


def test_resource_exhausted_is_retried_only_with_a_hint() -> None:
    hinted = FlakyList(
        failures=1, code=grpc.StatusCode.RESOURCE_EXHAUSTED, trailers=(("retry-after-ms", "20"),)
    )
    with fake_server(collections=hinted) as address, Client(address) as client:
        assert client.list_collections() == [DOCS]
    assert len(hinted.request_ids) == 2
    bare = FlakyList(failures=1, code=grpc.StatusCode.RESOURCE_EXHAUSTED)
    with (
        fake_server(collections=bare) as address,
        Client(address) as client,
        pytest.raises(errors.ResourceExhausted) as info,
    ):
        client.list_collections()
    assert len(bare.request_ids) == 1 and info.value.retry_after_s is None


def test_deadline_from_client_default_and_per_call() -> None:
    fake = FlakyList(failures=0, delay=0.5)
    with fake_server(collections=fake) as address, Client(address, timeout=0.1) as client:
        with pytest.raises(errors.DeadlineExceeded):
            client.list_collections()
        assert client.list_collections(timeout=5) == [DOCS]


def test_async_client_retries_and_maps_errors() -> None:
    fake = FlakyList(failures=1)
    typed = FlakyList(
        failures=1,
        code=grpc.StatusCode.NOT_FOUND,
        trailers=(("vecdb-error-name", "collection_not_found"), ("vecdb-request-id", "srv-2")),
    )

    async def main(address: str) -> list[CollectionInfo]:
        async with AsyncClient(address, request_id_prefix="a-") as client:
            return await client.list_collections()

    with fake_server(collections=fake) as address:
        assert asyncio.run(main(address)) == [DOCS]
    assert len(fake.request_ids) == 2 and len(set(fake.request_ids)) == 1
    assert fake.request_ids[0].startswith("a-")
    with (
        fake_server(collections=typed) as address,
        pytest.raises(errors.CollectionNotFound) as info,
    ):
        asyncio.run(main(address))
    assert (info.value.code, info.value.request_id) == ("NOT_FOUND", "srv-2")
    assert len(typed.request_ids) == 1


class StreamSink(points_grpc.PointsServicer):
    """Counts the batches of UpsertStream."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.ended = threading.Event()

    def UpsertStream(
        self, request_iterator: Any, context: grpc.ServicerContext
    ) -> common_pb.UpdateResult:
        try:
            for request in request_iterator:
                assert list(request.batch.vectors["default"].shape) == [len(request.batch.ids), 3]
                self.batches.append(len(request.batch.ids))
            return common_pb.UpdateResult(sequence=len(self.batches), count=sum(self.batches))
        finally:
            self.ended.set()


def test_upload_streams_batches_and_reports_progress() -> None:
    sink, seen = StreamSink(), list[int]()
    with fake_server(points=sink) as address, Client(address) as client:
        result = client.upload(
            "docs", list(range(5)), np.ones((5, 3)), batch_size=2, progress=seen.append
        )
    assert result == models.UpdateResult(sequence=3, count=5)
    assert sink.batches == [2, 2, 1] and seen == [2, 4, 5]


def test_upload_failing_midway_cancels_the_stream() -> None:
    sink = StreamSink()

    def progress(sent: int) -> None:
        if sent >= 4:
            raise KeyError("stop here")

    with fake_server(points=sink) as address, Client(address) as client:
        with pytest.raises(KeyError, match="stop here"):
            client.upload("docs", list(range(6)), np.ones((6, 3)), batch_size=2, progress=progress)
        assert sink.ended.wait(5)  # the server's side of the call ended too
        # Nothing after the failing batch was sent (a cancel may also drop batches in flight).
        assert sink.batches in ([], [2], [2, 2])
        with pytest.raises(
            errors.InvalidArgument, match=r"payloads\[3\].*upload stopped after 2 of 4"
        ):
            client.upload(
                "docs",
                [1, 2, 3, 4],
                np.ones((4, 3)),
                payloads=[{}, {}, {}, {"x": object()}],
                batch_size=2,
            )


def test_async_upload() -> None:
    sink, seen = StreamSink(), list[int]()

    async def main() -> models.UpdateResult:
        async with AsyncClient(address) as client:
            return await client.upload(
                "docs", list(range(5)), np.ones((5, 3)), batch_size=3, progress=seen.append
            )

    async def failing() -> None:
        def progress(sent: int) -> None:
            raise KeyError(sent)

        async with AsyncClient(address) as client:
            await client.upload(
                "docs", [1, 2, 3, 4], np.ones((4, 3)), batch_size=2, progress=progress
            )

    with fake_server(points=sink) as address:
        assert asyncio.run(main()) == models.UpdateResult(sequence=2, count=5)
        assert sink.batches == [3, 2] and seen == [3, 5]
        with pytest.raises(KeyError, match="2"):
            asyncio.run(failing())
        assert sum(sink.batches) <= 5 + 2  # nothing after the failing batch


def test_results_hold_no_protobuf_objects() -> None:
    def walk(value: Any) -> None:
        assert not isinstance(value, Message), value
        if hasattr(value, "__dataclass_fields__"):
            for f in value.__dataclass_fields__:
                walk(getattr(value, f))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(_ops.list_collections().parse(LIST_ANSWER))
    walk(
        _wire.record(
            common_pb.Record(
                id=common_pb.PointId(num=1),
                payload_json='{"a":[1]}',
                vectors={"v": common_pb.VectorInput(dense=_wire.encode_vector([1.0], "v"))},
            )
        )
    )


@pytest.mark.parametrize("without_grpc_health", [False, True])
def test_health_against_the_standard_health_service(
    monkeypatch: pytest.MonkeyPatch, without_grpc_health: bool
) -> None:
    health = pytest.importorskip("grpc_health.v1.health")
    health_pb2 = pytest.importorskip("grpc_health.v1.health_pb2")
    health_pb2_grpc = pytest.importorskip("grpc_health.v1.health_pb2_grpc")
    if without_grpc_health:  # the SDK alone: hand-encoded request and response
        monkeypatch.setitem(sys.modules, "grpc_health.v1.health_pb2", None)
        monkeypatch.delattr(sys.modules["grpc_health.v1"], "health_pb2")
        assert _ops.health().rpc is _ops.HEALTH_CHECK
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with Client(f"127.0.0.1:{port}") as client:
            assert client.health() == "NOT_SERVING"
            servicer.set("", health_pb2.HealthCheckResponse.SERVING)
            assert client.health() == "SERVING"
            with pytest.raises(errors.NotFound):  # the standard service answers NOT_FOUND
                client.health("no.such.Service")
    finally:
        server.stop(None)


@pytest.mark.parametrize("limit", [0, -3])
def test_a_limit_below_one_is_refused_client_side(limit: int) -> None:
    from vecdb_client import _ops

    with pytest.raises(errors.InvalidArgument, match="limit"):
        _ops.query(
            "docs",
            [1.0, 2.0],
            using="",
            point=None,
            filter=None,
            limit=limit,
            offset=0,
            score_threshold=None,
            with_payload=False,
            with_vectors=False,
            ef=None,
            exact=False,
        )


# -- the embedded encoder: text in, vectors computed by the server ---------------------------------

QUERY_KW: dict[str, Any] = {
    "using": "body",
    "filter": {"must": [{"key": "lang", "match": {"value": "en"}}]},
    "limit": 3,
    "offset": 1,
    "score_threshold": None,
    "with_payload": True,
    "with_vectors": False,
    "ef": 32,
    "exact": False,
}


def test_encode_request_names_kind_role_and_model() -> None:
    call = _ops.encode(["a", "b c"], "multi", "minilm", "query")
    assert call.rpc is _ops.ENCODE and call.rpc.path == "/vecdb.v1.Encoder/Encode"
    req = call.request
    assert list(req.texts) == ["a", "b c"] and req.model == "minilm"
    assert (req.kind, req.role) == (enc_pb.MULTI, enc_pb.QUERY)
    default = _ops.encode(("x",), "dense", None, "document").request
    assert (default.kind, default.role, default.model) == (enc_pb.DENSE, enc_pb.DOCUMENT, "")
    assert _ops.encode(["x"], "SPARSE", None, "Query").request.kind == enc_pb.SPARSE
    assert _ops.list_models().request == enc_pb.ListModelsRequest()


@pytest.mark.parametrize(
    ("texts", "kind", "role", "message"),
    [
        ("one text", "dense", "document", r"^texts: pass a list of strings, not one string$"),
        ([], "dense", "document", r"^texts: pass at least one text$"),
        (["ok", None], "dense", "document", r"^texts\[1\]: must be a str, got NoneType$"),
        ([b"bytes"], "dense", "document", r"^texts\[0\]: must be a str, got bytes$"),
        (b"bytes", "dense", "document", r"^texts: must be a list of strings, got bytes$"),
        ({"a": 1}, "dense", "document", r"^texts: must be a list of strings, got dict$"),
        (["ok"], "colbert", "document", r"^kind: 'colbert' is not one of dense, multi, sparse$"),
        (["ok"], "dense", "passage", r"^role: 'passage' is not one of document, query$"),
    ],
)
def test_bad_encode_arguments_are_refused_client_side(
    texts: Any, kind: str, role: str, message: str
) -> None:
    with invalid(message):
        _ops.encode(texts, kind, None, role)


def test_encode_response_becomes_encoded_results() -> None:
    dense = np.array([0.6, 0.8, 0.0], dtype=np.float32)
    multi = np.arange(6, dtype=np.float32).reshape(3, 2)
    response = enc_pb.EncodeResponse(
        model="minilm",
        model_hash="abc123",
        results=[
            enc_pb.EncodedText(
                vector=common_pb.VectorInput(dense=_wire.encode_array(dense)), n_tokens=4
            ),
            enc_pb.EncodedText(
                vector=common_pb.VectorInput(multi=_wire.encode_array(multi)),
                truncated=True,
                n_tokens=3,
            ),
            enc_pb.EncodedText(
                vector=common_pb.VectorInput(
                    sparse=common_pb.SparseVector(indices=[7, 2**32 - 1], values=[0.5, 1.25])
                ),
                n_tokens=2,
            ),
        ],
    )
    got = _ops.encode(["a", "b", "c"], "dense", None, "document").parse(response)
    assert got[0] == models.Encoded(dense, False, 4, "minilm", "abc123")
    assert got[1].vector.shape == (3, 2) and got[1].truncated and got[1].n_tokens == 3
    sparse = got[2].vector
    assert isinstance(sparse, models.SparseVector)
    assert sparse.indices.dtype == np.uint32 and sparse.values.dtype == np.float32
    assert sparse.indices.tolist() == [7, 2**32 - 1] and sparse.values.tolist() == [0.5, 1.25]
    assert got[2] == models.Encoded(
        models.SparseVector(np.array([7, 2**32 - 1], np.uint32), np.array([0.5, 1.25], np.float32)),
        False,
        2,
        "minilm",
        "abc123",
    )
    with pytest.raises(errors.Internal, match="2 results for 1 texts"):
        _ops.encode(["a"], "dense", None, "document").parse(
            enc_pb.EncodeResponse(results=list(response.results)[:2])
        )
    with pytest.raises(errors.Internal, match="results\\[0\\].vector: the server sent no vector"):
        _ops.encode(["a"], "dense", None, "document").parse(
            enc_pb.EncodeResponse(results=[enc_pb.EncodedText()])
        )


def test_list_models_response_becomes_model_infos() -> None:
    response = enc_pb.ListModelsResponse(
        models=[
            enc_pb.ModelInfo(
                name="minilm",
                hash="h1",
                dim=384,
                max_tokens=256,
                kinds=[enc_pb.DENSE, enc_pb.MULTI],
                device="cuda",
            ),
            enc_pb.ModelInfo(name="splade", hash="h2", dim=30522, kinds=[enc_pb.SPARSE]),
        ]
    )
    assert _ops.list_models().parse(response) == [
        models.ModelInfo("minilm", "h1", 384, 256, ["dense", "multi"], "cuda"),
        models.ModelInfo("splade", "h2", 30522, 0, ["sparse"], ""),
    ]


def test_text_query_and_model_go_into_the_request() -> None:
    req = _ops.query("notes", None, point=None, text="where did I park?", **QUERY_KW).request
    assert req.query.WhichOneof("kind") == "text" and req.query.text == "where did I park?"
    assert (req.collection, req.using, req.limit, req.offset, req.model) == (
        "notes",
        "body",
        3,
        1,
        "",
    )
    assert req.filter.must[0].field.key == "lang" and req.params.ef == 32
    by_vector = _ops.query("notes", [0.1, 0.2], point=None, model="minilm", **QUERY_KW).request
    assert by_vector.query.WhichOneof("kind") == "vector" and by_vector.model == "minilm"
    for vector, point, text in (([1.0], None, "t"), (None, 3, "t"), (None, None, None)):
        with invalid(r"^query: pass exactly one of vector, point, text \(with prefetch"):
            _ops.query("notes", vector, point=point, text=text, **QUERY_KW)
    with invalid(r"^text: must be a str, got list$"):
        _ops.query("notes", None, point=None, text=["a"], **QUERY_KW)  # type: ignore[arg-type]
    with invalid(r"^model: must be a str or None"):
        _ops.query("notes", [1.0], point=None, model=3, **QUERY_KW)  # type: ignore[arg-type]


def test_query_batch_with_texts_sends_one_query_per_text() -> None:
    call = _ops.query_batch("notes", None, texts=["parking", "lunch"], model="m", **QUERY_KW)
    req = call.request
    assert not req.HasField("template") and not req.HasField("vectors")
    assert req.collection == "notes" and len(req.queries) == 2
    for q, text in zip(req.queries, ["parking", "lunch"]):
        assert q.query.WhichOneof("kind") == "text" and q.query.text == text
        assert (q.using, q.limit, q.offset, q.with_payload, q.params.ef, q.model) == (
            "body",
            3,
            1,
            True,
            32,
            "m",
        )
        assert q.filter.must[0].field.match.keyword == "en"
    answer = query_pb.QueryBatchResponse(
        results=[
            query_pb.QueryResponse(points=common_pb.ScoredPoints(num_ids=[4], scores=[0.9])),
            query_pb.QueryResponse(points=common_pb.ScoredPoints(num_ids=[], scores=[])),
        ]
    )
    parsed = call.parse(answer)
    assert [h.ids for h in parsed] == [[4], []]
    with pytest.raises(errors.Internal, match="1 results for 2 queries"):
        call.parse(query_pb.QueryBatchResponse(results=list(answer.results)[:1]))
    compact = _ops.query_batch("notes", np.eye(2), model="m", **QUERY_KW).request
    assert not compact.queries and compact.template.model == "m"  # vectors keep the compact form
    assert not compact.template.HasField("query")
    with invalid(r"^query_batch: pass exactly one of vectors, texts$"):
        _ops.query_batch("notes", np.eye(2), texts=["a"], **QUERY_KW)
    with invalid(r"^query_batch: pass exactly one of vectors, texts$"):
        _ops.query_batch("notes", None, **QUERY_KW)
    with invalid(r"^texts: pass a list of strings, not one string$"):
        _ops.query_batch("notes", None, texts="parking", **QUERY_KW)


def test_upsert_of_texts_without_vectors() -> None:
    req = _ops.upsert(
        "notes", [1, UUID_A], None, [{"body": "x"}, None], ["first", "second"]
    ).request
    assert not req.batch.vectors and not req.models
    assert list(req.batch.texts) == ["first", "second"] and len(req.batch.ids) == 2
    assert list(req.batch.payloads_json) == ['{"body":"x"}', ""]
    # The text may live under the field's payload key: payloads alone are enough.
    by_key = _ops.upsert("notes", [1], None, [{"body": "x"}], None).request
    assert not by_key.batch.vectors and not by_key.batch.texts
    with invalid(r"^vectors: pass vectors, or texts \(or payloads holding the text\)"):
        _ops.upsert("notes", [1], None, None, None)
    with invalid(r"^texts: has 1 entries for 2 ids$"):
        _ops.upsert("notes", [1, 2], None, None, ["only one"])


def test_models_map_names_the_model_of_supplied_vectors() -> None:
    req = _ops.upsert(
        "notes",
        [1, 2],
        {"title": np.ones((2, 3))},
        None,
        ["a", "b"],  # "body" takes its vectors from these texts
        {"title": "minilm"},
    ).request
    assert dict(req.models) == {"title": "minilm"} and list(req.batch.vectors) == ["title"]
    bare = _ops.upsert("notes", [1], np.ones((1, 3)), None, None, {"default": "minilm"}).request
    assert dict(bare.models) == {"default": "minilm"}
    with invalid(r"^models\['body'\]: names the model of vectors that were not given .*title"):
        _ops.upsert("notes", [1], {"title": np.ones((1, 3))}, None, ["a"], {"body": "minilm"})
    with invalid(r"^models\['title'\]: must be a non-empty model name"):
        _ops.upsert("notes", [1], {"title": np.ones((1, 3))}, None, None, {"title": ""})
    with invalid(r"^models: must be a dict"):
        _ops.upsert("notes", [1], np.ones((1, 3)), None, None, ["minilm"])  # type: ignore[arg-type]


def test_upload_carries_the_models_map_on_every_message() -> None:
    plan = _ops.upload(
        "notes", [1, 2, 3], {"title": np.ones((3, 2))}, None, ["a", "b", "c"], 2, {"title": "m"}
    )
    sent = list(plan.requests())
    assert [n for _, n in sent] == [2, 3]
    assert all(dict(r.models) == {"title": "m"} for r, _ in sent)
    assert [list(r.batch.texts) for r, _ in sent] == [["a", "b"], ["c"]]
    text_only = list(_ops.upload("notes", [1, 2, 3], None, None, ["a", "b", "c"], 2).requests())
    assert all(not r.batch.vectors and not r.models for r, _ in text_only)


def test_update_result_reports_truncated_positions() -> None:
    msg = common_pb.UpdateResult(sequence=4, count=3, truncated=[0, 2])
    assert _wire.update_result(msg) == models.UpdateResult(4, 3, [0, 2])
    assert _wire.update_result(common_pb.UpdateResult(sequence=1, count=1)).truncated == []


def test_text_source_in_create_and_collection_info() -> None:
    source = models.TextSource("minilm", payload_key="body")
    req = _ops.create_collection(
        "notes",
        {"text": VectorParams(text_source=source), "img": VectorParams(512, "dot")},
        None,
    ).request
    text, img = req.vectors
    assert text.dense.dim == 0 and text.HasField("text_source")
    assert (text.text_source.model, text.text_source.payload_key) == ("minilm", "body")
    assert not img.HasField("text_source") and img.dense.dim == 512
    with invalid(r"^vectors\['default'\].dim: must be at least 1 \(0, the model's dimension"):
        _ops.create_collection("d", VectorParams(), None)
    with invalid(r"^vectors\['default'\].text_source: must be a TextSource or None, got str"):
        _ops.create_collection("d", VectorParams(4, text_source="minilm"), None)  # type: ignore[arg-type]
    # The server answers with the model's dimension and the recorded hash of its weights.
    answer = coll_pb.CollectionInfo(name="notes", vectors=list(req.vectors))
    answer.vectors[0].dense.dim = 384
    answer.vectors[0].text_source.model_hash = "sha256:1f2e"
    info = _wire.collection_info(answer)
    assert info.vectors["text"] == VectorParams(
        384, text_source=models.TextSource("minilm", "body", "sha256:1f2e")
    )
    assert info.vectors["img"].text_source is None


class FakeEncoder(enc_grpc.EncoderServicer):
    """A tiny encoder: dense [len(text), words, 1] (multi: one row per word); a text longer than
    `window` characters is truncated; model "nope" is unknown."""

    window = 12

    def __init__(self) -> None:
        self.requests: list[enc_pb.EncodeRequest] = []

    def Encode(self, request: Any, context: grpc.ServicerContext) -> enc_pb.EncodeResponse:
        self.requests.append(request)
        if request.model == "nope":
            context.abort(grpc.StatusCode.NOT_FOUND, "encoder model 'nope' is not served")
        results = []
        for text in request.texts:
            words = text.split()
            if request.kind == enc_pb.MULTI:
                vector = common_pb.VectorInput(
                    multi=_wire.encode_array(np.ones((len(words), 2), np.float32))
                )
            else:
                row = np.array([len(text), len(words), 1], np.float32)
                vector = common_pb.VectorInput(dense=_wire.encode_array(row))
            results.append(
                enc_pb.EncodedText(
                    vector=vector, truncated=len(text) > self.window, n_tokens=len(words)
                )
            )
        return enc_pb.EncodeResponse(results=results, model=request.model or "tiny", model_hash="h")

    def ListModels(self, request: Any, context: grpc.ServicerContext) -> enc_pb.ListModelsResponse:
        return enc_pb.ListModelsResponse(
            models=[enc_pb.ModelInfo(name="tiny", hash="h", dim=3, max_tokens=4, kinds=[1, 2])]
        )


def test_encode_against_a_fake_encoder_server() -> None:
    fake = FakeEncoder()
    with fake_server(encoder=fake) as address, Client(address) as client:
        got = client.encode(["two words", "a much longer text here"], role="query")
        assert [e.vector.tolist() for e in got] == [[9.0, 2.0, 1.0], [23.0, 5.0, 1.0]]
        assert [(e.truncated, e.n_tokens, e.model) for e in got] == [
            (False, 2, "tiny"),
            (True, 5, "tiny"),
        ]
        multi = client.encode(["one two three"], kind="multi", model="tiny")
        assert multi[0].vector.shape == (3, 2)
        assert client.list_models() == [models.ModelInfo("tiny", "h", 3, 4, ["dense", "multi"], "")]
        with pytest.raises(errors.NotFound, match="encoder model 'nope' is not served"):
            client.encode(["x"], model="nope")
        with invalid("not one string"):
            client.encode("x")  # type: ignore[arg-type]  # refused before any call
    assert [(r.role, r.kind, r.model) for r in fake.requests] == [
        (enc_pb.QUERY, enc_pb.DENSE, ""),
        (enc_pb.DOCUMENT, enc_pb.MULTI, "tiny"),
        (enc_pb.DOCUMENT, enc_pb.DENSE, "nope"),
    ]

    async def main() -> list[models.Encoded]:
        async with AsyncClient(address) as client:
            return await client.encode(["async text"])

    with fake_server(encoder=fake) as address:
        (one,) = asyncio.run(main())
    assert one.vector.tolist() == [10.0, 2.0, 1.0] and not one.truncated


class TextSink(points_grpc.PointsServicer):
    """UpsertStream that 'encodes' texts: a text longer than `window` characters is truncated.

    As the server does, it reports positions within the whole stream: each message's positions
    offset by the points of the messages before it."""

    window = 5

    def __init__(self) -> None:
        self.messages: list[points_pb.UpsertRequest] = []

    def UpsertStream(
        self, request_iterator: Any, context: grpc.ServicerContext
    ) -> common_pb.UpdateResult:
        before, truncated = 0, []
        for request in request_iterator:
            self.messages.append(request)
            texts = list(request.batch.texts)
            truncated += [before + i for i, t in enumerate(texts) if len(t) > self.window]
            before += len(request.batch.ids)
        return common_pb.UpdateResult(
            sequence=len(self.messages), count=before, truncated=truncated
        )


def test_upload_of_texts_reports_truncated_positions_within_the_whole_upload() -> None:
    sink = TextSink()
    texts = ["short", "a long one", "ok", "tiny", "longer again", "x", "also too long"]
    with fake_server(points=sink) as address, Client(address) as client:
        result = client.upload(
            "notes",
            list(range(7)),
            {"title": np.ones((7, 2))},
            texts=texts,
            models={"title": "minilm"},
            batch_size=3,
        )
    assert result == models.UpdateResult(sequence=3, count=7, truncated=[1, 4, 6])
    assert [len(m.batch.ids) for m in sink.messages] == [3, 3, 1]
    assert all(dict(m.models) == {"title": "minilm"} for m in sink.messages)

    async def main() -> models.UpdateResult:
        async with AsyncClient(address) as client:
            return await client.upload("notes", list(range(7)), texts=texts, batch_size=2)

    sink = TextSink()
    with fake_server(points=sink) as address:
        assert asyncio.run(main()).truncated == [1, 4, 6]
    assert all(not m.batch.vectors and not m.models for m in sink.messages)
    # A position past the upload is a malformed answer, not a silent wrong index.
    parse = _ops.upload("notes", [1, 2], None, None, ["a", "b"], 1).parse
    with pytest.raises(errors.Internal, match="truncated position 2 is past the 2 points"):
        parse(common_pb.UpdateResult(count=2, truncated=[2]))
