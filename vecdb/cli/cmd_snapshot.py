"""`vecdb snapshot create | list | delete | restore | download | restore-offline`.

Every action but restore-offline goes through the SDK to a running server. restore-offline
needs no server: it unpacks a downloaded snapshot file into a data folder that no server has
open (the one place the CLI reads the engine's file format, through vecdb.engine.snapshots).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from vecdb.cli.common import EpilogFormatter, connect, emit
from vecdb.cli.errors import CommandFailed
from vecdb.cli.output import format_table, human_bytes, to_jsonable

__all__ = ["register"]

GROUP_EPILOG = """\
examples:
  vecdb snapshot create docs                 # one collection
  vecdb snapshot create                      # the whole server
  vecdb snapshot list
  vecdb snapshot download docs.20260101T120000Z.0a1b2c3d --output backups/
  vecdb snapshot restore docs.20260101T120000Z.0a1b2c3d --overwrite
  vecdb snapshot restore _server.20260101T120000Z.0a1b2c3d --collection docs
  vecdb snapshot delete docs.20260101T120000Z.0a1b2c3d --yes
  vecdb snapshot restore-offline backups/_server.20260101T120000Z.0a1b2c3d.tar --data-dir ./data-restored

A snapshot is one file on the server (<data_dir>/snapshots/<name>.tar): a consistent copy of
each collection taken while reads and writes go on. Names are generated; list shows them.
"""


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _describe(info: Any) -> str:
    scope = info.collection or f"whole server ({len(info.collections)} collections)"
    points = sum(c.points_count for c in info.collections)
    return f"{info.name}: {scope}, {points} points, {human_bytes(info.size_bytes)}, {_when(info.created_at)}"


def run_create(args: argparse.Namespace) -> int:
    with connect(args) as client:
        info = client.create_snapshot(args.collection)
    emit(args, f"created snapshot {_describe(info)}", to_jsonable(info))
    return 0


def run_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        infos = client.list_snapshots(args.collection)
    rows = [
        [i.name, i.collection or "(server)", sum(c.points_count for c in i.collections),
         human_bytes(i.size_bytes), _when(i.created_at)]
        for i in infos
    ]
    human = format_table(["name", "collection", "points", "size", "created"], rows, max_width=None)
    emit(args, human if rows else "no snapshots", to_jsonable(infos))
    return 0


def run_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            raise CommandFailed(f"refusing to delete snapshot {args.name!r} without confirmation: stdin is "
                                "not a terminal; pass --yes")
        sys.stderr.write(f"Delete snapshot {args.name!r}? This cannot be undone. [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            sys.stderr.write("not deleted\n")
            return 1
    with connect(args) as client:
        client.delete_snapshot(args.name)
    emit(args, f"deleted snapshot {args.name}", {"deleted": args.name})
    return 0


def run_restore(args: argparse.Namespace) -> int:
    with connect(args) as client:
        restored = client.restore_snapshot(args.name, collection=args.collection, overwrite=args.overwrite)
    emit(args, f"restored collection {restored.name} ({restored.points_count} points, sequence "
               f"{restored.sequence}) from {args.name}", to_jsonable(restored))
    return 0


def run_download(args: argparse.Namespace) -> int:
    output = Path(args.output)
    with connect(args) as client:
        info = client.download_snapshot(args.name, output)
    path = output / f"{info.name}.tar" if output.is_dir() else output
    emit(args, f"downloaded {info.name} to {path} ({human_bytes(info.size_bytes)}, sha256 {info.sha256} verified)",
         to_jsonable({"path": str(path), "snapshot": info}))
    return 0


def run_restore_offline(args: argparse.Namespace) -> int:
    from vecdb.engine.errors import VecdbError
    from vecdb.engine.snapshots import restore_into_folder

    if not Path(args.file).is_file():
        raise CommandFailed(f"{args.file} is not a file; pass a snapshot file downloaded with "
                            "`vecdb snapshot download`")
    try:
        restored = restore_into_folder(Path(args.file), Path(args.data_dir), collections=args.collection or None,
                                       overwrite=args.overwrite)
    except VecdbError as exc:
        raise CommandFailed(exc.message) from None
    lines = [f"restored {c.name} ({c.points_count} points, sequence {c.sequence})" for c in restored]
    lines.append(f"into {args.data_dir}; start a server there with: vecdb serve --data-dir {args.data_dir}")
    emit(args, "\n".join(lines), [vars(c) for c in restored])
    return 0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> None:
    group = sub.add_parser(
        "snapshot", parents=parents, help="snapshots: create, list, download, restore, delete",
        description="Consistent snapshots of one collection or the whole server, taken while the "
        "server serves; restore them into the server or, offline, into a new data folder.",
        epilog=GROUP_EPILOG, formatter_class=EpilogFormatter,
    )
    actions = group.add_subparsers(dest="snapshot_command", metavar="ACTION", required=True)

    create = actions.add_parser("create", parents=parents, help="snapshot a collection or the whole server",
                                description="Snapshot one collection, or every collection when none is named.")
    create.add_argument("collection", nargs="?", metavar="COLLECTION", help="the collection (default: all)")
    create.set_defaults(func=run_create)

    list_ = actions.add_parser("list", parents=parents, help="list snapshots", description="List snapshots, oldest first.")
    list_.add_argument("--collection", metavar="NAME", help="only snapshots holding this collection")
    list_.set_defaults(func=run_list)

    delete = actions.add_parser("delete", parents=parents, help="delete a snapshot",
                                description="Delete a snapshot file on the server. Asks for confirmation "
                                "on a terminal; elsewhere --yes is required.")
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(func=run_delete)

    restore = actions.add_parser("restore", parents=parents, help="restore a collection into the server",
                                 description="Restore a collection from a snapshot into the running server "
                                 "under its own name. A whole-server snapshot restores one --collection "
                                 "online, or everything offline (restore-offline).")
    restore.add_argument("name", metavar="NAME")
    restore.add_argument("--collection", metavar="NAME", help="which collection of a whole-server snapshot")
    restore.add_argument("--overwrite", action="store_true", help="replace a collection of the same name")
    restore.set_defaults(func=run_restore)

    download = actions.add_parser("download", parents=parents, help="download a snapshot file",
                                  description="Download a snapshot file; it is checked against the "
                                  "server's size and SHA-256 before it is put in place.")
    download.add_argument("name", metavar="NAME")
    download.add_argument("--output", "-o", default=".", metavar="PATH",
                          help="file, or folder to write NAME.tar into (default: .)")
    download.set_defaults(func=run_download)

    offline = actions.add_parser("restore-offline", parents=parents,
                                 help="unpack a snapshot file into a data folder (no server)",
                                 description="Unpack a downloaded snapshot file into a data folder that no "
                                 "server has open (a new one, or one without those collections), checking "
                                 "every file's checksum. Then start a server on that folder.")
    offline.add_argument("file", metavar="FILE", help="a snapshot .tar file")
    offline.add_argument("--data-dir", required=True, metavar="DIR", help="the data folder to restore into")
    offline.add_argument("--collection", action="append", metavar="NAME",
                         help="restore only this collection (repeatable; default: all)")
    offline.add_argument("--overwrite", action="store_true", help="replace collections that exist there")
    offline.set_defaults(func=run_restore_offline)
