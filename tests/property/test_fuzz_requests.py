"""Property-based fuzzing of every vecdb.v1 RPC through a real server on loopback.

Requests are generated from the protobuf descriptors themselves, so a new RPC or field is fuzzed
without touching this file. Every example sends raw bytes (`request_serializer` is the identity)
of one of these kinds:

- valid-shaped: a message built field by field from the descriptor, biased towards values that
  reach deep code (the fixture collection's name and fields, JSON payloads, vectors whose bytes
  match their shape) but also NaN / Inf / huge shapes, unknown enum values and boundary integers;
- truncated: a valid-shaped message cut at a random byte;
- random bytes;
- type-confused: a valid-shaped message plus one of its own field numbers under a wrong wire type
  (varint / fixed32 / fixed64 / length-delimited / the obsolete group markers);
- oversized: a valid-shaped message plus a field of several hundred KiB to past the server's
  max_message_bytes;
- deep filters: a valid-shaped message with a Filter nested up to 150 levels in each Filter field.

The property: the server process never dies and health stays SERVING after every example, and
every call ends OK or with a clear client-side status (ALLOWED below) — never UNKNOWN, INTERNAL,
UNAVAILABLE or a missed deadline. A failure prints the method, the request bytes and the tail of
the server log.

Bounded: `VECDB_FUZZ_EXAMPLES` examples per RPC (default 12, derandomized so CI is repeatable);
set it higher for a longer, random run, e.g. `VECDB_FUZZ_EXAMPLES=500`.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import descriptor as pb_descriptor
from google.protobuf import message_factory
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vecdb.v1
from tests.integration.server_process import ServerProcess

pytestmark = pytest.mark.integration

FD = pb_descriptor.FieldDescriptor

ALLOWED = frozenset({
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
})
"""Statuses that tell the client what is wrong with its request (or that it must back off)."""

EXAMPLES = int(os.environ.get("VECDB_FUZZ_EXAMPLES", "12"))
MAX_MESSAGE_BYTES = 2 << 20
"""The server under test accepts messages up to 2 MiB, so oversized examples stay cheap."""
CALL_TIMEOUT_S = 60.0
DIM = 8

# ---- the RPCs, from the descriptors ----------------------------------------------------------------


def _methods() -> list[pb_descriptor.MethodDescriptor]:
    found = []
    for info in pkgutil.iter_modules(vecdb.v1.__path__):
        if info.name.endswith("_pb2") and not info.name.endswith("_grpc"):
            module = importlib.import_module(f"vecdb.v1.{info.name}")
            for service in module.DESCRIPTOR.services_by_name.values():
                found.extend(service.methods)
    return sorted(found, key=lambda m: m.full_name)


METHODS = _methods()


def _path(method: pb_descriptor.MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def _message_class(desc: pb_descriptor.Descriptor) -> Any:
    return message_factory.GetMessageClass(desc)


# ---- value strategies ----------------------------------------------------------------------------

COLLECTIONS = ["fz", "fz", "fz", "fz_new", "missing", "", "../escape", "a" * 300]
FIELDS = ["dense", "multi", "bm25", "", "nope"]
PAYLOADS = ['{"color": "red", "n": 3}', '{"color": ["red", "blue"], "n": -1.5e300}', "{}", "", "null",
            "[1, 2]", '{"a":', '{"n": NaN}', '{"n": Infinity}', '"just a string"', '{"deep": ' * 200 + "1" + "}" * 200,
            json.dumps({f"k{i}": i for i in range(200)})]
WORDS = ["", "fz", "dense", "multi", "bm25", "color", "red", "n", "minilm", "default", "code",
         "gpt-4o", "english", "../../etc/passwd", "snap-1", "\x00", "é" * 5, "x" * 5000]


def _floats32() -> st.SearchStrategy[float]:
    return st.floats(width=32, allow_nan=True, allow_infinity=True)


def _vector_message() -> st.SearchStrategy[dict[str, Any]]:
    """Vector{data, dtype, shape}: mostly bytes that match the shape, sometimes not at all."""
    dims = st.sampled_from([DIM, DIM, 0, 1, 3, 384])
    special = st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.0, 1e38, -1e-45])

    @st.composite
    def consistent(draw: st.DrawFn) -> dict[str, Any]:
        rows = draw(st.sampled_from([None, 1, 2, 3]))
        dim = draw(dims)
        shape = [dim] if rows is None else [rows, dim]
        # Random normal values (seeded by the draw, cheap at 384-d) with a few specials planted.
        values = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(
            math.prod(shape)).astype(np.float32)
        if len(values):
            for at, value in draw(st.lists(st.tuples(st.integers(0, len(values) - 1), special), max_size=3)):
                values[at] = value
        return {"data": values.tobytes(), "dtype": 1, "shape": shape}

    inconsistent = st.fixed_dictionaries({
        "data": st.binary(max_size=80),
        "dtype": st.integers(0, 6),
        "shape": st.lists(st.sampled_from([0, 1, DIM, 65536, 2**31, 2**32 - 1]), max_size=4),
    })
    return st.one_of(consistent(), consistent(), inconsistent)


def _scalar(field: pb_descriptor.FieldDescriptor) -> st.SearchStrategy[Any]:
    name = field.name
    t = field.type
    if t == FD.TYPE_STRING:
        if name in ("collection", "name"):
            # Mostly the fixture collection, so requests get past the name to the engine.
            return st.one_of(st.just("fz"), st.just("fz"), st.sampled_from(COLLECTIONS), st.text(max_size=8))
        if name in ("using", "fields") or name.endswith("_key") or name == "key":
            return st.one_of(st.sampled_from(FIELDS + ["color", "n", "text"]), st.text(max_size=8))
        if name.endswith("json") or name == "metadata":
            return st.sampled_from(PAYLOADS)
        return st.one_of(st.sampled_from(WORDS), st.text(max_size=30))
    if t == FD.TYPE_BYTES:
        return st.binary(max_size=64)
    if t == FD.TYPE_BOOL:
        return st.booleans()
    if t in (FD.TYPE_FLOAT,):
        return _floats32()
    if t == FD.TYPE_DOUBLE:
        return st.floats(allow_nan=True, allow_infinity=True)
    if t == FD.TYPE_ENUM:
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), st.just(99))
    unsigned = t in (FD.TYPE_UINT32, FD.TYPE_FIXED32, FD.TYPE_UINT64, FD.TYPE_FIXED64)
    bits = 32 if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32, FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32) else 64
    top = (1 << bits) - 1 if unsigned else (1 << (bits - 1)) - 1
    low = 0 if unsigned else -(1 << (bits - 1))
    edges = [v for v in (0, 1, 2, 3, 5, 10, 100, 10_001, 1 << 20, top, low, -1) if low <= v <= top]
    return st.one_of(st.sampled_from(edges), st.integers(0, 50), st.integers(low, top))


def _synthetic(oneof: pb_descriptor.OneofDescriptor) -> bool:
    """The hidden oneof of a proto3 `optional` field."""
    return len(oneof.fields) == 1 and oneof.name == f"_{oneof.fields[0].name}"


_MESSAGE_CACHE: dict[tuple[str, int], st.SearchStrategy[Any]] = {}


def _field_value(field: pb_descriptor.FieldDescriptor, depth: int) -> st.SearchStrategy[Any] | None:
    if field.type == FD.TYPE_MESSAGE:
        if depth <= 0:
            return None
        return message_strategy(field.message_type, depth - 1)
    return _scalar(field)


def message_strategy(desc: pb_descriptor.Descriptor, depth: int = 4) -> st.SearchStrategy[Any]:
    """Messages of type `desc`, each field present or not, nested messages to `depth` levels."""
    key = (desc.full_name, depth)
    if key in _MESSAGE_CACHE:
        return _MESSAGE_CACHE[key]
    cls = _message_class(desc)
    if desc.full_name == "vecdb.v1.Vector":
        strategy = _vector_message().map(lambda kw: cls(**kw))
        _MESSAGE_CACHE[key] = strategy
        return strategy

    parts: dict[str, st.SearchStrategy[Any]] = {}
    groups: dict[str, list[st.SearchStrategy[Any]]] = {}
    for field in desc.fields:
        is_map = field.type == FD.TYPE_MESSAGE and field.message_type.GetOptions().map_entry
        if is_map:
            key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            value = _field_value(value_field, depth)
            if value is None:
                continue
            keys = (st.sampled_from(FIELDS) if key_field.type == FD.TYPE_STRING else _scalar(key_field))
            parts[field.name] = st.none() | st.dictionaries(keys, value, max_size=3)
            continue
        value = _field_value(field, depth)
        if value is None:
            continue
        oneof = field.containing_oneof
        if oneof is not None and not _synthetic(oneof):
            # One member of a oneof at most: setting several would keep only the last.
            groups.setdefault(oneof.name, []).append(value.map(lambda v, n=field.name: (n, v)))
            continue
        if field.is_repeated:
            parts[field.name] = st.none() | st.lists(value, max_size=4)
        else:
            parts[field.name] = st.none() | value

    for group, members in groups.items():
        parts[f"oneof:{group}"] = st.none() | st.one_of(members)

    def build(values: dict[str, Any]) -> Any:
        msg = cls()
        chosen = [v for k, v in values.items() if k.startswith("oneof:") and v is not None]
        values = {k: v for k, v in values.items() if not k.startswith("oneof:")} | dict(chosen)
        for name, value in values.items():
            if value is None:
                continue
            field = desc.fields_by_name[name]
            target = getattr(msg, name)
            if field.type == FD.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
                for k, v in value.items():
                    if isinstance(v, Message):
                        target[k].CopyFrom(v)
                    else:
                        target[k] = v
            elif field.is_repeated:
                if field.type == FD.TYPE_MESSAGE:
                    for v in value:
                        target.add().CopyFrom(v)
                else:
                    target.extend(value)
            elif field.type == FD.TYPE_MESSAGE:
                target.CopyFrom(value)
            else:
                setattr(msg, name, value)
        return msg

    strategy = st.fixed_dictionaries(parts).map(build)
    _MESSAGE_CACHE[key] = strategy
    return strategy


# ---- raw wire-format helpers -----------------------------------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint((number << 3) | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return tag(number, 2) + varint(len(payload)) + payload


def deep_filter(depth: int, leaf: bytes) -> bytes:
    """A Filter nested `depth` levels: Filter{must: [Condition{filter: ...}]}, around `leaf`."""
    inner = leaf
    for _ in range(depth):
        inner = length_delimited(1, length_delimited(4, inner))  # Filter.must[0].filter
    return inner


FIELD_LEAF = length_delimited(1, length_delimited(1, b"\x0a\x05color" + length_delimited(2, b"\x0a\x03red")))
"""Condition{field: FieldCondition{key: "color", match: {keyword: "red"}}} inside Filter.must."""


def _wrong_wire(field: pb_descriptor.FieldDescriptor, junk: bytes, wire: int) -> bytes:
    body = {0: varint(2**63 + 5), 1: junk[:8].ljust(8, b"\xff"), 2: varint(len(junk)) + junk,
            3: b"", 4: b"", 5: junk[:4].ljust(4, b"\xff")}[wire]
    return tag(field.number, wire) + body


# ---- the request generator -------------------------------------------------------------------------


@st.composite
def requests(draw: st.DrawFn, method: pb_descriptor.MethodDescriptor) -> tuple[str, list[bytes]]:
    """(kind, the raw messages to send): one message, or several for a client stream."""
    desc = method.input_type
    count = draw(st.integers(1, 3)) if method.client_streaming else 1
    kind = draw(st.sampled_from(["valid", "valid", "valid", "truncated", "random", "confused",
                                 "oversized", "deep_filter"]))
    out = []
    for _ in range(count):
        base = draw(message_strategy(desc)).SerializeToString()
        if kind == "truncated":
            base = base[: draw(st.integers(0, max(len(base) - 1, 0)))] if base else b"\x0a"
        elif kind == "random":
            base = draw(st.binary(min_size=1, max_size=96))
        elif kind == "confused" and desc.fields:
            field = draw(st.sampled_from(list(desc.fields)))
            wire = draw(st.sampled_from([0, 1, 2, 3, 4, 5]))
            junk = draw(st.binary(min_size=1, max_size=16))
            extra = _wrong_wire(field, junk, wire)
            base = extra + base if draw(st.booleans()) else base + extra
        elif kind == "oversized":
            size = draw(st.sampled_from([300_000, (1 << 20) + 1, MAX_MESSAGE_BYTES + 1024]))
            strings = [f for f in desc.fields if f.type in (FD.TYPE_STRING, FD.TYPE_BYTES)
                       and not f.is_repeated]
            number = draw(st.sampled_from(strings)).number if strings else 15
            base += length_delimited(number, b"a" * size)
        elif kind == "deep_filter":
            filters = [f for f in desc.fields if f.type == FD.TYPE_MESSAGE
                       and f.message_type.full_name == "vecdb.v1.Filter"]
            depth = draw(st.sampled_from([1, 5, 32, 64, 99, 101, 150]))
            if filters:
                base += length_delimited(draw(st.sampled_from(filters)).number, deep_filter(depth, FIELD_LEAF))
            else:  # no Filter here: a deep nesting of the message's first message field instead
                nested = [f for f in desc.fields if f.type == FD.TYPE_MESSAGE]
                if nested:
                    inner = b""
                    for _ in range(depth):
                        inner = length_delimited(nested[0].number, inner)
                    base += inner
        out.append(base)
    return kind, out


# ---- the server under test --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        Path(tmp_path_factory.mktemp("vecdb-fuzz")),
        VECDB_MAX_MESSAGE_BYTES=str(MAX_MESSAGE_BYTES),
        VECDB_MAP_SIZE_BYTES=str(64 << 20),
        VECDB_LOG_LEVEL="WARNING",
        VECDB_SEARCH_THREADS="1",
    )
    with proc:
        _ensure_fixture(proc.address)
        yield proc
    if OUTCOMES:  # shown with `pytest -s`: how far the examples got
        by_code: dict[str, int] = {}
        for _, _, code in OUTCOMES:
            by_code[code] = by_code.get(code, 0) + 1
        print(f"\nfuzzed {len(OUTCOMES)} requests over {len({m for m, _, _ in OUTCOMES})} RPCs: {by_code}")


OUTCOMES: list[tuple[str, str, str]] = []
"""(method, request kind, status name) of every example sent."""


def _ensure_fixture(address: str) -> None:
    """Collection "fz" with a dense, a multi-vector and a BM25 field and 40 points, if missing."""
    from vecdb_client import Client, MultiVectorParams, SparseParams, VectorParams

    with Client(address, timeout=60) as client:
        if client.collection_exists("fz"):
            return
        client.create_collection(
            "fz",
            {"dense": VectorParams(DIM, metric="cosine"), "multi": MultiVectorParams(DIM),
             "bm25": SparseParams(modifier="bm25")},
            payload_indexes={"color": "keyword", "n": "integer"},
        )
        rng = np.random.default_rng(0)
        n = 40
        multi = [rng.standard_normal((3, DIM)).astype(np.float32) for _ in range(n)]
        client.upsert(
            "fz", list(range(n)),
            {"dense": rng.standard_normal((n, DIM)).astype(np.float32), "multi": multi},
            payloads=[{"color": ["red", "blue"][i % 2], "n": i} for i in range(n)],
            texts=[f"point number {i} is {['red', 'blue'][i % 2]}" for i in range(n)],
        )


def _call(channel: grpc.Channel, method: pb_descriptor.MethodDescriptor, messages: list[bytes]) -> tuple[grpc.StatusCode, str]:
    path = _path(method)
    identity = (lambda b: b)  # raw bytes out, raw bytes back
    try:
        if method.client_streaming:
            channel.stream_unary(path, request_serializer=identity, response_deserializer=identity)(
                iter(messages), timeout=CALL_TIMEOUT_S)
        elif method.server_streaming:
            replies = channel.unary_stream(path, request_serializer=identity, response_deserializer=identity)(
                messages[0], timeout=CALL_TIMEOUT_S)
            for _ in replies:  # drain it: the status comes at the end
                pass
        else:
            channel.unary_unary(path, request_serializer=identity, response_deserializer=identity)(
                messages[0], timeout=CALL_TIMEOUT_S)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def _health(channel: grpc.Channel) -> str:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    except grpc.RpcError as exc:
        return f"health check failed: {exc.code().name} {exc.details()}"
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def _describe(method: pb_descriptor.MethodDescriptor, kind: str, messages: list[bytes], server: ServerProcess) -> str:
    shown = [m[:300].hex() + (f"... ({len(m)} bytes)" if len(m) > 300 else "") for m in messages]
    return (f"{_path(method)} with a {kind} request {shown}\nserver log tail:\n"
            + "".join(server.output[-30:]))


@pytest.mark.parametrize("method", METHODS, ids=lambda m: f"{m.containing_service.name}.{m.name}")
def test_every_request_gets_a_clear_status(fuzz_server: ServerProcess, method: pb_descriptor.MethodDescriptor) -> None:
    options = [("grpc.max_send_message_length", 4 * MAX_MESSAGE_BYTES),
               ("grpc.max_receive_message_length", 4 * MAX_MESSAGE_BYTES)]
    with grpc.insecure_channel(fuzz_server.address, options=options) as channel:

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  derandomize="VECDB_FUZZ_EXAMPLES" not in os.environ,
                  suppress_health_check=list(HealthCheck))
        @given(request=requests(method))
        def check(request: tuple[str, list[bytes]]) -> None:
            kind, messages = request
            code, details = _call(channel, method, messages)
            OUTCOMES.append((method.full_name, kind, code.name))
            assert fuzz_server.proc is not None and fuzz_server.proc.poll() is None, \
                "the server died: " + _describe(method, kind, messages, fuzz_server)
            assert code in ALLOWED, (f"status {code.name} ({details!r}) for "
                                     + _describe(method, kind, messages, fuzz_server))
            if code != grpc.StatusCode.OK:
                assert details.strip(), f"status {code.name} without a message for " + _describe(
                    method, kind, messages, fuzz_server)
            assert _health(channel) == "SERVING", _describe(method, kind, messages, fuzz_server)
            if method.containing_service.name in ("Collections", "Admin"):
                _ensure_fixture(fuzz_server.address)  # a fuzzed Delete or Restore may remove it

        check()


def test_the_generator_covers_every_rpc_and_reaches_the_engine() -> None:
    """The fuzzer is not vacuous: every service is enumerated and a valid-shaped Query request
    can name the fixture collection, a field and a vector whose bytes match its shape."""
    services = {m.containing_service.name for m in METHODS}
    assert {"Admin", "Cache", "Collections", "Encoder", "Points", "Query"} <= services
    query = next(m for m in METHODS if m.full_name == "vecdb.v1.Query.Query")
    seen: list[Any] = []

    @settings(max_examples=200, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(msg=message_strategy(query.input_type))
    def collect(msg: Any) -> None:
        seen.append(msg)

    collect()
    assert any(m.collection == "fz" and m.query.HasField("vector") and len(m.query.vector.data)
               == 4 * math.prod(m.query.vector.shape) > 0 for m in seen)
    # The raw deep-filter bytes are the Filter they claim to be.
    filter_cls = _message_class(query.input_type.fields_by_name["filter"].message_type)
    node = filter_cls.FromString(deep_filter(5, FIELD_LEAF))
    for _ in range(5):
        node = node.must[0].filter
    assert node.must[0].field.key == "color" and node.must[0].field.match.keyword == "red"
