"""Domain -> wire: build vecdb.v1 response messages from engine results.

Vectors go out as little-endian float32 bytes with their shape (whatever the storage dtype);
payloads as compact JSON; point ids as `num` or canonical `uuid`. Servicers build every response
through these functions, so no servicer constructs a protobuf message itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from vecdb.encoder import Encoded, EncodeKind, ModelInfo
from vecdb.engine.schema import (
    Bm25Config,
    CollectionConfig,
    DenseField,
    Metric,
    MultiVectorField,
    PayloadIndexType,
    QuantizationConfig,
    SparseField,
    StorageDType,
    TextSource,
    VectorField,
)
from vecdb.engine.types import (
    CollectionInfo,
    CollectionStats,
    FieldStats,
    Hits,
    Payload,
    PointId,
    Record,
    ScrollPage,
    UpdateResult,
)
from vecdb.v1 import admin_service_pb2 as admin_pb
from vecdb.v1 import cache_service_pb2 as cache_pb
from vecdb.v1 import collections_service_pb2 as coll_pb
from vecdb.v1 import common_pb2 as common_pb
from vecdb.v1 import encoder_service_pb2 as encoder_pb
from vecdb.v1 import points_service_pb2 as points_pb
from vecdb.v1 import query_service_pb2 as query_pb

__all__ = [
    "SERVICE_NAMES",
    "checkpoint",
    "collection_info",
    "count",
    "delete_collection",
    "encode_response",
    "exists",
    "get_points",
    "list_collections",
    "list_models",
    "payload_json",
    "point_id",
    "query_batch_response",
    "query_response",
    "record",
    "scroll_page",
    "server_info",
    "stats",
    "update_result",
    "vector",
]

SERVICE_NAMES: tuple[str, ...] = tuple(
    service.full_name
    for module in (coll_pb, points_pb, query_pb, admin_pb, encoder_pb, cache_pb)
    for service in module.DESCRIPTOR.services_by_name.values()
)
"""Full names of the vecdb.v1 services ("vecdb.v1.Collections", ...), from the descriptors."""


_METRICS = {Metric.COSINE: coll_pb.COSINE, Metric.DOT: coll_pb.DOT, Metric.L2: coll_pb.L2}
_DTYPES = {StorageDType.FLOAT32: common_pb.FLOAT32, StorageDType.FLOAT16: common_pb.FLOAT16}
_INDEX_TYPES = {
    PayloadIndexType.KEYWORD: coll_pb.KEYWORD,
    PayloadIndexType.INTEGER: coll_pb.INTEGER,
    PayloadIndexType.FLOAT: coll_pb.FLOAT,
    PayloadIndexType.BOOL: coll_pb.BOOL,
}
_BINARY_METHODS = {
    "threshold": coll_pb.BinaryQuantization.THRESHOLD,
    "recurrent_residual": coll_pb.BinaryQuantization.RECURRENT_RESIDUAL,
}


# ---- points --------------------------------------------------------------------------------


def point_id(pid: PointId) -> common_pb.PointId:
    if isinstance(pid, int):
        return common_pb.PointId(num=pid)
    return common_pb.PointId(uuid=pid)


def payload_json(payload: Payload | None) -> str:
    if payload is None:
        return ""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def vector(arr: np.ndarray) -> common_pb.Vector:
    """An array as a wire Vector: little-endian float32 bytes, row-major, with its shape."""
    data = np.ascontiguousarray(arr, dtype="<f4")
    return common_pb.Vector(data=data.tobytes(), dtype=common_pb.FLOAT32, shape=list(data.shape))


def _fill_vectors(target: Any, vectors: dict[str, Any]) -> None:
    """A record's vectors by kind: sparse (indices and values), multi ([n_tokens, dim]) or dense."""
    for name, value in vectors.items():
        if hasattr(value, "indices"):
            target[name].sparse.indices.extend(value.indices.tolist())
            target[name].sparse.values.extend(value.values.tolist())
        elif np.ndim(value) == 2:
            target[name].multi.CopyFrom(vector(value))
        else:
            target[name].dense.CopyFrom(vector(value))


def _fill_point(msg: Any, pid: PointId, payload: Payload | None, vectors: dict[str, np.ndarray], text: str | None) -> None:
    """Set the fields of a Record in place: setting fields on a message made by `repeated.add()`
    costs a fraction of building it from keyword arguments."""
    if isinstance(pid, int):
        msg.id.num = pid
    else:
        msg.id.uuid = pid
    if payload is not None:
        msg.payload_json = payload_json(payload)
    if text:
        msg.text = text
    if vectors:
        _fill_vectors(msg.vectors, vectors)


def record(r: Record) -> common_pb.Record:
    msg = common_pb.Record()
    _fill_point(msg, r.id, r.payload, r.vectors, r.text)
    return msg


def _add_records(target: Any, records: Iterable[Record]) -> None:
    for r in records:
        _fill_point(target.add(), r.id, r.payload, r.vectors, r.text)


def _fill_hits(msg: common_pb.ScoredPoints, hits: Hits) -> None:
    """Results as columns: ids and scores go in as packed arrays in one call each."""
    ids = hits.ids
    if all(isinstance(i, int) for i in ids):
        msg.num_ids.extend(ids)
    else:
        msg.num_ids.extend(i if isinstance(i, int) else 0 for i in ids)
        for pos, i in enumerate(ids):
            if isinstance(i, str):
                msg.uuid_ids[pos] = i
    msg.scores.extend(hits.scores.tolist())
    if hits.payloads is not None:
        msg.payloads_json.extend(payload_json(p) for p in hits.payloads)
    if hits.texts is not None:
        msg.texts.extend(t or "" for t in hits.texts)
    for name, arr in hits.vectors.items():
        msg.vectors[name].CopyFrom(vector(arr))


def update_result(r: UpdateResult, truncated: Iterable[int] = ()) -> common_pb.UpdateResult:
    return common_pb.UpdateResult(sequence=r.sequence, count=r.count, truncated=list(truncated))


def get_points(records: Iterable[Record]) -> points_pb.GetPointsResponse:
    msg = points_pb.GetPointsResponse()
    _add_records(msg.points, records)
    return msg


def count(n: int) -> points_pb.CountResponse:
    return points_pb.CountResponse(count=n)


def scroll_page(page: ScrollPage) -> points_pb.ScrollResponse:
    msg = points_pb.ScrollResponse()
    _add_records(msg.points, page.records)
    if page.next_offset is not None:
        msg.next_offset.CopyFrom(point_id(page.next_offset))
    return msg


def query_response(hits: Hits) -> query_pb.QueryResponse:
    msg = query_pb.QueryResponse()
    _fill_hits(msg.points, hits)
    return msg


def query_batch_response(results: Iterable[Hits]) -> query_pb.QueryBatchResponse:
    msg = query_pb.QueryBatchResponse()
    for hits in results:
        _fill_hits(msg.results.add().points, hits)
    return msg


# ---- collections ---------------------------------------------------------------------------


def _text_source(ts: TextSource | None) -> coll_pb.TextSource | None:
    if ts is None:
        return None
    return coll_pb.TextSource(model=ts.model, payload_key=ts.payload_key, model_hash=ts.model_hash)


def _quantization(q: QuantizationConfig) -> coll_pb.QuantizationParams:
    msg = coll_pb.QuantizationParams(oversampling=q.oversampling, rescore=q.rescore)
    if q.method == "int8":
        msg.int8.SetInParent()
    else:
        msg.binary.bits = q.bits
        msg.binary.method = _BINARY_METHODS.get(q.binary_method, coll_pb.BinaryQuantization.METHOD_UNSPECIFIED)
    msg.query_mode = _QUERY_MODES[q.query_mode]
    return msg


_QUERY_MODES = {
    "": coll_pb.QuantizationParams.QUERY_MODE_UNSPECIFIED,
    "symmetric": coll_pb.QuantizationParams.SYMMETRIC,
    "asymmetric": coll_pb.QuantizationParams.ASYMMETRIC,
}


def vector_field(vf: VectorField) -> coll_pb.VectorFieldConfig:
    msg = coll_pb.VectorFieldConfig(name=vf.name)
    if isinstance(vf, DenseField):
        msg.dense.dim = vf.dim
        msg.dense.metric = _METRICS[vf.metric]
        msg.dense.storage_dtype = _DTYPES[vf.storage_dtype]
        msg.dense.hnsw.m = vf.hnsw.m
        msg.dense.hnsw.ef_construct = vf.hnsw.ef_construct
        msg.dense.hnsw.ef = vf.hnsw.ef
        if vf.quantization is not None:
            msg.dense.quantization.CopyFrom(_quantization(vf.quantization))
    elif isinstance(vf, MultiVectorField):
        mv, m = msg.multivector, vf.muvera
        mv.dim = vf.dim
        mv.metric = _METRICS[vf.metric]
        mv.storage_dtype = _DTYPES[vf.storage_dtype]
        mv.muvera.CopyFrom(coll_pb.MuveraParams(reps=m.reps, k_sim=m.k_sim, d_proj=m.d_proj, final_dim=m.final_dim,
                                                seed=m.seed, candidates=m.candidates))
        mv.hnsw.CopyFrom(coll_pb.HnswParams(m=vf.hnsw.m, ef_construct=vf.hnsw.ef_construct, ef=vf.hnsw.ef))
    elif isinstance(vf, SparseField):
        msg.sparse.modifier = (
            coll_pb.SparseParams.BM25 if vf.modifier == "bm25" else coll_pb.SparseParams.MODIFIER_UNSPECIFIED
        )
        if vf.modifier == "bm25":
            b = vf.bm25 or Bm25Config()
            msg.sparse.bm25.CopyFrom(coll_pb.Bm25Params(k1=b.k1, b=b.b, text_key=b.text_key, lowercase=b.lowercase,
                                                        stopwords=b.stopwords, stemmer=b.stemmer))
    ts = _text_source(vf.text_source)
    if ts is not None:
        msg.text_source.CopyFrom(ts)
    return msg


def collection_config_fields(config: CollectionConfig) -> dict[str, Any]:
    """The config as the keyword arguments shared by CreateCollectionRequest and CollectionInfo."""
    return {
        "name": config.name,
        "vectors": [vector_field(vf) for vf in config.vectors],
        "payload_indexes": [
            coll_pb.PayloadIndexConfig(key=pi.key, type=_INDEX_TYPES[pi.type]) for pi in config.payload_indexes
        ],
    }


def collection_info(info: CollectionInfo) -> coll_pb.CollectionInfo:
    return coll_pb.CollectionInfo(
        **collection_config_fields(info.config), points_count=info.points_count, sequence=info.sequence
    )


def list_collections(infos: Iterable[CollectionInfo]) -> coll_pb.ListCollectionsResponse:
    return coll_pb.ListCollectionsResponse(collections=[collection_info(i) for i in infos])


def delete_collection(deleted: bool) -> coll_pb.DeleteCollectionResponse:
    return coll_pb.DeleteCollectionResponse(deleted=deleted)


def exists(found: bool) -> coll_pb.ExistsResponse:
    return coll_pb.ExistsResponse(exists=found)


# ---- admin ---------------------------------------------------------------------------------


def field_stats(f: FieldStats) -> admin_pb.FieldStats:
    return admin_pb.FieldStats(
        name=f.name,
        kind=f.kind,
        indexed_points=f.indexed_points,
        index_capacity=f.index_capacity,
        ram_bytes=f.ram_bytes,
        checkpoint_sequence=f.checkpoint_sequence,
        vector_ram_bytes=f.vector_ram_bytes,
        float32_bytes=f.float32_bytes,
        codebook_json=json.dumps(f.codebook, sort_keys=True, default=str) if f.codebook else "",
    )


def collection_stats(s: CollectionStats) -> admin_pb.CollectionStats:
    return admin_pb.CollectionStats(
        name=s.name,
        points_count=s.points_count,
        sequence=s.sequence,
        disk_bytes=s.disk_bytes,
        fields=[field_stats(f) for f in s.fields],
    )


def stats(all_stats: Iterable[CollectionStats]) -> admin_pb.StatsResponse:
    return admin_pb.StatsResponse(collections=[collection_stats(s) for s in all_stats])


def checkpoint(sequence: int) -> admin_pb.CheckpointResponse:
    return admin_pb.CheckpointResponse(sequence=sequence)


def server_info(
    *, version: str, data_dir: str, capabilities: Sequence[str], max_limit: int, max_message_bytes: int
) -> admin_pb.ServerInfoResponse:
    return admin_pb.ServerInfoResponse(
        version=version,
        data_dir=data_dir,
        capabilities=list(capabilities),
        max_limit=max_limit,
        max_message_bytes=max_message_bytes,
    )


# ---- encoder ---------------------------------------------------------------------------------

_KIND_CODES = {"dense": encoder_pb.DENSE, "multi": encoder_pb.MULTI, "sparse": encoder_pb.SPARSE}


def _encoded_vector(target: common_pb.VectorInput, e: Encoded, kind: EncodeKind) -> None:
    if kind is EncodeKind.DENSE:
        target.dense.CopyFrom(vector(e.dense))  # type: ignore[arg-type]
    elif kind is EncodeKind.MULTI:
        target.multi.CopyFrom(vector(e.multi))  # type: ignore[arg-type]
    else:
        assert e.sparse is not None
        target.sparse.indices.extend(e.sparse.indices.tolist())
        target.sparse.values.extend(e.sparse.values.tolist())


def encode_response(encoded: Iterable[Encoded], kind: EncodeKind, info: ModelInfo) -> encoder_pb.EncodeResponse:
    msg = encoder_pb.EncodeResponse(model=info.name, model_hash=info.hash)
    for e in encoded:
        out = msg.results.add()
        _encoded_vector(out.vector, e, kind)
        out.truncated = e.truncated
        out.n_tokens = e.n_tokens
    return msg


def list_models(infos: Iterable[ModelInfo]) -> encoder_pb.ListModelsResponse:
    return encoder_pb.ListModelsResponse(models=[
        encoder_pb.ModelInfo(name=i.name, hash=i.hash, dim=i.dim, max_tokens=i.max_tokens,
                             kinds=[_KIND_CODES[k.value] for k in i.kinds], device=i.device)
        for i in infos
    ])
