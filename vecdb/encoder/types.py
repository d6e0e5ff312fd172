"""Domain types of the embedded encoder: what goes in, what comes out, how a model is described.

No torch and no protobuf here: the server's convert layer maps these onto the wire, and
`import vecdb.encoder` stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

import numpy as np

from vecdb.engine.errors import InvalidArgument

__all__ = [
    "DEFAULT_SPARSE_TOP_K",
    "MINILM",
    "EncodeKind",
    "Encoded",
    "EncoderLimits",
    "ModelInfo",
    "ModelSpec",
    "SparseVector",
    "TextRole",
]

MINILM = "minilm"
"""The name (and the source) of the packaged all-MiniLM-L6-v2, known to every registry."""

DEFAULT_SPARSE_TOP_K = 256


class EncodeKind(str, Enum):
    """What an encode call returns for each text."""

    DENSE = "dense"    # one pooled, L2-normalized vector
    MULTI = "multi"    # one L2-normalized vector per content token (no special or padding tokens)
    SPARSE = "sparse"  # SPLADE term ids and weights


class TextRole(str, Enum):
    """Whether a text is stored (a document) or searched with (a query): picks the model's prompt."""

    DOCUMENT = "document"
    QUERY = "query"


@dataclass(frozen=True)
class EncoderLimits:
    """Limits on one encode call. max_texts: texts per call; max_text_bytes: one text, in UTF-8."""

    max_texts: int = 256
    max_text_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.max_texts < 1:
            raise InvalidArgument(f"EncoderLimits.max_texts = {self.max_texts}: use at least 1")
        if self.max_text_bytes < 1:
            raise InvalidArgument(f"EncoderLimits.max_text_bytes = {self.max_text_bytes}: use at least 1")


@dataclass(frozen=True)
class ModelSpec:
    """One configured model.

    name: what requests and vector fields call it. source: a model folder, a model id (loaded from
    the local Hugging Face cache, never downloaded) or "minilm" for the packaged all-MiniLM-L6-v2.
    kind: "dense" (a SentenceTransformer: dense and multi-vector outputs) or "sparse" (a SPLADE
    SparseEncoder). query_prompt / document_prompt: prefixes put before query / document texts;
    None takes the model's own "query" / "document" prompts when it defines them.
    sparse_top_k: a sparse vector keeps at most this many terms, the heaviest.
    """

    name: str
    source: str
    kind: Literal["dense", "sparse"] = "dense"
    query_prompt: str | None = None
    document_prompt: str | None = None
    sparse_top_k: int = DEFAULT_SPARSE_TOP_K

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip():
            raise InvalidArgument(f"model name {self.name!r}: give a non-empty name without surrounding spaces")
        if not self.source:
            raise InvalidArgument(f"model {self.name!r}: source is empty; give a folder, a model id or 'minilm'")
        if self.kind not in ("dense", "sparse"):
            raise InvalidArgument(f"model {self.name!r}: kind = {self.kind!r}; use 'dense' or 'sparse'")
        if self.sparse_top_k < 1:
            raise InvalidArgument(f"model {self.name!r}: sparse_top_k = {self.sparse_top_k}; use at least 1")

    @property
    def kinds(self) -> tuple[EncodeKind, ...]:
        """The outputs a model of this kind gives, known before it loads."""
        if self.kind == "sparse":
            return (EncodeKind.SPARSE,)
        return (EncodeKind.DENSE, EncodeKind.MULTI)


@dataclass(frozen=True)
class ModelInfo:
    """A loaded model as the outside sees it.

    hash: sha256 of the weight files' bytes (16 hex digits): the same weights in two folders hash
    the same, one changed byte hashes differently. dim: the dense / token vector dimension, the
    vocabulary size for a sparse model. max_tokens: the model window (longer texts are truncated).
    device: "cpu" or "cuda"; dtype: "float32" or "float16" (what the model computes in; outputs are
    always float32).
    """

    name: str
    hash: str
    dim: int
    max_tokens: int
    kinds: tuple[EncodeKind, ...]
    device: str
    dtype: str


@dataclass(frozen=True, eq=False)
class SparseVector:
    """Term ids (uint32, ascending, unique) and their weights (float32, positive)."""

    indices: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.indices.shape != self.values.shape or self.indices.ndim != 1:
            raise ValueError(
                f"SparseVector: indices {self.indices.shape} and values {self.values.shape} must be 1-d "
                "and of one length"
            )

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparseVector):
            return NotImplemented
        return bool(np.array_equal(self.indices, other.indices) and np.array_equal(self.values, other.values))

    def to_dict(self) -> dict[int, float]:
        return dict(zip(self.indices.tolist(), self.values.tolist()))


@dataclass(frozen=True, eq=False)
class Encoded:
    """One text's vectors: only the kinds asked for are set.

    dense: float32 [dim], unit norm. multi: float32 [n_tokens, dim], rows unit norm.
    sparse: SPLADE terms. truncated: the text (with its prompt) had more tokens than the model
    window and was cut. n_tokens: the content tokens the model saw (prompt included; special and
    padding tokens not), which is also the number of rows of `multi`.
    """

    dense: np.ndarray | None
    multi: np.ndarray | None
    sparse: SparseVector | None
    truncated: bool
    n_tokens: int
