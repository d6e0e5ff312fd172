"""Checks on encode requests, run before anything is queued or loaded.

Every refusal is an `InvalidArgument` whose message names the text by its index, so a caller
with a thousand texts knows which one to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vecdb.encoder.types import EncodeKind, EncoderLimits, TextRole
from vecdb.engine.errors import InvalidArgument

__all__ = ["check_kinds", "parse_kinds", "parse_role", "validate_texts"]


def validate_texts(texts: Any, limits: EncoderLimits) -> None:
    """Refuse what the model cannot or must not take: anything but a non-empty list of non-empty,
    valid-UTF-8 strings within the limits."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise InvalidArgument(f"texts must be a list of strings, got {type(texts).__name__}")
    if not texts:
        raise InvalidArgument("texts is empty: send at least one text")
    if len(texts) > limits.max_texts:
        raise InvalidArgument(
            f"texts holds {len(texts)} texts, over the limit of {limits.max_texts} per call (max_texts); "
            "send them in several calls"
        )
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            if isinstance(text, (bytes, bytearray, memoryview)):
                raise InvalidArgument(f"texts[{i}] is {type(text).__name__}, not str: decode it as UTF-8 first")
            raise InvalidArgument(f"texts[{i}] is {type(text).__name__}, not str")
        if not text or text.isspace():
            raise InvalidArgument(f"texts[{i}] is empty" + (" (only whitespace)" if text else ""))
        # A str is valid UTF-8 unless it holds lone surrogates (from surrogateescape decoding or
        # a broken client); encoding finds them and sizes the text in one pass.
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InvalidArgument(
                f"texts[{i}] is not valid UTF-8: it holds a lone surrogate {text[exc.start]!r} at character "
                f"{exc.start}"
            ) from None
        if size > limits.max_text_bytes:
            raise InvalidArgument(
                f"texts[{i}] is {size} bytes of UTF-8, over the limit of {limits.max_text_bytes} bytes "
                "(max_text_bytes); shorten it or split it into chunks"
            )


def parse_kinds(kinds: Iterable[EncodeKind | str]) -> frozenset[EncodeKind]:
    """The kinds as a frozenset of EncodeKind; refuses an empty set and unknown names."""
    if isinstance(kinds, (str, EncodeKind)):
        kinds = (kinds,)
    out: set[EncodeKind] = set()
    for k in kinds:
        try:
            out.add(EncodeKind(k))
        except ValueError:
            raise InvalidArgument(
                f"kind {k!r} is unknown; use one of {[e.value for e in EncodeKind]}"
            ) from None
    if not out:
        raise InvalidArgument(f"kinds is empty: ask for at least one of {[e.value for e in EncodeKind]}")
    return frozenset(out)


def parse_role(role: TextRole | str) -> TextRole:
    try:
        return TextRole(role)
    except ValueError:
        raise InvalidArgument(f"role {role!r} is unknown; use one of {[r.value for r in TextRole]}") from None


def check_kinds(model: str, offered: Sequence[EncodeKind], asked: frozenset[EncodeKind]) -> None:
    """Refuse kinds the model does not give, naming the model and what it gives."""
    missing = sorted(k.value for k in asked if k not in offered)
    if missing:
        raise InvalidArgument(
            f"model {model!r} does not give {missing} vectors; it gives {[k.value for k in offered]}"
            + (": configure a sparse (SPLADE) model for sparse vectors" if "sparse" in missing else "")
        )
