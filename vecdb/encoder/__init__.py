"""The embedded encoder: text in, dense / multi-vector / sparse vectors out, inside the server.

- `ModelRegistry` knows the configured models by name ("minilm", the packaged all-MiniLM-L6-v2,
  always) and loads each once, on first use, shared by every collection.
- `EncoderModel` is one loaded model: `encode(texts, kinds, role)` gives dense and multi-vector
  outputs from one forward pass (or sparse SPLADE terms), `chunk` splits long documents into
  overlapping token windows, and `info` carries the model's name and weights hash.
- `MicroBatcher` gathers concurrent async calls into shared model calls run in an executor.

Importing this package is cheap: torch and sentence-transformers load with the first model.
"""

from __future__ import annotations

from vecdb.encoder.batcher import BatcherStats, MicroBatcher
from vecdb.encoder.chunking import token_windows
from vecdb.encoder.model import EncoderModel, resolve_device
from vecdb.encoder.registry import ModelLoader, ModelRegistry
from vecdb.encoder.types import (
    MINILM,
    Encoded,
    EncodeKind,
    EncoderLimits,
    ModelInfo,
    ModelSpec,
    SparseVector,
    TextRole,
)
from vecdb.encoder.validation import validate_texts
from vecdb.encoder.weights import weights_hash

__all__ = [
    "MINILM",
    "BatcherStats",
    "EncodeKind",
    "Encoded",
    "EncoderLimits",
    "EncoderModel",
    "MicroBatcher",
    "ModelInfo",
    "ModelLoader",
    "ModelRegistry",
    "ModelSpec",
    "SparseVector",
    "TextRole",
    "resolve_device",
    "token_windows",
    "validate_texts",
    "weights_hash",
]
