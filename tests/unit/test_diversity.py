"""MMR and coverage-aware selection against plain top-k, naive greedy and brute-force optima."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vecdb.index import coverage_objective, coverage_select, diversity, mmr
from vecdb.kernels import Metric

SELECTORS = {"mmr": mmr, "coverage": coverage_select}


def similarity_matrix(vectors: np.ndarray, metric: Metric) -> np.ndarray:
    """Float64 pairwise similarities, computed independently of the module under test."""
    v = vectors.astype(np.float64)
    if metric is Metric.COSINE:
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        v = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
        return v @ v.T
    if metric is Metric.DOT:
        return v @ v.T
    dist = np.sqrt(((v[:, None, :] - v[None, :, :]) ** 2).sum(axis=2))
    return 1.0 / (1.0 + dist)


def naive_mmr(rel: np.ndarray, sim: np.ndarray, limit: int, lam: float) -> list[int]:
    chosen: list[int] = []
    for _ in range(min(limit, rel.size)):
        best, best_key = -1, None
        for i in range(rel.size):
            if i in chosen:
                continue
            penalty = max(sim[i, s] for s in chosen) if chosen else 0.0
            key = (lam * rel[i] - (1 - lam) * penalty, rel[i], -i)
            if best_key is None or key > best_key:
                best, best_key = i, key
        chosen.append(best)
    return chosen


def objective(
    rel: np.ndarray, sim: np.ndarray, chosen: list[int] | tuple[int, ...], lam: float
) -> float:
    if not chosen:
        return 0.0
    cover = np.maximum(sim[:, list(chosen)].max(axis=1), 0.0)
    return lam * rel[list(chosen)].sum() + (1 - lam) * cover.sum()


def naive_coverage_greedy(rel: np.ndarray, sim: np.ndarray, limit: int, lam: float) -> list[int]:
    chosen: list[int] = []
    for _ in range(min(limit, rel.size)):
        base = objective(rel, sim, chosen, lam)
        best, best_key = -1, None
        for i in range(rel.size):
            if i in chosen:
                continue
            key = (objective(rel, sim, [*chosen, i], lam) - base, rel[i], -i)
            if best_key is None or key > best_key:
                best, best_key = i, key
        chosen.append(best)
    return chosen


def assert_greedy(picks: list[int], score: object, n: int, tol: float = 1e-5) -> None:
    """Each pick maximizes `score(chosen_so_far, i)` over the items not yet chosen, within tol."""
    assert len(set(picks)) == len(picks)
    for t, pick in enumerate(picks):
        chosen = picks[:t]
        best = max(score(chosen, i) for i in range(n) if i not in chosen)  # type: ignore[operator]
        assert score(chosen, pick) >= best - tol, (t, pick, score(chosen, pick), best)  # type: ignore[operator]


def clustered(rng: np.random.Generator, n: int, d: int, clusters: int) -> np.ndarray:
    centers = rng.standard_normal((clusters, d))
    return (centers[rng.integers(0, clusters, n)] + 0.3 * rng.standard_normal((n, d))).astype(
        np.float32
    )


# ---------------------------------------------------------------- lambda = 1 is plain top-k


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    n=st.integers(0, 40),
    d=st.integers(1, 6),
    metric=st.sampled_from(list(Metric)),
    name=st.sampled_from(sorted(SELECTORS)),
)
def test_lambda_one_is_exactly_plain_top_k(
    data: st.DataObject, n: int, d: int, metric: Metric, name: str
) -> None:
    # few distinct relevance values so ties are common: the stable order must still hold
    rel = data.draw(
        st.one_of(
            hnp.arrays(np.float64, n, elements=st.sampled_from([-1.0, 0.0, 0.25, 0.5, 3.0])),
            hnp.arrays(np.float64, n, elements=st.floats(-5, 5)),
        )
    )
    vectors = data.draw(hnp.arrays(np.float32, (n, d), elements=st.floats(-3, 3, width=32)))
    limit = data.draw(st.integers(0, n + 3))
    got = SELECTORS[name](rel, vectors, limit, lambda_=1.0, metric=metric)
    want = np.argsort(-rel, kind="stable")[:limit]
    assert got.dtype == np.int64
    assert got.tolist() == want.tolist()


# ---------------------------------------------------------------- diversity at lambda < 1


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_near_duplicates_give_way_to_a_different_item(name: str) -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]], dtype=np.float32)
    rel = np.array([1.0, 0.99, 0.8])
    select = SELECTORS[name]
    assert select(rel, vectors, 2, lambda_=1.0).tolist() == [0, 1]
    # mmr, second pick: 1 -> 0.5*0.99 - 0.5*cos(0, 1) = 0.495 - 0.49998 < 0; 2 -> 0.5*0.8 - 0 = 0.4
    # coverage, second pick: 1 -> 0.5*0.99 + 0.5*(1 - 0.99995) ~ 0.495; 2 -> 0.5*0.8 + 0.5*1 = 0.9
    assert select(rel, vectors, 2, lambda_=0.5).tolist() == [0, 2]
    assert select(rel, vectors, 3, lambda_=0.5).tolist() == [0, 2, 1]


def test_mmr_lambda_zero_takes_the_most_relevant_then_the_most_dissimilar() -> None:
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    rel = np.array([0.1, 0.9, 0.5, 0.2])
    # first: highest relevance (1); then the lowest cosine to it (3, cos ~ -0.99)
    assert mmr(rel, vectors, 2, lambda_=0.0).tolist() == [1, 3]


def test_distances_are_flipped_by_the_caller_and_l2_similarity_is_bounded() -> None:
    # points on a line; query at 0; relevance = -distance to the query
    vectors = np.array([[0.0], [0.1], [5.0]], dtype=np.float32)
    rel = -np.abs(vectors[:, 0].astype(np.float64))
    assert mmr(rel, vectors, 2, lambda_=1.0, metric="l2").tolist() == [0, 1]
    # l2 similarity is 1 / (1 + distance): f({0}) = 0.5 * 0 + 0.5 * (1 + 1/1.1 + 1/6)
    got = coverage_objective(rel, vectors, [0], lambda_=0.5, metric=Metric.L2)
    assert math.isclose(got, 0.5 * (1 + 1 / 1.1 + 1 / 6), rel_tol=1e-6)
    # lambda 0.05, second pick after 0 (covered: 1, 1/1.1, 1/6):
    #   1 -> 0.05*(-0.1) + 0.95*((1 - 1/1.1) + (1/5.9 - 1/6)) = 0.084
    #   2 -> 0.05*(-5)   + 0.95*(1 - 1/6)                    = 0.542
    assert coverage_select(rel, vectors, 2, lambda_=0.05, metric=Metric.L2).tolist() == [0, 2]
    # lambda 0.3: 1 -> -0.03 + 0.7*0.0937 = 0.036 beats 2 -> -1.5 + 0.7*0.833 = -0.917
    assert coverage_select(rel, vectors, 2, lambda_=0.3, metric=Metric.L2).tolist() == [0, 1]


# ---------------------------------------------------------------- against naive greedy


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("lam", [0.0, 0.3, 0.7])
def test_mmr_matches_naive_mmr(metric: Metric, lam: float) -> None:
    rng = np.random.default_rng(11)
    vectors = clustered(rng, 60, 8, 5)
    rel = rng.random(60)
    sim = similarity_matrix(vectors, metric)
    got = mmr(rel, vectors, 12, lambda_=lam, metric=metric).tolist()

    def mmr_score(chosen: list[int], i: int) -> float:
        penalty = max(sim[i, s] for s in chosen) if chosen else 0.0
        return lam * rel[i] - (1 - lam) * penalty

    assert_greedy(got, mmr_score, rel.size)
    assert got == naive_mmr(rel, sim, 12, lam)  # no near-ties in this data


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("lam", [0.0, 0.3, 0.7])
def test_incremental_coverage_greedy_matches_naive_greedy(metric: Metric, lam: float) -> None:
    rng = np.random.default_rng(12)
    vectors = clustered(rng, 60, 8, 5)
    rel = rng.random(60) * 3 - 1  # some negative relevance too
    sim = similarity_matrix(vectors, metric)
    got = coverage_select(rel, vectors, 12, lambda_=lam, metric=metric).tolist()

    def gain(chosen: list[int], i: int) -> float:
        return objective(rel, sim, [*chosen, i], lam) - objective(rel, sim, chosen, lam)

    # Exact ties are real here (two mutually closest uncovered items have equal gains), and
    # float32 similarities break them either way: check each pick has the best gain, to 1e-5.
    assert_greedy(got, gain, rel.size)
    want = naive_coverage_greedy(rel, sim, 12, lam)
    assert objective(rel, sim, got, lam) == pytest.approx(objective(rel, sim, want, lam), rel=1e-5)
    assert math.isclose(
        coverage_objective(rel, vectors, got, lambda_=lam, metric=metric),
        objective(rel, sim, got, lam),
        rel_tol=1e-5,
    )


def test_coverage_without_the_whole_similarity_matrix_picks_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(13)
    vectors = clustered(rng, 700, 16, 12)
    rel = rng.random(700)
    whole = coverage_select(rel, vectors, 25, lambda_=0.4).tolist()
    monkeypatch.setattr(diversity, "_MATRIX_ENTRIES", 100)  # rows recomputed on demand
    monkeypatch.setattr(diversity, "_CHUNK_ENTRIES", 50 * 700)  # gain updates in 50-row blocks
    by_rows = coverage_select(rel, vectors, 25, lambda_=0.4).tolist()
    assert by_rows == whole
    assert len(set(whole)) == 25
    sim = similarity_matrix(vectors, Metric.COSINE)

    def gain(chosen: list[int], i: int) -> float:
        return objective(rel, sim, [*chosen, i], 0.4) - objective(rel, sim, chosen, 0.4)

    assert_greedy(whole[:8], gain, rel.size)


def test_coverage_greedy_reaches_the_submodular_bound_of_the_brute_force_optimum() -> None:
    rng = np.random.default_rng(14)
    bound = 1 - 1 / math.e
    worst = math.inf
    for trial in range(25):
        n, k = 9, 3
        vectors = rng.standard_normal((n, 4)).astype(np.float32)
        rel = rng.random(n)
        lam = float(rng.choice([0.0, 0.2, 0.5, 0.8]))
        sim = similarity_matrix(vectors, Metric.COSINE)
        best = max(objective(rel, sim, s, lam) for s in itertools.combinations(range(n), k))
        picked = coverage_select(rel, vectors, k, lambda_=lam).tolist()
        value = objective(rel, sim, picked, lam)
        assert value <= best + 1e-9, trial
        assert value >= bound * best - 1e-9, (trial, value, best)
        worst = min(worst, value / best)
    assert worst >= bound


def test_coverage_beats_top_k_on_coverage_of_clustered_candidates() -> None:
    # the most relevant items all sit in one cluster; coverage must reach the other clusters
    rng = np.random.default_rng(15)
    vectors = clustered(rng, 300, 16, 6)
    sim = similarity_matrix(vectors, Metric.COSINE)
    rel = sim[0]  # relevance = cosine to candidate 0, so its cluster leads
    top = np.argsort(-rel, kind="stable")[:10].tolist()
    div = coverage_select(rel, vectors, 10, lambda_=0.5).tolist()
    assert objective(rel, sim, div, 0.0) > objective(rel, sim, top, 0.0)
    assert objective(rel, sim, div, 0.5) >= objective(rel, sim, top, 0.5)


def test_coverage_scale_is_a_reweighting_of_lambda() -> None:
    # lambda*rel + (1-lambda)*s*cov is proportional to l'*rel + (1-l')*cov with
    # l' = lambda / (lambda + (1-lambda)*s): same picks. lambda 0.5, s = 10/200 -> l' = 0.952
    rng = np.random.default_rng(16)
    vectors = clustered(rng, 200, 16, 8)
    rel = rng.random(200)
    scaled = coverage_select(rel, vectors, 10, lambda_=0.5, coverage_scale=10 / 200).tolist()
    lam = 0.5 / (0.5 + 0.5 * 10 / 200)
    assert scaled == coverage_select(rel, vectors, 10, lambda_=lam).tolist()
    assert scaled != coverage_select(rel, vectors, 10, lambda_=0.5).tolist()
    f_scaled = coverage_objective(rel, vectors, scaled, lambda_=0.5, coverage_scale=0.05)
    f_plain = coverage_objective(rel, vectors, scaled, lambda_=lam)
    assert math.isclose(f_scaled, f_plain * (0.5 + 0.5 * 0.05), rel_tol=1e-9)
    assert coverage_select(rel, vectors, 10, lambda_=1.0, coverage_scale=0.05).tolist() == (
        np.argsort(-rel, kind="stable")[:10].tolist()
    )


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_bad_input_is_rejected_naming_the_argument(name: str) -> None:
    select = SELECTORS[name]
    vectors = np.eye(3, dtype=np.float32)
    rel = np.array([0.3, 0.2, 0.1])
    for lam in (-0.1, 1.5, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match="lambda_"):
            select(rel, vectors, 2, lambda_=lam)
    with pytest.raises(ValueError, match="relevance contains NaN"):
        select(np.array([0.3, np.nan, 0.1]), vectors, 2)
    with pytest.raises(ValueError, match="relevance must be a 1-D"):
        select(rel[None, :], vectors, 2)
    with pytest.raises(ValueError, match="vectors must have shape"):
        select(rel, vectors[:2], 2)
    with pytest.raises(ValueError, match="vectors contain NaN"):
        select(rel, np.full((3, 3), np.nan, dtype=np.float32), 2)
    for bad_limit in (-1, 1.5, True):
        with pytest.raises(ValueError, match="limit"):
            select(rel, vectors, bad_limit)
    with pytest.raises(ValueError, match="metric"):
        select(rel, vectors, 2, metric="hamming")
    assert select(rel, vectors, 0).tolist() == []
    assert select(np.empty(0), np.empty((0, 3), np.float32), 5).tolist() == []


def test_coverage_objective_rejects_bad_selections() -> None:
    vectors = np.eye(3, dtype=np.float32)
    rel = np.array([0.3, 0.2, 0.1])
    with pytest.raises(ValueError, match="selected"):
        coverage_objective(rel, vectors, [0, 3])
    with pytest.raises(ValueError, match="selected"):
        coverage_objective(rel, vectors, [1, 1])
    for bad in (0.0, -1.0, float("inf"), float("nan"), True):
        with pytest.raises(ValueError, match="coverage_scale"):
            coverage_select(rel, vectors, 2, coverage_scale=bad)
    assert coverage_objective(rel, vectors, []) == 0.0
