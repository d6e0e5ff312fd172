"""The server's convert layer (wire <-> domain) and its settings.

Every refusal a client can trigger with a malformed request is checked for its error class and
for the field path / value its message names, since that message is all the user sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vecdb.engine.errors import FieldNotFound, InvalidArgument
from vecdb.engine.filters import MAX_FILTER_DEPTH, Filter, HasId, IsEmpty, Match, MatchAny, Range
from vecdb.engine.schema import (
    Bm25Config,
    CollectionConfig,
    DenseField,
    HnswConfig,
    Metric,
    MultiVectorField,
    MuveraConfig,
    PayloadIndexConfig,
    PayloadIndexType,
    QuantizationConfig,
    SparseField,
    StorageDType,
    TextSource,
)
from vecdb.engine.types import (
    CollectionInfo,
    CollectionStats,
    Diversity,
    FieldStats,
    Fusion,
    Hits,
    HybridQuery,
    Record,
    ScrollPage,
    UpdateResult,
)
from vecdb.server import convert_to_domain as to_domain
from vecdb.server import convert_to_proto as to_proto
from vecdb.server.settings import Settings
from vecdb.v1 import collections_service_pb2 as coll_pb
from vecdb.v1 import common_pb2 as common_pb
from vecdb.v1 import points_service_pb2 as points_pb
from vecdb.v1 import query_service_pb2 as query_pb

LIMITS = {"max_payload_bytes": 1 << 20, "max_batch_points": 100_000}
UUID = "8b1a9953-c461-4f6a-9b0e-6d4c8a0e2f11"


def wire(arr: np.ndarray, dtype: int = common_pb.FLOAT32) -> common_pb.Vector:
    arr = np.asarray(arr)
    return common_pb.Vector(data=arr.tobytes(), dtype=dtype, shape=list(arr.shape))


def dense(values: list[float]) -> common_pb.VectorInput:
    return common_pb.VectorInput(dense=wire(np.asarray(values, dtype="<f4")))


def point(pid: int | str, vectors: dict[str, list[float]], payload: str = "", text: str = "") -> common_pb.PointStruct:
    msg = common_pb.PointStruct(payload_json=payload, text=text)
    msg.id.CopyFrom(to_proto.point_id(pid))
    for name, values in vectors.items():
        msg.vectors[name].CopyFrom(dense(values))
    return msg


def upsert(points: list[common_pb.PointStruct] = (), batch: points_pb.PointBatch | None = None) -> points_pb.UpsertRequest:
    req = points_pb.UpsertRequest(collection="docs", points=list(points))
    if batch is not None:
        req.batch.CopyFrom(batch)
    return req


def raises(exc: type[Exception], *fragments: str) -> pytest.RaisesContext:  # type: ignore[type-arg]
    """pytest.raises that also requires every fragment in the message."""

    class _Ctx:
        def __enter__(self) -> None:
            self._ctx = pytest.raises(exc)
            self._info = self._ctx.__enter__()

        def __exit__(self, *args: object) -> bool:
            handled = self._ctx.__exit__(*args)
            message = str(self._info.value)
            for fragment in fragments:
                assert fragment in message, f"{fragment!r} not in {message!r}"
            return bool(handled)

    return _Ctx()  # type: ignore[return-value]


CONFIG = CollectionConfig(
    name="docs",
    vectors=(DenseField(name="text", dim=3), DenseField(name="image", dim=2, metric=Metric.L2)),
)


# ---- collections ---------------------------------------------------------------------------


def test_create_request_zeros_and_unspecified_become_defaults() -> None:
    req = coll_pb.CreateCollectionRequest(name="docs")
    req.vectors.add(name="text", dense=coll_pb.DenseParams(dim=384))
    req.vectors.add(name="img", dense=coll_pb.DenseParams(dim=8, metric=coll_pb.L2, storage_dtype=common_pb.FLOAT16,
                                                          hnsw=coll_pb.HnswParams(m=32)))
    req.payload_indexes.add(key="meta.author", type=coll_pb.KEYWORD)
    config = to_domain.collection_config(req)
    config.validate()
    assert config == CollectionConfig(
        name="docs",
        vectors=(
            DenseField(name="text", dim=384, metric=Metric.COSINE, storage_dtype=StorageDType.FLOAT32, hnsw=HnswConfig()),
            DenseField(name="img", dim=8, metric=Metric.L2, storage_dtype=StorageDType.FLOAT16,
                       hnsw=HnswConfig(m=32, ef_construct=200, ef=64)),
        ),
        payload_indexes=(PayloadIndexConfig(key="meta.author", type=PayloadIndexType.KEYWORD),),
    )


def test_every_field_kind_converts_validates_and_round_trips() -> None:
    req = coll_pb.CreateCollectionRequest(name="c")
    req.vectors.add(name="q", dense=coll_pb.DenseParams(
        dim=4, quantization=coll_pb.QuantizationParams(binary=coll_pb.BinaryQuantization(bits=2))))
    req.vectors.add(name="m", multivector=coll_pb.MultiVectorParams(
        dim=4, muvera=coll_pb.MuveraParams(reps=8, k_sim=3, d_proj=0, candidates=50)))
    req.vectors.add(name="s", sparse=coll_pb.SparseParams(
        modifier=coll_pb.SparseParams.BM25, bm25=coll_pb.Bm25Params(k1=1.5, text_key="body", stemmer="")))
    req.vectors.add(name="splade", sparse=coll_pb.SparseParams())
    config = to_domain.collection_config(req)
    config.validate()
    assert config.vectors[1].muvera == MuveraConfig(reps=8, k_sim=3, d_proj=0, candidates=50)
    assert config.vectors[2].bm25 == Bm25Config(k1=1.5, text_key="body", stemmer="")
    assert config.vectors[3] == SparseField(name="splade")
    again = to_domain.collection_config(coll_pb.CreateCollectionRequest(**to_proto.collection_config_fields(config)))
    assert again == config


def test_text_sources_and_text_queries_convert() -> None:
    field = coll_pb.VectorFieldConfig(name="v", dense=coll_pb.DenseParams(dim=0),
                                      text_source=coll_pb.TextSource(model="minilm", payload_key="body"))
    config = to_domain.collection_config(coll_pb.CreateCollectionRequest(name="c", vectors=[field]))
    assert config.vectors[0].text_source == TextSource(model="minilm", payload_key="body")
    req = query_pb.QueryRequest(collection="docs", query=query_pb.QueryInput(text="hello"))
    q = to_domain.nearest_query(req, None, max_limit=100)
    assert q.vector is None and q.point is None and q.text == "hello"
    q = to_domain.nearest_query(query_pb.QueryRequest(query=query_pb.QueryInput(point=to_proto.point_id(1))), None,
                                max_limit=100)
    assert q.text is None and q.point == 1


def test_unbuilt_kinds_keep_their_parameters() -> None:
    req = coll_pb.CreateCollectionRequest(name="c")
    q = coll_pb.QuantizationParams(binary=coll_pb.BinaryQuantization(bits=2, method=coll_pb.BinaryQuantization.RECURRENT_RESIDUAL),
                                   oversampling=3.0, rescore=False)
    req.vectors.add(name="q", dense=coll_pb.DenseParams(dim=4, quantization=q))
    req.vectors.add(name="m", multivector=coll_pb.MultiVectorParams(dim=128))
    req.vectors.add(name="s", sparse=coll_pb.SparseParams(modifier=coll_pb.SparseParams.BM25),
                    text_source=coll_pb.TextSource(model="splade", payload_key="body"))
    config = to_domain.collection_config(req)
    assert config.vectors[0].quantization == QuantizationConfig(
        method="binary", bits=2, binary_method="recurrent_residual", oversampling=3.0, rescore=False)
    assert config.vectors[1] == MultiVectorField(name="m", dim=128, metric=Metric.COSINE, storage_dtype=StorageDType.FLOAT16)
    assert config.vectors[2] == SparseField(name="s", modifier="bm25", text_source=TextSource(model="splade", payload_key="body"),
                                            bm25=Bm25Config())
    with raises(InvalidArgument, "BM25", "text_source"):
        config.validate()


def test_create_request_refusals_name_the_field() -> None:
    req = coll_pb.CreateCollectionRequest(name="c")
    req.vectors.add(name="v")
    with raises(InvalidArgument, "vectors[0]", "'v'", "dense, multivector or sparse"):
        to_domain.collection_config(req)

    req = coll_pb.CreateCollectionRequest(name="c")
    req.vectors.add(name="v", dense=coll_pb.DenseParams(dim=4, storage_dtype=common_pb.UINT8))
    with raises(InvalidArgument, "vectors[0].dense.storage_dtype = UINT8"):
        to_domain.collection_config(req)

    req = coll_pb.CreateCollectionRequest(name="c")
    req.vectors.add(name="v", dense=coll_pb.DenseParams(dim=4, metric=9))
    with raises(InvalidArgument, "vectors[0].dense.metric = 9"):
        to_domain.collection_config(req)

    req = coll_pb.CreateCollectionRequest(name="c")
    req.vectors.add(name="v", dense=coll_pb.DenseParams(dim=4))
    req.payload_indexes.add(key="tag")
    with raises(InvalidArgument, "payload_indexes[0].type", "'tag'"):
        to_domain.collection_config(req)


def test_collection_info_round_trips_every_field_kind() -> None:
    config = CollectionConfig(
        name="all",
        vectors=(
            DenseField(name="a", dim=16, metric=Metric.DOT, storage_dtype=StorageDType.FLOAT16,
                       hnsw=HnswConfig(m=8, ef_construct=100, ef=32)),
            DenseField(name="q", dim=16, quantization=QuantizationConfig(method="int8", oversampling=2.0)),
            DenseField(name="b", dim=16, quantization=QuantizationConfig(method="binary", bits=3),
                       text_source=TextSource(model="minilm")),
            MultiVectorField(name="m", dim=64, metric=Metric.DOT),
            SparseField(name="s", modifier="bm25"),
            SparseField(name="s2"),
        ),
        payload_indexes=(PayloadIndexConfig(key="n", type=PayloadIndexType.INTEGER),
                         PayloadIndexConfig(key="f", type=PayloadIndexType.FLOAT),
                         PayloadIndexConfig(key="ok", type=PayloadIndexType.BOOL)),
    )
    info = to_proto.collection_info(CollectionInfo(config=config, points_count=7, sequence=42))
    assert (info.points_count, info.sequence) == (7, 42)
    back = to_domain.collection_config(coll_pb.CreateCollectionRequest(
        name=info.name, vectors=info.vectors, payload_indexes=info.payload_indexes))
    assert back == config


# ---- vectors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype, wire_dtype",
    [("<f4", common_pb.FLOAT32), ("<f4", common_pb.DTYPE_UNSPECIFIED), ("<f2", common_pb.FLOAT16),
     ("u1", common_pb.UINT8), ("i1", common_pb.INT8)],
)
def test_vector_bytes_become_arrays_of_their_dtype_and_shape(dtype: str, wire_dtype: int) -> None:
    arr = (np.arange(12).reshape(3, 4) - 6).astype(dtype) if dtype != "u1" else np.arange(12, dtype="u1").reshape(3, 4)
    out = to_domain.vector_array(wire(arr, wire_dtype), "v")
    assert out.dtype == np.dtype(dtype) and out.shape == (3, 4)
    np.testing.assert_array_equal(out, arr)


def test_vector_byte_count_mismatch_names_field_bytes_and_shape() -> None:
    msg = common_pb.Vector(data=b"\0" * 1532, dtype=common_pb.FLOAT32, shape=[384])
    with raises(InvalidArgument, "points[3].vectors['text']: data has 1532 bytes, shape [384] float32 needs 1536"):
        to_domain.vector_array(msg, "points[3].vectors['text']")


def test_vector_shape_must_be_non_empty_without_zero_dims() -> None:
    with raises(InvalidArgument, "q.vector", "shape is empty"):
        to_domain.vector_array(common_pb.Vector(data=b"", shape=[]), "q.vector")
    with raises(InvalidArgument, "q.vector", "[0, 4]", "zero dimension"):
        to_domain.vector_array(common_pb.Vector(data=b"", shape=[0, 4]), "q.vector")
    with raises(InvalidArgument, "q.vector.dtype = 17"):
        to_domain.vector_array(common_pb.Vector(data=b"\0" * 4, dtype=17, shape=[1]), "q.vector")


def test_vectors_go_out_as_little_endian_float32_with_shape() -> None:
    arr = np.array([[1.5, -2.0], [0.25, 3.0]], dtype=np.float16)
    msg = to_proto.vector(arr)
    assert msg.dtype == common_pb.FLOAT32 and list(msg.shape) == [2, 2]
    np.testing.assert_array_equal(np.frombuffer(msg.data, "<f4").reshape(2, 2), arr.astype(np.float32))


# ---- upserts -------------------------------------------------------------------------------


def test_points_become_one_column_wise_batch() -> None:
    req = upsert([
        point(1, {"text": [1, 2, 3], "image": [1, 0]}, payload='{"a": 1}', text="hello"),
        point(UUID.upper(), {"text": [4, 5, 6], "image": [0, 1]}),
    ])
    batch = to_domain.upsert_batch(req, **LIMITS)
    assert batch.ids == [1, UUID]
    assert set(batch.vectors) == {"text", "image"}
    assert batch.vectors["text"].dtype == np.float32
    np.testing.assert_array_equal(batch.vectors["text"], [[1, 2, 3], [4, 5, 6]])
    assert batch.payloads == [{"a": 1}, None]
    assert batch.texts == ["hello", None]


def test_points_and_batch_combine_in_order() -> None:
    pb = points_pb.PointBatch(ids=[to_proto.point_id(10), to_proto.point_id(11)],
                              payloads_json=['{"k": "x"}', ""], texts=["t10", ""])
    pb.vectors["text"].CopyFrom(wire(np.array([[7, 8, 9], [1, 1, 1]], dtype=np.float16), common_pb.FLOAT16))
    batch = to_domain.upsert_batch(upsert([point(1, {"text": [1, 2, 3]})], pb), **LIMITS)
    assert batch.ids == [1, 10, 11]
    assert batch.vectors["text"].dtype == np.float32
    np.testing.assert_array_equal(batch.vectors["text"], [[1, 2, 3], [7, 8, 9], [1, 1, 1]])
    assert batch.payloads == [None, {"k": "x"}, None]
    assert batch.texts == [None, "t10", None]


def test_batch_without_payloads_or_texts_has_none() -> None:
    pb = points_pb.PointBatch(ids=[to_proto.point_id(1)])
    pb.vectors["text"].CopyFrom(wire(np.ones((1, 3), "<f4")))
    batch = to_domain.upsert_batch(upsert(batch=pb), **LIMITS)
    assert batch.payloads is None and batch.texts is None and len(batch) == 1


def test_a_point_missing_a_field_is_refused() -> None:
    req = upsert([point(1, {"text": [1, 2, 3], "image": [1, 0]}), point(2, {"text": [1, 2, 3]})])
    with raises(InvalidArgument, "points[1].vectors", "'image'"):
        to_domain.upsert_batch(req, **LIMITS)
    req = upsert([point(1, {"text": [1, 2, 3]}), point(2, {"text": [1, 2, 3], "image": [1, 0]})])
    with raises(InvalidArgument, "points[1].vectors", "'image'"):
        to_domain.upsert_batch(req, **LIMITS)
    pb = points_pb.PointBatch(ids=[to_proto.point_id(5)])
    pb.vectors["image"].CopyFrom(wire(np.ones((1, 2), "<f4")))
    with raises(InvalidArgument, "batch.vectors", "'text'"):
        to_domain.upsert_batch(upsert([point(1, {"text": [1, 2, 3]})], pb), **LIMITS)


def test_a_bad_vector_in_a_point_names_the_point_and_field() -> None:
    req = upsert([point(i, {"text": [1, 2, 3]}) for i in range(4)])
    req.points[3].vectors["text"].dense.data = b"\0" * 11
    with raises(InvalidArgument, "points[3].vectors['text']: data has 11 bytes, shape [3] float32 needs 12"):
        to_domain.upsert_batch(req, **LIMITS)

    req = upsert([point(1, {"text": [1, 2, 3]}), point(2, {"text": [1, 2]})])
    with raises(InvalidArgument, "points[1].vectors['text']", "[2]", "[3]"):
        to_domain.upsert_batch(req, **LIMITS)

    req = upsert([point(1, {"text": [1, 2, 3]})])
    req.points[0].vectors["text"].dense.CopyFrom(wire(np.ones((1, 3), "<f4")))
    with raises(InvalidArgument, "points[0].vectors['text']", "[1, 3]", "use shape [dim]"):
        to_domain.upsert_batch(req, **LIMITS)


def test_batch_shape_and_column_counts_must_match_ids() -> None:
    pb = points_pb.PointBatch(ids=[to_proto.point_id(1), to_proto.point_id(2)])
    pb.vectors["text"].CopyFrom(wire(np.ones((3, 3), "<f4")))
    with raises(InvalidArgument, "batch.vectors['text']", "[3, 3]", "[2, dim]"):
        to_domain.upsert_batch(upsert(batch=pb), **LIMITS)

    pb.vectors["text"].CopyFrom(wire(np.ones((2, 3), "<f4")))
    pb.payloads_json.append("{}")
    with raises(InvalidArgument, "batch.payloads_json has 1 entries", "(2)"):
        to_domain.upsert_batch(upsert(batch=pb), **LIMITS)

    del pb.payloads_json[:]
    pb.texts.extend(["a", "b", "c"])
    with raises(InvalidArgument, "batch.texts has 3 entries"):
        to_domain.upsert_batch(upsert(batch=pb), **LIMITS)

    pb = points_pb.PointBatch(ids=[to_proto.point_id(1)])
    pb.vectors["text"].CopyFrom(wire(np.ones((1, 4), "<f4")))
    with raises(InvalidArgument, "batch.vectors['text']: dimension 4", "dimension 3"):
        to_domain.upsert_batch(upsert([point(2, {"text": [1, 2, 3]})], pb), **LIMITS)


@pytest.mark.parametrize(
    "text, fragment",
    [("[1, 2]", "must be a JSON object, got list"), ('"x"', "got str"), ("{bad", "not valid JSON"),
     ('{"a": NaN}', "not valid JSON"), ("null", "got NoneType")],
)
def test_payload_must_be_a_json_object(text: str, fragment: str) -> None:
    req = upsert([point(1, {"text": [1, 2, 3]}), point(2, {"text": [1, 2, 3]}, payload=text)])
    with raises(InvalidArgument, "points[1].payload_json", fragment):
        to_domain.upsert_batch(req, **LIMITS)


def test_payload_over_the_size_limit_is_refused() -> None:
    big = json.dumps({"s": "é" * 600}, ensure_ascii=False)  # 1209 bytes in UTF-8, 609 characters
    req = upsert([point(1, {"text": [1, 2, 3]}, payload=big)])
    with raises(InvalidArgument, "points[0].payload_json has 1209 bytes", "maximum 1000"):
        to_domain.upsert_batch(req, max_payload_bytes=1000, max_batch_points=10)
    assert to_domain.upsert_batch(req, max_payload_bytes=1209, max_batch_points=10).payloads == [{"s": "é" * 600}]


def test_ids_must_be_unique_across_points_and_batch() -> None:
    req = upsert([point(7, {"text": [1, 2, 3]}), point(7, {"text": [1, 2, 3]})])
    with raises(InvalidArgument, "points[1].id = 7 repeats points[0].id"):
        to_domain.upsert_batch(req, **LIMITS)
    pb = points_pb.PointBatch(ids=[to_proto.point_id(UUID)])
    pb.vectors["text"].CopyFrom(wire(np.ones((1, 3), "<f4")))
    req = upsert([point(UUID.replace("-", "").upper(), {"text": [1, 2, 3]})], pb)
    with raises(InvalidArgument, "batch.ids[0]", "repeats points[0].id"):
        to_domain.upsert_batch(req, **LIMITS)


def test_ids_must_be_set_and_valid() -> None:
    req = upsert([point(1, {"text": [1, 2, 3]})])
    req.points[0].ClearField("id")
    with raises(InvalidArgument, "points[0].id is not set"):
        to_domain.upsert_batch(req, **LIMITS)
    req = upsert([point(1, {"text": [1, 2, 3]})])
    req.points[0].id.uuid = "not-a-uuid"
    with raises(InvalidArgument, "points[0].id", "not-a-uuid"):
        to_domain.upsert_batch(req, **LIMITS)


def test_empty_and_oversized_upserts_are_refused() -> None:
    with raises(InvalidArgument, "no points"):
        to_domain.upsert_batch(upsert([]), **LIMITS)
    req = upsert([point(i, {"text": [1, 2, 3]}) for i in range(3)])
    with raises(InvalidArgument, "3 points", "maximum 2"):
        to_domain.upsert_batch(req, max_payload_bytes=100, max_batch_points=2)


def test_multi_and_sparse_point_vectors_convert_per_point() -> None:
    req = upsert([point(1, {"d": [1.0, 2.0]}), point(2, {"d": [3.0, 4.0]}), point(3, {"d": [5.0, 6.0]})])
    req.points[0].vectors["m"].multi.CopyFrom(wire(np.ones((2, 3), "<f4")))
    req.points[2].vectors["m"].multi.CopyFrom(wire(np.zeros((1, 3), "<f4")))
    req.points[1].vectors["s"].sparse.CopyFrom(common_pb.SparseVector(indices=[7, 1], values=[0.5, 2.0]))
    batch = to_domain.upsert_batch(req, **LIMITS)
    assert batch.vectors["d"].shape == (3, 2)
    m = batch.vectors["m"]
    assert len(m) == 3 and m[1] is None and m[0].shape == (2, 3) and m[2].shape == (1, 3)
    s = batch.vectors["s"]
    assert s[0] is None and s[2] is None
    assert s[1].indices.tolist() == [7, 1] and s[1].values.tolist() == [0.5, 2.0]
    req = upsert([point(1, {})])
    req.points[0].vectors["s"].sparse.CopyFrom(common_pb.SparseVector(indices=[1, 2], values=[0.5]))
    with raises(InvalidArgument, "points[0].vectors['s'].sparse", "2 indices but 1 values"):
        to_domain.upsert_batch(req, **LIMITS)
    req = upsert([point(1, {})])
    req.points[0].vectors["m"].multi.CopyFrom(wire(np.ones(3, "<f4")))
    with raises(InvalidArgument, "points[0].vectors['m'].multi", "[n_tokens, dim]"):
        to_domain.upsert_batch(req, **LIMITS)


# ---- filters -------------------------------------------------------------------------------


def cond(**kwargs: object) -> common_pb.Condition:
    return common_pb.Condition(**kwargs)  # type: ignore[arg-type]


def field(key: str, **test: object) -> common_pb.Condition:
    return cond(field=common_pb.FieldCondition(key=key, **test))  # type: ignore[arg-type]


def test_filter_converts_every_condition_kind() -> None:
    msg = common_pb.Filter(
        must=[field("city", match=common_pb.MatchValue(keyword="Paris")),
              field("n", match=common_pb.MatchValue(integer=-3)),
              field("ok", match=common_pb.MatchValue(boolean=False))],
        should=[field("tags", any=common_pb.MatchAny(keywords=["a", "b"])),
                field("year", any=common_pb.MatchAny(integers=[2020, 2021])),
                field("price", range=common_pb.Range(gte=1.5, lt=10))],
        must_not=[cond(has_id=common_pb.HasIdCondition(ids=[to_proto.point_id(3), to_proto.point_id(UUID.upper())])),
                  cond(is_empty=common_pb.IsEmptyCondition(key="meta.author")),
                  cond(filter=common_pb.Filter(must=[field("x", match=common_pb.MatchValue(integer=1))]))],
    )
    assert to_domain.filter_(msg) == Filter(
        must=(Match("city", "Paris"), Match("n", -3), Match("ok", False)),
        should=(MatchAny("tags", ("a", "b")), MatchAny("year", (2020, 2021)), Range("price", gte=1.5, lt=10.0)),
        must_not=(HasId(frozenset({3, UUID})), IsEmpty("meta.author"), Filter(must=(Match("x", 1),))),
    )


@pytest.mark.parametrize(
    "bad, fragments",
    [
        (field("", match=common_pb.MatchValue(keyword="x")), ("filter.must[1].field.key = ''",)),
        (field("a..b", match=common_pb.MatchValue(keyword="x")), ("filter.must[1].field.key = 'a..b'",)),
        (field("k"), ("filter.must[1].field", "'k'", "no test")),
        (field("k", match=common_pb.MatchValue()), ("filter.must[1].field.match", "no value")),
        (field("k", any=common_pb.MatchAny()), ("filter.must[1].field.any", "neither")),
        (field("k", any=common_pb.MatchAny(keywords=["a"], integers=[1])), ("filter.must[1].field.any", "both")),
        (field("k", range=common_pb.Range()), ("filter.must[1].field.range", "no bound")),
        (field("k", range=common_pb.Range(gt=float("nan"))), ("filter.must[1].field.range.gt", "NaN")),
        (cond(), ("filter.must[1] is empty",)),
        (cond(is_empty=common_pb.IsEmptyCondition()), ("filter.must[1].is_empty.key",)),
        (cond(has_id=common_pb.HasIdCondition(ids=[common_pb.PointId(uuid="nope")])), ("filter.must[1].has_id.ids[0]",)),
    ],
)
def test_malformed_filters_name_the_path(bad: common_pb.Condition, fragments: tuple[str, ...]) -> None:
    msg = common_pb.Filter(must=[field("ok", match=common_pb.MatchValue(boolean=True)), bad])
    with raises(InvalidArgument, *fragments):
        to_domain.filter_(msg)


def nested(depth: int) -> common_pb.Filter:
    f = common_pb.Filter(must=[field("k", match=common_pb.MatchValue(integer=1))])
    for _ in range(depth - 1):
        f = common_pb.Filter(should=[cond(filter=f)])
    return f


def test_filter_nesting_is_bounded() -> None:
    to_domain.filter_(nested(MAX_FILTER_DEPTH))
    with raises(InvalidArgument, "filter" + ".should[0].filter" * MAX_FILTER_DEPTH, f"deeper than {MAX_FILTER_DEPTH}"):
        to_domain.filter_(nested(MAX_FILTER_DEPTH + 1))


def test_an_unset_or_empty_filter_is_none_but_an_empty_delete_filter_is_refused() -> None:
    assert to_domain.optional_filter(points_pb.CountRequest(collection="c")) is None
    assert to_domain.optional_filter(points_pb.CountRequest(collection="c", filter=common_pb.Filter())) is None
    req = points_pb.DeletePointsRequest(collection="c", filter=common_pb.Filter())
    with raises(InvalidArgument, "filter", "would delete every point"):
        to_domain.delete_selector(req)
    req = points_pb.DeletePointsRequest(collection="c", ids=points_pb.PointIdList(ids=[to_proto.point_id(4)]))
    assert to_domain.delete_selector(req) == [4]
    with raises(InvalidArgument, "no selector"):
        to_domain.delete_selector(points_pb.DeletePointsRequest(collection="c"))


# ---- queries -------------------------------------------------------------------------------


def query(**kwargs: object) -> query_pb.QueryRequest:
    req = query_pb.QueryRequest(collection="docs", **kwargs)  # type: ignore[arg-type]
    if not req.HasField("query"):
        req.query.vector.CopyFrom(wire(np.array([1, 0, 0], "<f4")))
    return req


def test_query_defaults_and_fields() -> None:
    q = to_domain.nearest_query(query(), None, max_limit=10_000)
    assert q.limit == 10 and q.using == "" and q.filter is None and q.with_vectors == () and q.ef is None
    np.testing.assert_array_equal(q.vector, [1, 0, 0])
    assert q.vector is not None and q.vector.dtype == np.float32

    req = query(using="text", limit=5, offset=2, score_threshold=0.5, with_payload=True,
                params=query_pb.SearchParams(ef=128, exact=True),
                filter=common_pb.Filter(must=[field("k", match=common_pb.MatchValue(keyword="v"))]))
    req.query.point.CopyFrom(to_proto.point_id(UUID.upper()))
    q = to_domain.nearest_query(req, None, max_limit=10_000)
    assert (q.point, q.vector, q.limit, q.offset, q.score_threshold, q.with_payload, q.ef, q.exact) == (
        UUID, None, 5, 2, 0.5, True, 128, True)
    assert q.filter == Filter(must=(Match("k", "v"),))


def test_query_limit_over_the_maximum_is_refused() -> None:
    with raises(InvalidArgument, "limit = 50000 exceeds the server maximum 10000"):
        to_domain.nearest_query(query(limit=50_000), None, max_limit=10_000)
    assert to_domain.nearest_query(query(limit=10_000), None, max_limit=10_000).limit == 10_000
    with raises(InvalidArgument, "offset + limit = 9995 + 10 exceeds the server maximum 10000"):
        to_domain.nearest_query(query(offset=9995), None, max_limit=10_000)


def test_with_vectors_resolves_against_the_config() -> None:
    wv = common_pb.WithVectors(enable=True)
    assert to_domain.needs_config(wv)
    assert to_domain.with_vector_fields(wv, CONFIG) == ("text", "image")
    assert to_domain.with_vector_fields(common_pb.WithVectors(fields=["image"]), CONFIG) == ("image",)
    assert to_domain.with_vector_fields(common_pb.WithVectors(), None) == ()
    assert not to_domain.needs_config(common_pb.WithVectors())
    with raises(FieldNotFound, "'nope'", "'text'"):
        to_domain.with_vector_fields(common_pb.WithVectors(fields=["nope"]), CONFIG)
    q = to_domain.nearest_query(query(with_vectors=wv), CONFIG, max_limit=100)
    assert q.with_vectors == ("text", "image")


def test_sparse_and_multi_query_inputs_convert() -> None:
    req = query_pb.QueryRequest(collection="docs", query=query_pb.QueryInput(
        sparse=common_pb.SparseVector(indices=[3, 1], values=[1.0, 0.5])))
    q = to_domain.nearest_query(req, None, max_limit=100)
    assert q.vector.indices.tolist() == [3, 1] and q.vector.values.tolist() == [1.0, 0.5]
    req = query_pb.QueryRequest(collection="docs", query=query_pb.QueryInput(multi=wire(np.ones((2, 3), "<f4"))))
    assert to_domain.nearest_query(req, None, max_limit=100).vector.shape == (2, 3)


def test_hybrid_queries_convert_with_stages_fusion_rerank_and_diversity() -> None:
    text = query_pb.QueryInput(text="red fox")
    req = query_pb.QueryRequest(
        collection="docs", limit=5,
        prefetch=[query_pb.Prefetch(using="dense", query=text, limit=50),
                  query_pb.Prefetch(using="bm25", query=text, filter=common_pb.Filter(must=[common_pb.Condition(
                      field=common_pb.FieldCondition(key="lang", match=common_pb.MatchValue(keyword="en")))]))],
        fusion=query_pb.Fusion(method=query_pb.Fusion.RRF, rrf_k=10, weights=[2.0, 1.0]),
        rerank=query_pb.Rerank(using="colbert", query=query_pb.QueryInput(multi=wire(np.ones((2, 3), "<f4")))),
        diversity=query_pb.Diversity(method=query_pb.Diversity.COVERAGE, relevance_weight=0.7, using="dense"),
    )
    q = to_domain.query_request(req, None, max_limit=1000)
    assert isinstance(q, HybridQuery) and q.limit == 5
    assert [s.using for s in q.prefetch] == ["dense", "bm25"]
    assert q.prefetch[0].limit == 50 and q.prefetch[1].limit == to_domain.DEFAULT_STAGE_LIMIT
    assert q.prefetch[0].text == "red fox" and q.prefetch[1].filter is not None
    assert q.fusion == Fusion(method="rrf", k=10, weights=(2.0, 1.0))
    assert q.rerank is not None and q.rerank.query.using == "colbert" and q.rerank.query.vector.shape == (2, 3)
    assert q.diversity == Diversity(method="coverage", lambda_=pytest.approx(0.7), using="dense")
    # A plain query with diversity draws 10 x limit candidates from its one field.
    plain = to_domain.query_request(query(limit=4, diversity=query_pb.Diversity()), None, max_limit=1000)
    assert isinstance(plain, HybridQuery) and plain.prefetch[0].limit == 40


@pytest.mark.parametrize(
    "extra, fragments",
    [({"rerank": query_pb.Rerank(using="a", query=query_pb.QueryInput(text="x"))}, ("rerank", "add prefetch")),
     ({"fusion": query_pb.Fusion(method=query_pb.Fusion.RRF)}, ("fusion", "add prefetch")),
     ({"prefetch": [query_pb.Prefetch(using="a")]}, ("prefetch[0].query is not set",)),
     ({"prefetch": [query_pb.Prefetch(using="a", query=query_pb.QueryInput(text="x"), limit=5000)]},
      ("prefetch[0].limit = 5000",))],
)
def test_hybrid_refusals_name_the_place(extra: dict[str, object], fragments: tuple[str, ...]) -> None:
    with raises(InvalidArgument, *fragments):
        to_domain.query_request(query(**extra), None, max_limit=1000)
    with raises(InvalidArgument, "hybrid queries go one per Query call"):
        to_domain.nearest_query(query(**extra), None, max_limit=1000)


def test_query_needs_an_input_and_a_single_vector() -> None:
    req = query_pb.QueryRequest(collection="docs")
    with raises(InvalidArgument, "query is not set"):
        to_domain.nearest_query(req, None, max_limit=100)
    req = query_pb.QueryRequest(collection="docs", query=query_pb.QueryInput(vector=wire(np.ones((2, 3), "<f4"))))
    with raises(InvalidArgument, "query.vector", "[2, 3]"):
        to_domain.nearest_query(req, None, max_limit=100)
    with raises(InvalidArgument, "score_threshold is NaN"):
        to_domain.nearest_query(query(score_threshold=float("nan")), None, max_limit=100)


def test_query_batch_checks_size_and_collection_and_prefixes_paths() -> None:
    batch = query_pb.QueryBatchRequest(collection="docs", queries=[query(), query(limit=3)])
    batch.queries[0].collection = ""
    qs = to_domain.nearest_queries(batch, None, max_limit=100, max_queries=2)
    assert [q.limit for q in qs] == [10, 3]
    with raises(InvalidArgument, "queries has 2 queries", "maximum 1"):
        to_domain.nearest_queries(batch, None, max_limit=100, max_queries=1)
    batch.queries[1].collection = "other"
    with raises(InvalidArgument, "queries[1].collection = 'other'", "'docs'"):
        to_domain.nearest_queries(batch, None, max_limit=100, max_queries=8)
    batch.queries[1].collection = "docs"
    batch.queries[1].limit = 500
    with raises(InvalidArgument, "queries[1].limit = 500 exceeds the server maximum 100"):
        to_domain.nearest_queries(batch, None, max_limit=100, max_queries=8)


def test_query_batch_compact_form_is_a_template_and_a_matrix() -> None:
    vectors = to_proto.vector(np.arange(6, dtype=np.float32).reshape(3, 2))
    batch = query_pb.QueryBatchRequest(collection="docs", template=query_pb.QueryRequest(limit=4, using="text"),
                                       vectors=vectors)
    template, matrix = to_domain.nearest_queries(batch, None, max_limit=100, max_queries=8)
    assert template.limit == 4 and template.using == "text" and template.vector is None and matrix.shape == (3, 2)
    with raises(InvalidArgument, "vectors has 3 queries", "maximum 2"):
        to_domain.nearest_queries(batch, None, max_limit=100, max_queries=2)
    batch.template.query.point.num = 1
    with raises(InvalidArgument, "template.query must be unset"):
        to_domain.nearest_queries(batch, None, max_limit=100, max_queries=8)
    both = query_pb.QueryBatchRequest(collection="docs", queries=[query()], vectors=vectors)
    with raises(InvalidArgument, "not both"):
        to_domain.nearest_queries(both, None, max_limit=100, max_queries=8)
    flat = query_pb.QueryBatchRequest(collection="docs", vectors=to_proto.vector(np.ones(3, np.float32)))
    with raises(InvalidArgument, "expected [q, dim]"):
        to_domain.nearest_queries(flat, None, max_limit=100, max_queries=8)


def test_scroll_and_get_arguments() -> None:
    req = points_pb.ScrollRequest(collection="docs", offset=to_proto.point_id(5), with_payload=True,
                                  with_vectors=common_pb.WithVectors(enable=True))
    assert to_domain.scroll_args(req, CONFIG, max_limit=100) == {
        "filter": None, "limit": 10, "offset": 5, "with_payload": True, "with_vectors": ("text", "image")}
    assert to_domain.scroll_args(points_pb.ScrollRequest(limit=7), None, max_limit=100)["offset"] is None
    with raises(InvalidArgument, "limit = 101"):
        to_domain.scroll_args(points_pb.ScrollRequest(limit=101), None, max_limit=100)
    get = points_pb.GetPointsRequest(collection="docs", ids=[to_proto.point_id(1), common_pb.PointId()])
    with raises(InvalidArgument, "ids[1] is not set"):
        to_domain.point_ids(get.ids, "ids")


# ---- results -------------------------------------------------------------------------------


def test_records_and_scored_points_go_out_complete() -> None:
    rec = to_proto.record(Record(id=UUID, payload={"a": [1, "é"], "b": None}, text="hi",
                                 vectors={"text": np.array([1, 2, 3], np.float32)}))
    assert rec.id.uuid == UUID and rec.payload_json == '{"a":[1,"é"],"b":null}' and rec.text == "hi"
    v = rec.vectors["text"].dense
    assert list(v.shape) == [3] and np.frombuffer(v.data, "<f4").tolist() == [1, 2, 3]

    bare = to_proto.record(Record(id=3))
    assert bare.id.num == 3 and bare.payload_json == "" and bare.text == "" and not bare.vectors

    hits = Hits(ids=[2**64 - 1, UUID], scores=np.array([0.75, 0.5], np.float32), payloads=[{}, None],
                vectors={"text": np.array([[1, 2, 3], [4, 5, 6]], np.float32)}, texts=["a", None])
    cols = to_proto.query_response(hits).points
    assert list(cols.num_ids) == [2**64 - 1, 0] and dict(cols.uuid_ids) == {1: UUID}
    assert list(cols.scores) == [0.75, 0.5] and list(cols.payloads_json) == ["{}", ""] and list(cols.texts) == ["a", ""]
    assert list(cols.vectors["text"].shape) == [2, 3]
    plain = to_proto.query_response(Hits(ids=[1, 2], scores=np.array([1.0, 0.5], np.float32))).points
    assert list(plain.num_ids) == [1, 2] and not plain.payloads_json and not plain.texts and not plain.vectors
    resp = to_proto.query_batch_response([Hits(ids=[1], scores=np.ones(1, np.float32)), Hits.empty()])
    assert [len(r.points.num_ids) for r in resp.results] == [1, 0]


def test_scroll_page_update_result_and_stats() -> None:
    page = to_proto.scroll_page(ScrollPage(records=[Record(id=1)], next_offset=UUID))
    assert page.HasField("next_offset") and page.next_offset.uuid == UUID
    assert not to_proto.scroll_page(ScrollPage(records=[], next_offset=None)).HasField("next_offset")
    res = to_proto.update_result(UpdateResult(sequence=9, count=3))
    assert (res.sequence, res.count) == (9, 3)
    stats = to_proto.stats([CollectionStats(name="docs", points_count=5, sequence=9, disk_bytes=4096,
                                            fields=(FieldStats("text", "dense", 5, 16, 1024, 8),))])
    c = stats.collections[0]
    assert (c.name, c.points_count, c.sequence, c.disk_bytes) == ("docs", 5, 9, 4096)
    f = c.fields[0]
    assert (f.name, f.kind, f.indexed_points, f.index_capacity, f.ram_bytes, f.checkpoint_sequence) == (
        "text", "dense", 5, 16, 1024, 8)


def test_service_names_come_from_the_descriptors() -> None:
    assert set(to_proto.SERVICE_NAMES) == {
        "vecdb.v1.Collections", "vecdb.v1.Points", "vecdb.v1.Query", "vecdb.v1.Admin",
        "vecdb.v1.Encoder", "vecdb.v1.Cache"}


# ---- settings ------------------------------------------------------------------------------


def test_settings_precedence_override_env_file_default(tmp_path: Path) -> None:
    cfg = tmp_path / "vecdb.toml"
    cfg.write_text('port = 7000\nmax_limit = 500\n[server]\nhost = "0.0.0.0"\ngrace_period_s = 2\n')
    env = {"VECDB_PORT": "7100", "VECDB_DATA_DIR": str(tmp_path / "d")}
    s = Settings.from_sources(cfg, environ=env)
    assert s.port == 7100  # env beats file
    assert s.max_limit == 500 and s.host == "0.0.0.0" and s.grace_period_s == 2.0  # file beats default
    assert s.data_dir == tmp_path / "d" and isinstance(s.data_dir, Path)
    assert s.max_batch_points == 100_000  # default
    s = Settings.from_sources(cfg, environ=env, port=7200, host=None)
    assert s.port == 7200 and s.host == "0.0.0.0"  # an override beats env; None falls through
    assert Settings.from_sources(environ={"VECDB_CONFIG": str(cfg)}).port == 7000


def test_settings_refuse_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    cfg = tmp_path / "vecdb.toml"
    cfg.write_text("[server]\nprot = 7000\n")
    with raises(ValueError, "'prot'", "valid settings are", "port", "max_limit"):
        Settings.from_sources(cfg, environ={})
    cfg.write_text("[metrics]\nport = 1\n")
    with raises(ValueError, "'metrics'"):
        Settings.from_sources(cfg, environ={})
    with raises(ValueError, "VECDB_PORT", "'seven'"):
        Settings.from_sources(environ={"VECDB_PORT": "seven"})
    with raises(ValueError, "port = 70000"):
        Settings.from_sources(environ={}, port=70000)
    with raises(ValueError, "unknown setting 'colour'"):
        Settings.from_sources(environ={}, colour=1)


def test_settings_engine_options() -> None:
    opts = Settings(max_limit=77, max_batch_points=88, max_payload_bytes=999, search_threads=3,
                    exact_scan_threshold=12).engine_options()
    assert (opts.max_limit, opts.max_batch_points, opts.max_payload_bytes) == (77, 88, 999)
    assert (opts.search_threads, opts.exact_scan_threshold) == (3, 12)
