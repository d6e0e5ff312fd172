"""Fusion of prefetch stages (RRF, DBSF, weighted) against hand computations on tiny rankings."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vecdb.index import (
    FUSION_METHODS,
    FlatIndex,
    Ranking,
    dbsf,
    fuse,
    rrf,
    weighted,
)
from vecdb.kernels import Metric


def R(ids: list[int], scores: list[float] | None = None, higher: bool = True) -> Ranking:
    """A stage's results; scores default to a descending sequence (ignored by RRF)."""
    if scores is None:
        scores = [float(len(ids) - i) for i in range(len(ids))]
    return Ranking(np.array(ids, dtype=np.uint64), np.array(scores), higher)


def as_dict(r: Ranking) -> dict[int, float]:
    return {int(i): float(s) for i, s in zip(r.ids, r.scores)}


# ---------------------------------------------------------------- RRF


def test_rrf_matches_hand_computation() -> None:
    a, b = R([10, 20, 30]), R([20, 40, 10])
    got = rrf([a, b], k=60)
    # 20: ranks 2 and 1 -> 1/62 + 1/61 = 0.032522
    # 10: ranks 1 and 3 -> 1/61 + 1/63 = 0.032266
    # 40: rank 2 in b    -> 1/62        = 0.016129
    # 30: rank 3 in a    -> 1/63        = 0.015873
    assert got.ids.tolist() == [20, 10, 40, 30]
    np.testing.assert_allclose(
        got.scores, [1 / 62 + 1 / 61, 1 / 61 + 1 / 63, 1 / 62, 1 / 63], rtol=1e-12
    )
    assert got.higher_is_better and got.ids.dtype == np.uint64


def test_rrf_weights_change_the_winner() -> None:
    a, b = R([10, 20, 30]), R([20, 40, 10])
    got = rrf([a, b], k=60, weights=[3.0, 1.0])
    # 10: 3/61 + 1/63 = 0.065052;  20: 3/62 + 1/61 = 0.064780
    # 30: 3/63 = 0.047619;         40: 1/62 = 0.016129
    assert got.ids.tolist() == [10, 20, 30, 40]
    np.testing.assert_allclose(
        got.scores, [3 / 61 + 1 / 63, 3 / 62 + 1 / 61, 3 / 63, 1 / 62], rtol=1e-12
    )
    # a zero weight silences a stage: the order is a's own, b-only ids trail with score 0
    silenced = rrf([a, b], weights=[1.0, 0.0])
    assert silenced.ids.tolist() == [10, 20, 30, 40]
    assert silenced.scores[-1] == 0.0


def test_rrf_k_trades_a_single_first_place_against_agreement() -> None:
    # id 1 is first in stage a only; id 2 is third in both stages
    a, b = R([1, 5, 2]), R([6, 7, 2])
    # k=0: id 1 -> 1/1 = 1.0 beats id 2 -> 1/3 + 1/3 = 0.667
    assert rrf([a, b], k=0).ids[0] == 1
    np.testing.assert_allclose(as_dict(rrf([a, b], k=0))[2], 2 / 3)
    # k=60: id 1 -> 1/61 = 0.0164 loses to id 2 -> 2/63 = 0.0317
    assert rrf([a, b], k=60).ids[0] == 2
    np.testing.assert_allclose(as_dict(rrf([a, b], k=60))[1], 1 / 61)


def test_rrf_ignores_scores_and_their_direction() -> None:
    a = R([3, 1, 2], [0.1, 0.5, 0.9], higher=False)  # positions, not scores, count
    got = rrf([a], k=1)
    assert got.ids.tolist() == [3, 1, 2]
    np.testing.assert_allclose(got.scores, [1 / 2, 1 / 3, 1 / 4])


def test_ties_break_by_best_position_then_smaller_id() -> None:
    # equal fused scores and equal best positions: smaller id first, whatever the stage order
    a, b = R([9]), R([4])
    assert rrf([a, b]).ids.tolist() == [4, 9]
    assert rrf([b, a]).ids.tolist() == [4, 9]
    # k=0, weights [1, 2]: id 8 at position 1 in a -> 1/1; id 3 at position 2 in b -> 2/2.
    # Scores tie at 1.0; id 8 reached a better position, so it wins despite the larger id.
    a, b = R([8]), R([5, 3])
    got = rrf([a, b], k=0, weights=[1.0, 2.0])
    assert got.ids.tolist() == [5, 8, 3]
    np.testing.assert_allclose(got.scores, [2.0, 1.0, 1.0])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_rrf_equals_a_brute_force_dict_and_is_stage_order_free(data: st.DataObject) -> None:
    num_stages = data.draw(st.integers(1, 4))
    stages, weights = [], []
    for _ in range(num_stages):
        ids = data.draw(st.lists(st.integers(0, 12), unique=True, max_size=8))
        stages.append(R(ids))
        weights.append(data.draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])))
    k = data.draw(st.integers(0, 80))
    want: dict[int, float] = {}
    best: dict[int, int] = {}
    for stage, w in zip(stages, weights):
        for pos, i in enumerate(stage.ids.tolist(), start=1):
            want[i] = want.get(i, 0.0) + w / (k + pos)
            best[i] = min(best.get(i, pos), pos)
    got = rrf(stages, k=k, weights=weights)
    assert set(got.ids.tolist()) == set(want)
    for i, s in as_dict(got).items():
        assert math.isclose(s, want[i], rel_tol=1e-12)
    keys = [(-want[i], best[i], i) for i in got.ids.tolist()]
    assert all(x[0] <= y[0] + 1e-12 for x, y in itertools.pairwise(keys))
    # a sum of two terms is the same float in either order, so reversing two stages (and their
    # weights) must give the identical ranking, tie-breaks included
    if num_stages <= 2:
        rev = rrf(stages[::-1], k=k, weights=weights[::-1])
        assert rev.ids.tolist() == got.ids.tolist()


# ---------------------------------------------------------------- DBSF


def test_dbsf_matches_hand_computation_with_a_flipped_distance_stage() -> None:
    sims = R([1, 2, 3], [0.9, 0.8, 0.7])
    # mean 0.8, sample std 0.1 -> low 0.5, high 1.1: (s - 0.5) / 0.6
    n1 = {1: 0.4 / 0.6, 2: 0.3 / 0.6, 3: 0.2 / 0.6}
    dists = R([3, 4, 1], [1.0, 2.0, 4.0], higher=False)
    # flipped: -1, -2, -4; mean -7/3; sample var ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 7/3
    std = math.sqrt(7 / 3)
    low = -7 / 3 - 3 * std
    n2 = {3: (-1 - low) / (6 * std), 4: (-2 - low) / (6 * std), 1: (-4 - low) / (6 * std)}
    got = as_dict(dbsf([sims, dists]))
    want = {1: n1[1] + n2[1], 2: n1[2], 3: n1[3] + n2[3], 4: n2[4]}
    # 3: 0.333 + 0.645 = 0.979; 1: 0.667 + 0.318 = 0.985; 2: 0.5; 4: 0.536
    assert got.keys() == want.keys()
    for i, value in want.items():
        assert math.isclose(got[i], value, rel_tol=1e-12), (i, got[i], value)
    assert dbsf([sims, dists]).ids.tolist() == [1, 3, 4, 2]


def test_dbsf_weights_scale_each_stage() -> None:
    sims = R([1, 2, 3], [0.9, 0.8, 0.7])
    other = R([3, 2, 1], [5.0, 4.0, 3.0])  # mirror image: same normalized values reversed
    # unweighted: every id sums to 0.4/0.6 + 0.2/0.6 (or 0.3/0.6 twice) = 1.0 (up to rounding)
    np.testing.assert_allclose(dbsf([sims, other]).scores, [1.0, 1.0, 1.0], rtol=1e-12)
    # weights [2, 1]: 1 -> 2*0.667 + 0.333 = 1.667; 2 -> 3*0.5 = 1.5; 3 -> 2*0.333 + 0.667 = 1.333
    got = dbsf([sims, other], weights=[2.0, 1.0])
    assert got.ids.tolist() == [1, 2, 3]
    np.testing.assert_allclose(
        got.scores, [2 * 0.4 / 0.6 + 0.2 / 0.6, 3 * 0.3 / 0.6, 2 * 0.2 / 0.6 + 0.4 / 0.6]
    )
    assert dbsf([sims, other], weights=[1.0, 2.0]).ids.tolist() == [3, 2, 1]


def test_dbsf_clips_outliers_past_three_sigma() -> None:
    # eleven zeros and one 1: mean 1/12, sample std 1/sqrt(12); the outlier sits at
    # (1 - 1/12) / (1/sqrt(12)) = 11/sqrt(12) = 3.18 std, past the +3 std ceiling -> 1.0.
    ids = list(range(12))
    scores = [1.0] + [0.0] * 11
    got = as_dict(dbsf([R(ids, scores)]))
    assert got[0] == 1.0
    std = 1 / math.sqrt(12)
    low = 1 / 12 - 3 * std
    assert math.isclose(got[5], (0 - low) / (6 * std), rel_tol=1e-12)  # 0.4519, not clipped


def test_dbsf_single_result_and_flat_stages_score_one_half() -> None:
    got = as_dict(dbsf([R([7], [123.0]), R([1, 2], [0.3, 0.3])]))
    assert got == {7: 0.5, 1: 0.5, 2: 0.5}


# ---------------------------------------------------------------- weighted


def test_weighted_minmax_matches_hand_computation_and_missing_is_zero() -> None:
    dense = R([1, 2, 3], [0.9, 0.5, 0.4])  # minmax: 1, 0.2, 0
    sparse = R([2, 4], [12.0, 3.0])  # minmax: 1, 0
    dist = R([4, 1], [0.5, 1.5], higher=False)  # flipped minmax: 4 -> 1, 1 -> 0
    got = weighted([dense, sparse, dist], weights=[0.5, 0.3, 0.2])
    # 1: 0.5*1 + 0.2*0 = 0.5;  2: 0.5*0.2 + 0.3*1 = 0.4;  3: 0.5*0 = 0;  4: 0.3*0 + 0.2*1 = 0.2
    assert got.ids.tolist() == [1, 2, 4, 3]
    np.testing.assert_allclose(got.scores, [0.5, 0.5 * 0.2 + 0.3, 0.2, 0.0], rtol=1e-12)


def test_weighted_zscore_matches_hand_computation() -> None:
    a = R([1, 2, 3], [3.0, 2.0, 1.0])  # mean 2, population std sqrt(2/3)
    b = R([3, 1], [10.0, 0.0])  # mean 5, std 5: 3 -> 1, 1 -> -1
    s = math.sqrt(2 / 3)
    got = as_dict(weighted([a, b], normalization="zscore"))
    want = {1: 1 / s - 1, 2: 0.0, 3: -1 / s + 1}
    for i, value in want.items():
        assert math.isclose(got[i], value, rel_tol=1e-12, abs_tol=1e-15)
    # a flat stage contributes 0 under zscore
    assert as_dict(weighted([R([5, 6], [2.0, 2.0])], normalization="zscore")) == {5: 0.0, 6: 0.0}


def test_limit_keeps_the_best_prefix() -> None:
    a, b = R([10, 20, 30, 50]), R([20, 40, 10])
    for name, fn in FUSION_METHODS.items():
        full = fn([a, b])
        top = fn([a, b], limit=2)
        assert top.ids.tolist() == full.ids[:2].tolist(), name
        assert len(fn([a, b], limit=0)) == 0
        assert fn([a, b], limit=100).ids.tolist() == full.ids.tolist()


def test_fuse_dispatches_by_name() -> None:
    a, b = R([10, 20, 30]), R([20, 40, 10])
    assert fuse("rrf", [a, b], k=10).ids.tolist() == rrf([a, b], k=10).ids.tolist()
    assert fuse("weighted", [a, b], normalization="zscore").ids.tolist() == (
        weighted([a, b], normalization="zscore").ids.tolist()
    )
    with pytest.raises(ValueError, match="fusion method"):
        fuse("borda", [a, b])


def test_empty_stages_fuse_to_the_other_stages_or_nothing() -> None:
    empty = Ranking.empty()
    for fn in FUSION_METHODS.values():
        assert len(fn([empty, empty])) == 0
        assert fn([empty, R([3, 1])]).ids.tolist() == [3, 1]


def test_ranking_from_scores_and_from_neighbors() -> None:
    r = Ranking.from_scores([5, 2, 9, 1], [0.2, 0.7, 0.2, 0.9])
    assert r.ids.tolist() == [1, 2, 5, 9]  # equal scores 0.2: smaller id first
    d = Ranking.from_scores([5, 2, 9], [3.0, 1.0, 2.0], higher_is_better=False)
    assert d.ids.tolist() == [2, 9, 5] and not d.higher_is_better
    index = FlatIndex(dim=2, metric=Metric.L2)
    index.add(np.array([1, 2, 3], dtype=np.uint64), np.array([[0, 0], [1, 0], [5, 0]], "f4"))
    nb = index.search(np.array([[0.9, 0.0]], "f4"), k=5)
    got = Ranking.from_neighbors(nb, 0, Metric.L2)
    assert got.ids.tolist() == [2, 1, 3] and not got.higher_is_better
    np.testing.assert_allclose(got.scores, [0.1, 0.9, 4.1], rtol=1e-5)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("k", [-1, 1.5, True, "60", None])
def test_bad_k_is_rejected(k: object) -> None:
    with pytest.raises(ValueError, match="k must be"):
        rrf([R([1])], k=k)  # type: ignore[arg-type]


@pytest.mark.parametrize("fn", list(FUSION_METHODS.values()))
def test_bad_weights_and_limit_are_rejected(fn: object) -> None:
    stages = [R([1, 2]), R([2, 3])]
    for bad in ([1.0], [1.0, 1.0, 1.0], [1.0, -0.5], [1.0, float("nan")], [1.0, float("inf")]):
        with pytest.raises(ValueError, match="weights"):
            fn(stages, weights=bad)  # type: ignore[operator]
    for bad_limit in (-1, 2.5, True):
        with pytest.raises(ValueError, match="limit"):
            fn(stages, limit=bad_limit)  # type: ignore[operator]
    with pytest.raises(ValueError, match="at least one"):
        fn([])  # type: ignore[operator]
    with pytest.raises(TypeError, match="Ranking"):
        fn([([1, 2], [0.5, 0.4])])  # type: ignore[operator]


def test_bad_rankings_and_normalization_are_rejected() -> None:
    with pytest.raises(ValueError, match="scores contain NaN"):
        Ranking(np.array([1, 2], dtype=np.uint64), np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="scores contain NaN"):
        Ranking(np.array([1], dtype=np.uint64), np.array([np.inf]))
    with pytest.raises(ValueError, match="one value per id"):
        Ranking(np.array([1, 2], dtype=np.uint64), np.array([0.5]))
    with pytest.raises(ValueError, match="unique"):
        Ranking(np.array([4, 4], dtype=np.uint64), np.array([0.5, 0.4]))
    with pytest.raises(ValueError, match="non-negative"):
        Ranking(np.array([-1]), np.array([0.5]))
    with pytest.raises(ValueError, match="normalization"):
        weighted([R([1])], normalization="softmax")
