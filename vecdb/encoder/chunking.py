"""Overlapping token windows over a long document, mapped back to character spans of its text.

Windows are snapped to word boundaries where the tokenizer reports words, so a chunk neither
starts nor ends inside a word (which would re-tokenize as different tokens).

Chunks are slices of the original string (not detokenized text), so they read exactly as the
document does: casing, accents and spacing kept. The first chunk starts at character 0 and the
last ends at the end of the text, so together they cover all of it.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from vecdb.engine.errors import InvalidArgument

__all__ = ["char_spans", "check_window", "token_windows"]


def check_window(window_tokens: int, overlap_tokens: int, max_window: int | None = None) -> None:
    """Refuse windows that cannot make progress or that the model would truncate."""
    if isinstance(window_tokens, bool) or not isinstance(window_tokens, int) or window_tokens < 1:
        raise InvalidArgument(f"window_tokens = {window_tokens!r}: use a whole number of at least 1")
    if isinstance(overlap_tokens, bool) or not isinstance(overlap_tokens, int) or overlap_tokens < 0:
        raise InvalidArgument(f"overlap_tokens = {overlap_tokens!r}: use a whole number of at least 0")
    if overlap_tokens >= window_tokens:
        raise InvalidArgument(
            f"overlap_tokens = {overlap_tokens} must be smaller than window_tokens = {window_tokens}, "
            "or the windows would not advance"
        )
    if max_window is not None and window_tokens > max_window:
        raise InvalidArgument(
            f"window_tokens = {window_tokens} is over the model's {max_window} tokens per text "
            "(its window less special tokens): each chunk would be truncated"
        )


def token_windows(
    n_tokens: int, window: int, overlap: int, word_starts: Sequence[int] | None = None
) -> list[tuple[int, int]]:
    """[start, end) token ranges of at most `window` tokens; each shares at least `overlap`
    tokens with the one before, and the last ends at n_tokens. No tokens, no windows.

    word_starts: the tokens that begin a word. With them, windows start and end on word
    boundaries (no chunk begins or ends inside a word), except where a word is so long that
    snapping would cost half a window: there a window cuts inside it."""
    check_window(window, overlap)
    if n_tokens <= 0:
        return []
    bounds = sorted({0, n_tokens, *(w for w in (word_starts or ()) if 0 < w < n_tokens)}) \
        if word_starts is not None else None
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        limit = start + window
        if limit >= n_tokens:
            spans.append((start, n_tokens))
            return spans
        end = limit
        if bounds is not None:
            snapped = bounds[bisect.bisect_right(bounds, limit) - 1]
            if 2 * (snapped - start) >= window:  # else a very long word: cut inside it
                end = snapped
        spans.append((start, end))
        nxt = end - overlap
        if bounds is not None:
            snapped = bounds[bisect.bisect_right(bounds, nxt) - 1]
            if snapped > start and 2 * (nxt - snapped) < window:  # else start inside the long word
                nxt = snapped
        start = max(nxt, start + 1)


def char_spans(
    offsets: Sequence[tuple[int, int]],
    text_length: int,
    window: int,
    overlap: int,
    word_starts: Sequence[int] | None = None,
) -> list[tuple[int, int]]:
    """Character [start, end) spans of the token windows, given each token's character offsets.
    The first span starts at 0 and the last ends at text_length."""
    windows = token_windows(len(offsets), window, overlap, word_starts)
    spans = []
    for start, end in windows:
        c0 = 0 if start == 0 else offsets[start][0]
        c1 = text_length if end == len(offsets) else offsets[end - 1][1]
        spans.append((c0, c1))
    return spans
