"""The text analyzer behind BM25 fields: text in, index terms out.

A pipeline in the order Lucene's and bm25s's analyzers use, each step set per field by
`AnalyzerConfig`:

1. lowercase (`str.lower`, before splitting, as bm25s does);
2. split into Unicode words: maximal runs of `\\w` characters (letters, digits, marks counted as
   alphanumeric by Python, and the underscore), so "snake_case" stays one token and
   "naïve café" gives two; everything else separates tokens;
3. drop tokens shorter than `min_token_length` or longer than `max_token_length` characters
   (dropped, not truncated: a 500-character base64 run is noise, not a word);
4. drop stop words (`stopwords="english"`: the 33 words of Lucene's `EnglishAnalyzer` default
   set, which bm25s ships as `STOPWORDS_EN`; see `ENGLISH_STOPWORDS`), compared after lowercasing;
5. stem each remaining token with a Snowball stemmer from PyStemmer (`stemmer="english"`, or any
   name in `Stemmer.algorithms()`, or None).

With `min_token_length=2` this is token for token what `bm25s.tokenize(texts, lower=True,
stopwords="en", stemmer=Stemmer.Stemmer("english"))` produces (its splitter `\\b\\w\\w+\\b` is a
`\\w` run of two or more characters), except that bm25s has no upper length bound; the sparse
benchmark measures that agreement on its corpus.

An `Analyzer` is safe to share between threads (each thread gets its own stemmer object).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ENGLISH_STOPWORDS", "STOPWORD_LISTS", "Analyzer", "AnalyzerConfig", "stemmer_languages"]

ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    (
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
        "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
        "these", "they", "this", "to", "was", "will", "with",
    )
)
"""Lucene's English stop set (`EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`), identical to bm25s's
`STOPWORDS_EN`: short on purpose, so words like "how" or "what" still match."""

STOPWORD_LISTS: dict[str, frozenset[str]] = {"english": ENGLISH_STOPWORDS}
"""Built-in stop word lists by the name `AnalyzerConfig.stopwords` takes."""

_WORD = re.compile(r"\w+")


@functools.cache
def stemmer_languages() -> tuple[str, ...]:
    """The Snowball stemmer names PyStemmer offers (what `AnalyzerConfig.stemmer` accepts)."""
    import Stemmer

    return tuple(Stemmer.algorithms())


@dataclass(frozen=True)
class AnalyzerConfig:
    """How a BM25 field turns text into terms (see the module docstring for the pipeline).

    lowercase: lowercase the text before splitting.
    stopwords: None (keep every word) or the name of a built-in list ("english").
    stemmer: None, or a Snowball language from PyStemmer ("english", "porter", "german", ...).
    min_token_length / max_token_length: tokens outside [min, max] characters are dropped.
    """

    lowercase: bool = True
    stopwords: str | None = "english"
    stemmer: str | None = "english"
    min_token_length: int = 1
    max_token_length: int = 64

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """ValueError naming the field and value when a setting is unusable."""
        if self.lowercase not in (True, False):
            raise ValueError(f"analyzer.lowercase must be true or false, got {self.lowercase!r}")
        if self.stopwords is not None and self.stopwords not in STOPWORD_LISTS:
            raise ValueError(
                f"analyzer.stopwords must be null or one of {sorted(STOPWORD_LISTS)}, "
                f"got {self.stopwords!r}"
            )
        if self.stemmer is not None:
            languages = stemmer_languages()
            if self.stemmer not in languages:
                raise ValueError(
                    f"analyzer.stemmer must be null or a Snowball language "
                    f"({', '.join(languages)}), got {self.stemmer!r}"
                )
        for name in ("min_token_length", "max_token_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"analyzer.{name} must be an integer >= 1, got {value!r}")
        if self.max_token_length < self.min_token_length:
            raise ValueError(
                f"analyzer.max_token_length ({self.max_token_length}) must be >= "
                f"min_token_length ({self.min_token_length})"
            )

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (persisted with a BM25 index)."""
        return {
            "lowercase": self.lowercase,
            "stopwords": self.stopwords,
            "stemmer": self.stemmer,
            "min_token_length": self.min_token_length,
            "max_token_length": self.max_token_length,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalyzerConfig:
        """Inverse of `to_dict`; ValueError for unknown keys or bad values."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown analyzer settings {sorted(unknown)}")
        return cls(**data)


class Analyzer:
    """Turns text into the list of terms a BM25 field indexes or a BM25 query looks up."""

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        """`config` None means `AnalyzerConfig()` (English stop words and stemming)."""
        if config is None:
            config = AnalyzerConfig()
        if not isinstance(config, AnalyzerConfig):
            raise TypeError(f"Analyzer takes an AnalyzerConfig, got {type(config).__name__}")
        config.validate()
        self.config = config
        self._stop = STOPWORD_LISTS[config.stopwords] if config.stopwords else frozenset()
        self._local = threading.local()

    def _stem_words(self) -> Any:
        fn = getattr(self._local, "stem_words", None)
        if fn is None:
            import Stemmer

            fn = Stemmer.Stemmer(self.config.stemmer).stemWords
            self._local.stem_words = fn
        return fn

    def tokens(self, text: str) -> list[str]:
        """The terms of one text, in order, repeats kept (BM25 counts them)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        cfg = self.config
        words = _WORD.findall(text.lower() if cfg.lowercase else text)
        lo, hi, stop = cfg.min_token_length, cfg.max_token_length, self._stop
        words = [w for w in words if lo <= len(w) <= hi and w not in stop]
        if cfg.stemmer is not None and words:
            words = self._stem_words()(words)
        return words

    def tokens_batch(self, texts: Sequence[str]) -> list[list[str]]:
        """`tokens` of each text."""
        if isinstance(texts, str):
            raise TypeError("tokens_batch takes a sequence of texts, got a single str")
        return [self.tokens(text) for text in texts]
