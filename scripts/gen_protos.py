"""Regenerate the gRPC stubs in vecdb/v1 from proto/vecdb/v1/*.proto.

The proto tree mirrors the Python package path (proto/vecdb/v1 -> vecdb/v1), so protoc's imports
come out as `from vecdb.v1 import common_pb2` with no rewriting. Run it after editing a .proto:

    python scripts/gen_protos.py          # rewrite vecdb/v1
    python scripts/gen_protos.py --check  # exit 1 if the committed stubs are stale
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT_PACKAGE = ROOT / "vecdb" / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_root: Path) -> None:
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "vecdb" / "v1").glob("*.proto"))
    args = [
        "protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the messages above")


def generated_files(package_dir: Path) -> dict[str, Path]:
    return {p.name: p for p in package_dir.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed stubs; write nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = generated_files(Path(tmp) / "vecdb" / "v1")
        committed = generated_files(OUT_PACKAGE)
        stale = sorted(
            name for name in fresh.keys() | committed.keys()
            if name not in fresh or name not in committed or not filecmp.cmp(fresh[name], committed[name], shallow=False)
        )
        if args.check:
            if stale:
                print("stale generated stubs: " + ", ".join(stale) + "\nrun: python scripts/gen_protos.py")
                return 1
            print("generated stubs are up to date")
            return 0
        for name in committed.keys() - fresh.keys():
            committed[name].unlink()
        for name, path in fresh.items():
            shutil.copyfile(path, OUT_PACKAGE / name)
        print(f"wrote {len(fresh)} files to {OUT_PACKAGE.relative_to(ROOT)}" + (f" ({len(stale)} changed)" if stale else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
