"""Payloads: validation, serialization and reading values at dotted paths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from vecdb.engine.errors import InvalidArgument

__all__ = ["decode_payload", "encode_payload", "split_key", "values_at"]

_MAX_DEPTH = 32


def encode_payload(payload: Any, where: str, max_bytes: int) -> bytes:
    """Serialize a payload to compact JSON bytes, refusing anything that is not a JSON object."""
    if not isinstance(payload, dict):
        raise InvalidArgument(f"{where}: a payload must be a JSON object (dict), got {type(payload).__name__}")
    _check_json_like(payload, where, 0)
    try:
        data = json.dumps(payload, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{where}: payload is not JSON-like: {exc}") from None
    if len(data) > max_bytes:
        raise InvalidArgument(f"{where}: payload is {len(data)} bytes, over the limit of {max_bytes}")
    return data


def _check_json_like(value: Any, where: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InvalidArgument(f"{where}: payload nests deeper than {_MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgument(f"{where}: payload keys must be strings, got {key!r}")
            _check_json_like(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_like(item, f"{where}[{i}]", depth + 1)
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        raise InvalidArgument(f"{where}: {type(value).__name__} is not a JSON type")


def decode_payload(data: bytes) -> dict[str, Any] | None:
    return json.loads(data) if data else None


def split_key(key: str) -> tuple[str, ...]:
    return tuple(key.split("."))


def values_at(payload: dict[str, Any] | None, path: tuple[str, ...]) -> Iterator[Any]:
    """Every value at `path`, descending into lists at any level (lists at the end are flattened)."""
    if payload is None:
        return
    yield from _walk(payload, path)


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, path)
        return
    if not path:
        yield node
        return
    if isinstance(node, dict) and path[0] in node:
        yield from _walk(node[path[0]], path[1:])
