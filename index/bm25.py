"""Bm25Index: BM25 over analyzed text, exact top-k, statistics always current.

Scoring (bm25s's default method "lucene", which is Lucene >= 8's BM25Similarity):

    score(q, d) = sum over query terms t (a term repeated in the query counts each time) of
                  idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * dl(d) / avgdl))
    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

N is the number of live documents (texts with no terms count), df(t) the live documents holding
t, dl(d) the number of terms of d after analysis, avgdl their mean over live documents. The
classic textbook form multiplies every term by (k1 + 1); Lucene and bm25s drop that constant,
which changes no ranking, and so does this index, so its scores equal bm25s's.

The arithmetic mirrors bm25s's so the per-posting scores come out bit for bit the same: idf is
computed in float64 and rounded to float32, the tf part is computed in float64, their product
is rounded to float32. Query-side sums run in float64 (bm25s sums in float32), so two
documents whose float32 sums differ by an ulp may swap places; that is the only difference.

N, avgdl and every df are updated by each add and delete, so the index never serves stale
statistics. Per-posting scores are cached per term (bm25s precomputes them all once); a write
marks every cached term stale, and the first query that needs a stale term recomputes that
term's run (vectorized), so a query after a write costs what a query without the cache would.

Terms are strings produced by the field's `Analyzer`; the index keeps the token -> term id
vocabulary and persists it (terms no live document holds are dropped when saving).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vecdb.index.analyzer import Analyzer, AnalyzerConfig
from vecdb.index.base import IndexLoadError, as_ids, check_k
from vecdb.index.inverted import (
    SparseIndexConfig,
    SparseRow,
    _grow,
    _InvertedBase,
    _Segment,
    last_occurrence,
    read_index_file,
    write_index_file,
)

__all__ = ["Bm25Config", "Bm25Index"]


@dataclass(frozen=True)
class Bm25Config:
    """A BM25 field's settings.

    k1: term-frequency saturation (>= 0; 0 ignores term frequency). b: length normalization in
    [0, 1] (0 ignores document length). analyzer: how text becomes terms. postings: tuning of
    the inverted index.
    """

    k1: float = 1.2
    b: float = 0.75
    analyzer: AnalyzerConfig = field(default_factory=AnalyzerConfig)
    postings: SparseIndexConfig = field(default_factory=SparseIndexConfig)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """ValueError naming the field when a setting is unusable."""
        if isinstance(self.k1, bool) or not isinstance(self.k1, (int, float)) or not (
            math.isfinite(self.k1) and self.k1 >= 0
        ):
            raise ValueError(f"k1 must be a finite number >= 0, got {self.k1!r}")
        if isinstance(self.b, bool) or not isinstance(self.b, (int, float)) or not (
            0.0 <= self.b <= 1.0
        ):
            raise ValueError(f"b must be a number in [0, 1], got {self.b!r}")
        if not isinstance(self.analyzer, AnalyzerConfig):
            raise TypeError(f"analyzer must be an AnalyzerConfig, got {type(self.analyzer).__name__}")
        if not isinstance(self.postings, SparseIndexConfig):
            raise TypeError(
                f"postings must be a SparseIndexConfig, got {type(self.postings).__name__}"
            )
        self.analyzer.validate()
        self.postings.validate()


class Bm25Index(_InvertedBase):
    """BM25 over analyzed text; IDF, N and avgdl are always current (adds and deletes).

    Thread-safe (concurrent searches, exclusive writes). Results hold only documents sharing
    at least one query term, best first (ties: smaller id first).
    """

    _MAGIC = b"VECDBBM2"

    def __init__(self, config: Bm25Config | None = None) -> None:
        if config is None:
            config = Bm25Config()
        if not isinstance(config, Bm25Config):
            raise TypeError(f"Bm25Index takes a Bm25Config or None, got {type(config).__name__}")
        config.validate()
        self.config = config
        self.analyzer = Analyzer(config.analyzer)
        super().__init__(config.postings)
        self._vocab: dict[str, int] = {}
        self._df = np.zeros(1024, dtype=np.int64)
        self._dl = np.zeros(self._ids.size, dtype=np.float64)
        self._total_len = 0
        self._norm_cache: tuple[int, np.ndarray] = (-1, np.empty(0))

    # -- mutation ----------------------------------------------------------------------------

    def add(self, ids: np.ndarray, texts: Sequence[str]) -> None:
        """Insert or replace documents from their text (a later duplicate id in one batch wins)."""
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of str, got a single str")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {i} must be a str, got {type(text).__name__}")
        self.add_tokens(ids, self.analyzer.tokens_batch(texts))

    def add_tokens(self, ids: np.ndarray, token_lists: Sequence[Sequence[str]]) -> None:
        """Insert or replace documents given as already-analyzed terms (repeats count)."""
        id_arr = as_ids(ids)
        if len(token_lists) != id_arr.size:
            raise ValueError(f"got {id_arr.size} ids but {len(token_lists)} token lists")
        lists = [_token_list(toks, i) for i, toks in enumerate(token_lists)]
        keep = last_occurrence(id_arr)
        if keep is not None:
            id_arr = id_arr[keep]
            lists = [lists[i] for i in keep.tolist()]
        if id_arr.size == 0:
            return
        with self._lock.write():
            vocab = self._vocab
            setdefault = vocab.setdefault
            flat = [setdefault(tok, len(vocab)) for toks in lists for tok in toks]
            n_terms = len(vocab)
            counts = np.fromiter((len(t) for t in lists), dtype=np.int64, count=len(lists))
            tids = np.asarray(flat, dtype=np.int64)
            doc = np.repeat(np.arange(id_arr.size, dtype=np.int64), counts)
            keys, tf = np.unique(doc * n_terms + tids, return_counts=True)
            lens = np.bincount(keys // max(n_terms, 1), minlength=id_arr.size)
            terms = (keys % max(n_terms, 1)).astype(np.uint32)
            if self._df.size < n_terms:
                self._df = _grow(self._df, max(2 * self._df.size, n_terms), 0)
            self._put_rows(id_arr, lens.astype(np.int64), terms, tf.astype(np.float32))

    # -- queries -----------------------------------------------------------------------------

    def search(
        self, query: str, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best min(k, matching) documents for `query`: (ids uint64, scores float32)."""
        return self.search_tokens(self._analyze_query(query), k, allowed=allowed)

    def search_tokens(
        self, tokens: Sequence[str], k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`search` for an already-analyzed query (terms as the analyzer would produce them)."""
        toks = _token_list(tokens, 0)
        k = check_k(k)
        allowed_ids = None if allowed is None else as_ids(allowed)
        with self._lock.read():
            qterms, qw = self._query_terms(toks)
            return self._search_terms(qterms, qw, k, self._allowed_slots(allowed_ids))

    def search_batch(
        self, queries: Sequence[str], k: int, *, allowed: np.ndarray | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search` for each query (one lock acquisition for the batch)."""
        if isinstance(queries, str):
            raise TypeError("search_batch takes a sequence of queries, got a single str")
        tokens = [self._analyze_query(q) for q in queries]
        k = check_k(k)
        allowed_ids = None if allowed is None else as_ids(allowed)
        with self._lock.read():
            slots = self._allowed_slots(allowed_ids)
            out = []
            for toks in tokens:
                qterms, qw = self._query_terms(toks)
                out.append(self._search_terms(qterms, qw, k, slots))
            return out

    def scores(self, query: str, ids: np.ndarray) -> np.ndarray:
        """Exact float32 BM25 scores of the documents `ids` for `query`, in order; 0 for a
        document sharing no term or not in the index."""
        toks = self._analyze_query(query)
        id_arr = as_ids(ids)
        with self._lock.read():
            qterms, qw = self._query_terms(toks)
            slots = np.fromiter(
                (self._slot_of.get(i, -1) for i in id_arr.tolist()), dtype=np.int64,
                count=id_arr.size,
            )
            found = slots >= 0
            out = np.zeros(id_arr.size, dtype=np.float32)
            if found.any() and qterms.size:
                acc, _ = self._score_slots(slots[found], qterms, qw)
                out[found] = acc
            return out

    def idf(self, term: str) -> float:
        """Current IDF (float64; scoring rounds it to float32) of `term` after analysis.

        A term the analyzer drops (a stop word) has IDF 0; one no live document holds has
        df = 0 in the formula. ValueError when `term` analyzes to more than one term.
        """
        toks = self._analyze_query(term)
        if not toks:
            return 0.0
        if len(toks) > 1:
            raise ValueError(f"idf takes one term, {term!r} analyzes to {toks}")
        with self._lock.read():
            tid = self._vocab.get(toks[0])
            df = 0 if tid is None else int(self._df[tid])
            return _idf64(len(self._slot_of), df)

    def df(self, term: str) -> int:
        """Live documents holding the analyzed `term` (0 for a dropped or unknown term)."""
        toks = self._analyze_query(term)
        if len(toks) != 1:
            return 0
        with self._lock.read():
            tid = self._vocab.get(toks[0])
            return 0 if tid is None else int(self._df[tid])

    @property
    def avg_doc_length(self) -> float:
        """Mean number of analyzed terms per live document (0.0 when empty)."""
        n = len(self._slot_of)
        return self._total_len / n if n else 0.0

    def query_row(self, query: str) -> SparseRow:
        """The query as (term ids, term counts): score = dot(query_row, document_row)."""
        toks = self._analyze_query(query)
        with self._lock.read():
            qterms, qw = self._query_terms(toks)
            return qterms, qw.astype(np.float32)

    def document_row(self, id: int) -> SparseRow:
        """The document's terms and their current BM25 weights; KeyError for an unknown id."""
        with self._lock.read():
            ((slot, terms, tf),) = self._rows_of(as_ids(id))
            weights = self._row_scores(np.full(terms.size, slot), terms, tf)
            return terms, weights.astype(np.float32)

    def terms(self, ids: np.ndarray) -> list[str]:
        """The strings of term ids (as in `query_row` / `document_row`); KeyError if unknown."""
        with self._lock.read():
            inverse = list(self._vocab)
            out = []
            for tid in np.asarray(ids).tolist():
                if not 0 <= tid < len(inverse):
                    raise KeyError(f"term id {tid} is not in the vocabulary")
                out.append(inverse[tid])
            return out

    def _analyze_query(self, query: str) -> list[str]:
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        return self.analyzer.tokens(query)

    def _query_terms(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Known query terms (sorted uint32) and how often each occurs (float64)."""
        get = self._vocab.get
        tids = [t for t in (get(tok) for tok in tokens) if t is not None]
        if not tids:
            return np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.float64)
        if len(tids) == 1:
            return np.asarray(tids, dtype=np.uint32), np.ones(1)
        terms, counts = np.unique(np.asarray(tids, dtype=np.uint32), return_counts=True)
        return terms, counts.astype(np.float64)

    # -- scoring -----------------------------------------------------------------------------

    def _norms(self) -> np.ndarray:
        """k1 * (1 - b + b * dl / avgdl) per slot, float64, for the current statistics.

        Caller holds the build lock (or the write lock)."""
        version, norms = self._norm_cache
        if version == self._version:
            return norms
        k1, b = float(self.config.k1), float(self.config.b)
        n = len(self._slot_of)
        avgdl = self._total_len / n if n else 0.0
        dl = self._dl[: self._high]
        if avgdl > 0:
            norms = k1 * ((1 - b) + b * dl / avgdl)
        else:
            norms = np.full(dl.size, k1 * (1 - b))
        self._norm_cache = (self._version, norms)
        return norms

    def _current_norms(self) -> np.ndarray:
        """`_norms()` for a caller that does not hold the build lock."""
        version, norms = self._norm_cache
        if version == self._version:
            return norms
        with self._build_lock:
            return self._norms()

    def _idf32(self, terms: np.ndarray) -> np.ndarray:
        """float32 IDF of term ids, computed like bm25s (math.log in float64, then rounded)."""
        n = len(self._slot_of)
        return np.array([_idf64(n, int(d)) for d in self._df[terms].tolist()], dtype=np.float32)

    def _posting_scores(self, seg: _Segment, pos: np.ndarray) -> np.ndarray:
        version = self._version
        if seg.stamp is None or bool((seg.stamp[pos] != version).any()):
            with self._build_lock:
                self._fill_cache(seg, pos, version)
        assert seg.cache is not None
        return seg.cache

    def _fill_cache(self, seg: _Segment, pos: np.ndarray, version: int) -> None:
        if seg.cache is None or seg.stamp is None:
            seg.cache = np.empty(seg.nnz, dtype=np.float64)  # float32 values, kept wide for bincount
            seg.stamp = np.full(seg.terms.size, -1, dtype=np.int64)
        stale = pos[seg.stamp[pos] != version]
        if stale.size == 0:
            return
        norms = self._norms()
        idf = self._idf32(seg.terms[stale]).astype(np.float64)
        for p, term_idf in zip(stale.tolist(), idf.tolist()):
            s, e = int(seg.starts[p]), int(seg.starts[p + 1])
            tf = seg.vals[s:e].astype(np.float64)
            seg.cache[s:e] = (term_idf * (tf / (norms[seg.slots[s:e]] + tf))).astype(np.float32)
        seg.stamp[stale] = version

    def _row_scores(self, slots: np.ndarray, terms: np.ndarray, vals: np.ndarray) -> np.ndarray:
        if terms.size == 0:
            return np.empty(0)
        norms = self._current_norms()
        uniq, inv = np.unique(terms, return_inverse=True)
        idf = self._idf32(uniq).astype(np.float64)[inv]
        tf = vals.astype(np.float64)
        return (idf * (tf / (norms[slots] + tf))).astype(np.float32).astype(np.float64)

    # -- bookkeeping hooks ---------------------------------------------------------------------

    def _on_rows_added(self, slots: np.ndarray) -> None:
        terms, _, tf = self._gather_rows(slots)
        if terms.size:
            self._df[: len(self._vocab)] += np.bincount(terms, minlength=len(self._vocab))
        dl = np.zeros(slots.size)
        if terms.size:
            dl = np.bincount(
                np.repeat(np.arange(slots.size), self._flen[slots]), weights=tf,
                minlength=slots.size,
            )
        self._dl[slots] = dl
        self._total_len += int(dl.sum())

    def _on_rows_dropped(self, slots: np.ndarray) -> None:
        terms, _, _ = self._gather_rows(slots)
        if terms.size:
            self._df[: len(self._vocab)] -= np.bincount(terms, minlength=len(self._vocab))
        self._total_len -= int(self._dl[slots].sum())

    def _grow_slot_arrays(self, new_cap: int) -> None:
        if hasattr(self, "_dl"):
            self._dl = _grow(self._dl, new_cap, 0.0)

    def _extra_ram_bytes(self) -> int:
        vocab = sum(len(t) + 100 for t in self._vocab)  # str object + dict entry, roughly
        return int(self._df.nbytes + self._dl.nbytes + self._norm_cache[1].nbytes + vocab)

    # -- persistence -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write live documents (terms, term frequencies) and the vocabulary they use to
        exactly `path`, fsynced; postings and statistics are rebuilt on load."""
        with self._lock.read():
            _, ids, lens, terms, tf = self._live_rows()
            used = np.unique(terms)
            inverse = list(self._vocab)
            encoded = [inverse[t].encode("utf-8") for t in used.tolist()]
            header: dict[str, Any] = {
                "kind": "bm25",
                "k1": float(self.config.k1),
                "b": float(self.config.b),
                "analyzer": self.config.analyzer.to_dict(),
            }
            write_index_file(
                Path(path), self._MAGIC, header,
                {
                    "ids": ids,
                    "lens": lens.astype(np.uint32),
                    "terms": np.searchsorted(used, terms).astype(np.uint32),
                    "tf": tf,
                    "vocab_lens": np.fromiter((len(e) for e in encoded), dtype=np.uint32,
                                              count=len(encoded)),
                    "vocab_bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8),
                },
            )

    @classmethod
    def load(cls, path: Path, config: Bm25Config | None = None) -> Bm25Index:
        """Read a file written by `save`. `config` gives k1 / b (free to differ from the saved
        ones); its analyzer must equal the one the file was built with, else IndexLoadError
        (the stored terms would not match new queries: rebuild from the texts)."""
        path = Path(path)
        header, arrays = read_index_file(path, cls._MAGIC)
        index = cls(config)
        stored = header.get("analyzer")
        if stored != index.config.analyzer.to_dict():
            raise IndexLoadError(
                path,
                f"file was analyzed with {stored}, the field now asks for "
                f"{index.config.analyzer.to_dict()}",
            )
        try:
            ids = arrays["ids"].astype(np.uint64)
            lens = arrays["lens"].astype(np.int64)
            terms = arrays["terms"].astype(np.uint32)
            tf = arrays["tf"].astype(np.float32)
            vocab_lens = arrays["vocab_lens"].astype(np.int64)
            blob = arrays["vocab_bytes"].tobytes()
        except KeyError as exc:
            raise IndexLoadError(path, f"missing array {exc}") from exc
        if ids.size != lens.size or int(vocab_lens.sum()) != len(blob):
            raise IndexLoadError(path, "array sizes do not agree")
        if terms.size and int(terms.max()) >= vocab_lens.size:
            raise IndexLoadError(path, "a term id is outside the stored vocabulary")
        if terms.size and ((tf < 1) | (tf != np.round(tf))).any():
            raise IndexLoadError(path, "term frequencies must be positive integers")
        ends = np.cumsum(vocab_lens).tolist()
        try:
            tokens = [blob[e - n : e].decode("utf-8") for e, n in zip(ends, vocab_lens.tolist())]
        except UnicodeDecodeError as exc:
            raise IndexLoadError(path, f"vocabulary is not UTF-8 ({exc})") from exc
        index._vocab = {tok: i for i, tok in enumerate(tokens)}
        if len(index._vocab) != len(tokens):
            raise IndexLoadError(path, "vocabulary holds a term twice")
        index._df = np.zeros(max(1024, len(tokens)), dtype=np.int64)
        index._restore_rows(path, ids, lens, terms, tf)
        return index


def _idf64(n: int, df: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def _token_list(tokens: object, i: int) -> list[str]:
    if isinstance(tokens, str):
        raise TypeError(f"token list {i} must be a sequence of str, got a single str")
    try:
        out = list(tokens)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(
            f"token list {i} must be a sequence of str, got {type(tokens).__name__}"
        ) from None
    for tok in out:
        if not isinstance(tok, str):
            raise TypeError(f"token list {i} holds a {type(tok).__name__}, expected str")
    return out
