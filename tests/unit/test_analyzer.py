"""The BM25 analyzer: each pipeline step, its settings' validation, and agreement with bm25s."""

from __future__ import annotations

import threading

import pytest

from vecdb.index import Analyzer, AnalyzerConfig
from vecdb.index.analyzer import ENGLISH_STOPWORDS

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Running runners ran; they were RUNNING to the station at 9:45!",
    "Naïve café owners in Zürich serve crème brûlée — très délicieux.",
    "def snake_case_name(x): return x**2  # a Python function",
    "It is what it is, and that's not all: a b c d e f g.",
    "Привет мир, это тест по-русски. 東京は日本の首都です。",
    "HTTP/2 vs HTTP/3: QUIC, TLS 1.3 and 0-RTT handshakes explained",
    "",
    "   \n\t ",
]


def test_default_pipeline_lowercases_splits_drops_stopwords_and_stems() -> None:
    tokens = Analyzer().tokens("The Runners were RUNNING into the café")
    # "the" and "into" are stop words; "were" is not in Lucene's short list
    assert tokens == ["runner", "were", "run", "café"]


def test_unicode_words_are_kept_whole_and_punctuation_splits() -> None:
    cfg = AnalyzerConfig(stopwords=None, stemmer=None)
    assert Analyzer(cfg).tokens("Naïve café: über-cool snake_case x2") == [
        "naïve", "café", "über", "cool", "snake_case", "x2",
    ]
    assert Analyzer(cfg).tokens("東京 Привет") == ["東京", "привет"]


def test_stopwords_and_stemmer_can_be_turned_off() -> None:
    text = "the cats are running"
    assert Analyzer(AnalyzerConfig(stopwords=None, stemmer=None)).tokens(text) == [
        "the", "cats", "are", "running",
    ]
    assert Analyzer(AnalyzerConfig(stopwords="english", stemmer=None)).tokens(text) == [
        "cats", "running",
    ]
    assert Analyzer(AnalyzerConfig(stopwords=None, stemmer="english")).tokens(text) == [
        "the", "cat", "are", "run",
    ]


def test_other_snowball_languages_stem() -> None:
    german = Analyzer(AnalyzerConfig(stopwords=None, stemmer="german"))
    assert german.tokens("Häuser") == german.tokens("Haus")
    assert german.tokens("Häuser") != Analyzer(AnalyzerConfig(stopwords=None, stemmer=None)).tokens(
        "Häuser"
    )


def test_token_length_bounds_drop_tokens_outside_them() -> None:
    cfg = AnalyzerConfig(stopwords=None, stemmer=None, min_token_length=2, max_token_length=5)
    assert Analyzer(cfg).tokens("a bb ccc dddddd x7") == ["bb", "ccc", "x7"]


def test_lowercase_off_keeps_case_and_stopwords_match_exactly() -> None:
    cfg = AnalyzerConfig(lowercase=False, stemmer=None)
    assert Analyzer(cfg).tokens("The cat and The Dog") == ["The", "cat", "The", "Dog"]


def test_repeats_are_kept_for_term_frequency() -> None:
    assert Analyzer().tokens("fox fox foxes") == ["fox", "fox", "fox"]


def test_english_list_is_lucenes_33_words() -> None:
    assert len(ENGLISH_STOPWORDS) == 33
    assert {"the", "a", "with", "will"} <= ENGLISH_STOPWORDS
    assert "what" not in ENGLISH_STOPWORDS


def test_matches_bm25s_tokenizer_with_min_length_two() -> None:
    bm25s = pytest.importorskip("bm25s")
    stemmer_mod = pytest.importorskip("Stemmer")
    ours = Analyzer(AnalyzerConfig(min_token_length=2, max_token_length=10_000))
    theirs = bm25s.tokenize(
        SENTENCES, stopwords="en", stemmer=stemmer_mod.Stemmer("english"), return_ids=False,
        show_progress=False,
    )
    assert ours.tokens_batch(SENTENCES) == [list(t) for t in theirs]


def test_batch_equals_one_by_one_and_rejects_a_bare_string() -> None:
    analyzer = Analyzer()
    assert analyzer.tokens_batch(SENTENCES) == [analyzer.tokens(s) for s in SENTENCES]
    with pytest.raises(TypeError, match="single str"):
        analyzer.tokens_batch("not a list")
    with pytest.raises(TypeError, match="str"):
        analyzer.tokens(b"bytes")  # type: ignore[arg-type]


def test_shared_between_threads_gives_the_same_tokens() -> None:
    analyzer = Analyzer()
    expected = analyzer.tokens_batch(SENTENCES * 20)
    results: list[list[list[str]]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(analyzer.tokens_batch(SENTENCES * 20))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == expected for r in results) and len(results) == 4


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"stopwords": "klingon"}, "analyzer.stopwords"),
        ({"stemmer": "klingon"}, "analyzer.stemmer"),
        ({"min_token_length": 0}, "analyzer.min_token_length"),
        ({"max_token_length": 0}, "analyzer.max_token_length"),
        ({"min_token_length": 5, "max_token_length": 4}, "analyzer.max_token_length"),
        ({"lowercase": "yes"}, "analyzer.lowercase"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        AnalyzerConfig(**kwargs)  # type: ignore[arg-type]


def test_config_round_trips_through_a_dict() -> None:
    cfg = AnalyzerConfig(stopwords=None, stemmer="porter", min_token_length=2)
    assert AnalyzerConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown analyzer settings"):
        AnalyzerConfig.from_dict({**cfg.to_dict(), "shingles": 2})
