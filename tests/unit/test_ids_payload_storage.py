from __future__ import annotations

import uuid

import numpy as np
import pytest

from vecdb.engine.errors import InvalidArgument
from vecdb.engine.ids import decode_point_id, encode_point_id, parse_point_id
from vecdb.engine.payload import encode_payload, values_at
from vecdb.engine.storage import StoredRecord


@pytest.mark.parametrize("value", [0, 1, 2**64 - 1, str(uuid.uuid4())])
def test_point_ids_round_trip(value: int | str) -> None:
    assert decode_point_id(encode_point_id(parse_point_id(value))) == value


def test_uuid_ids_are_canonicalized() -> None:
    u = uuid.uuid4()
    assert parse_point_id(str(u).upper()) == str(u)
    assert parse_point_id("{" + u.hex + "}") == str(u)


@pytest.mark.parametrize("bad", [-1, 2**64, True, 1.5, "not-a-uuid", None, b"x"])
def test_bad_point_ids_are_refused_by_name(bad: object) -> None:
    with pytest.raises(InvalidArgument, match=r"ids\[3\]"):
        parse_point_id(bad, "ids[3]")


def test_keys_sort_integers_then_uuids() -> None:
    ids = [5, 2**40, 0, str(uuid.UUID(int=3)), 7]
    keys = sorted(encode_point_id(i) for i in ids)
    assert [decode_point_id(k) for k in keys] == [0, 5, 7, 2**40, str(uuid.UUID(int=3))]


def test_payload_must_be_a_json_object() -> None:
    assert encode_payload({"a": [1, 2.5, "x", None, {"b": True}]}, "p", 1000) == b'{"a":[1,2.5,"x",null,{"b":true}]}'
    for bad in ([1, 2], "text", {"a": float("nan")}, {"a": {1, 2}}, {1: "x"}, {"a": b"bytes"}):
        with pytest.raises(InvalidArgument, match="payloads\\[0\\]"):
            encode_payload(bad, "payloads[0]", 1000)
    with pytest.raises(InvalidArgument, match="over the limit"):
        encode_payload({"a": "x" * 100}, "p", 50)


def test_values_at_descends_into_lists() -> None:
    payload = {"a": [{"b": 1}, {"b": [2, 3]}, {"c": 4}], "d": {"e": "x"}}
    assert list(values_at(payload, ("a", "b"))) == [1, 2, 3]
    assert list(values_at(payload, ("d", "e"))) == ["x"]
    assert list(values_at(payload, ("missing",))) == []
    assert list(values_at(None, ("a",))) == []


@pytest.mark.parametrize("text", [None, "", "héllo"])
def test_stored_record_round_trip(text: str | None) -> None:
    rec = StoredRecord(encode_point_id(42), b'{"k":1}', text)
    back = StoredRecord.decode(rec.encode())
    assert (back.point_key, back.payload_json, back.text) == (rec.point_key, rec.payload_json, text)


def test_stored_record_without_payload() -> None:
    back = StoredRecord.decode(StoredRecord(encode_point_id(str(uuid.uuid4())), b"", None).encode())
    assert back.payload_json == b"" and back.text is None
    assert np.frombuffer(back.point_key[:1], np.uint8)[0] == 1
