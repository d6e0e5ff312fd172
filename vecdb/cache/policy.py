"""Per-category cache policies and the bounded load adaptation that relaxes them.

A `CachePolicy` says, for one category of LLM traffic, how similar a prompt must be to a cached
one to reuse its answer (`threshold`, cosine similarity), how long an answer stays valid
(`ttl_seconds`), how much the category may hold (`max_entries`, `max_bytes`, LRU eviction inside
the category only), whether only the same normalized prompt may hit (`exact_match_only`, for
volatile or safety-critical categories), and which example prompts route unlabelled traffic to
it (`examples`, for the nearest-centroid classifier).

Load adaptation is tracked per LLM model (the one that produced the answers): each `ReportLoad`
above `high_watermark` raises the model's level by one (up to the level where every bound is
reached); a report below `low_watermark` drops it straight back to 0; reports in between hold
it. At level n a category's effective threshold is `max(threshold - n * threshold_step,
threshold - max_threshold_relax)` (never below 0) and its TTL factor is `min(1 + n *
ttl_factor_step, max_ttl_factor)`: an overloaded model gets more (slightly looser) hits and its
answers stay valid longer, within bounds the operator set.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vecdb.engine.errors import InvalidArgument

__all__ = [
    "DEFAULT_CATEGORY",
    "MAX_CATEGORY_CHARS",
    "MAX_EXAMPLES",
    "CachePolicy",
    "LoadAdaptation",
    "effective_threshold",
    "max_level",
    "policy_from_json",
    "policy_to_json",
    "ttl_factor",
]

DEFAULT_CATEGORY = "default"
MAX_CATEGORY_CHARS = 128
MAX_EXAMPLES = 10_000
_MAX_EXAMPLE_CHARS = 16_384
_LEVEL_CAP = 1000  # tiny steps would otherwise give absurd levels


@dataclass(frozen=True)
class LoadAdaptation:
    """Bounds of the load-adaptive relaxation of one category (see the module docstring).

    high_watermark: model load (0..1) above which each ReportLoad relaxes one more step.
    low_watermark: load below which the model returns to level 0 (no relaxation).
    threshold_step: how much the threshold drops per level.
    max_threshold_relax: the threshold never drops more than this below the configured one.
    ttl_factor_step: how much the TTL multiplier grows per level (from 1.0).
    max_ttl_factor: the TTL multiplier never exceeds this.
    """

    high_watermark: float = 0.85
    low_watermark: float = 0.6
    threshold_step: float = 0.02
    max_threshold_relax: float = 0.06
    ttl_factor_step: float = 0.5
    max_ttl_factor: float = 3.0

    def validate(self, where: str = "adaptation") -> None:
        for name in ("high_watermark", "low_watermark", "threshold_step", "max_threshold_relax"):
            _check_unit(f"{where}.{name}", getattr(self, name))
        if self.low_watermark > self.high_watermark:
            raise InvalidArgument(
                f"{where}.low_watermark = {self.low_watermark} is above {where}.high_watermark = "
                f"{self.high_watermark}; the low watermark must be <= the high one"
            )
        _check_finite(f"{where}.ttl_factor_step", self.ttl_factor_step, low=0.0)
        _check_finite(f"{where}.max_ttl_factor", self.max_ttl_factor, low=1.0)


@dataclass(frozen=True)
class CachePolicy:
    """How one category is cached.

    category: the category name (1..128 characters).
    threshold: cosine similarity in [0, 1] a lookup needs to hit (compared with >=).
    ttl_seconds: how long an entry stays valid after it is stored; 0 = never expires. The TTL
        is fixed per entry when it is stored; a later SetPolicy applies to later stores.
    max_entries: most entries the category holds (0 = unlimited); LRU eviction inside it.
    max_bytes: most prompt + answer + metadata bytes it holds (0 = unlimited); LRU eviction.
    exact_match_only: only the same normalized prompt (strip, collapsed whitespace, casefold)
        hits; vector lookups always miss in such a category.
    enabled: a disabled category misses every lookup and refuses stores (FailedPrecondition);
        its entries are kept and come back when it is enabled again.
    near_miss_margin: a miss with similarity >= threshold - margin counts as a near-miss.
    examples: labelled example prompts; the classifier routes unlabelled prompts to the
        category whose example centroid is nearest.
    adaptation: bounds of the load-adaptive relaxation.
    """

    category: str
    threshold: float = 0.92
    ttl_seconds: float = 86400.0
    max_entries: int = 0
    max_bytes: int = 0
    exact_match_only: bool = False
    enabled: bool = True
    near_miss_margin: float = 0.05
    examples: tuple[str, ...] = ()
    adaptation: LoadAdaptation = field(default_factory=LoadAdaptation)

    def validate(self) -> None:
        """Raise InvalidArgument naming the first field that is out of range."""
        if not isinstance(self.category, str) or not self.category.strip():
            raise InvalidArgument(f"policy.category = {self.category!r}; give a non-empty name")
        if len(self.category) > MAX_CATEGORY_CHARS or self.category != self.category.strip():
            raise InvalidArgument(
                f"policy.category = {self.category!r}; use at most {MAX_CATEGORY_CHARS} characters "
                "without leading or trailing spaces"
            )
        where = f"policy[{self.category!r}]"
        _check_unit(f"{where}.threshold", self.threshold)
        _check_unit(f"{where}.near_miss_margin", self.near_miss_margin)
        if isinstance(self.ttl_seconds, bool) or not isinstance(self.ttl_seconds, (int, float)):
            raise InvalidArgument(f"{where}.ttl_seconds = {self.ttl_seconds!r}; give a number of seconds")
        if math.isnan(self.ttl_seconds) or self.ttl_seconds < 0 or math.isinf(self.ttl_seconds):
            raise InvalidArgument(
                f"{where}.ttl_seconds = {self.ttl_seconds}; give a finite number >= 0 (0 = never expires)"
            )
        for name in ("max_entries", "max_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidArgument(f"{where}.{name} = {value!r}; give an integer >= 0 (0 = unlimited)")
        for name in ("exact_match_only", "enabled"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidArgument(f"{where}.{name} = {getattr(self, name)!r}; give true or false")
        if not isinstance(self.examples, tuple):
            raise InvalidArgument(f"{where}.examples must be a tuple of strings, got {type(self.examples).__name__}")
        if len(self.examples) > MAX_EXAMPLES:
            raise InvalidArgument(f"{where}.examples has {len(self.examples)} prompts; at most {MAX_EXAMPLES}")
        for i, ex in enumerate(self.examples):
            if not isinstance(ex, str) or not ex.strip() or len(ex) > _MAX_EXAMPLE_CHARS:
                raise InvalidArgument(
                    f"{where}.examples[{i}] = {ex!r:.60}; give a non-empty string of at most "
                    f"{_MAX_EXAMPLE_CHARS} characters"
                )
        if not isinstance(self.adaptation, LoadAdaptation):
            raise InvalidArgument(f"{where}.adaptation must be a LoadAdaptation")
        self.adaptation.validate(f"{where}.adaptation")

    def renamed(self, category: str) -> CachePolicy:
        return replace(self, category=category)


def _check_unit(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"{name} = {value!r}; give a number in [0, 1]")


def _check_finite(name: str, value: Any, *, low: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        raise InvalidArgument(f"{name} = {value!r}; give a finite number >= {low}")


def effective_threshold(policy: CachePolicy, level: int) -> float:
    """The threshold at adaptation level `level` (bounded by max_threshold_relax and 0)."""
    if level <= 0:
        return float(policy.threshold)
    a = policy.adaptation
    relaxed = max(policy.threshold - level * a.threshold_step, policy.threshold - a.max_threshold_relax)
    return float(max(relaxed, 0.0))


def ttl_factor(policy: CachePolicy, level: int) -> float:
    """The TTL multiplier at adaptation level `level` (1.0 at level 0, at most max_ttl_factor)."""
    if level <= 0:
        return 1.0
    a = policy.adaptation
    return float(min(1.0 + level * a.ttl_factor_step, a.max_ttl_factor))


def max_level(policies: list[CachePolicy]) -> int:
    """The level past which no policy relaxes further (at most 1000): levels are capped here."""
    top = 0
    for p in policies:
        a = p.adaptation
        if a.threshold_step > 0:
            top = max(top, _steps(a.max_threshold_relax, a.threshold_step))
        if a.ttl_factor_step > 0:
            top = max(top, _steps(a.max_ttl_factor - 1.0, a.ttl_factor_step))
    return int(top)


def _steps(span: float, step: float) -> int:
    ratio = span / step
    return _LEVEL_CAP if ratio >= _LEVEL_CAP else math.ceil(ratio - 1e-9)


def policy_to_json(policy: CachePolicy) -> dict[str, Any]:
    data = asdict(policy)
    data["examples"] = list(policy.examples)
    return data


def policy_from_json(data: dict[str, Any]) -> CachePolicy:
    data = dict(data)
    adaptation = LoadAdaptation(**data.pop("adaptation", {}))
    data["examples"] = tuple(data.get("examples", ()))
    return CachePolicy(adaptation=adaptation, **data)
