"""What each SDK method sends and how it reads the answer, shared by Client and AsyncClient.

Every public method of the two clients is one line: `self._unary(_ops.<method>(...), timeout)`.
The function here validates the arguments, builds the request, and names the RPC and the parser
of its response in a `Call`; the client only moves it over the wire (with retries and request
ids, see `_transport`). Nothing here touches a channel, so none of it differs between sync and
async.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from vecdb.v1 import admin_service_pb2 as admin_pb
from vecdb.v1 import collections_service_pb2 as coll_pb
from vecdb.v1 import common_pb2 as common_pb
from vecdb.v1 import encoder_service_pb2 as enc_pb
from vecdb.v1 import points_service_pb2 as points_pb
from vecdb.v1 import query_service_pb2 as query_pb
from vecdb_client import _wire, models
from vecdb_client.errors import Internal, InvalidArgument

T = TypeVar("T")


@dataclass(frozen=True)
class Rpc:
    """One gRPC method: its path and how its messages become bytes and back."""

    path: str
    serialize: Callable[[Any], bytes]
    deserialize: Callable[[bytes], Any]


@dataclass(frozen=True)
class Call(Generic[T]):
    """A ready request: the RPC, the request message and the parser of the response."""

    rpc: Rpc
    request: Any
    parse: Callable[[Any], T]


@dataclass(frozen=True)
class Upload:
    """A prepared client-streaming upload: `requests()` yields (request, points sent after it)."""

    rpc: Rpc
    total: int
    requests: Callable[[], Iterator[tuple[points_pb.UpsertRequest, int]]]
    parse: Callable[[Any], models.UpdateResult] = _wire.update_result


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


def _raw(data: bytes) -> bytes:
    return data


def _rpc(service: str, method: str, response: Any) -> Rpc:
    return Rpc(f"/vecdb.v1.{service}/{method}", _serialize, response.FromString)


# The table of every RPC the SDK calls.
CREATE_COLLECTION = _rpc("Collections", "Create", coll_pb.CollectionInfo)
GET_COLLECTION = _rpc("Collections", "Get", coll_pb.CollectionInfo)
LIST_COLLECTIONS = _rpc("Collections", "List", coll_pb.ListCollectionsResponse)
DELETE_COLLECTION = _rpc("Collections", "Delete", coll_pb.DeleteCollectionResponse)
COLLECTION_EXISTS = _rpc("Collections", "Exists", coll_pb.ExistsResponse)
UPSERT = _rpc("Points", "Upsert", common_pb.UpdateResult)
UPSERT_STREAM = _rpc("Points", "UpsertStream", common_pb.UpdateResult)
GET_POINTS = _rpc("Points", "Get", points_pb.GetPointsResponse)
DELETE_POINTS = _rpc("Points", "Delete", common_pb.UpdateResult)
COUNT = _rpc("Points", "Count", points_pb.CountResponse)
SCROLL = _rpc("Points", "Scroll", points_pb.ScrollResponse)
QUERY = _rpc("Query", "Query", query_pb.QueryResponse)
QUERY_BATCH = _rpc("Query", "QueryBatch", query_pb.QueryBatchResponse)
SERVER_INFO = _rpc("Admin", "ServerInfo", admin_pb.ServerInfoResponse)
STATS = _rpc("Admin", "Stats", admin_pb.StatsResponse)
CHECKPOINT = _rpc("Admin", "Checkpoint", admin_pb.CheckpointResponse)
RETRAIN_QUANTIZATION = _rpc("Admin", "RetrainQuantization", admin_pb.FieldStats)
ENCODE = _rpc("Encoder", "Encode", enc_pb.EncodeResponse)
LIST_MODELS = _rpc("Encoder", "ListModels", enc_pb.ListModelsResponse)
HEALTH_CHECK = Rpc("/grpc.health.v1.Health/Check", _raw, _raw)

VECDB_RPCS = (
    CREATE_COLLECTION,
    GET_COLLECTION,
    LIST_COLLECTIONS,
    DELETE_COLLECTION,
    COLLECTION_EXISTS,
    UPSERT,
    UPSERT_STREAM,
    GET_POINTS,
    DELETE_POINTS,
    COUNT,
    SCROLL,
    QUERY,
    QUERY_BATCH,
    SERVER_INFO,
    STATS,
    CHECKPOINT,
    ENCODE,
    LIST_MODELS,
)


# -- health and admin -----------------------------------------------------------------------------


def health(service: str = "") -> Call[str]:
    """grpc.health.v1 Check; through grpcio-health-checking's messages when it is installed."""
    _wire.check_name(service, "service")
    try:
        from grpc_health.v1 import health_pb2
    except ImportError:
        return Call(HEALTH_CHECK, _wire.encode_health_request(service), _wire.decode_health_status)
    rpc = Rpc(HEALTH_CHECK.path, _serialize, health_pb2.HealthCheckResponse.FromString)
    return Call(
        rpc,
        health_pb2.HealthCheckRequest(service=service),
        lambda r: _wire.HEALTH_STATUS.get(r.status, "UNKNOWN"),
    )


def server_info() -> Call[models.ServerInfo]:
    return Call(SERVER_INFO, admin_pb.ServerInfoRequest(), _wire.server_info)


def stats(collection: str | None) -> Call[list[models.CollectionStats]]:
    name = "" if collection is None else _wire.check_name(collection, "collection")
    return Call(
        STATS,
        admin_pb.StatsRequest(collection=name),
        lambda r: [_wire.collection_stats(c) for c in r.collections],
    )


def checkpoint(collection: str) -> Call[int]:
    request = admin_pb.CheckpointRequest(collection=_wire.check_name(collection, "collection"))
    return Call(CHECKPOINT, request, lambda r: int(r.sequence))


def retrain_quantization(collection: str, field: str) -> Call[models.FieldStats]:
    request = admin_pb.RetrainQuantizationRequest(
        collection=_wire.check_name(collection, "collection"), field=_wire.check_name(field, "field")
    )
    return Call(RETRAIN_QUANTIZATION, request, _wire.field_stats)


# -- collections ----------------------------------------------------------------------------------


def create_collection(
    name: str,
    vectors: models.VectorParams | Mapping[str, models.VectorParams],
    payload_indexes: Mapping[str, str] | None,
) -> Call[models.CollectionInfo]:
    request = _wire.create_request(name, vectors, payload_indexes)
    return Call(CREATE_COLLECTION, request, _wire.collection_info)


def get_collection(name: str) -> Call[models.CollectionInfo]:
    request = coll_pb.GetCollectionRequest(name=_wire.check_name(name, "name"))
    return Call(GET_COLLECTION, request, _wire.collection_info)


def list_collections() -> Call[list[models.CollectionInfo]]:
    return Call(
        LIST_COLLECTIONS,
        coll_pb.ListCollectionsRequest(),
        lambda r: [_wire.collection_info(c) for c in r.collections],
    )


def delete_collection(name: str) -> Call[bool]:
    request = coll_pb.DeleteCollectionRequest(name=_wire.check_name(name, "name"))
    return Call(DELETE_COLLECTION, request, lambda r: bool(r.deleted))


def collection_exists(name: str) -> Call[bool]:
    request = coll_pb.GetCollectionRequest(name=_wire.check_name(name, "name"))
    return Call(COLLECTION_EXISTS, request, lambda r: bool(r.exists))


# -- points ---------------------------------------------------------------------------------------


def _batch_request(
    collection: str,
    ids: Sequence[int | str],
    arrays: Mapping[str, np.ndarray],
    payloads: Sequence[Any] | None,
    texts: Sequence[Any] | None,
    model_names: Mapping[str, str],
    first: int = 0,
) -> points_pb.UpsertRequest:
    """One column-wise PointBatch of canonical ids; `first` is the index of ids[0] in the
    caller's sequence (for error messages). Sparse and multi-vector fields (per-point lists)
    travel as one PointStruct per point instead."""
    if any(isinstance(v, list) for v in arrays.values()):
        return _points_request(collection, ids, arrays, payloads, texts, model_names, first)
    batch = points_pb.PointBatch(
        ids=[_wire.id_message(v) for v in ids],  # canonical already
        vectors={name: _wire.encode_array(arr) for name, arr in arrays.items()},
    )
    if payloads is not None:
        batch.payloads_json.extend(
            _wire.payload_json(p, f"payloads[{first + i}]") for i, p in enumerate(payloads)
        )
    if texts is not None:
        batch.texts.extend(_wire.text_value(t, f"texts[{first + i}]") for i, t in enumerate(texts))
    return points_pb.UpsertRequest(collection=collection, batch=batch, models=model_names)


def _points_request(
    collection: str,
    ids: Sequence[int | str],
    arrays: Mapping[str, Any],
    payloads: Sequence[Any] | None,
    texts: Sequence[Any] | None,
    model_names: Mapping[str, str],
    first: int,
) -> points_pb.UpsertRequest:
    points = []
    for i, pid in enumerate(ids):
        point = common_pb.PointStruct(id=_wire.id_message(pid))
        for name, value in arrays.items():
            entry = value[i]
            if entry is not None:
                point.vectors[name].CopyFrom(_wire.vector_input(entry, f"vectors[{name!r}][{first + i}]"))
        if payloads is not None:
            point.payload_json = _wire.payload_json(payloads[i], f"payloads[{first + i}]")
        if texts is not None:
            point.text = _wire.text_value(texts[i], f"texts[{first + i}]")
        points.append(point)
    return points_pb.UpsertRequest(collection=collection, points=points, models=model_names)


@dataclass(frozen=True)
class _Points:
    """Checked upsert arguments: canonical ids, field -> (n, dim) arrays, the columns, and the
    field -> model map of the supplied vectors."""

    ids: list[int | str]
    arrays: dict[str, np.ndarray]
    payloads: Sequence[Any] | None
    texts: Sequence[Any] | None
    model_names: dict[str, str]


def _prepare_points(
    collection: str,
    ids: Sequence[int | str],
    vectors: ArrayLike | Mapping[str, ArrayLike] | None,
    payloads: Sequence[Any] | None,
    texts: Sequence[Any] | None,
    model_names: Mapping[str, str] | None,
) -> _Points:
    _wire.check_name(collection, "collection")
    canonical = _wire.canonical_ids(ids)
    n = len(canonical)
    if vectors is None:
        # Every field takes its vectors from text: the point's text or a payload key.
        if texts is None and payloads is None:
            raise InvalidArgument(
                "vectors: pass vectors, or texts (or payloads holding the text) for fields that "
                "take their vectors from text"
            )
        arrays: dict[str, np.ndarray] = {}
    else:
        arrays = _wire.batch_vectors(vectors, n)
    return _Points(
        canonical,
        arrays,
        _wire.column(payloads, n, "payloads"),
        _wire.column(texts, n, "texts"),
        _wire.models_map(model_names, arrays),
    )


def upsert(
    collection: str,
    ids: Sequence[int | str],
    vectors: ArrayLike | Mapping[str, ArrayLike] | None,
    payloads: Sequence[Any] | None,
    texts: Sequence[Any] | None,
    model_names: Mapping[str, str] | None = None,
    chunking: tuple[int, int] | None = None,
) -> Call[models.UpdateResult]:
    p = _prepare_points(collection, ids, vectors, payloads, texts, model_names)
    request = _batch_request(collection, p.ids, p.arrays, p.payloads, p.texts, p.model_names)
    if chunking is not None:
        if not (isinstance(chunking, tuple) and len(chunking) == 2):
            raise InvalidArgument("chunking: pass (window_tokens, overlap_tokens)")
        request.chunking.window_tokens = _wire.positive_uint32(chunking[0], "chunking[0] (window_tokens)")
        request.chunking.overlap_tokens = _wire.uint32(chunking[1], "chunking[1] (overlap_tokens)")
    return Call(UPSERT, request, _wire.update_result)


def upload(
    collection: str,
    ids: Sequence[int | str],
    vectors: ArrayLike | Mapping[str, ArrayLike] | None,
    payloads: Sequence[Any] | None,
    texts: Sequence[Any] | None,
    batch_size: int,
    model_names: Mapping[str, str] | None = None,
) -> Upload:
    """Ids, shapes and column lengths are checked now; payloads as each batch is built. Every
    message carries the models map."""
    size = _wire.uint32(batch_size, "batch_size")
    if size == 0:
        raise InvalidArgument("batch_size: must be at least 1")
    p = _prepare_points(collection, ids, vectors, payloads, texts, model_names)
    canonical, arrays, payloads, texts = p.ids, p.arrays, p.payloads, p.texts
    total = len(canonical)

    def requests() -> Iterator[tuple[points_pb.UpsertRequest, int]]:
        for start in range(0, total, size):
            stop = min(total, start + size)
            yield (
                _batch_request(
                    collection,
                    canonical[start:stop],
                    {name: arr[start:stop] for name, arr in arrays.items()},
                    None if payloads is None else payloads[start:stop],
                    None if texts is None else texts[start:stop],
                    p.model_names,
                    first=start,
                ),
                stop,
            )

    return Upload(UPSERT_STREAM, total, requests, _upload_result(total))


def _upload_result(total: int) -> Callable[[common_pb.UpdateResult], models.UpdateResult]:
    """The stream's one answer. Its `truncated` positions are within the whole upload: the
    server offsets each message's positions by the points of the messages before it (a
    client-streaming call has one answer, so only the server can); a position past the upload
    is a malformed answer."""

    def parse(msg: common_pb.UpdateResult) -> models.UpdateResult:
        result = _wire.update_result(msg)
        bad = [i for i in result.truncated if i >= total]
        if bad:
            raise Internal(
                f"upload: truncated position {bad[0]} is past the {total} points uploaded"
            )
        return result

    return parse


def get(
    collection: str,
    ids: Sequence[int | str],
    with_payload: bool,
    with_vectors: bool | Sequence[str],
) -> Call[list[models.Record]]:
    request = points_pb.GetPointsRequest(
        collection=_wire.check_name(collection, "collection"),
        ids=_wire.point_ids(ids),
        with_payload=bool(with_payload),
        with_vectors=_wire.with_vectors(with_vectors),
    )
    return Call(GET_POINTS, request, lambda r: [_wire.record(p) for p in r.points])


def delete(
    collection: str,
    ids: Sequence[int | str] | None,
    filter: Mapping[str, Any] | None,
) -> Call[models.UpdateResult]:
    if (ids is None) == (filter is None):
        raise InvalidArgument("delete: pass exactly one of ids, filter")
    request = points_pb.DeletePointsRequest(collection=_wire.check_name(collection, "collection"))
    if ids is not None:
        request.ids.CopyFrom(points_pb.PointIdList(ids=_wire.point_ids(ids)))
    else:
        request.filter.CopyFrom(_wire.build_filter(filter) or common_pb.Filter())
    return Call(DELETE_POINTS, request, _wire.update_result)


def count(collection: str, filter: Mapping[str, Any] | None) -> Call[int]:
    request = points_pb.CountRequest(
        collection=_wire.check_name(collection, "collection"), filter=_wire.build_filter(filter)
    )
    return Call(COUNT, request, lambda r: int(r.count))


def _scroll_page(response: points_pb.ScrollResponse) -> models.ScrollPage:
    return models.ScrollPage(
        records=[_wire.record(p) for p in response.points],
        next_offset=(
            _wire.id_from_wire(response.next_offset) if response.HasField("next_offset") else None
        ),
    )


def scroll(
    collection: str,
    filter: Mapping[str, Any] | None,
    limit: int,
    offset: int | str | None,
    with_payload: bool,
    with_vectors: bool | Sequence[str],
) -> Call[models.ScrollPage]:
    request = points_pb.ScrollRequest(
        collection=_wire.check_name(collection, "collection"),
        filter=_wire.build_filter(filter),
        limit=_wire.positive_uint32(limit, "limit"),
        offset=None if offset is None else _wire.point_id(offset, "offset"),
        with_payload=bool(with_payload),
        with_vectors=_wire.with_vectors(with_vectors),
    )
    return Call(SCROLL, request, _scroll_page)


# -- query ----------------------------------------------------------------------------------------


def _query_request(
    using: str,
    filter: common_pb.Filter | None,
    limit: int,
    offset: int,
    score_threshold: float | None,
    with_payload: bool,
    with_vectors: common_pb.WithVectors,
    ef: int | None,
    exact: bool,
) -> query_pb.QueryRequest:
    request = query_pb.QueryRequest(
        using=_wire.check_name(using, "using"),
        filter=filter,
        limit=_wire.positive_uint32(limit, "limit"),
        offset=_wire.uint32(offset, "offset"),
        with_payload=bool(with_payload),
        with_vectors=with_vectors,
    )
    if score_threshold is not None:
        request.score_threshold = _wire.real(score_threshold, "score_threshold")
    if ef is not None or exact:
        request.params.CopyFrom(
            query_pb.SearchParams(ef=0 if ef is None else _wire.uint32(ef, "ef"), exact=bool(exact))
        )
    return request


def _hits(response: query_pb.QueryResponse) -> models.Hits:
    return _wire.hits(response.points)


def _model_name(model: object) -> str:
    if model is None:
        return ""
    if not isinstance(model, str):
        raise InvalidArgument(f"model: must be a str or None, got {type(model).__name__}")
    return model


def _query_text(text: object, where: str) -> str:
    if not isinstance(text, str):
        raise InvalidArgument(f"{where}: must be a str, got {type(text).__name__}")
    return text


def query(
    collection: str,
    vector: ArrayLike | None,
    *,
    using: str,
    point: int | str | None,
    filter: Mapping[str, Any] | None,
    limit: int,
    offset: int,
    score_threshold: float | None,
    with_payload: bool,
    with_vectors: bool | Sequence[str],
    ef: int | None,
    exact: bool,
    text: str | None = None,
    model: str | None = None,
    prefetch: Sequence[models.Prefetch] = (),
    fusion: models.Fusion | str | None = None,
    rerank: models.Rerank | None = None,
    diversity: models.Diversity | None = None,
) -> Call[models.Hits]:
    hybrid = bool(prefetch) or fusion is not None or rerank is not None
    if sum(x is not None for x in (vector, point, text)) > 1 or (
        not hybrid and sum(x is not None for x in (vector, point, text)) != 1
    ):
        raise InvalidArgument(
            "query: pass exactly one of vector, point, text (with prefetch: at most one, which "
            "then rescores the fused candidates)"
        )
    request = _query_request(
        using,
        _wire.build_filter(filter),
        limit,
        offset,
        score_threshold,
        with_payload,
        _wire.with_vectors(with_vectors),
        ef,
        exact,
    )
    request.collection = _wire.check_name(collection, "collection")
    request.model = _model_name(model)
    _set_target(request.query, vector, text, point, "")
    for i, stage in enumerate(prefetch):
        request.prefetch.append(_prefetch(stage, f"prefetch[{i}]"))
    if fusion is not None:
        request.fusion.CopyFrom(_fusion(fusion, "fusion"))
    if rerank is not None:
        if not isinstance(rerank, models.Rerank):
            raise InvalidArgument(f"rerank: must be a Rerank, got {type(rerank).__name__}")
        request.rerank.using = _wire.check_name(rerank.using, "rerank.using") if rerank.using else ""
        _set_target(request.rerank.query, rerank.vector, rerank.text, rerank.point, "rerank.")
    if diversity is not None:
        request.diversity.CopyFrom(_diversity(diversity))
    return Call(QUERY, request, _hits)


def _set_target(target: query_pb.QueryInput, vector: object, text: object, point: object, prefix: str) -> None:
    if point is not None:
        target.point.CopyFrom(_wire.point_id(point, f"{prefix}point"))
    elif text is not None:
        target.text = _query_text(text, f"{prefix}text")
    elif vector is not None:
        _wire.query_input(target, vector, f"{prefix}vector")


_FUSIONS = {"rrf": query_pb.Fusion.RRF, "dbsf": query_pb.Fusion.DBSF, "weighted": query_pb.Fusion.WEIGHTED}


def _fusion(value: models.Fusion | str, where: str) -> query_pb.Fusion:
    f = models.Fusion(value) if isinstance(value, str) else value
    if not isinstance(f, models.Fusion):
        raise InvalidArgument(f"{where}: must be a Fusion or one of {sorted(_FUSIONS)}, got {value!r}")
    method = _FUSIONS.get(f.method)
    if method is None:
        raise InvalidArgument(f"{where}.method: must be one of {sorted(_FUSIONS)}, got {f.method!r}")
    return query_pb.Fusion(method=method, rrf_k=_wire.uint32(f.k, f"{where}.k"),
                           weights=[_wire.real(w, f"{where}.weights") for w in f.weights])


def _prefetch(stage: object, where: str) -> query_pb.Prefetch:
    if not isinstance(stage, models.Prefetch):
        raise InvalidArgument(f"{where}: must be a Prefetch, got {type(stage).__name__}")
    if sum(x is not None for x in (stage.vector, stage.text, stage.point)) > 1:
        raise InvalidArgument(f"{where}: pass at most one of vector, text, point")
    msg = query_pb.Prefetch(
        using=_wire.check_name(stage.using, f"{where}.using") if stage.using else "",
        filter=_wire.build_filter(stage.filter, f"{where}.filter"),
        limit=_wire.uint32(stage.limit, f"{where}.limit"),
    )
    _set_target(msg.query, stage.vector, stage.text, stage.point, f"{where}.")
    if stage.score_threshold is not None:
        msg.score_threshold = _wire.real(stage.score_threshold, f"{where}.score_threshold")
    if stage.ef is not None or stage.exact:
        msg.params.CopyFrom(query_pb.SearchParams(
            ef=0 if stage.ef is None else _wire.uint32(stage.ef, f"{where}.ef"), exact=bool(stage.exact)))
    for i, child in enumerate(stage.prefetch):
        msg.prefetch.append(_prefetch(child, f"{where}.prefetch[{i}]"))
    if stage.fusion is not None:
        msg.fusion.CopyFrom(_fusion(stage.fusion, f"{where}.fusion"))
    return msg


_DIVERSITY = {"mmr": query_pb.Diversity.MMR, "coverage": query_pb.Diversity.COVERAGE}


def _diversity(d: object) -> query_pb.Diversity:
    if not isinstance(d, models.Diversity):
        raise InvalidArgument(f"diversity: must be a Diversity, got {type(d).__name__}")
    method = _DIVERSITY.get(d.method)
    if method is None:
        raise InvalidArgument(f"diversity.method: must be one of {sorted(_DIVERSITY)}, got {d.method!r}")
    return query_pb.Diversity(
        method=method, relevance_weight=_wire.real(d.lambda_, "diversity.lambda_"),
        using=_wire.check_name(d.using, "diversity.using") if d.using else "",
        candidates=_wire.uint32(d.candidates, "diversity.candidates"),
    )


def query_batch(
    collection: str,
    vectors: ArrayLike | None,
    *,
    using: str,
    filter: Mapping[str, Any] | None,
    limit: int,
    offset: int,
    score_threshold: float | None,
    with_payload: bool,
    with_vectors: bool | Sequence[str],
    ef: int | None,
    exact: bool,
    texts: Sequence[str] | None = None,
    model: str | None = None,
) -> Call[list[models.Hits]]:
    if (vectors is None) == (texts is None):
        raise InvalidArgument("query_batch: pass exactly one of vectors, texts")
    name = _wire.check_name(collection, "collection")
    template = _query_request(
        using,
        _wire.build_filter(filter),
        limit,
        offset,
        score_threshold,
        with_payload,
        _wire.with_vectors(with_vectors),
        ef,
        exact,
    )
    template.model = _model_name(model)
    if texts is not None:
        # One query per text (a text is not a matrix row): the `queries` form, each with the
        # shared parameters.
        queries = []
        for text in _wire.texts_list(texts):
            q = query_pb.QueryRequest()
            q.CopyFrom(template)
            q.query.text = text
            queries.append(q)
        request = query_pb.QueryBatchRequest(collection=name, queries=queries)
        n = len(queries)
    else:
        assert vectors is not None
        matrix = _wire.as_array(vectors, "vectors")
        if matrix.ndim != 2:
            raise InvalidArgument(
                f"vectors: expected a 2-D array (q, dim), got shape {matrix.shape}"
            )
        # The compact form: one template and one [q, dim] matrix, not one message per query.
        request = query_pb.QueryBatchRequest(
            collection=name, template=template, vectors=_wire.encode_array(matrix)
        )
        n = matrix.shape[0]
    return Call(QUERY_BATCH, request, lambda r: _batch_hits(r, n))


def _batch_hits(response: query_pb.QueryBatchResponse, n: int) -> list[models.Hits]:
    if len(response.results) != n:  # a malformed response
        raise Internal(f"query_batch: {len(response.results)} results for {n} queries")
    return [_hits(res) for res in response.results]


# -- encoder --------------------------------------------------------------------------------------


def encode(
    texts: Sequence[str], kind: str, model: str | None, role: str
) -> Call[list[models.Encoded]]:
    request = _wire.encode_request(texts, kind, model, role)
    n = len(request.texts)
    return Call(ENCODE, request, lambda r: _wire.encode_response(r, n))


def list_models() -> Call[list[models.ModelInfo]]:
    return Call(
        LIST_MODELS,
        enc_pb.ListModelsRequest(),
        lambda r: [_wire.model_info(m) for m in r.models],
    )
