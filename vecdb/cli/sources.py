"""Readers for `vecdb import`: JSONL lines and .npy matrices, streamed in batches.

A source reads from a position (a small JSON-serialisable dict saved in the import state file)
and yields `Chunk`s of at most `batch_size` points and `BadRecord`s for input it cannot use. A
chunk's `position` is where reading resumes once that chunk is stored, so rows already imported
are never read again. Nothing holds more than one batch in memory: JSONL is read line by line and
.npy files are memory-mapped.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Union

import numpy as np

__all__ = [
    "BadLine",
    "BadRecord",
    "Chunk",
    "JsonlSource",
    "NpySource",
    "PointId",
    "Record",
    "Source",
    "count_lines",
    "open_source",
    "parse_point_id",
    "parse_record",
]

PointId = Union[int, str]
_MAX_ID = 2**64 - 1
_TAIL_BYTES = 16384  # bytes before a JSONL resume offset whose hash must still match


class BadLine(ValueError):
    """One input line cannot be imported; the message starts with "line N: "."""

    def __init__(self, line: int, reason: str, where: str = "") -> None:
        prefix = f"{where} " if where else ""
        super().__init__(f"{prefix}line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Record:
    """One parsed point; `vectors` is empty when the point takes its vectors from its text (or a
    payload key), which the server encodes."""

    id: PointId
    vectors: dict[str, np.ndarray]
    payload: dict[str, Any] | None = None
    text: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A batch of points ready to send, and where reading resumes after it.

    `consumed` counts input units (lines, or .npy rows) since the previous item, blank lines
    included; a chunk may hold no points when it only covers blank lines.
    """

    ids: list[PointId]
    vectors: dict[str, np.ndarray] | None  # None: the points take their vectors from text
    payloads: list[dict[str, Any] | None] | None  # None: no point of the batch has one
    texts: list[str | None] | None
    position: dict[str, Any]
    consumed: int

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class BadRecord:
    """An input line that cannot be imported; `position` is just past it."""

    message: str
    position: dict[str, Any]
    consumed: int


class Source(Protocol):
    path: Path
    format: str

    def fingerprint(self) -> dict[str, Any]:
        """Identifies the input files (size, mtime) so a resume can tell whether they changed."""

    def start(self) -> dict[str, Any]:
        """The position of the first row."""

    def check_resume(self, fingerprint: dict[str, Any], position: dict[str, Any]) -> str | None:
        """Raise ValueError when `position` (saved with `fingerprint`) no longer fits the input;
        return a note for the user when it fits although the files changed."""

    def total(self) -> int | None:
        """Input units (lines or rows) in the whole input, when cheap to know."""

    def done(self, position: dict[str, Any]) -> int:
        """Input units before `position`."""

    def read(self, position: dict[str, Any], batch_size: int) -> Iterator[Chunk | BadRecord]: ...


# ------------------------------------------------------------------------------------ parsing


def parse_point_id(value: Any) -> PointId:
    """An unsigned 64-bit integer or a UUID string (returned in canonical lower-case form)."""
    if isinstance(value, bool):
        raise ValueError(f"id {value!r} is invalid: use an integer in [0, 2**64) or a UUID string")
    if isinstance(value, (int, np.integer)):
        if 0 <= int(value) <= _MAX_ID:
            return int(value)
        raise ValueError(
            f"id {value} is out of range: use an integer in [0, 2**64) or a UUID string"
        )
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise ValueError(f"id {value!r} is invalid: use an integer in [0, 2**64) or a UUID string")


def _dense(value: Any, what: str) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{what} must be a non-empty list of numbers")
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a flat list of numbers") from None
    if array.ndim != 1:
        raise ValueError(f"{what} must be a flat list of numbers")
    return array


def parse_record(raw: bytes | str, line: int, field: str = "default", where: str = "") -> Record:
    """Parse one JSONL line: {"id", "vector" | "vectors", "payload"?, "text"?}.

    A line without "vector" / "vectors" but with "text" (or a "payload" holding the text under a
    field's payload key) leaves the vectors to the server's encoder: its `vectors` is empty.
    Raises BadLine naming the line and what is wrong with it.
    """
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadLine(line, f"invalid JSON: {exc.msg} (column {exc.colno})", where) from None
    except UnicodeDecodeError:
        raise BadLine(line, "is not valid UTF-8", where) from None
    if not isinstance(obj, dict):
        raise BadLine(line, f"expected a JSON object, got {type(obj).__name__}", where)
    if "id" not in obj or obj["id"] is None:
        raise BadLine(line, 'missing "id"', where)
    try:
        point_id = parse_point_id(obj["id"])
        has_one, has_many = "vector" in obj, "vectors" in obj
        if has_one and has_many:
            raise ValueError('give either "vector" or "vectors", not both')
        if has_one:
            vectors = {field: _dense(obj["vector"], '"vector"')}
        elif has_many:
            named = obj["vectors"]
            if not isinstance(named, dict) or not named:
                raise ValueError('"vectors" must be an object mapping field names to vectors')
            vectors = {str(k): _dense(v, f'"vectors.{k}"') for k, v in named.items()}
        elif obj.get("text") is not None or obj.get("payload") is not None:
            vectors = {}  # the server encodes the text of the fields with a text source
        else:
            raise ValueError(
                'missing "vector" (or "vectors": {"field": [...]}, or "text" for fields the '
                "server encodes from text)"
            )
        payload = obj.get("payload")
        if payload is not None and not isinstance(payload, dict):
            raise ValueError('"payload" must be a JSON object')
        text = obj.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError('"text" must be a string')
    except ValueError as exc:
        raise BadLine(line, str(exc), where) from None
    return Record(point_id, vectors, payload, text)


def count_lines(path: Path, start: int = 0, limit_bytes: int = 1 << 30) -> int | None:
    """Lines in `path` from byte `start` on, or None when that part is larger than `limit_bytes`."""
    size = path.stat().st_size
    if size - start > limit_bytes:
        return None
    count = 0
    last = b"\n"
    with path.open("rb") as f:
        f.seek(start)
        while block := f.read(1 << 22):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (0 if last == b"\n" else 1)


def _file_fingerprint(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _same_file(saved: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    return (
        saved is not None
        and saved.get("size") == current["size"]
        and saved.get("mtime_ns") == current["mtime_ns"]
    )


def _tail_digest(path: Path, offset: int) -> str:
    start = max(0, offset - _TAIL_BYTES)
    with path.open("rb") as f:
        f.seek(start)
        data = f.read(offset - start)
    return hashlib.sha256(data).hexdigest() if len(data) == offset - start else ""


def _stack(records: list[Record]) -> dict[str, np.ndarray]:
    return {name: np.stack([r.vectors[name] for r in records]) for name in records[0].vectors}


def _chunk(records: list[Record], position: dict[str, Any], consumed: int) -> Chunk:
    payloads = texts = None
    if any(r.payload is not None for r in records):
        payloads = [r.payload for r in records]
    if any(r.text is not None for r in records):
        texts = [r.text for r in records]
    # A batch holds lines of one kind (JsonlSource.read): all with vectors, or all text only.
    vectors = _stack(records) if records and records[0].vectors else None
    return Chunk([r.id for r in records], vectors, payloads, texts, position, consumed)


def _has_key(payload: dict[str, Any] | None, key: str) -> bool:
    """Whether `payload` holds a value at the dotted path `key`."""
    value: Any = payload
    for part in key.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            return False
        value = value[part]
    return True


# -------------------------------------------------------------------------------------- JSONL


class JsonlSource:
    """One point per line; blank lines are ignored. Position: byte offset and line number."""

    format = "jsonl"

    def __init__(
        self,
        path: Path,
        field: str = "default",
        dims: dict[str, int] | None = None,
        text_fields: dict[str, str] | None = None,
    ) -> None:
        """dims: the target collection's dense fields and their dimensions, when known; lines
        that do not fit them are reported with their line number (line 0: the collection).
        text_fields: the collection's fields with a text source -> the payload key they read
        ("" for the point's "text"), when known; lines without vectors are checked against them."""
        self.path = Path(path)
        self.field = field
        self._known = sorted(dims) if dims else None
        self._dims: dict[str, tuple[int, int]] = {k: (v, 0) for k, v in (dims or {}).items()}
        self._text_fields = text_fields
        self.path.stat()  # fail early with FileNotFoundError

    def fingerprint(self) -> dict[str, Any]:
        return {"file": _file_fingerprint(self.path), "field": self.field}

    def start(self) -> dict[str, Any]:
        return {"offset": 0, "line": 0, "tail_sha256": _tail_digest(self.path, 0)}

    def check_resume(self, fingerprint: dict[str, Any], position: dict[str, Any]) -> str | None:
        offset, line = int(position["offset"]), int(position["line"])
        if fingerprint.get("field", self.field) != self.field:
            raise ValueError(
                f"the interrupted import used --field {fingerprint.get('field')!r}, this one "
                f"{self.field!r}"
            )
        if _same_file(fingerprint.get("file"), _file_fingerprint(self.path)):
            return None
        if offset <= self.path.stat().st_size and position.get("tail_sha256") == _tail_digest(
            self.path, offset
        ):
            return (
                f"{self.path} changed since the interrupted import; the text before line "
                f"{line + 1} is unchanged, so the import resumes there"
            )
        raise ValueError(f"{self.path} changed before line {line + 1} since the interrupted import")

    def total(self) -> int | None:
        return count_lines(self.path)

    def done(self, position: dict[str, Any]) -> int:
        return int(position["line"])

    def _position(self, offset: int, line: int) -> dict[str, Any]:
        return {"offset": offset, "line": line, "tail_sha256": _tail_digest(self.path, offset)}

    def _check_text(self, record: Record, line: int) -> None:
        """A line without vectors: the collection must encode its text (when that is known)."""
        if self._text_fields is None:
            return
        if not self._text_fields:
            raise BadLine(
                line,
                'has no "vector", and the collection has no field that takes its vectors from '
                "text (create one with --text-model)",
            )
        for name, key in sorted(self._text_fields.items()):
            if not key and record.text is None:
                raise BadLine(line, f'has no "vector" and no "text" for field {name!r}')
            if key and not _has_key(record.payload, key):
                raise BadLine(
                    line,
                    f'has no "vector" and no "payload" key {key!r}, which field {name!r} '
                    "reads its text from",
                )

    def _check_dims(self, record: Record, line: int) -> None:
        if not record.vectors:
            self._check_text(record, line)
        for name, vector in record.vectors.items():
            if self._known is not None and name not in self._dims:
                raise BadLine(
                    line,
                    f"the collection has no vector field {name!r} (its fields: "
                    f"{', '.join(self._known)})",
                )
            dim, first = self._dims.setdefault(name, (len(vector), line))
            if dim != len(vector):
                where = f"line {first} had" if first else "the collection's field has"
                raise BadLine(
                    line, f"vector field {name!r} has {len(vector)} dimensions, but {where} {dim}"
                )

    def read(self, position: dict[str, Any], batch_size: int) -> Iterator[Chunk | BadRecord]:
        offset, line = int(position["offset"]), int(position["line"])
        pending: list[Record] = []
        fields: tuple[str, ...] = ()
        consumed = 0  # lines since the last item yielded
        # The first line read decides whether lines carry vectors or only text; a line of the
        # other kind is an error naming both lines (whatever the batch size).
        kind: tuple[bool, int] | None = None
        with self.path.open("rb") as f:
            f.seek(offset)
            for raw in f:
                line += 1
                offset += len(raw)
                consumed += 1
                if not raw.strip():
                    continue
                try:
                    record = parse_record(raw, line, self.field)
                    self._check_dims(record, line)
                    kind = self._check_kind(record, line, kind)
                except BadLine as exc:
                    if pending:
                        pos = self._position(offset - len(raw), line - 1)
                        yield _chunk(pending, pos, consumed - 1)
                        pending, consumed = [], 1
                    yield BadRecord(str(exc), self._position(offset, line), consumed)
                    consumed = 0
                    continue
                key = tuple(sorted(record.vectors))
                if pending and key != fields:  # one batch sends one set of vector fields
                    yield _chunk(pending, self._position(offset - len(raw), line - 1), consumed - 1)
                    pending, consumed = [], 1
                fields = key
                pending.append(record)
                if len(pending) >= batch_size:
                    yield _chunk(pending, self._position(offset, line), consumed)
                    pending, consumed = [], 0
        if pending or consumed:
            yield _chunk(pending, self._position(offset, line), consumed)

    @staticmethod
    def _check_kind(record: Record, line: int, kind: tuple[bool, int] | None) -> tuple[bool, int]:
        has_vectors = bool(record.vectors)
        if kind is None:
            return has_vectors, line
        if kind[0] != has_vectors:
            this, first = (
                ("has vectors", "only text") if has_vectors else ("has no vectors", "vectors")
            )
            raise BadLine(
                line,
                f"{this}, but line {kind[1]} has {first}: one import sends either vectors or "
                "only texts for the server to encode; split the file",
            )
        return kind


# ---------------------------------------------------------------------------------------- npy


class NpySource:
    """An (n, dim) matrix; ids from an .npy of integers or UUID strings, else 0..n-1; payloads
    optionally from a JSONL file with one JSON object (or null / a blank line: none) per row.
    Position: row index, and byte offset into the payloads file."""

    format = "npy"

    def __init__(
        self,
        path: Path,
        *,
        ids_path: Path | None = None,
        payloads_path: Path | None = None,
        field: str = "default",
        dims: dict[str, int] | None = None,
    ) -> None:
        self.path = Path(path)
        self.ids_path = Path(ids_path) if ids_path else None
        self.payloads_path = Path(payloads_path) if payloads_path else None
        self.field = field
        self.vectors = np.load(self.path, mmap_mode="r", allow_pickle=False)
        if self.vectors.ndim != 2 or self.vectors.shape[1] == 0:
            raise ValueError(
                f"{self.path}: expected an (n, dim) array of vectors, "
                f"got shape {self.vectors.shape}"
            )
        if not (
            np.issubdtype(self.vectors.dtype, np.floating)
            or np.issubdtype(self.vectors.dtype, np.integer)
        ):
            raise ValueError(
                f"{self.path}: vectors must be numbers, got dtype {self.vectors.dtype}"
            )
        if dims is not None:
            if field not in dims:
                raise ValueError(
                    f"the collection has no vector field {field!r} (its fields: "
                    f"{', '.join(sorted(dims))}); pick one with --field"
                )
            if dims[field] != self.vectors.shape[1]:
                raise ValueError(
                    f"{self.path} holds {self.vectors.shape[1]}-d vectors but field {field!r} "
                    f"of the collection has {dims[field]} dimensions"
                )
        n = len(self.vectors)
        self.ids: np.ndarray | None = None
        if self.ids_path is not None:
            ids = np.load(self.ids_path, mmap_mode="r", allow_pickle=False)
            if ids.shape != (n,):
                raise ValueError(
                    f"{self.ids_path}: expected {n} ids (one per row of {self.path.name}), "
                    f"got shape {ids.shape}"
                )
            if np.issubdtype(ids.dtype, np.integer):
                if n and (int(ids.min()) < 0):
                    raise ValueError(f"{self.ids_path}: ids must be >= 0, found {int(ids.min())}")
            elif ids.dtype.kind != "U":
                raise ValueError(
                    f"{self.ids_path}: ids must be integers or UUID strings, got dtype {ids.dtype}"
                )
            self.ids = ids
        if self.payloads_path is not None:
            lines = count_lines(self.payloads_path, limit_bytes=1 << 62) or 0
            if lines != n:
                raise ValueError(
                    f"{self.payloads_path} has {lines} lines but {self.path.name} has {n} rows; "
                    "give one payload per row"
                )

    def fingerprint(self) -> dict[str, Any]:
        return {
            "file": _file_fingerprint(self.path),
            "ids": _file_fingerprint(self.ids_path) if self.ids_path else None,
            "payloads": _file_fingerprint(self.payloads_path) if self.payloads_path else None,
            "field": self.field,
        }

    def start(self) -> dict[str, Any]:
        return {"row": 0, "payloads_offset": 0}

    def check_resume(self, fingerprint: dict[str, Any], position: dict[str, Any]) -> str | None:
        current = self.fingerprint()
        for key in ("file", "ids", "payloads"):
            saved, now = fingerprint.get(key), current[key]
            if (saved is None) != (now is None) or (now is not None and not _same_file(saved, now)):
                what = {"file": self.path, "ids": "--ids", "payloads": "--payloads"}[key]
                raise ValueError(f"{what} is not the same file as in the interrupted import")
        if fingerprint.get("field", self.field) != self.field:
            raise ValueError(
                f"the interrupted import used --field {fingerprint.get('field')!r}, this one "
                f"{self.field!r}"
            )
        return None

    def total(self) -> int | None:
        return len(self.vectors)

    def done(self, position: dict[str, Any]) -> int:
        return int(position["row"])

    def _rows(self, start: int, stop: int) -> tuple[list[PointId], np.ndarray]:
        block = np.asarray(self.vectors[start:stop])
        if block.dtype not in (np.float32, np.float16):
            block = block.astype(np.float32)
        if self.ids is None:
            return list(range(start, stop)), block
        raw = self.ids[start:stop]
        if raw.dtype.kind == "U":
            ids: list[PointId] = []
            for i, value in enumerate(raw.tolist()):
                try:
                    ids.append(parse_point_id(value))
                except ValueError as exc:
                    raise ValueError(f"{self.ids_path}: row {start + i}: {exc}") from None
            return ids, block
        return [int(v) for v in raw.tolist()], block

    def read(self, position: dict[str, Any], batch_size: int) -> Iterator[Chunk | BadRecord]:
        row, offset = int(position["row"]), int(position["payloads_offset"])
        n = len(self.vectors)
        payload_file = self.payloads_path.open("rb") if self.payloads_path else None
        try:
            if payload_file is not None:
                payload_file.seek(offset)
            while row < n:
                stop = min(n, row + batch_size)
                ids, block = self._rows(row, stop)
                if payload_file is None:
                    row = stop
                    pos = {"row": row, "payloads_offset": 0}
                    yield Chunk(ids, {self.field: block}, None, None, pos, len(ids))
                    continue
                keep: list[int] = []
                payloads: list[dict[str, Any] | None] = []
                seg_start = row
                for i in range(row, stop):
                    raw = payload_file.readline()
                    offset += len(raw)
                    try:
                        payloads.append(self._payload(raw, i + 1))
                        keep.append(i - row)
                    except BadLine as exc:
                        if keep:
                            yield self._payload_chunk(
                                ids, block, keep, payloads, i, offset - len(raw), i - seg_start
                            )
                        yield BadRecord(str(exc), {"row": i + 1, "payloads_offset": offset}, 1)
                        keep, payloads, seg_start = [], [], i + 1
                if keep:
                    yield self._payload_chunk(
                        ids, block, keep, payloads, stop, offset, stop - seg_start
                    )
                row = stop
        finally:
            if payload_file is not None:
                payload_file.close()

    def _payload(self, raw: bytes, line: int) -> dict[str, Any] | None:
        where = str(self.payloads_path)
        if not raw.strip():
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadLine(line, f"invalid JSON: {exc.msg} (column {exc.colno})", where) from None
        except UnicodeDecodeError:
            raise BadLine(line, "is not valid UTF-8", where) from None
        if value is None:
            return None
        if not isinstance(value, dict):
            raise BadLine(
                line, f"a payload must be a JSON object, got {type(value).__name__}", where
            )
        return value

    def _payload_chunk(
        self,
        ids: list[PointId],
        block: np.ndarray,
        keep: list[int],
        payloads: list[dict[str, Any] | None],
        next_row: int,
        offset: int,
        consumed: int,
    ) -> Chunk:
        pos = {"row": next_row, "payloads_offset": offset}
        return Chunk(
            [ids[k] for k in keep], {self.field: block[keep]}, payloads, None, pos, consumed
        )


def open_source(
    path: Path,
    *,
    format: str | None = None,
    ids_path: Path | None = None,
    payloads_path: Path | None = None,
    field: str = "default",
    dims: dict[str, int] | None = None,
    text_fields: dict[str, str] | None = None,
) -> JsonlSource | NpySource:
    """The reader for `path`; the format defaults from the extension (.npy, else JSONL).

    dims: the target collection's dense fields and dimensions, when known, to check rows early.
    text_fields: its fields with a text source -> payload key ("" for "text"), when known.
    """
    path = Path(path)
    fmt = format or ("npy" if path.suffix.lower() == ".npy" else "jsonl")
    if fmt == "npy":
        return NpySource(
            path, ids_path=ids_path, payloads_path=payloads_path, field=field, dims=dims
        )
    if fmt != "jsonl":
        raise ValueError(f"unknown import format {fmt!r}: use jsonl or npy")
    if ids_path is not None or payloads_path is not None:
        raise ValueError(
            "--ids and --payloads go with --format npy; a JSONL line carries its own "
            '"id" and "payload"'
        )
    return JsonlSource(path, field=field, dims=dims, text_fields=text_fields)
