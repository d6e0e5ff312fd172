"""Resumable bulk import: stream a source in batches through `send`, recording progress.

`send(ids, vectors, payloads, texts)` stores one batch atomically and durably (the CLI passes
`Client.upsert`) and returns something with a `sequence` attribute; `vectors` is None for a batch
of text-only lines, whose vectors the server encodes from the texts. After each acknowledged batch
a small state file next to the input ("<file>.vecdb-import.json") records where reading resumes;
it is written atomically (temp file, fsync, rename). A rerun with `resume=True` starts from that
position without reading the rows before it, and the state file is removed once the import
completes. Upserts are idempotent, so a batch sent again after a crash is harmless.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from vecdb.cli.sources import BadRecord, Chunk, PointId, Source

__all__ = [
    "STATE_SUFFIX",
    "STATE_VERSION",
    "ImportSummary",
    "Send",
    "load_state",
    "run_import",
    "save_state",
    "state_path_for",
]

STATE_SUFFIX = ".vecdb-import.json"
STATE_VERSION = 1

Send = Callable[
    [
        Sequence[PointId],
        dict[str, np.ndarray] | None,
        Sequence[dict[str, Any] | None] | None,
        Sequence[str | None] | None,
    ],
    Any,
]


@dataclass(frozen=True)
class ImportSummary:
    collection: str
    rows: int  # points sent by this run
    skipped: int  # bad records skipped by this run
    rows_before: int  # points sent by the interrupted runs this one resumed
    elapsed_s: float
    sequence: int | None  # sequence of the last acknowledged batch
    note: str | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def resumed(self) -> bool:
        return self.rows_before > 0


def state_path_for(path: Path) -> Path:
    return Path(str(path) + STATE_SUFFIX)


def load_state(path: Path) -> dict[str, Any] | None:
    """The saved state, or None when there is none. A damaged file is a ValueError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        state = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(
            f"import state file {path} is damaged; remove it or pass --no-resume"
        ) from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise ValueError(
            f"import state file {path} has an unknown layout; remove it or pass --no-resume"
        )
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Replace `path` with `state` atomically: write a temp file, fsync it, rename it."""
    tmp = path.with_name(path.name + ".tmp")
    data = json.dumps(state, indent=2, sort_keys=True).encode("utf-8")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename durable where directories can be opened
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _resume_position(
    source: Source, state: dict[str, Any], collection: str, state_path: Path
) -> tuple[dict[str, Any], int, str | None]:
    hint = "pass --no-resume to import from the start"
    if state.get("collection") != collection:
        raise ValueError(
            f"{state_path} records an interrupted import into collection "
            f"{state.get('collection')!r}, not {collection!r}; {hint}"
        )
    if state.get("format") != source.format:
        raise ValueError(
            f"{state_path} records an interrupted {state.get('format')} import, not "
            f"{source.format}; {hint}"
        )
    try:
        note = source.check_resume(state.get("source") or {}, state["position"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"cannot resume from {state_path}: {exc}; {hint}") from None
    return state["position"], int(state.get("rows_done", 0)), note


def run_import(
    source: Source,
    send: Send,
    *,
    collection: str,
    batch_size: int = 1000,
    resume: bool = True,
    skip_bad: bool = False,
    state_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    warn: Callable[[str], None] | None = None,
    on_start: Callable[[int, int | None], None] | None = None,
) -> ImportSummary:
    """Import `source` into `collection` through `send`; see the module docstring.

    progress(n) is called with the input units (lines or rows) each step consumed; on_start(done,
    total) once before reading, with the units already done and the total when cheap to know.
    A bad record stops the import with a ValueError naming its line, the state kept so a fixed
    file resumes; with skip_bad it is passed to warn() and skipped instead.
    """
    if batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {batch_size}")
    state_path = state_path or state_path_for(source.path)
    position = source.start()
    rows_before = 0
    note = None
    saved = load_state(state_path) if resume else None
    if saved is not None:
        position, rows_before, note = _resume_position(source, saved, collection, state_path)
    elif not resume:
        state_path.unlink(missing_ok=True)
    fingerprint = source.fingerprint()
    rows = skipped = 0
    skipped_before = int(saved.get("skipped", 0)) if saved else 0
    sequence: int | None = saved.get("sequence") if saved else None

    def checkpoint() -> None:
        save_state(
            state_path,
            {
                "version": STATE_VERSION,
                "collection": collection,
                "format": source.format,
                "source": fingerprint,
                "position": position,
                "rows_done": rows_before + rows,
                "skipped": skipped_before + skipped,
                "sequence": sequence,
                "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )

    if on_start is not None:
        on_start(source.done(position), source.total())
    started = time.monotonic()
    for item in source.read(position, batch_size):
        if isinstance(item, Chunk):
            if len(item):
                result = send(item.ids, item.vectors, item.payloads, item.texts)
                rows += len(item)
                sequence = getattr(result, "sequence", sequence)
            position = item.position
            checkpoint()
        else:
            assert isinstance(item, BadRecord)
            if not skip_bad:
                if rows_before + rows + skipped_before + skipped > 0:
                    checkpoint()
                done = rows_before + rows
                raise ValueError(
                    f"{item.message}; the import stopped after {done} rows"
                    + (f" (progress kept in {state_path})" if state_path.exists() else "")
                    + ": fix the input and rerun to resume, or pass --skip-bad"
                )
            skipped += 1
            position = item.position
            if warn is not None:
                warn(f"{item.message}; skipped")
        if progress is not None:
            progress(item.consumed)
    elapsed = time.monotonic() - started
    state_path.unlink(missing_ok=True)
    return ImportSummary(collection, rows, skipped, rows_before, elapsed, sequence, note)
