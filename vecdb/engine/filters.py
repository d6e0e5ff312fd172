"""Payload filters: the condition tree and its evaluation against payloads.

A `Filter` holds must / should / must_not lists of conditions. Keys are dotted payload paths;
when a path meets a list, a condition holds if it holds for any element (so `tags` matching
"red" finds {"tags": ["red", "blue"]}).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from vecdb.engine.types import PointId

__all__ = ["MAX_FILTER_DEPTH", "Condition", "Filter", "HasId", "IsEmpty", "Match", "MatchAny", "Range"]

MAX_FILTER_DEPTH = 16


@dataclass(frozen=True)
class Match:
    """key == value (value: str, int or bool; an int also matches an equal float payload)."""

    key: str
    value: str | int | bool


@dataclass(frozen=True)
class MatchAny:
    """key equals any of values (all str, or all int)."""

    key: str
    values: tuple[str | int, ...]


@dataclass(frozen=True)
class Range:
    """A numeric range on key; at least one bound is set."""

    key: str
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


@dataclass(frozen=True)
class HasId:
    ids: frozenset[PointId]


@dataclass(frozen=True)
class IsEmpty:
    """The key is missing, null or an empty list."""

    key: str


@dataclass(frozen=True)
class Filter:
    must: tuple[Condition, ...] = ()
    should: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()


Condition = Union[Match, MatchAny, Range, HasId, IsEmpty, Filter]
