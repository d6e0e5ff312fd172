"""Index checkpoints: index files plus a manifest, each written atomically.

A checkpoint is a folder `index/` in the collection folder holding one file per vector field,
named `<field>.<sequence>.<kind>`, and `manifest.json`, which names those files, the sequence
they reflect and a CRC-32 of each. Files are written to a temporary name, fsynced and renamed;
the manifest is switched last, so a crash at any point leaves either the old or the new
checkpoint complete. A file whose CRC does not match is treated as missing: the caller rebuilds
from LMDB, so a corrupt checkpoint costs time, never data.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FieldCheckpoint", "Manifest", "atomic_write", "fsync_dir", "read_manifest", "verified_path", "write_checkpoint"]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class FieldCheckpoint:
    file: str
    kind: str
    crc32: int
    count: int


@dataclass(frozen=True)
class Manifest:
    sequence: int
    fields: dict[str, FieldCheckpoint]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def file_crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc


def read_manifest(folder: Path) -> Manifest | None:
    """The current manifest, or None when there is none or it cannot be read."""
    try:
        raw = json.loads((folder / MANIFEST).read_text())
        fields = {name: FieldCheckpoint(**entry) for name, entry in raw["fields"].items()}
        return Manifest(sequence=int(raw["sequence"]), fields=fields)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("index manifest in %s is unreadable (%s); indexes will be rebuilt", folder, exc)
        return None


def verified_path(folder: Path, entry: FieldCheckpoint) -> Path | None:
    """The checkpoint file of a field if it exists and its CRC matches, else None."""
    path = folder / entry.file
    if not path.is_file():
        log.warning("index checkpoint %s is missing; the field will be rebuilt", path)
        return None
    if file_crc32(path) != entry.crc32:
        log.warning("index checkpoint %s fails its checksum; the field will be rebuilt", path)
        return None
    return path


def write_checkpoint(
    folder: Path, sequence: int, savers: dict[str, tuple[str, int, Callable[[Path], None]]]
) -> Manifest:
    """Write every field's index and switch the manifest to them.

    `savers` maps field name -> (kind, live count, function writing the index to a path).
    """
    folder.mkdir(parents=True, exist_ok=True)
    fields: dict[str, FieldCheckpoint] = {}
    for name, (kind, count, save) in savers.items():
        final = folder / f"{name}.{sequence}.{kind}"
        tmp = final.with_name(final.name + ".tmp")
        save(tmp)
        os.replace(tmp, final)
        fields[name] = FieldCheckpoint(file=final.name, kind=kind, crc32=file_crc32(final), count=count)
    fsync_dir(folder)
    manifest = Manifest(sequence=sequence, fields=fields)
    body = {"sequence": sequence, "fields": {n: vars(f) for n, f in fields.items()}}
    atomic_write(folder / MANIFEST, json.dumps(body, indent=1).encode())
    keep = {f.file for f in fields.values()} | {MANIFEST}
    for stale in folder.iterdir():
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    return manifest
