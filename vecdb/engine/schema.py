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

from vecdb.engine.errors import FieldNotFound, InvalidArgument
from vecdb.kernels.metrics import Metric

__all__ = [
    "MAX_DIM",
    "Bm25Config",
    "CollectionConfig",
    "DenseField",
    "HnswConfig",
    "Metric",
    "MultiVectorField",
    "MuveraConfig",
    "PayloadIndexConfig",
    "PayloadIndexType",
    "QuantizationConfig",
    "SparseField",
    "StorageDType",
    "TextSource",
    "VectorField",
    "validate_collection_name",
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


def _validate_sparse(vf: SparseField, where: str) -> None:
    if vf.modifier not in ("none", "bm25"):
        raise InvalidArgument(f"{where}.modifier = {vf.modifier!r}; use 'none' or 'bm25'")
    if vf.modifier == "bm25":
        if vf.text_source is not None:
            raise InvalidArgument(
                f"{where}: a BM25 field computes its weights from text itself; it takes no encoder "
                "text_source (set bm25.text_key to read a payload key)"
            )
        (vf.bm25 or Bm25Config()).validate(where)
    elif vf.bm25 is not None:
        raise InvalidArgument(f"{where}.bm25 is set but modifier is {vf.modifier!r}; set modifier 'bm25'")
    if vf.text_source is not None and not vf.text_source.model:
        raise InvalidArgument(f"{where}.text_source.model is empty: name a sparse encoder model")


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


QUANTIZATION_METHODS = ("binary", "int8")
BINARY_METHODS = ("threshold", "recurrent_residual")
QUERY_MODES = ("", "symmetric", "asymmetric")


@dataclass(frozen=True)
class QuantizationConfig:
    """Compact in-memory codes for a dense field; the float originals stay on disk.

    method: "binary" (1-4 bits per dimension) or "int8" (one byte per dimension).
    bits: bits per dimension for binary. binary_method: "threshold" (each dimension centred on
    the collection mean and cut into 2**bits levels) or "recurrent_residual" (BEBR: each
    bit-plane binarizes what the previous planes left, with per-plane scales).
    oversampling: a query reads ceil(limit x oversampling) candidates from the codes.
    rescore: rescore those candidates exactly from the stored originals (off: code scores).
    query_mode: "symmetric" (the query is coded too) or "asymmetric" (float query against
    decoded codes); empty: the index's default, chosen by benchmark.
    """

    method: str = "binary"
    bits: int = 1
    binary_method: str = "threshold"
    oversampling: float = 4.0
    rescore: bool = True
    query_mode: str = ""

    def validate(self, where: str) -> None:
        where = f"{where}.quantization"
        if self.method not in QUANTIZATION_METHODS:
            raise InvalidArgument(f"{where}.method = {self.method!r}; choose one of {list(QUANTIZATION_METHODS)}")
        if self.method == "binary" and not 1 <= self.bits <= 4:
            raise InvalidArgument(f"{where}.bits = {self.bits} is out of range [1, 4]")
        if self.binary_method not in BINARY_METHODS:
            raise InvalidArgument(f"{where}.binary_method = {self.binary_method!r}; choose one of {list(BINARY_METHODS)}")
        if not 1.0 <= self.oversampling <= 100.0 or self.oversampling != self.oversampling:
            raise InvalidArgument(f"{where}.oversampling = {self.oversampling} is out of range [1, 100]")
        if self.query_mode not in QUERY_MODES:
            raise InvalidArgument(f"{where}.query_mode = {self.query_mode!r}; choose 'symmetric' or 'asymmetric'")


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
    """One float vector per point, searched through HNSW over the floats or, with
    `quantization`, over compact codes with exact rescoring from the stored originals."""

    name: str
    dim: int
    metric: Metric = Metric.COSINE
    storage_dtype: StorageDType = StorageDType.FLOAT32
    hnsw: HnswConfig = field(default_factory=HnswConfig)
    quantization: QuantizationConfig | None = None
    text_source: TextSource | None = None

    kind = "dense"


@dataclass(frozen=True)
class MuveraConfig:
    """MUVERA fixed dimensional encodings of a multi-vector field, and how many FDE candidates a
    query reranks by exact MaxSim.

    reps: repetitions (R_reps); k_sim: hyperplanes per repetition (2**k_sim buckets); d_proj:
    inner random +-1 projection per bucket (0: none); final_dim: final projection (0: none);
    seed: one seed for documents and queries; candidates: FDE candidates reranked by MaxSim.
    """

    reps: int = 20
    k_sim: int = 5
    d_proj: int = 16
    final_dim: int = 0
    seed: int = 42
    candidates: int = 200

    def validate(self, where: str) -> None:
        where = f"{where}.muvera"
        for name, low, high in (("reps", 1, 64), ("k_sim", 1, 8), ("d_proj", 0, 1024),
                                ("final_dim", 0, 1 << 16), ("candidates", 1, 100_000)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise InvalidArgument(f"{where}.{name} = {value} is out of range [{low}, {high}]")
        if not 0 <= self.seed < 2**32:
            raise InvalidArgument(f"{where}.seed = {self.seed} is out of range [0, 2**32)")


@dataclass(frozen=True)
class MultiVectorField:
    """A set of token vectors per point, scored by MaxSim (late interaction).

    Retrieval draws candidates from an HNSW graph over MUVERA encodings and reranks them by
    exact MaxSim over the stored token vectors (`storage_dtype` in memory and on disk).
    """

    name: str
    dim: int
    metric: Metric = Metric.DOT
    storage_dtype: StorageDType = StorageDType.FLOAT16
    muvera: MuveraConfig = field(default_factory=MuveraConfig)
    hnsw: HnswConfig = field(default_factory=HnswConfig)
    text_source: TextSource | None = None

    kind = "multivector"


@dataclass(frozen=True)
class Bm25Config:
    """BM25 over a text: the analyzer and the scoring parameters.

    text_key: the payload key holding the text; empty: the point's own text. k1, b: the BM25
    term-frequency saturation and length normalization. stopwords / stemmer: "english" or
    empty for none (stemming is Snowball, through PyStemmer).
    """

    k1: float = 1.2
    b: float = 0.75
    text_key: str = ""
    lowercase: bool = True
    stopwords: str = "english"
    stemmer: str = "english"

    def validate(self, where: str) -> None:
        where = f"{where}.bm25"
        if not 0.0 <= self.k1 <= 10.0 or self.k1 != self.k1:
            raise InvalidArgument(f"{where}.k1 = {self.k1} is out of range [0, 10]")
        if not 0.0 <= self.b <= 1.0 or self.b != self.b:
            raise InvalidArgument(f"{where}.b = {self.b} is out of range [0, 1]")
        if self.stopwords not in ("", "english"):
            raise InvalidArgument(f"{where}.stopwords = {self.stopwords!r}; use 'english' or '' for none")
        if self.stemmer not in ("", "english"):
            raise InvalidArgument(f"{where}.stemmer = {self.stemmer!r}; use 'english' or '' for none")
        if self.text_key and any(part == "" for part in self.text_key.split(".")):
            raise InvalidArgument(f"{where}.text_key = {self.text_key!r} is not a payload path like 'body' or 'meta.title'")


@dataclass(frozen=True)
class SparseField:
    """Term ids and weights in an inverted index, scored by dot product.

    modifier "none": the weights come from the client or, with a text source, from a sparse
    (SPLADE) encoder model. modifier "bm25": the server computes BM25 from each point's text
    (see `bm25`); queries are texts.
    """

    name: str
    modifier: str = "none"  # "none" or "bm25"
    text_source: TextSource | None = None
    bm25: Bm25Config | None = None

    kind = "sparse"

    def __post_init__(self) -> None:
        if self.modifier == "bm25" and self.bm25 is None:
            object.__setattr__(self, "bm25", Bm25Config())


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
        """Raise InvalidArgument naming the field and value for a bad config."""
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
            if isinstance(vf, SparseField):
                _validate_sparse(vf, where)
                continue
            if isinstance(vf, MultiVectorField):
                if vf.metric not in (Metric.DOT, Metric.COSINE):
                    raise InvalidArgument(f"{where}.metric = {vf.metric.value!r}; MaxSim needs dot or cosine")
                vf.muvera.validate(where)
            if not 1 <= vf.dim <= MAX_DIM:
                raise InvalidArgument(f"{where}.dim = {vf.dim} is out of range [1, {MAX_DIM}]")
            vf.hnsw.validate(where)
            if isinstance(vf, DenseField) and vf.quantization is not None:
                vf.quantization.validate(where)
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
                    storage_dtype=StorageDType(raw["storage_dtype"]),
                    muvera=MuveraConfig(**raw.get("muvera", {})), hnsw=HnswConfig(**raw.get("hnsw", {})),
                    text_source=text_source,
                ))
            elif kind == "sparse":
                bm25 = raw.get("bm25")
                vectors.append(SparseField(name=raw["name"], modifier=raw["modifier"], text_source=text_source,
                                           bm25=Bm25Config(**bm25) if bm25 else None))
            else:
                raise ValueError(f"unknown vector field kind {kind!r} in stored config")
        indexes = tuple(
            PayloadIndexConfig(key=pi["key"], type=PayloadIndexType(pi["type"])) for pi in data.get("payload_indexes", ())
        )
        return cls(name=data["name"], vectors=tuple(vectors), payload_indexes=indexes)
