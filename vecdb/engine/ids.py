"""Point ids: validation and their byte encoding as LMDB keys.

A point id is an unsigned 64-bit integer or a UUID. Keys sort integers first (ascending), then
UUIDs (by their bytes), which is the order Scroll pages in.
"""

from __future__ import annotations

import uuid
from typing import Any

from vecdb.engine.errors import InvalidArgument
from vecdb.engine.types import PointId

__all__ = ["MAX_INT_ID", "decode_point_id", "encode_point_id", "parse_point_id"]

MAX_INT_ID = 2**64 - 1
_INT_TAG = b"\x00"
_UUID_TAG = b"\x01"


def parse_point_id(value: Any, where: str = "id") -> PointId:
    """Validate a point id and return its canonical form (int, or lower-case hyphenated UUID)."""
    if isinstance(value, bool):
        raise InvalidArgument(f"{where} = {value!r}: a point id is an unsigned 64-bit integer or a UUID string, not a bool")
    if isinstance(value, int):
        if not 0 <= value <= MAX_INT_ID:
            raise InvalidArgument(f"{where} = {value}: integer point ids must be in [0, 2**64-1]")
        return value
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise InvalidArgument(
                f"{where} = {value!r} is not a valid UUID; string point ids must be UUIDs "
                "(use an unsigned integer id otherwise)"
            ) from None
    raise InvalidArgument(
        f"{where} = {value!r} has type {type(value).__name__}; a point id is an unsigned 64-bit integer or a UUID string"
    )


def encode_point_id(pid: PointId) -> bytes:
    if isinstance(pid, int):
        return _INT_TAG + pid.to_bytes(8, "big")
    return _UUID_TAG + uuid.UUID(pid).bytes


def decode_point_id(key: bytes) -> PointId:
    if key[:1] == _INT_TAG:
        return int.from_bytes(key[1:9], "big")
    return str(uuid.UUID(bytes=bytes(key[1:17])))
