"""Filters: each condition against hand-checked payloads, and payload indexes agreeing with scans."""

from __future__ import annotations

import numpy as np
import pytest

from vecdb.engine.filter_eval import select
from vecdb.engine.filters import Filter, HasId, IsEmpty, Match, MatchAny, Range
from vecdb.engine.payload_index import PayloadTable
from vecdb.engine.schema import PayloadIndexConfig, PayloadIndexType

PAYLOADS: dict[int, dict | None] = {
    0: {"color": "red", "price": 10, "tags": ["a", "b"], "meta": {"author": "ann", "year": 2020}, "ok": True},
    1: {"color": "blue", "price": 2.5, "tags": ["b"], "meta": {"author": "bob", "year": 2021}, "ok": False},
    2: {"color": "red", "price": 30, "tags": [], "meta": [{"author": "cy"}, {"author": "ann"}]},
    3: {"color": None, "price": "cheap", "notes": "x"},
    4: None,
    5: {"color": "green", "price": 10.0, "tags": ["c"], "ok": 1},
}

CASES = [
    (Filter(must=(Match("color", "red"),)), {0, 2}),
    (Filter(must=(Match("tags", "b"),)), {0, 1}),
    (Filter(must=(Match("meta.author", "ann"),)), {0, 2}),
    (Filter(must=(Match("price", 10),)), {0, 5}),               # 10 == 10.0
    (Filter(must=(Match("ok", True),)), {0}),                   # True != 1
    (Filter(must=(Match("ok", 1),)), {5}),
    (Filter(must=(MatchAny("color", ("red", "green")),)), {0, 2, 5}),
    (Filter(must=(Range("price", gte=10),)), {0, 2, 5}),
    (Filter(must=(Range("price", gt=2.5, lt=30),)), {0, 5}),
    (Filter(must=(Range("meta.year", lte=2020),)), {0}),
    (Filter(must=(IsEmpty("tags"),)), {2, 3, 4}),
    (Filter(must=(IsEmpty("color"),)), {3, 4}),
    (Filter(must=(HasId(frozenset({1, 3, 99})),)), {1, 3}),
    (Filter(should=(Match("color", "blue"), Match("notes", "x"))), {1, 3}),
    (Filter(must_not=(Match("color", "red"),)), {1, 3, 4, 5}),
    (Filter(must=(Match("color", "red"),), must_not=(Range("price", gt=20),)), {0}),
    (Filter(must=(Filter(should=(Match("color", "red"), Match("color", "green"))),), must_not=(HasId(frozenset({0})),)), {2, 5}),
    (Filter(), {0, 1, 2, 3, 4, 5}),
]

INDEXES = (
    PayloadIndexConfig("color", PayloadIndexType.KEYWORD),
    PayloadIndexConfig("tags", PayloadIndexType.KEYWORD),
    PayloadIndexConfig("price", PayloadIndexType.FLOAT),
    PayloadIndexConfig("meta.year", PayloadIndexType.INTEGER),
    PayloadIndexConfig("ok", PayloadIndexType.BOOL),
)


def _table(indexes: tuple[PayloadIndexConfig, ...]) -> PayloadTable:
    table = PayloadTable(indexes)
    for iid, payload in PAYLOADS.items():
        table.set(iid, iid, payload)
    return table


def _resolve(ids: object) -> np.ndarray:
    return np.unique(np.array([i for i in ids if isinstance(i, int) and i in PAYLOADS], dtype=np.uint64))  # type: ignore[attr-defined]


@pytest.mark.parametrize("indexes", [(), INDEXES], ids=["scan", "indexed"])
@pytest.mark.parametrize("filt,expected", CASES)
def test_filter_selects_expected_points(filt: Filter, expected: set[int], indexes: tuple[PayloadIndexConfig, ...]) -> None:
    table = _table(indexes)
    assert set(select(filt, table.all_ids(), table, _resolve).tolist()) == expected


def test_index_follows_updates_and_removals() -> None:
    table = _table(INDEXES)
    table.set(0, 0, {"color": "blue", "price": 1})
    table.remove(2)
    red = select(Filter(must=(Match("color", "red"),)), table.all_ids(), table, _resolve)
    assert red.tolist() == []
    cheap = select(Filter(must=(Range("price", lt=5),)), table.all_ids(), table, _resolve)
    assert set(cheap.tolist()) == {0, 1}


def test_random_filters_agree_between_index_and_scan() -> None:
    rng = np.random.default_rng(7)
    colors = ["red", "green", "blue", "black"]
    scan, indexed = PayloadTable(()), PayloadTable(INDEXES)
    for iid in range(500):
        payload = {"color": colors[rng.integers(4)], "price": float(rng.integers(0, 50)), "tags": list(rng.choice(colors, 2))}
        scan.set(iid, iid, payload)
        indexed.set(iid, iid, payload)
    for _ in range(50):
        lo, hi = sorted(rng.integers(0, 50, 2).tolist())
        filt = Filter(
            must=(Range("price", gte=lo, lt=hi + 1),),
            should=(Match("color", colors[rng.integers(4)]), MatchAny("tags", tuple(rng.choice(colors, 2)))),
            must_not=(Match("color", colors[rng.integers(4)]),),
        )
        a = select(filt, scan.all_ids(), scan, _resolve)
        b = select(filt, indexed.all_ids(), indexed, _resolve)
        assert a.tolist() == b.tolist()
