"""SparseIndex (dot product over sparse vectors) and Bm25Index against brute force and by hand.

Expected top-k answers come from a brute-force model of what the index should hold, compared
by score so ties cannot fail a correct index; BM25 scores are checked against the formula
written out here and against bm25s.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from vecdb.index import (
    AnalyzerConfig,
    Bm25Config,
    Bm25Index,
    IndexLoadError,
    SparseIndex,
    SparseIndexConfig,
    as_sparse_row,
)

VOCAB = 400
# Small merge / compaction thresholds push every write through the rebuild paths.
EAGER = SparseIndexConfig(merge_ratio=0.05, min_merge_postings=32, compact_ratio=0.05)
# Merges without compaction leave tombstoned postings in the main segment.
TOMBSTONES = SparseIndexConfig(merge_ratio=1.0, min_merge_postings=32, compact_ratio=1.0)
CONFIGS = [SparseIndexConfig(), EAGER, TOMBSTONES]
CONFIG_IDS = ["default", "eager-rebuild", "tombstones"]

Row = tuple[np.ndarray, np.ndarray]


def random_rows(rng: np.random.Generator, n: int, *, signed: bool = False) -> list[Row]:
    """Rows with Zipf-distributed term ids (a few very common terms, a long tail)."""
    rows = []
    for _ in range(n):
        nnz = int(rng.integers(0, 24))
        terms = np.unique(np.minimum(rng.zipf(1.3, nnz), VOCAB) - 1).astype(np.uint32)
        weights = rng.uniform(0.05, 2.0, terms.size).astype(np.float32)
        if signed:
            weights *= rng.choice(np.array([-1.0, 1.0], dtype=np.float32), terms.size)
        rows.append((terms, weights))
    return rows


def dense(row: Row) -> np.ndarray:
    out = np.zeros(VOCAB)
    out[row[0]] = row[1]
    return out


def brute_force(model: dict[int, Row], query: Row) -> dict[int, float]:
    """{id: exact score} of every point sharing a term with the query."""
    q = dense(query)
    qset = set(query[0].tolist())
    return {
        i: float(dense(r) @ q) for i, r in model.items() if qset & set(r[0].tolist())
    }


def assert_topk(ids: np.ndarray, scores: np.ndarray, truth: dict[int, float], k: int) -> None:
    """Tie-tolerant: the returned scores are the k best true scores, and each returned id has
    the score it was returned with."""
    assert ids.dtype == np.uint64 and scores.dtype == np.float32
    expected = np.sort(np.array(list(truth.values()), dtype=np.float64))[::-1][:k]
    assert ids.size == expected.size, (ids, expected)
    assert len(set(ids.tolist())) == ids.size
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores, [truth[i] for i in ids.tolist()], rtol=1e-5, atol=1e-5)
    assert (np.diff(scores) <= 0).all()


def check_all(index: SparseIndex, model: dict[int, Row], rng: np.random.Generator) -> None:
    assert len(index) == len(model)
    assert sorted(index.live_ids().tolist()) == sorted(model)
    ids_all = np.array(sorted(model), dtype=np.uint64)
    for query in random_rows(rng, 12, signed=index._negative):
        if query[0].size == 0:
            continue
        truth = brute_force(model, query)
        ids, scores = index.search(query, 10)
        assert_topk(ids, scores, truth, 10)
        if ids_all.size:
            for frac in (0.05, 0.6):  # selective (forward rows) and broad (mask) filters
                allowed = rng.choice(ids_all, max(1, int(frac * ids_all.size)), replace=False)
                ids, scores = index.search(query, 7, allowed=allowed)
                allowed_set = set(allowed.tolist())
                assert_topk(ids, scores, {i: s for i, s in truth.items() if i in allowed_set}, 7)
            probe = rng.choice(ids_all, min(20, ids_all.size), replace=False)
            np.testing.assert_allclose(
                index.scores(query, probe), [truth.get(i, 0.0) for i in probe.tolist()],
                rtol=1e-5, atol=1e-5,
            )


# -- SparseIndex ------------------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_sparse_topk_equals_brute_force_through_adds_replaces_and_deletes(
    config: SparseIndexConfig,
) -> None:
    rng = np.random.default_rng(7)
    index = SparseIndex(config)
    model: dict[int, Row] = {}
    next_id = 0
    for step in range(8):
        n = 150 if step == 0 else int(rng.integers(1, 40))
        rows = random_rows(rng, n)
        ids = np.arange(next_id, next_id + n, dtype=np.uint64)
        next_id += n
        index.add(ids, rows)
        model.update(zip(ids.tolist(), rows, strict=True))
        live = np.array(sorted(model), dtype=np.uint64)
        replaced = rng.choice(live, min(15, live.size), replace=False)
        new_rows = random_rows(rng, replaced.size)
        index.add(replaced, new_rows)
        model.update(zip(replaced.tolist(), new_rows, strict=True))
        removed = rng.choice(live, min(20, live.size // 4), replace=False)
        index.remove(np.append(removed, np.uint64(10**12)))  # an unknown id is ignored
        for i in removed.tolist():
            model.pop(i, None)
        check_all(index, model, rng)
    # ids removed earlier can come back
    back = np.array([i for i in range(next_id) if i not in model][:10], dtype=np.uint64)
    rows = random_rows(rng, back.size)
    index.add(back, rows)
    model.update(zip(back.tolist(), rows, strict=True))
    check_all(index, model, rng)


def test_signed_weights_return_every_point_sharing_a_term() -> None:
    rng = np.random.default_rng(3)
    rows = random_rows(rng, 200, signed=True)
    index = SparseIndex()
    index.add(np.arange(200), rows)
    model = dict(enumerate(rows))
    check_all(index, model, rng)
    query = (np.array([0, 1], dtype=np.uint32), np.array([1.0, -1.0], dtype=np.float32))
    ids, scores = index.search(query, 1000)
    assert sorted(ids.tolist()) == sorted(brute_force(model, query))
    assert (scores <= 0).any()  # matches with a negative score are still matches


def test_points_sharing_no_term_are_never_returned() -> None:
    index = SparseIndex()
    index.add(np.array([1, 2, 3]), [
        (np.array([1, 2]), np.array([1.0, 1.0])),
        (np.array([3]), np.array([5.0])),
        (np.array([], dtype=np.uint32), np.array([], dtype=np.float32)),
    ])
    ids, scores = index.search((np.array([2, 9]), np.array([2.0, 1.0])), 10)
    assert ids.tolist() == [1] and scores.tolist() == [2.0]
    ids, _ = index.search((np.array([9]), np.array([1.0])), 10)
    assert ids.size == 0
    assert index.scores((np.array([3]), np.array([2.0])), np.array([2, 1, 77])).tolist() == [
        10.0, 0.0, 0.0,
    ]


def test_ties_go_to_the_smaller_id() -> None:
    index = SparseIndex()
    row = (np.array([5]), np.array([1.0]))
    index.add(np.array([9, 3, 7, 1, 5]), [row] * 5)
    ids, _ = index.search(row, 3)
    assert ids.tolist() == [1, 3, 5]


def test_rows_are_canonical_and_round_trip() -> None:
    index = SparseIndex()
    index.add(np.array([4]), [(np.array([9, 2, 5]), np.array([0.5, 1.5, 0.0]))])
    ((terms, weights),) = index.get_rows(np.array([4]))
    assert terms.dtype == np.uint32 and weights.dtype == np.float32
    assert terms.tolist() == [2, 9] and weights.tolist() == [1.5, 0.5]  # sorted, zero dropped
    with pytest.raises(KeyError, match="5"):
        index.get_rows(np.array([5]))


def test_a_later_duplicate_in_one_batch_wins() -> None:
    index = SparseIndex()
    index.add(np.array([1, 1]), [(np.array([1]), np.array([1.0])), (np.array([2]), np.array([3.0]))])
    assert len(index) == 1
    assert index.get_rows(np.array([1]))[0][0].tolist() == [2]
    index.remove(np.array([1, 1]))  # a repeated id in one delete is one delete
    assert len(index) == 0 and index.search((np.array([2]), np.array([1.0])), 3)[0].size == 0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ((np.array([1, 1]), np.array([1.0, 2.0])), "appears more than once"),
        ((np.array([-1]), np.array([1.0])), r"\[0, 2\*\*32-1\]"),
        ((np.array([2**32]), np.array([1.0])), r"\[0, 2\*\*32-1\]"),
        ((np.array([1]), np.array([np.nan])), "finite"),
        ((np.array([1, 2]), np.array([1.0])), "equal length"),
        ((np.array([1.5]), np.array([1.0])), "integers"),
        ((np.array([1]), np.array([1.0]), 3), "pair"),
    ],
)
def test_bad_sparse_vectors_are_rejected(row: object, message: str) -> None:
    index = SparseIndex()
    with pytest.raises(ValueError, match=message):
        index.add(np.array([1]), [row])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=message):
        index.search(row, 3)  # type: ignore[arg-type]
    assert len(index) == 0


def test_bad_arguments_are_rejected() -> None:
    index = SparseIndex()
    with pytest.raises(ValueError, match="2 ids but 1"):
        index.add(np.array([1, 2]), [(np.array([1]), np.array([1.0]))])
    with pytest.raises(ValueError, match="k must be"):
        index.search((np.array([1]), np.array([1.0])), 0)
    with pytest.raises(ValueError, match="non-negative"):
        index.remove(np.array([-3]))
    with pytest.raises(ValueError, match="merge_ratio"):
        SparseIndexConfig(merge_ratio=0.0)
    with pytest.raises(TypeError, match="SparseIndexConfig"):
        SparseIndex(Bm25Config())  # type: ignore[arg-type]


def test_as_sparse_row_accepts_lists_and_sorts() -> None:
    terms, weights = as_sparse_row(([7, 3], [1, 2]))
    assert terms.tolist() == [3, 7] and weights.tolist() == [2.0, 1.0]


def test_search_batch_equals_single_searches() -> None:
    rng = np.random.default_rng(11)
    index = SparseIndex()
    index.add(np.arange(300), random_rows(rng, 300))
    queries = [q for q in random_rows(rng, 20) if q[0].size]
    for allowed in (None, np.arange(0, 300, 2), np.array([5, 7, 11])):
        batch = index.search_batch(queries, 5, allowed=allowed)
        for q, (ids, scores) in zip(queries, batch, strict=True):
            single = index.search(q, 5, allowed=allowed)
            assert ids.tolist() == single[0].tolist() and scores.tolist() == single[1].tolist()
            if allowed is not None:
                assert set(ids.tolist()) <= set(allowed.tolist())
    bm25 = bm25_index(TINY)
    for allowed in (None, np.array([2, 3])):
        batch = bm25.search_batch(["cherry", "apple banana"], 3, allowed=allowed)
        assert [b[0].tolist() for b in batch] == [
            bm25.search(q, 3, allowed=allowed)[0].tolist() for q in ("cherry", "apple banana")
        ]


def test_sparse_save_and_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    index = SparseIndex()
    index.add(np.arange(250), random_rows(rng, 250))
    index.remove(np.arange(0, 250, 3))
    index.add(np.array([1000, 1]), random_rows(rng, 2))
    path = tmp_path / "sparse.idx"
    index.save(path)
    loaded = SparseIndex.load(path)
    assert sorted(loaded.live_ids().tolist()) == sorted(index.live_ids().tolist())
    for q in random_rows(rng, 10):
        a, b = index.search(q, 10), loaded.search(q, 10)
        assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()
    assert loaded.ram_bytes > 0


def test_corrupt_or_foreign_files_raise_index_load_error(tmp_path: Path) -> None:
    index = SparseIndex()
    index.add(np.arange(20), random_rows(np.random.default_rng(1), 20))
    path = tmp_path / "sparse.idx"
    index.save(path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "flipped").write_bytes(bytes(raw))
    (tmp_path / "short").write_bytes(path.read_bytes()[:-9])
    for name in ("flipped", "short", "missing"):
        with pytest.raises(IndexLoadError, match="rebuild"):
            SparseIndex.load(tmp_path / name)
    with pytest.raises(IndexLoadError, match="bad magic"):
        Bm25Index.load(path)


def test_concurrent_searches_during_writes_stay_consistent() -> None:
    rng = np.random.default_rng(9)
    index = SparseIndex(EAGER)
    rows = random_rows(rng, 400)
    index.add(np.arange(200), rows[:200])
    queries = [q for q in random_rows(rng, 30) if q[0].size]
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                for q in queries:
                    ids, scores = index.search(q, 10)
                    assert len(set(ids.tolist())) == ids.size and (np.diff(scores) <= 0).all()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(200, 400, 10):
        index.add(np.arange(i, i + 10), rows[i : i + 10])
        index.remove(np.arange(i - 200, i - 195))
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    model = {i: rows[i] for i in range(400) if not (i < 200 and i % 10 < 5)}
    check_all(index, model, rng)


# -- Bm25Index ----------------------------------------------------------------------------------

PLAIN = AnalyzerConfig(stopwords=None, stemmer=None)
TINY = {
    1: "apple banana apple",
    2: "banana cherry",
    3: "cherry cherry cherry date",
    4: "",  # no terms, still a document: it counts in N and in avgdl
}


def hand_bm25(docs: dict[int, str], query: str, k1: float, b: float) -> dict[int, float]:
    """The formula of the module docstring, term by term, in float64."""
    split = {i: t.split() for i, t in docs.items()}
    n = len(split)
    avgdl = sum(len(t) for t in split.values()) / n
    out: dict[int, float] = {}
    for i, terms in split.items():
        total, shared = 0.0, False
        for q in query.split():
            tf = terms.count(q)
            if tf == 0:
                continue
            shared = True
            df = sum(q in t for t in split.values())
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            total += idf * tf / (tf + k1 * (1 - b + b * len(terms) / avgdl))
        if shared:
            out[i] = total
    return out


def bm25_index(docs: dict[int, str], **config: object) -> Bm25Index:
    index = Bm25Index(Bm25Config(analyzer=PLAIN, **config))  # type: ignore[arg-type]
    index.add(np.array(list(docs), dtype=np.uint64), list(docs.values()))
    return index


@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (1.5, 0.3), (0.0, 1.0), (2.0, 0.0)])
def test_bm25_scores_equal_a_hand_computation(k1: float, b: float) -> None:
    index = bm25_index(TINY, k1=k1, b=b)
    for query in ("apple cherry", "banana", "date cherry banana", "cherry cherry"):
        truth = hand_bm25(TINY, query, k1, b)
        ids, scores = index.search(query, 10)
        assert_topk(ids, scores, truth, 10)
        np.testing.assert_allclose(
            index.scores(query, np.array([1, 2, 3, 4, 99])),
            [truth.get(i, 0.0) for i in (1, 2, 3, 4, 99)], rtol=1e-6,
        )


def test_bm25_idf_and_scores_follow_deletes_and_replacements() -> None:
    docs = dict(TINY)
    index = bm25_index(docs)
    assert index.idf("cherry") == pytest.approx(math.log(1 + (4 - 2 + 0.5) / 2.5))
    assert index.df("cherry") == 2 and index.avg_doc_length == pytest.approx(9 / 4)
    index.remove(np.array([3]))
    del docs[3]
    assert index.df("cherry") == 1 and len(index) == 3
    assert index.idf("cherry") == pytest.approx(math.log(1 + (3 - 1 + 0.5) / 1.5))
    assert index.idf("date") == pytest.approx(math.log(1 + (3 + 0.5) / 0.5))  # df now 0
    assert index.avg_doc_length == pytest.approx(5 / 3)
    for query in ("cherry", "apple banana date"):
        assert_topk(*index.search(query, 10), hand_bm25(docs, query, 1.2, 0.75), 10)
    index.add(np.array([2, 5]), ["date date", "apple"])  # replace one, add one
    docs.update({2: "date date", 5: "apple"})
    assert index.df("banana") == 1 and index.df("date") == 1 and index.df("apple") == 2
    for query in ("cherry banana", "date", "apple"):
        assert_topk(*index.search(query, 10), hand_bm25(docs, query, 1.2, 0.75), 10)


def test_bm25_after_churn_equals_a_fresh_index_of_the_survivors() -> None:
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(60)]
    docs = {
        i: " ".join(rng.choice(words, int(rng.integers(1, 30)), p=_zipf(60)))
        for i in range(300)
    }
    index = Bm25Index(Bm25Config(analyzer=PLAIN, postings=EAGER))
    index.add(np.arange(300), list(docs.values()))
    gone = rng.choice(300, 120, replace=False)
    index.remove(gone)
    for i in gone.tolist():
        del docs[i]
    again = {i: docs[i][::-1] for i in list(docs)[:40]}  # replaced texts
    index.add(np.array(list(again)), list(again.values()))
    docs.update(again)
    fresh = bm25_index(docs)
    ids = np.array(sorted(docs), dtype=np.uint64)
    for query in ("w0 w1", "w5 w17 w3", "w59", "0w 1w"):
        np.testing.assert_allclose(index.scores(query, ids), fresh.scores(query, ids), rtol=1e-6)
        a, b = index.search(query, 10), fresh.search(query, 10)
        assert a[0].tolist() == b[0].tolist()
        assert_topk(*a, hand_bm25(docs, query, 1.2, 0.75), 10)


def _zipf(n: int) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1)
    return p / p.sum()


def test_bm25_query_and_document_rows_give_the_score() -> None:
    index = bm25_index(TINY)
    terms, counts = index.query_row("cherry apple cherry")
    assert index.terms(terms) == ["apple", "cherry"] and counts.tolist() == [1.0, 2.0]
    for doc in (1, 2, 3):
        d_terms, d_weights = index.document_row(doc)
        shared = np.intersect1d(terms, d_terms)
        dot = sum(
            float(counts[terms == t][0]) * float(d_weights[d_terms == t][0]) for t in shared
        )
        assert index.scores("cherry apple cherry", np.array([doc]))[0] == pytest.approx(dot)
    with pytest.raises(KeyError):
        index.document_row(42)


def test_bm25_queries_without_known_terms_and_filters() -> None:
    index = Bm25Index()  # default analyzer: English stop words and stemming
    index.add(np.arange(4), ["The cats are running", "a cat runs", "dogs bark", "the the the"])
    assert index.search("the of and", 5)[0].size == 0  # only stop words
    assert index.search("zebra", 5)[0].size == 0
    assert sorted(index.search("cat", 5)[0].tolist()) == [0, 1]  # "cats" stems to "cat"
    assert index.search("running cat", 5, allowed=np.array([1, 2]))[0].tolist() == [1]
    assert index.idf("the") == 0.0
    with pytest.raises(ValueError, match="one term"):
        index.idf("two words")
    with pytest.raises(TypeError, match="single str"):
        index.add(np.array([1]), "oops")  # type: ignore[arg-type]


def test_bm25_add_tokens_equals_add_of_the_text() -> None:
    a = Bm25Index()
    texts = ["Running cats", "cat food", "the dogs and the cats"]
    a.add(np.arange(3), texts)
    b = Bm25Index()
    b.add_tokens(np.arange(3), [b.analyzer.tokens(t) for t in texts])
    for q in ("cat", "dog food"):
        assert a.search(q, 3)[0].tolist() == b.search(q, 3)[0].tolist()
        assert a.search(q, 3)[1].tolist() == b.search(q, 3)[1].tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"k1": -1.0}, "k1"), ({"b": 1.5}, "b must"), ({"k1": math.nan}, "k1")]
)
def test_bm25_bad_config_names_the_field(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Bm25Config(**kwargs)


def test_bm25_save_and_load_round_trip(tmp_path: Path) -> None:
    docs = {i: t for i, t in enumerate(["Zürich café crème", "naïve café", "東京 café", "x y"])}
    index = Bm25Index()
    index.add(np.array(list(docs)), list(docs.values()))
    index.remove(np.array([3]))
    path = tmp_path / "bm25.idx"
    index.save(path)
    loaded = Bm25Index.load(path)
    for q in ("café", "zürich 東京", "naïve crème café"):
        a, b = index.search(q, 5), loaded.search(q, 5)
        assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()
    assert loaded.idf("café") == index.idf("café") and len(loaded) == 3
    # k1 / b may change on load (scores follow); the analyzer may not
    other = Bm25Index.load(path, Bm25Config(k1=2.0))
    fresh = Bm25Index(Bm25Config(k1=2.0))
    fresh.add(np.arange(3), [docs[i] for i in range(3)])
    np.testing.assert_allclose(
        other.scores("café crème", np.arange(3)), fresh.scores("café crème", np.arange(3))
    )
    with pytest.raises(IndexLoadError, match="analyzed with"):
        Bm25Index.load(path, Bm25Config(analyzer=PLAIN))
    with pytest.raises(IndexLoadError, match="bad magic"):
        SparseIndex.load(path)


def test_bm25_matches_bm25s_on_real_text() -> None:
    bm25s = pytest.importorskip("bm25s")
    texts = _real_texts()
    analyzer = AnalyzerConfig(min_token_length=2, max_token_length=10_000)
    index = Bm25Index(Bm25Config(k1=1.2, b=0.75, analyzer=analyzer))
    index.add(np.arange(len(texts)), texts)
    tokens = index.analyzer.tokens_batch(texts)
    ref = bm25s.BM25(k1=1.2, b=0.75)  # method "lucene", as documented
    ref.index(tokens, show_progress=False)
    ids = np.arange(len(texts))
    for text in texts[::37][:25]:
        query = " ".join(text.split()[:6])
        q_tokens = index.analyzer.tokens(query)
        if not q_tokens:
            continue
        expected = ref.get_scores(q_tokens)
        ours = index.scores(query, ids)
        np.testing.assert_allclose(ours, expected, rtol=2e-6, atol=1e-6)
        truth = {i: float(s) for i, s in enumerate(expected.tolist()) if s > 0}
        assert_topk(*index.search(query, 10), truth, 10)


def _real_texts() -> list[str]:
    """Docstrings of a few standard-library modules: real English text, shipped with Python."""
    import collections
    import inspect
    import json
    import pathlib
    import re
    import threading as th

    out = []
    for module in (collections, json, pathlib, re, th, inspect):
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 40 and doc not in out:
                out.append(doc)
    return out


# -- state machines: random upsert / delete / search sequences against brute-force models -------

_IDS = st.integers(0, 30)
_WORDS = st.lists(st.sampled_from([f"w{i}" for i in range(8)]), max_size=8)
_ROWS = st.dictionaries(st.integers(0, 12), st.floats(0.125, 4.0, width=32), max_size=6)


class SparseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.index = SparseIndex(TOMBSTONES)
        self.model: dict[int, Row] = {}

    @staticmethod
    def row(d: dict[int, float]) -> Row:
        terms = np.array(sorted(d), dtype=np.uint32)
        return terms, np.array([d[t] for t in sorted(d)], dtype=np.float32)

    @rule(ids=st.lists(_IDS, min_size=1, max_size=5, unique=True), rows=st.data())
    def upsert(self, ids: list[int], rows: st.DataObject) -> None:
        new = [self.row(rows.draw(_ROWS)) for _ in ids]
        self.index.add(np.array(ids, dtype=np.uint64), new)
        self.model.update(zip(ids, new, strict=True))

    @rule(ids=st.lists(_IDS, min_size=1, max_size=5))
    def delete(self, ids: list[int]) -> None:
        self.index.remove(np.array(ids, dtype=np.uint64))
        for i in ids:
            self.model.pop(i, None)

    @rule(query=_ROWS.filter(bool), k=st.integers(1, 8))
    def search(self, query: dict[int, float], k: int) -> None:
        q = self.row(query)
        assert_topk(*self.index.search(q, k), brute_force(self.model, q), k)

    @invariant()
    def same_points(self) -> None:
        assert sorted(self.index.live_ids().tolist()) == sorted(self.model)


class Bm25Machine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.index = Bm25Index(Bm25Config(analyzer=PLAIN, postings=TOMBSTONES))
        self.model: dict[int, str] = {}

    @rule(ids=st.lists(_IDS, min_size=1, max_size=5, unique=True), texts=st.data())
    def upsert(self, ids: list[int], texts: st.DataObject) -> None:
        new = [" ".join(texts.draw(_WORDS)) for _ in ids]
        self.index.add(np.array(ids, dtype=np.uint64), new)
        self.model.update(zip(ids, new, strict=True))

    @rule(ids=st.lists(_IDS, min_size=1, max_size=5))
    def delete(self, ids: list[int]) -> None:
        self.index.remove(np.array(ids, dtype=np.uint64))
        for i in ids:
            self.model.pop(i, None)

    @rule(query=_WORDS.filter(bool), k=st.integers(1, 8))
    def search(self, query: list[str], k: int) -> None:
        text = " ".join(query)
        truth = hand_bm25(self.model, text, 1.2, 0.75) if self.model else {}
        assert_topk(*self.index.search(text, k), truth, k)

    @invariant()
    def idf_is_current(self) -> None:
        n = len(self.model)
        df = sum("w0" in t.split() for t in self.model.values())
        assert self.index.idf("w0") == pytest.approx(math.log(1 + (n - df + 0.5) / (df + 0.5)))


SparseMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
Bm25Machine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_sparse_state_machine = SparseMachine.TestCase
test_bm25_state_machine = Bm25Machine.TestCase
