"""A Hypothesis state machine drives upsert / delete / query / restart against a brute-force model.

Exact queries must equal the model's top-k (tie-tolerant: compared by score); graph queries on
these small collections must find every point the model ranks first; counts, gets and filtered
counts must agree after every step, including across a simulated crash (no final checkpoint).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from vecdb.engine.database import Database, EngineOptions
from vecdb.engine.filters import Filter, Match
from vecdb.engine.schema import CollectionConfig, DenseField, HnswConfig
from vecdb.engine.types import NearestQuery, UpsertBatch
from vecdb.kernels.metrics import Metric

from ..unit.engine_helpers import simulate_crash

DIM = 4
ids_strategy = st.integers(min_value=0, max_value=40)
vector_strategy = st.lists(st.integers(-5, 5), min_size=DIM, max_size=DIM).filter(any).map(
    lambda v: np.array(v, dtype=np.float32)
)


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="vecdb-sm-"))
        self.db = self._open()
        field = DenseField(name="v", dim=DIM, metric=Metric.COSINE, hnsw=HnswConfig(m=8, ef_construct=64, ef=64))
        self.db.create_collection(CollectionConfig(name="c", vectors=(field,)))
        self.model: dict[int, tuple[np.ndarray, str]] = {}

    def _open(self) -> Database:
        return Database(self.dir, EngineOptions(search_threads=1, checkpoint_every_mutations=7))

    @property
    def coll(self):  # type: ignore[no-untyped-def]
        return self.db.collection("c")

    @rule(points=st.dictionaries(ids_strategy, st.tuples(vector_strategy, st.sampled_from(["a", "b"])), min_size=1, max_size=6))
    def upsert(self, points: dict[int, tuple[np.ndarray, str]]) -> None:
        ids = list(points)
        self.coll.upsert(UpsertBatch(
            ids=ids, vectors={"v": np.stack([points[i][0] for i in ids])}, payloads=[{"tag": points[i][1]} for i in ids],
        ))
        self.model.update(points)

    @rule(ids=st.lists(ids_strategy, max_size=5))
    def delete(self, ids: list[int]) -> None:
        result = self.coll.delete_ids(ids)
        assert result.count == len(set(ids) & self.model.keys())
        for i in ids:
            self.model.pop(i, None)

    @rule(tag=st.sampled_from(["a", "b"]))
    def delete_by_filter(self, tag: str) -> None:
        self.coll.delete_filter(Filter(must=(Match("tag", tag),)))
        self.model = {i: p for i, p in self.model.items() if p[1] != tag}

    @rule()
    def checkpoint(self) -> None:
        self.coll.checkpoint()

    @rule()
    def crash_and_restart(self) -> None:
        simulate_crash(self.db)
        self.db = self._open()

    @precondition(lambda self: bool(self.model))
    @rule(q=vector_strategy, k=st.integers(1, 10), exact=st.booleans(), tag=st.sampled_from([None, "a", "b"]))
    def query(self, q: np.ndarray, k: int, exact: bool, tag: str | None) -> None:
        filt = Filter(must=(Match("tag", tag),)) if tag else None
        hits = self.coll.query(NearestQuery(vector=q, limit=k, exact=exact, filter=filt))
        candidates = {i: p[0] for i, p in self.model.items() if tag is None or p[1] == tag}
        ids = np.array(list(candidates), dtype=np.int64)
        if not len(ids):
            assert len(hits) == 0
            return
        mat = np.stack([candidates[i] for i in ids]).astype(np.float64)
        sims = (mat / np.linalg.norm(mat, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
        expected = np.sort(sims)[::-1][:k]
        assert len(hits) == min(k, len(ids))
        assert all(h.id in candidates for h in hits)
        np.testing.assert_allclose([h.score for h in hits], expected, atol=1e-4)

    @invariant()
    def counts_agree(self) -> None:
        assert self.coll.count() == len(self.model)
        assert self.coll.count(Filter(must=(Match("tag", "a"),))) == sum(p[1] == "a" for p in self.model.values())

    @invariant()
    def gets_agree(self) -> None:
        records = self.coll.get(list(range(41)), with_vectors=("v",))
        assert {r.id for r in records} == set(self.model)
        for r in records:
            np.testing.assert_array_equal(r.vectors["v"], self.model[r.id][0])

    def teardown(self) -> None:
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)


EngineMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestEngineStateMachine = EngineMachine.TestCase
