"""Cache policies: adaptation bounds for any configuration, JSON round trips, the classifier and
the store's expiry index order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vecdb.cache import (
    CachePolicy,
    LoadAdaptation,
    NearestCentroid,
    SemanticCache,
    normalize_prompt,
)
from vecdb.cache.policy import (
    effective_threshold,
    max_level,
    policy_from_json,
    policy_to_json,
    ttl_factor,
)
from vecdb.cache.store import _ordered, _unordered
from vecdb.engine.errors import InvalidArgument

unit = st.floats(0.0, 1.0)


@st.composite
def policies(draw: st.DrawFn) -> CachePolicy:
    low, high = sorted((draw(unit), draw(unit)))
    adaptation = LoadAdaptation(
        high_watermark=high, low_watermark=low, threshold_step=draw(unit), max_threshold_relax=draw(unit),
        ttl_factor_step=draw(st.floats(0.0, 10.0)), max_ttl_factor=draw(st.floats(1.0, 10.0)))
    return CachePolicy("c", threshold=draw(unit), ttl_seconds=draw(st.floats(0.0, 1e7)), adaptation=adaptation)


@settings(max_examples=200, deadline=None)
@given(policies(), st.integers(0, 1000))
def test_adaptation_never_leaves_its_bounds(policy: CachePolicy, level: int) -> None:
    policy.validate()
    a = policy.adaptation
    thr = effective_threshold(policy, level)
    assert max(0.0, policy.threshold - a.max_threshold_relax) - 1e-12 <= thr <= policy.threshold
    assert 1.0 <= ttl_factor(policy, level) <= a.max_ttl_factor
    # Past max_level nothing relaxes further, so capping the level there loses nothing (unless
    # the steps are so tiny that the 1000-level cap binds).
    top = max_level([policy])
    if top == 1000:
        return
    assert effective_threshold(policy, top + level) == pytest.approx(effective_threshold(policy, top))
    assert ttl_factor(policy, top + level) == pytest.approx(ttl_factor(policy, top))


@settings(max_examples=50, deadline=None)
@given(policies(), st.lists(st.text(min_size=1).filter(str.strip), max_size=3))
def test_policy_json_round_trip(policy: CachePolicy, examples: list[str]) -> None:
    policy = CachePolicy(**{**policy.__dict__, "examples": tuple(examples)})
    assert policy_from_json(policy_to_json(policy)) == policy


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e12, 1e12), min_size=2, max_size=20))
def test_expiry_keys_sort_like_the_times(times: list[float]) -> None:
    keys = [_ordered(t) for t in times]
    assert [_unordered(k) for k in sorted(keys)] == sorted(times)


def test_normalize_prompt() -> None:
    assert normalize_prompt("  Sort\ta LIST\n in  Python ") == "sort a list in python"
    assert normalize_prompt("Straße") == normalize_prompt("STRASSE")


def test_nearest_centroid_matches_a_hand_computation() -> None:
    vecs = {"a": np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0]]), "b": np.array([[0.0, 0.0, 2.0]])}
    clf = NearestCentroid.from_examples(vecs, min_similarity=0.5)
    centroid_a = np.array([0.9, 0.3, 0.0]) / np.linalg.norm([0.9, 0.3, 0.0])
    q = np.array([0.6, 0.8, 0.0])
    category, sim = clf.classify(q)
    assert category == "a" and sim == pytest.approx(float(centroid_a @ q), abs=1e-6)
    assert clf.classify(np.array([0.0, 0.1, 1.0]))[0] == "b"
    assert clf.classify(np.array([0.0, 1.0, 0.0]))[0] is None  # below min_similarity: default
    assert not NearestCentroid({}) and NearestCentroid({}).classify(q)[0] is None


def test_examples_need_an_encoder(tmp_path: Path) -> None:
    cache = SemanticCache(tmp_path / "c", dim=4)
    with pytest.raises(InvalidArgument, match="examples"):
        cache.set_policy(CachePolicy("code", examples=("python",)))
    assert cache.categories() == ["default"]
    cache.close()


def test_policies_persist_across_restart(tmp_path: Path) -> None:
    policy = CachePolicy("news", threshold=0.95, ttl_seconds=300.0, max_entries=10, exact_match_only=True,
                         adaptation=LoadAdaptation(threshold_step=0.01, max_threshold_relax=0.03))
    cache = SemanticCache(tmp_path / "c", dim=4)
    cache.set_policy(policy)
    cache.close()
    reopened = SemanticCache(tmp_path / "c", dim=4)
    assert reopened.get_policy("news") == policy and reopened.categories() == ["default", "news"]
    reopened.close()
