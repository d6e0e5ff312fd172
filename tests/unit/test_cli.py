"""The `vecdb` command line without a server: parser, readers, resumable import, output, errors.

Commands that talk to a server run here against a fake client put in place of
`vecdb_client.Client`; the real round trip is covered by the integration suite.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import vecdb_client
from vecdb.cli import cmd_collection
from vecdb.cli.errors import UsageError, format_error
from vecdb.cli.importer import load_state, run_import, state_path_for
from vecdb.cli.main import build_parser, main
from vecdb.cli.output import format_table, human_bytes, truncate
from vecdb.cli.sources import BadLine, JsonlSource, NpySource, open_source, parse_record

try:
    from vecdb_client import errors as sdk_errors
except ImportError:  # the SDK is written in parallel; keep the CLI tests independent of it
    sdk_errors = None


# ------------------------------------------------------------------------------------ helpers


@dataclass
class Result:
    sequence: int
    count: int


@dataclass
class Recorder:
    """A `send` that records batches and can fail after a number of them (a crash)."""

    fail_after: int | None = None
    batches: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, ids, vectors, payloads, texts):
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise ConnectionError("simulated crash")
        self.batches.append(
            {
                "ids": list(ids),
                "vectors": None
                if vectors is None
                else {k: np.array(v) for k, v in vectors.items()},
                "payloads": payloads,
                "texts": texts,
            }
        )
        return Result(sequence=len(self.batches), count=len(ids))

    @property
    def ids(self) -> list[Any]:
        return [i for b in self.batches for i in b["ids"]]


def write_jsonl(path: Path, n: int, dim: int = 3) -> list[dict[str, Any]]:
    rows = [
        {"id": i, "vector": [float(i), float(i) + 0.5, -1.0][:dim], "payload": {"n": i}}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


# ------------------------------------------------------------------------------------- parser


def test_global_options_work_before_and_after_the_command(monkeypatch):
    monkeypatch.delenv("VECDB_ADDRESS", raising=False)
    args = parse("count", "docs")
    assert (args.address, args.timeout, args.json) == ("localhost:6334", 30.0, False)
    before = parse("--address", "db:1", "--timeout", "5", "--json", "collection", "list")
    after = parse("collection", "list", "--address", "db:1", "--timeout", "5", "--json")
    for args in (before, after):
        assert (args.address, args.timeout, args.json) == ("db:1", 5.0, True)
    # an option before the command is not reset by the subcommand's defaults
    assert parse("--address", "db:2", "health").address == "db:2"
    monkeypatch.setenv("VECDB_ADDRESS", "env:7")
    assert parse("health").address == "env:7"


def test_collection_create_quantize_forms():
    args = parse("collection", "create", "docs", "--dim", "8", "--quantize", "binary:2:recurrent_residual",
                 "--oversampling", "3", "--no-rescore")
    spec = cmd_collection.vector_specs(args)["default"]
    assert spec["quantization"] == {"method": "binary", "bits": 2, "binary_method": "recurrent_residual",
                                    "oversampling": 3.0, "rescore": False}
    assert cmd_collection.vector_specs(parse("collection", "create", "d", "--dim", "8", "--quantize", "int8"))[
        "default"]["quantization"] == {"method": "int8"}
    with pytest.raises(SystemExit):
        parse("collection", "create", "d", "--dim", "8", "--quantize", "binary:5")
    with pytest.raises(UsageError, match="--oversampling and --no-rescore go with --quantize"):
        cmd_collection.vector_specs(parse("collection", "create", "d", "--dim", "8", "--oversampling", "2"))


def test_serve_options_default_to_none_so_settings_precedence_applies():
    args = parse("serve")
    assert (args.data_dir, args.host, args.port, args.config) == (None, None, None, None)
    args = parse(
        "serve", "--data-dir", "/d", "--host", "0.0.0.0", "--port", "7", "--config", "c.toml"
    )
    assert (args.data_dir, args.host, args.port, args.config) == (
        Path("/d"),
        "0.0.0.0",
        7,
        Path("c.toml"),
    )


def test_collection_create_forms():
    args = parse("collection", "create", "docs", "--dim", "384")
    assert cmd_collection.vector_specs(args) == {
        "default": {
            "dim": 384,
            "metric": "cosine",
            "storage_dtype": "float32",
            "hnsw": None,
            "text_source": None,
            "quantization": None,
        }
    }
    args = parse(
        "collection",
        "create",
        "docs",
        "--dim",
        "8",
        "--metric",
        "l2",
        "--dtype",
        "float16",
        "--field",
        "body",
        "--m",
        "32",
        "--ef-construct",
        "400",
        "--index",
        "color:keyword",
        "--index",
        "price:float",
    )
    assert args.index == [("color", "keyword"), ("price", "float")]
    assert cmd_collection.vector_specs(args) == {
        "body": {
            "dim": 8,
            "metric": "l2",
            "storage_dtype": "float16",
            "hnsw": {"m": 32, "ef_construct": 400, "ef": 0},
            "text_source": None,
            "quantization": None,
        }
    }
    spec = '{"title": {"dim": 4}, "body": {"dim": 8, "metric": "dot", "hnsw": {"ef": 99}}}'
    args = parse("collection", "create", "p", "--vectors-json", spec, "--dtype", "float16")
    specs = cmd_collection.vector_specs(args)
    assert specs["title"] == {
        "dim": 4,
        "metric": "cosine",
        "storage_dtype": "float16",
        "hnsw": None,
        "text_source": None,
        "quantization": None,
    }
    assert specs["body"]["metric"] == "dot"
    assert specs["body"]["hnsw"] == {"m": 0, "ef_construct": 0, "ef": 99}


@pytest.mark.parametrize(
    "argv",
    [
        ["collection", "create", "docs"],  # neither --dim nor --vectors-json
        ["collection", "create", "docs", "--dim", "4", "--vectors-json", "{}"],
        ["collection", "create", "docs", "--dim", "4", "--metric", "hamming"],
        ["collection", "create", "docs", "--dim", "4", "--index", "color:text"],
        ["collection", "create", "docs", "--dim", "0"],
        ["search", "docs"],  # no query vector
        ["search", "docs", "--vector", "[1]", "--vector-file", "q.npy"],
        ["search", "docs", "--text", "red shoes", "--vector", "[1]"],
        ["collection", "create", "docs", "--text-key", "body"],  # --text-key without a model
        ["collection", "create", "docs", "--text-model", "m", "--vectors-json", "{}"],
        ["collection", "create", "docs", "--dim", "0", "--text-model", "m"],
        ["encode"],  # no --text
        ["encode", "--text", "a", "--kind", "colbert"],
        ["encode", "--text", "a", "--role", "passage"],
        ["import", "docs", "f.jsonl", "--batch-size", "0"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_vectors_json_errors_are_usage_errors(capsys):
    code = main(
        ["collection", "create", "p", "--vectors-json", '{"t": {"dim": 4, "metrc": "dot"}}']
    )
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err == "error: --vectors-json field 't': unknown key 'metrc' (known: dim, metric, "
        "storage_dtype, hnsw, text_source, quantization)\n"
    )


def test_import_search_count_forms():
    args = parse(
        "import",
        "docs",
        "v.npy",
        "--ids",
        "ids.npy",
        "--payloads",
        "p.jsonl",
        "--field",
        "body",
        "--batch-size",
        "50",
        "--no-resume",
        "--skip-bad",
    )
    assert (args.file, args.ids, args.payloads, args.field) == (
        Path("v.npy"),
        Path("ids.npy"),
        Path("p.jsonl"),
        "body",
    )
    assert (args.batch_size, args.resume, args.skip_bad) == (50, False, True)
    args = parse("import", "docs", "p.jsonl")
    assert (args.format, args.field, args.batch_size, args.resume) == (None, "default", 1000, True)
    args = parse(
        "search",
        "docs",
        "--vector",
        "[0.1, 0.2]",
        "--limit",
        "3",
        "--filter",
        '{"must": []}',
        "--with-payload",
        "--ef",
        "128",
        "--exact",
        "--field",
        "title",
    )
    assert (args.limit, args.ef, args.exact, args.with_payload, args.field) == (
        3,
        128,
        True,
        True,
        "title",
    )
    assert parse("count", "docs", "--filter", "{}").filter == "{}"
    assert parse("collection", "delete", "docs", "--yes").yes is True


def test_every_command_has_help_with_examples(capsys):
    for argv in (
        ["--help"],
        ["collection", "create", "--help"],
        ["import", "--help"],
        ["search", "--help"],
        ["count", "--help"],
        ["serve", "--help"],
        ["encode", "--help"],
        ["models", "--help"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        assert "examples:" in capsys.readouterr().out


# -------------------------------------------------------------------------------- JSONL reader


def test_parse_record_reads_vectors_payloads_text_and_uuid_ids():
    u = "5C56C793-69F3-4FBF-87E6-C4BF54C28C26"
    rec = parse_record(
        json.dumps(
            {
                "id": u,
                "vectors": {"title": [1, 2], "body": [3, 4, 5]},
                "payload": {"a": [1, {"b": None}]},
                "text": "hello",
            }
        ),
        line=7,
    )
    assert rec.id == u.lower() == str(uuid.UUID(u))
    assert rec.vectors["title"].dtype == np.float32
    assert rec.vectors["body"].tolist() == [3.0, 4.0, 5.0]
    assert rec.payload == {"a": [1, {"b": None}]} and rec.text == "hello"
    rec = parse_record(b'{"id": 18446744073709551615, "vector": [0.5]}', line=1, field="f")
    assert rec.id == 2**64 - 1 and list(rec.vectors) == ["f"] and rec.payload is None


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": 1, "vector": [1, 2]', "line 1234: invalid JSON"),
        ('{"vector": [1, 2]}', 'line 1234: missing "id"'),
        ('{"id": 1}', 'line 1234: missing "vector"'),
        ('{"id": 1, "vector": []}', 'line 1234: "vector" must be a non-empty list'),
        ('{"id": 1, "vector": [[1], [2]]}', 'line 1234: "vector" must be a flat list'),
        ('{"id": 1, "vector": ["x"]}', 'line 1234: "vector" must be a flat list'),
        ('{"id": -1, "vector": [1]}', "line 1234: id -1 is out of range"),
        ('{"id": "not-a-uuid", "vector": [1]}', "line 1234: id 'not-a-uuid' is invalid"),
        ('{"id": 1, "vector": [1], "payload": [1]}', 'line 1234: "payload" must be a JSON object'),
        ("[1, 2]", "line 1234: expected a JSON object, got list"),
    ],
)
def test_parse_record_names_the_line(line, message):
    with pytest.raises(BadLine) as exc:
        parse_record(line, line=1234)
    assert str(exc.value).startswith(message)


def test_jsonl_reader_reports_dimension_mismatch_with_line_numbers(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 1, "vector": [1, 2]}\n\n{"id": 2, "vector": [1, 2, 3]}\n')
    with pytest.raises(
        ValueError,
        match=r"^line 3: vector field 'default' has 3 dimensions, "
        r"but line 1 had 2",
    ):
        run_import(JsonlSource(path), Recorder(), collection="c")
    source = JsonlSource(path, dims={"default": 3})  # the collection's schema, when known
    with pytest.raises(ValueError, match=r"^line 1: .* but the collection's field has 3"):
        run_import(source, Recorder(), collection="c", resume=False)


def test_jsonl_batches_split_where_the_set_of_fields_changes(tmp_path):
    path = tmp_path / "p.jsonl"
    lines = [
        {"id": 1, "vector": [1.0]},
        {"id": 2, "vector": [2.0]},
        {"id": 3, "vectors": {"a": [1.0], "b": [2.0, 3.0]}},
        {"id": 4, "vector": [4.0]},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines))  # no final newline
    send = Recorder()
    summary = run_import(JsonlSource(path), send, collection="c", batch_size=10)
    assert [b["ids"] for b in send.batches] == [[1, 2], [3], [4]]
    assert send.batches[1]["vectors"]["b"].shape == (1, 2)
    assert send.batches[0]["vectors"]["default"].tolist() == [[1.0], [2.0]]
    assert summary.rows == 4


# ------------------------------------------------------------------------------ resumable import


def test_import_resumes_after_a_crash_without_rereading_done_rows(tmp_path):
    path = tmp_path / "points.jsonl"
    rows = write_jsonl(path, 10)
    state = state_path_for(path)
    crashing = Recorder(fail_after=2)
    with pytest.raises(ConnectionError):
        run_import(JsonlSource(path), crashing, collection="docs", batch_size=3)
    assert crashing.ids == [0, 1, 2, 3, 4, 5]
    saved = load_state(state)
    assert saved["collection"] == "docs" and saved["rows_done"] == 6 and saved["sequence"] == 2
    assert saved["source"]["file"]["size"] == path.stat().st_size
    assert not list(tmp_path.glob("*.tmp"))  # written through a temp file and renamed

    # Overwrite the 6 stored lines with garbage of the same length and keep the mtime: a
    # resume that read them again would stop at "line 1: invalid JSON".
    data = path.read_bytes()
    done = sum(len(json.dumps(r)) + 1 for r in rows[:6])
    st = path.stat()
    path.write_bytes(b"#" * done + data[done:])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    resumed = Recorder()
    summary = run_import(JsonlSource(path), resumed, collection="docs", batch_size=3)
    assert resumed.ids == [6, 7, 8, 9]
    assert sorted(crashing.ids + resumed.ids) == list(range(10))
    assert resumed.batches[0]["payloads"] == [{"n": 6}, {"n": 7}, {"n": 8}]
    assert (summary.rows, summary.rows_before, summary.resumed) == (4, 6, True)
    assert not state.exists()


def test_no_resume_starts_over(tmp_path):
    path = tmp_path / "p.jsonl"
    write_jsonl(path, 5)
    with pytest.raises(ConnectionError):
        run_import(JsonlSource(path), Recorder(fail_after=1), collection="c", batch_size=2)
    send = Recorder()
    run_import(JsonlSource(path), send, collection="c", batch_size=2, resume=False)
    assert send.ids == [0, 1, 2, 3, 4]
    assert not state_path_for(path).exists()


def test_resume_refuses_another_collection_or_a_rewritten_file(tmp_path):
    path = tmp_path / "p.jsonl"
    write_jsonl(path, 6)
    with pytest.raises(ConnectionError):
        run_import(JsonlSource(path), Recorder(fail_after=1), collection="c", batch_size=2)
    with pytest.raises(ValueError, match="into collection 'c', not 'other'; pass --no-resume"):
        run_import(JsonlSource(path), Recorder(), collection="other")
    path.write_text(path.read_text().replace('"id": 0', '"id": 9'))  # a stored line changed
    with pytest.raises(ValueError, match=r"changed before line 3 .*pass --no-resume"):
        run_import(JsonlSource(path), Recorder(), collection="c")


def test_bad_line_stops_the_import_and_a_fixed_file_resumes(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = write_jsonl(path, 8)
    lines = [json.dumps(r) for r in rows]
    lines[4] = '{"id": 4, "vector": [4.0, 4.5, -1.0}'  # line 5: broken JSON
    path.write_text("\n".join(lines) + "\n")
    first = Recorder()
    with pytest.raises(ValueError) as exc:
        run_import(JsonlSource(path), first, collection="c", batch_size=3)
    message = str(exc.value)
    assert message.startswith("line 5: invalid JSON")
    assert "stopped after 4 rows" in message and "--skip-bad" in message
    assert first.ids == [0, 1, 2, 3]  # the rows before the bad line are stored
    assert load_state(state_path_for(path))["position"]["line"] == 4

    lines[4] = json.dumps(rows[4])  # fix the line; the file's size and mtime change
    path.write_text("\n".join(lines) + "\n")
    second = Recorder()
    summary = run_import(JsonlSource(path), second, collection="c", batch_size=3)
    assert second.ids == [4, 5, 6, 7]
    assert "resumes there" in summary.note
    assert not state_path_for(path).exists()


def test_skip_bad_logs_and_skips(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        '{"id": 1, "vector": [1]}\nnot json\n{"vector": [2]}\n{"id": 4, "vector": [4]}\n'
    )
    warnings: list[str] = []
    send = Recorder()
    summary = run_import(
        JsonlSource(path), send, collection="c", batch_size=10, skip_bad=True, warn=warnings.append
    )
    assert send.ids == [1, 4]
    assert summary.skipped == 2
    assert [w.split(":")[0] for w in warnings] == ["line 2", "line 3"]
    assert all(w.endswith("; skipped") for w in warnings)


def test_progress_counts_every_line(tmp_path):
    path = tmp_path / "p.jsonl"
    write_jsonl(path, 7)
    with path.open("a") as f:
        f.write("\n")
    seen: list[int] = []
    started: list[tuple[int, int | None]] = []
    run_import(
        JsonlSource(path),
        Recorder(),
        collection="c",
        batch_size=3,
        progress=seen.append,
        on_start=lambda d, t: started.append((d, t)),
    )
    assert started == [(0, 8)] and sum(seen) == 8


# ---------------------------------------------------------------------------------- npy import


def test_npy_import_with_ids_and_payloads(tmp_path):
    vectors = np.arange(14, dtype=np.float64).reshape(7, 2)
    ids = np.array([10, 11, 12, 13, 14, 15, 2**63], dtype=np.uint64)
    np.save(tmp_path / "v.npy", vectors)
    np.save(tmp_path / "ids.npy", ids)
    (tmp_path / "p.jsonl").write_text(
        "".join(json.dumps({"i": i}) + "\n" if i != 3 else "\n" for i in range(7))
    )
    source = open_source(
        tmp_path / "v.npy",
        ids_path=tmp_path / "ids.npy",
        payloads_path=tmp_path / "p.jsonl",
        field="body",
    )
    assert isinstance(source, NpySource)
    send = Recorder()
    summary = run_import(source, send, collection="c", batch_size=3)
    assert send.ids == [10, 11, 12, 13, 14, 15, 2**63]
    assert [len(b["ids"]) for b in send.batches] == [3, 3, 1]
    assert send.batches[0]["vectors"]["body"].dtype == np.float32
    np.testing.assert_array_equal(
        np.concatenate([b["vectors"]["body"] for b in send.batches]), vectors.astype(np.float32)
    )
    assert send.batches[1]["payloads"] == [None, {"i": 4}, {"i": 5}]
    assert summary.rows == 7 and not state_path_for(tmp_path / "v.npy").exists()


def test_npy_import_defaults_ids_and_resumes(tmp_path):
    np.save(tmp_path / "v.npy", np.ones((5, 4), dtype=np.float32))
    with pytest.raises(ConnectionError):
        run_import(
            NpySource(tmp_path / "v.npy"), Recorder(fail_after=1), collection="c", batch_size=2
        )
    send = Recorder()
    summary = run_import(NpySource(tmp_path / "v.npy"), send, collection="c", batch_size=2)
    assert send.ids == [2, 3, 4] and summary.rows_before == 2


def test_npy_input_is_checked(tmp_path):
    np.save(tmp_path / "v.npy", np.ones((3, 4), dtype=np.float32))
    np.save(tmp_path / "flat.npy", np.ones(4, dtype=np.float32))
    np.save(tmp_path / "ids.npy", np.arange(2))
    with pytest.raises(ValueError, match=r"expected 3 ids .* got shape \(2,\)"):
        NpySource(tmp_path / "v.npy", ids_path=tmp_path / "ids.npy")
    with pytest.raises(ValueError, match=r"expected an \(n, dim\) array"):
        NpySource(tmp_path / "flat.npy")
    with pytest.raises(ValueError, match="holds 4-d vectors but field 'default' .* has 8"):
        NpySource(tmp_path / "v.npy", dims={"default": 8})
    with pytest.raises(ValueError, match="--ids and --payloads go with --format npy"):
        open_source(tmp_path / "x.jsonl", ids_path=tmp_path / "ids.npy")


# ------------------------------------------------------------------------------------- output


def test_table_aligns_and_truncates_long_cells():
    table = format_table(
        ["RANK", "ID", "PAYLOAD"],
        [[1, "a", {"text": "x" * 100}], [10, "bb", None]],
        max_width=[None, None, 20],
    )
    lines = table.splitlines()
    assert lines[0].split() == ["RANK", "ID", "PAYLOAD"]
    assert lines[1] == '   1  a   {"text":"xxxxxxxxxx…'
    assert len(lines[1][lines[0].index("PAYLOAD") :]) == 20  # the cell limit, ellipsis included
    assert lines[2].rstrip() == "  10  bb"
    assert truncate("short", 10) == "short"
    assert truncate("line\nbreak", None) == "line break"
    assert truncate("abcdef", 4) == "abc…"
    assert human_bytes(1536) == "1.5 KiB" and human_bytes(12) == "12 B"


# ------------------------------------------------------------------------------------- errors


def _error(cls_name: str, message: str, request_id: str | None):
    if sdk_errors is not None:
        return getattr(sdk_errors, cls_name)(message, request_id=request_id)

    class FakeError(Exception):  # the SDK's shape: .code, .message, .request_id
        code = {"CollectionNotFound": "NOT_FOUND", "Unavailable": "UNAVAILABLE"}[cls_name]

        def __init__(self) -> None:
            super().__init__(message)
            self.message, self.request_id = message, request_id

    return FakeError()


def test_error_line_names_the_problem_and_the_request_id():
    exc = _error(
        "CollectionNotFound",
        "collection 'foo' does not exist; list collections to see the names",
        "req-42",
    )
    assert format_error(exc, address="localhost:6334") == (
        "error: collection 'foo' does not exist; list collections to see the names "
        "(request id req-42)"
    )
    exc = _error("Unavailable", "failed to connect to all addresses", "req-43")
    assert format_error(exc, address="localhost:6334") == (
        "error: cannot reach vecdb at localhost:6334 (is the server running? start it with "
        "`vecdb serve`)"
    )
    assert format_error(FileNotFoundError(2, "No such file", "x.jsonl"), address="a") == (
        "error: no such file: x.jsonl"
    )


# ---------------------------------------------------------------------- commands, fake client


@dataclass
class FakeParams:
    dim: int
    metric: str = "cosine"
    storage_dtype: str = "float32"
    hnsw: Any = None
    text_source: Any = None


@dataclass
class FakeInfo:
    name: str
    vectors: dict[str, FakeParams]
    payload_indexes: dict[str, str] = field(default_factory=dict)
    points_count: int = 0
    sequence: int = 0


@dataclass
class FakePoint:
    id: Any
    score: float
    payload: dict[str, Any] | None = None


class FakeClient:
    """Stands in for vecdb_client.Client; `error` is raised by every call when set."""

    instances: list[FakeClient] = []
    error: BaseException | None = None
    status = "SERVING"
    fields: ClassVar[dict[str, FakeParams] | None] = None  # get_collection's; None: one 3-d field
    encoded: ClassVar[list[Any]] = []
    models: ClassVar[list[Any]] = []

    def __init__(self, address: str, *, timeout: float | None = 30.0, retries: int = 3) -> None:
        self.address, self.timeout, self.retries = address, timeout, retries
        self.calls: list[tuple[str, Any]] = []
        self.upserted: list[Any] = []
        FakeClient.instances.append(self)

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if FakeClient.error is not None:
            raise FakeClient.error

    def health(self) -> str:
        self._call("health")
        return FakeClient.status

    def get_collection(self, name: str) -> FakeInfo:
        self._call("get_collection", name)
        fields = FakeClient.fields if FakeClient.fields is not None else {"default": FakeParams(3)}
        return FakeInfo(name, fields, points_count=5)

    def create_collection(self, name, vectors, *, payload_indexes=None):
        self._call("create_collection", name, vectors, payload_indexes)
        filled = {
            k: FakeParams(v.dim or 384, v.metric, text_source=v.text_source)
            for k, v in vectors.items()
        }
        return FakeInfo(name, filled)

    def stats(self, collection=None):
        self._call("stats", collection)
        return []

    def upsert(self, collection, ids, vectors=None, *, payloads=None, texts=None):
        self._call("upsert", collection, vectors, payloads, texts)
        self.upserted.extend(ids)
        return Result(sequence=len(self.upserted), count=len(ids))

    def encode(self, texts, *, kind="dense", model=None, role="document"):
        self._call("encode", texts, kind, model, role)
        return FakeClient.encoded[: len(texts)]

    def list_models(self):
        self._call("list_models")
        return FakeClient.models

    def query(self, collection, vector, **kwargs):
        self._call("query", collection, vector, kwargs)
        return [FakePoint(7, 0.98765, {"title": "t" * 200}), FakePoint("u-1", 0.5)]

    def count(self, collection, filter=None):
        self._call("count", collection, filter)
        return 42

    def delete_collection(self, name: str) -> bool:
        self._call("delete_collection", name)
        return True


@pytest.fixture
def fake_client(monkeypatch):
    FakeClient.instances, FakeClient.error, FakeClient.status = [], None, "SERVING"
    FakeClient.fields, FakeClient.encoded, FakeClient.models = None, [], []
    monkeypatch.setattr(vecdb_client, "Client", FakeClient, raising=False)
    monkeypatch.delenv("VECDB_DEBUG", raising=False)
    return FakeClient


def test_import_command_end_to_end(tmp_path, fake_client, capsys):
    path = tmp_path / "p.jsonl"
    write_jsonl(path, 5)
    code = main(["import", "docs", str(path), "--batch-size", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert fake_client.instances[0].upserted == [0, 1, 2, 3, 4]
    assert out.startswith("imported 5 rows into 'docs' in ") and "rows/s" in out
    assert not state_path_for(path).exists()


def test_import_command_checks_rows_against_the_collection(tmp_path, fake_client, capsys):
    path = tmp_path / "p.jsonl"
    write_jsonl(path, 3, dim=2)  # the fake collection has dim 3
    assert main(["import", "docs", str(path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: line 1: vector field 'default' has 2 dimensions")
    assert err.count("\n") == 1


def test_search_prints_a_table_and_passes_options(fake_client, capsys):
    code = main(
        [
            "search",
            "docs",
            "--vector",
            "[0.1, 0.2, 0.3]",
            "--with-payload",
            "--limit",
            "2",
            "--filter",
            '{"must": [{"key": "c", "match": {"value": "red"}}]}',
            "--exact",
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].split() == ["RANK", "ID", "SCORE", "PAYLOAD"]
    assert out[1].split()[:3] == ["1", "7", "0.98765"] and out[1].endswith("…")
    assert out[2].split() == ["2", "u-1", "0.5"]
    _, (collection, vector, kwargs) = fake_client.instances[0].calls[0]
    assert collection == "docs" and vector.dtype == np.float32
    assert kwargs["filter"] == {"must": [{"key": "c", "match": {"value": "red"}}]}
    assert (kwargs["limit"], kwargs["exact"], kwargs["using"]) == (2, True, "")


def test_json_output_is_one_document(fake_client, capsys):
    assert main(["count", "docs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"collection": "docs", "count": 42}
    assert main(["--json", "search", "docs", "--vector", "[1, 2, 3]"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["id"] for h in hits] == [7, "u-1"]


def test_health_exit_code(fake_client, capsys):
    assert main(["health"]) == 0
    assert capsys.readouterr().out == "SERVING\n"
    fake_client.status = "NOT_SERVING"
    assert main(["health"]) == 1
    assert capsys.readouterr().out == "NOT_SERVING\n"


def test_delete_refuses_without_yes_when_not_interactive(fake_client, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    assert main(["collection", "delete", "docs"]) == 1
    assert "refusing to delete collection 'docs'" in capsys.readouterr().err
    assert all(name != "delete_collection" for name, _ in fake_client.instances[0].calls)
    assert main(["collection", "delete", "docs", "--yes"]) == 0
    assert capsys.readouterr().out == "deleted collection 'docs'\n"


def test_sdk_errors_become_one_line_and_exit_1(fake_client, capsys):
    fake_client.error = _error(
        "CollectionNotFound",
        "collection 'foo' does not exist; list collections to see the names",
        "r-1",
    )
    assert main(["count", "foo"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "error: collection 'foo' does not exist; list collections to see the names "
        "(request id r-1)\n"
    )
    assert captured.out == ""
    fake_client.error = _error("Unavailable", "connection refused", None)
    assert main(["--address", "db:9", "health"]) == 1
    assert capsys.readouterr().err == (
        "error: cannot reach vecdb at db:9 (is the server running? start it with `vecdb serve`)\n"
    )


def test_serve_passes_only_given_options_to_the_settings(monkeypatch):
    import sys
    import types

    calls: dict[str, Any] = {}

    class Settings:
        @classmethod
        def from_sources(cls, config_file=None, **overrides):
            calls["from_sources"] = (config_file, overrides)
            return "settings"

    settings_mod = types.ModuleType("vecdb.server.settings")
    settings_mod.Settings = Settings
    app_mod = types.ModuleType("vecdb.server.app")
    app_mod.run_forever = lambda settings: calls.setdefault("run_forever", settings)
    monkeypatch.setitem(sys.modules, "vecdb.server.settings", settings_mod)
    monkeypatch.setitem(sys.modules, "vecdb.server.app", app_mod)
    assert main(["serve", "--port", "7000"]) == 0
    assert calls == {
        "from_sources": (None, {"data_dir": None, "host": None, "port": 7000}),
        "run_forever": "settings",
    }


def test_cli_imports_neither_the_server_nor_grpc_until_a_command_needs_them():
    import subprocess
    import sys

    code = (
        "import sys, vecdb.cli.main; "
        "bad = [m for m in sys.modules if m.startswith(('vecdb.server', 'vecdb.engine', 'grpc', "
        "'vecdb_client'))]; print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_unavailable_from_a_live_server_is_not_reported_as_unreachable() -> None:
    from vecdb.cli.errors import format_error
    from vecdb_client import errors as sdk_errors

    opening = sdk_errors.from_status(
        "UNAVAILABLE",
        "the database is still opening",
        [("vecdb-error-name", "unavailable"), ("vecdb-request-id", "r1")],
    )
    line = format_error(opening, address="h:1")
    assert "up but not serving yet: the database is still opening" in line and "r1" in line
    down = sdk_errors.from_status("UNAVAILABLE", "failed to connect to all addresses")
    assert "cannot reach vecdb at h:1" in format_error(down, address="h:1")


# ------------------------------------------------------------------- text: the embedded encoder


def test_collection_create_with_a_text_model_forms():
    args = parse("collection", "create", "notes", "--text-model", "minilm")
    assert cmd_collection.vector_specs(args) == {
        "default": {
            "dim": 0,  # the model's dimension, filled in by the server
            "metric": "cosine",
            "storage_dtype": "float32",
            "hnsw": None,
            "text_source": {"model": "minilm", "payload_key": ""},
            "quantization": None,
        }
    }
    args = parse(
        "collection", "create", "shop", "--text-model", "minilm", "--text-key", "desc",
        "--dim", "384", "--field", "body",
    )  # fmt: skip
    (spec,) = cmd_collection.vector_specs(args).values()
    assert spec["dim"] == 384 and spec["text_source"] == {"model": "minilm", "payload_key": "desc"}
    args = parse(
        "collection", "create", "p", "--vectors-json",
        '{"title": {"text_source": {"model": "minilm"}}, "img": {"dim": 4}}',
    )  # fmt: skip
    specs = cmd_collection.vector_specs(args)
    assert specs["title"]["dim"] == 0 and specs["title"]["text_source"]["model"] == "minilm"
    assert specs["img"]["text_source"] is None
    args = parse("collection", "create", "p", "--vectors-json", '{"t": {"text_source": "minilm"}}')
    with pytest.raises(Exception, match="text_source must be an object like"):
        cmd_collection.vector_specs(args)


def test_collection_create_sends_dim_0_and_the_text_source(fake_client, capsys):
    code = main(["collection", "create", "notes", "--text-model", "minilm", "--text-key", "body"])
    assert code == 0
    _, (name, vectors, _) = fake_client.instances[0].calls[0]
    assert name == "notes"
    assert vectors == {
        "default": vecdb_client.VectorParams(
            dim=0, text_source=vecdb_client.TextSource("minilm", "body")
        )
    }
    assert capsys.readouterr().out == (
        "created collection 'notes' (default: 384d cosine from text by minilm)\n"
    )


def test_collection_info_shows_the_text_source(fake_client, capsys):
    source = vecdb_client.TextSource("minilm", "body", "abcdef0123456789")
    fake_client.fields = {"text": FakeParams(384, text_source=source), "img": FakeParams(4)}
    assert main(["collection", "info", "notes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("FIELD"))
    assert header.endswith("TEXT SOURCE")
    text_row = next(line for line in lines if line.startswith("text "))
    assert text_row.endswith("minilm (payload 'body', hash abcdef012345)")
    assert not next(line for line in lines if line.startswith("img ")).endswith(")")
    assert main(["--json", "collection", "info", "notes"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["collection"]["vectors"]["text"]["text_source"] == {
        "model": "minilm",
        "payload_key": "body",
        "model_hash": "abcdef0123456789",
    }


def test_text_jsonl_import_sends_texts_with_vectors_none(tmp_path, fake_client, capsys):
    fake_client.fields = {
        "default": FakeParams(384, text_source=vecdb_client.TextSource("minilm", "", "h"))
    }
    path = tmp_path / "notes.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": i, "text": f"note {i}", "payload": {"n": i}}) + "\n" for i in range(3)
        )
    )
    code = main(["import", "notes", str(path), "--batch-size", "2", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    upserts = [args for name, args in fake_client.instances[0].calls if name == "upsert"]
    assert [(vectors, texts) for _, vectors, _, texts in upserts] == [
        (None, ["note 0", "note 1"]),
        (None, ["note 2"]),
    ]
    assert upserts[0][2] == [{"n": 0}, {"n": 1}]
    assert fake_client.instances[0].upserted == [0, 1, 2]


def test_text_lines_need_a_collection_that_encodes_text(tmp_path, fake_client, capsys):
    path = tmp_path / "notes.jsonl"
    path.write_text('{"id": 1, "text": "hello"}\n')
    assert main(["import", "docs", str(path), "--no-progress"]) == 1  # a plain 3-d collection
    assert capsys.readouterr().err.startswith(
        'error: line 1: has no "vector", and the collection has no field that takes its '
        "vectors from text"
    )
    by_key = JsonlSource(path, text_fields={"body": "meta.desc"})
    with pytest.raises(
        ValueError, match='line 1: has no "vector" and no "payload" key \'meta.desc\''
    ):
        run_import(by_key, Recorder(), collection="c", resume=False)
    path.write_text('{"id": 1, "payload": {"meta": {"desc": "from the payload"}}}\n')
    send = Recorder()
    run_import(JsonlSource(path, text_fields={"body": "meta.desc"}), send, collection="c")
    assert send.batches == [
        {"ids": [1], "vectors": None, "payloads": [{"meta": {"desc": "from the payload"}}],
         "texts": None}
    ]  # fmt: skip


@pytest.mark.parametrize("batch_size", [1, 10])
def test_lines_with_and_without_vectors_do_not_mix(tmp_path, batch_size):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"id": 1, "vector": [1.0]}\n\n{"id": 2, "text": "no vector"}\n')
    send = Recorder()
    with pytest.raises(ValueError) as exc:
        run_import(JsonlSource(path), send, collection="c", batch_size=batch_size)
    assert str(exc.value).startswith(
        "line 3: has no vectors, but line 1 has vectors: one import sends either vectors or only "
        "texts"
    )
    assert send.ids == [1]  # the line before is stored; the state file points past it
    path.write_text('{"id": 1, "text": "a"}\n{"id": 2, "vector": [1.0], "text": "b"}\n')
    with pytest.raises(ValueError, match="^line 2: has vectors, but line 1 has only text"):
        run_import(JsonlSource(path), Recorder(), collection="c", resume=False)
    warnings: list[str] = []
    send = Recorder()
    run_import(
        JsonlSource(path), send, collection="c", resume=False, skip_bad=True, warn=warnings.append
    )
    assert send.ids == [1] and send.batches[0]["texts"] == ["a"]
    assert send.batches[0]["vectors"] is None
    assert warnings and warnings[0].startswith("line 2: has vectors")


def test_search_with_text_calls_query_with_the_text(fake_client, capsys):
    assert main(["search", "notes", "--text", "where did I park?", "--limit", "2"]) == 0
    _, (collection, vector, kwargs) = fake_client.instances[0].calls[0]
    assert (collection, vector, kwargs["text"], kwargs["limit"]) == (
        "notes",
        None,
        "where did I park?",
        2,
    )
    assert capsys.readouterr().out.splitlines()[0].split() == ["RANK", "ID", "SCORE"]
    assert main(["search", "docs", "--vector", "[1, 2, 3]"]) == 0
    _, (_, vector, kwargs) = fake_client.instances[1].calls[0]
    assert vector.tolist() == [1.0, 2.0, 3.0] and kwargs["text"] is None


def test_encode_prints_shapes_and_first_values(fake_client, capsys):
    from vecdb_client.models import Encoded, SparseVector

    fake_client.encoded = [
        Encoded(np.arange(8, dtype=np.float32) / 10, False, 3, "minilm", "0123456789abcdef"),
        Encoded(np.ones((4, 2), dtype=np.float32), True, 4, "minilm", "0123456789abcdef"),
    ]
    code = main(
        ["encode", "--text", "hello world", "--text", "second", "--role", "query", "--model", "m"]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].split() == ["TEXT", "SHAPE", "TOKENS", "TRUNCATED", "FIRST", "VALUES"]
    assert out[1].split() == [
        "hello", "world", "(8,)", "3", "0.0000", "0.1000", "0.2000", "0.3000", "0.4000", "…",
    ]  # fmt: skip
    assert out[2].split() == ["second", "(4,", "2)", "4", "yes", "1.0000", "1.0000"]
    assert out[3] == "model: minilm (hash 0123456789ab)"
    assert fake_client.instances[0].calls[0] == (
        "encode",
        (["hello world", "second"], "dense", "m", "query"),
    )
    fake_client.encoded = [
        Encoded(
            SparseVector(np.array([5, 9, 2], np.uint32), np.array([0.5, 2.0, 1.0], np.float32)),
            False,
            2,
            "splade",
        )
    ]
    assert main(["encode", "--text", "red shoes", "--kind", "sparse", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "model": "splade",
        "model_hash": "",
        "kind": "sparse",
        "results": [
            {
                "text": "red shoes",
                "shape": [3],
                "n_tokens": 2,
                "truncated": False,
                "vector": {"indices": [5, 9, 2], "values": [0.5, 2.0, 1.0]},
            }
        ],
    }
    assert main(["encode", "--text", "red shoes", "--kind", "sparse"]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.split()[2:] == ["3", "terms", "2", "9:2.000", "2:1.000", "5:0.500"]  # heaviest first


def test_models_lists_the_servers_models(fake_client, capsys):
    from vecdb_client.models import ModelInfo

    fake_client.models = [ModelInfo("minilm", "f" * 64, 384, 256, ["dense", "multi"], "cuda")]
    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "DIM", "MAX", "TOKENS", "KINDS", "DEVICE", "HASH"]
    assert out[1].split() == ["minilm", "384", "256", "dense,multi", "cuda", "f" * 12]
    assert main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hash"] == "f" * 64
    fake_client.models = []
    assert main(["models"]) == 0
    assert capsys.readouterr().out == "the server serves no encoder models\n"
