"""Input checks of the semantic cache: each error names the field and the value at fault.

Also the metadata filter test of `Invalidate` (the payload filter language of points, with
`HasId` matching entry ids).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vecdb.cache.types import normalize_prompt
from vecdb.engine.errors import InvalidArgument
from vecdb.engine.filter_eval import compile_predicate
from vecdb.engine.filters import Filter, HasId

__all__ = ["check_entry_id", "check_name", "check_prompt", "check_vector", "filter_matches"]


def check_prompt(prompt: Any, where: str, max_bytes: int) -> str:
    """The normalized prompt; InvalidArgument for a non-string, an empty or an oversized one."""
    if not isinstance(prompt, str):
        raise InvalidArgument(f"{where} must be a string, got {type(prompt).__name__}")
    size = len(prompt.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise InvalidArgument(f"{where} is {size} bytes, over the limit of {max_bytes}")
    normalized = normalize_prompt(prompt)
    if not normalized:
        raise InvalidArgument(f"{where} = {prompt!r:.40} is empty; give the prompt text")
    return normalized


def check_vector(vector: Any, dim: int, where: str) -> np.ndarray:
    """A (dim,) float32 unit vector; InvalidArgument for a wrong shape, NaN/inf or all zeros."""
    try:
        vec = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{where} is not a numeric array: {exc}") from None
    if vec.size != dim or vec.ndim > 2 or (vec.ndim == 2 and vec.shape[0] != 1):
        raise InvalidArgument(f"{where} has shape {vec.shape}; the cache's dim is {dim}, give ({dim},)")
    vec = vec.reshape(dim)
    if not np.isfinite(vec).all():
        raise InvalidArgument(f"{where} has NaN or infinite values")
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        raise InvalidArgument(f"{where} is all zeros; cosine similarity needs a non-zero vector")
    return vec / norm


def check_name(value: Any, field_name: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{field_name} = {value!r}; give a string")
    if len(value) > limit:
        raise InvalidArgument(f"{field_name} = {value!r:.40}... is {len(value)} characters; at most {limit}")
    return value


def check_entry_id(entry_id: Any) -> str:
    if not isinstance(entry_id, str) or len(entry_id) != 32:
        raise InvalidArgument(f"entry_id = {entry_id!r}; entry ids are 32 hex characters")
    try:
        bytes.fromhex(entry_id)
    except ValueError:
        raise InvalidArgument(f"entry_id = {entry_id!r}; entry ids are 32 hex characters") from None
    return entry_id.lower()


def filter_matches(filt: Filter, entry_id: str, metadata: dict | None) -> bool:
    def holds(cond: Any) -> bool:
        if isinstance(cond, Filter):
            return filter_matches(cond, entry_id, metadata)
        if isinstance(cond, HasId):
            return entry_id in {str(i).replace("-", "").lower() for i in cond.ids}
        return compile_predicate(cond)(metadata)

    if not all(holds(c) for c in filt.must):
        return False
    if filt.should and not any(holds(c) for c in filt.should):
        return False
    return not any(holds(c) for c in filt.must_not)

