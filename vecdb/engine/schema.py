"""Collection schemas: the typed, validated description of a collection and its fields.

A collection has named vector fields of one kind each (dense, multi-vector, sparse; a dense
field may carry quantization) and optional payload indexes. Configs are frozen dataclasses,
persisted as JSON next to the data, validated once on create.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass, field
from typing import Any, Union

from vecdb.engine.errors import FieldNotFound, InvalidArgument, Unimplemented
from vecdb.kernels.metrics import Metric

__all__ = [
    "Metric",
    "StorageDType",
    "HnswConfig",
    "QuantizationConfig",
    "TextSource",
    "DenseField",
    "MultiVectorField",
    "SparseField",
    "VectorField",
    "PayloadIndexType",
    "PayloadIndexConfig",
    "CollectionConfig",
    "validate_collection_name",
    "MAX_DIM",
]

MAX_DIM = 65536
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def validate_collection_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidArgument(
            f"collection name {name!r} is invalid: use 1-64 characters from [A-Za-z0-9_-], "
            "starting with a letter or digit"
        )
    return name


def _validate_field_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidArgument(
            f"vector field name {name!r} is invalid: use 1-64 characters from [A-Za-z0-9_-], "
            "starting with a letter or digit"
        )


class StorageDType(str, enum.Enum):
    FLOAT32 = "float32"
    FLOAT16 = "float16"


@dataclass(frozen=True)
class HnswConfig:
    """HNSW graph parameters.

    m: links per node (higher: better recall, more memory). ef_construct: build-time search
    breadth. ef: default query-time search breadth (a query may override it).
    """

    m: int = 16
    ef_construct: int = 200
    ef: int = 64

    def validate(self, where: str) -> None:
        if not 2 <= self.m <= 128:
            raise InvalidArgument(f"{where}.hnsw.m = {self.m} is out of range [2, 128]")
        if not 4 <= self.ef_construct <= 4096:
            raise InvalidArgument(f"{where}.hnsw.ef_construct = {self.ef_construct} is out of range [4, 4096]")
        if not 1 <= self.ef <= 65536:
            raise InvalidArgument(f"{where}.hnsw.ef = {self.ef} is out of range [1, 65536]")


@dataclass(frozen=True)
class QuantizationConfig:
    """Compact in-memory codes for a dense field (issue 4; not implemented yet).

    method: "int8" or "binary"; bits: 1-4 for binary; binary_method: "threshold" or
    "recurrent_residual"; oversampling: candidates = limit x oversampling; rescore: exact
    rescoring of candidates from the stored originals.
    """

    method: str = "binary"
    bits: int = 1
    binary_method: str = "threshold"
    oversampling: float = 4.0
    rescore: bool = True


@dataclass(frozen=True)
class TextSource:
    """Vectors of this field are computed server-side from text by the encoder model `model`.

    payload_key: the payload key that holds the text; empty means the point's own text.
    model_hash: the content hash of the model's weights when the field was created; the server
    refuses writes and queries once its model of that name no longer has this hash.
    """

    model: str
    payload_key: str = ""
    model_hash: str = ""


@dataclass(frozen=True)
class DenseField:
    """One float vector per point, searched through HNSW."""

    name: str
    dim: int
    metric: Metric = Metric.COSINE
    storage_dtype: StorageDType = StorageDType.FLOAT32
    hnsw: HnswConfig = field(default_factory=HnswConfig)
    quantization: QuantizationConfig | None = None
    text_source: TextSource | None = None

    kind = "dense"


@dataclass(frozen=True)
class MultiVectorField:
    """A set of token vectors per point, scored by MaxSim (issue 5; not implemented yet)."""

    name: str
    dim: int
    metric: Metric = Metric.DOT
    storage_dtype: StorageDType = StorageDType.FLOAT16
    text_source: TextSource | None = None

    kind = "multivector"


@dataclass(frozen=True)
class SparseField:
    """Term ids and weights in an inverted index (issue 6; not implemented yet)."""

    name: str
    modifier: str = "none"  # "none" or "bm25"
    text_source: TextSource | None = None

    kind = "sparse"


VectorField = Union[DenseField, MultiVectorField, SparseField]


class PayloadIndexType(str, enum.Enum):
    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"


@dataclass(frozen=True)
class PayloadIndexConfig:
    key: str
    type: PayloadIndexType


@dataclass(frozen=True)
class CollectionConfig:
    name: str
    vectors: tuple[VectorField, ...]
    payload_indexes: tuple[PayloadIndexConfig, ...] = ()

    def validate(self) -> None:
        """Raise InvalidArgument for a bad config, Unimplemented for a kind not built yet."""
        validate_collection_name(self.name)
        if not self.vectors:
            raise InvalidArgument(f"collection {self.name!r} needs at least one vector field")
        seen: set[str] = set()
        for vf in self.vectors:
            _validate_field_name(vf.name)
            if vf.name in seen:
                raise InvalidArgument(f"vector field {vf.name!r} is declared twice")
            seen.add(vf.name)
            where = f"vectors[{vf.name!r}]"
            if isinstance(vf, MultiVectorField):
                raise Unimplemented(f"multi-vector field {vf.name!r}: multi-vector (late interaction) fields (issue 5)")
            if isinstance(vf, SparseField):
                raise Unimplemented(f"sparse field {vf.name!r}: sparse vectors and BM25 (issue 6)")
            if not 1 <= vf.dim <= MAX_DIM:
                raise InvalidArgument(f"{where}.dim = {vf.dim} is out of range [1, {MAX_DIM}]")
            vf.hnsw.validate(where)
            if vf.quantization is not None:
                raise Unimplemented(f"quantization on field {vf.name!r}: quantized vectors (issue 4)")
            if vf.text_source is not None and not vf.text_source.model:
                raise InvalidArgument(f"{where}.text_source.model is empty: name an encoder model")
        keys: set[str] = set()
        for pi in self.payload_indexes:
            if not pi.key or any(part == "" for part in pi.key.split(".")):
                raise InvalidArgument(f"payload index key {pi.key!r} is invalid: use dotted names like 'meta.author'")
            if pi.key in keys:
                raise InvalidArgument(f"payload index on {pi.key!r} is declared twice")
            keys.add(pi.key)

    def field(self, name: str) -> VectorField:
        for vf in self.vectors:
            if vf.name == name:
                return vf
        raise FieldNotFound(
            f"collection {self.name!r} has no vector field {name!r}; "
            f"its fields are {[vf.name for vf in self.vectors]}"
        )

    def resolve_using(self, using: str) -> VectorField:
        """The field a query names; an empty name is allowed when there is exactly one field."""
        if using:
            return self.field(using)
        if len(self.vectors) == 1:
            return self.vectors[0]
        raise InvalidArgument(
            f"collection {self.name!r} has several vector fields {[vf.name for vf in self.vectors]}; "
            "name one in `using`"
        )

    # ---- persistence -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        def encode(value: Any) -> Any:
            if isinstance(value, enum.Enum):
                return value.value
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                out = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
                if hasattr(type(value), "kind"):
                    out["kind"] = type(value).kind
                return out
            if isinstance(value, tuple):
                return [encode(v) for v in value]
            return value

        return encode(self)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CollectionConfig:
        vectors: list[VectorField] = []
        for raw in data["vectors"]:
            raw = dict(raw)
            kind = raw.pop("kind")
            ts = raw.pop("text_source", None)
            text_source = TextSource(**ts) if ts else None
            if kind == "dense":
                q = raw.pop("quantization", None)
                vectors.append(DenseField(
                    name=raw["name"], dim=raw["dim"], metric=Metric(raw["metric"]),
                    storage_dtype=StorageDType(raw["storage_dtype"]), hnsw=HnswConfig(**raw["hnsw"]),
                    quantization=QuantizationConfig(**q) if q else None, text_source=text_source,
                ))
            elif kind == "multivector":
                vectors.append(MultiVectorField(
                    name=raw["name"], dim=raw["dim"], metric=Metric(raw["metric"]),
                    storage_dtype=StorageDType(raw["storage_dtype"]), text_source=text_source,
                ))
            elif kind == "sparse":
                vectors.append(SparseField(name=raw["name"], modifier=raw["modifier"], text_source=text_source))
            else:
                raise ValueError(f"unknown vector field kind {kind!r} in stored config")
        indexes = tuple(
            PayloadIndexConfig(key=pi["key"], type=PayloadIndexType(pi["type"])) for pi in data.get("payload_indexes", ())
        )
        return cls(name=data["name"], vectors=tuple(vectors), payload_indexes=indexes)
