"""Distance metrics and how their raw values turn into user-facing scores.

cosine and dot scores are similarities (higher is better); l2 scores are Euclidean distances
(lower is better). Every layer above speaks in these scores.
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["Metric"]


class Metric(str, enum.Enum):
    COSINE = "cosine"
    DOT = "dot"
    L2 = "l2"

    @property
    def higher_is_better(self) -> bool:
        return self is not Metric.L2

    def passes(self, score: float, threshold: float) -> bool:
        """Whether `score` clears a score threshold (a minimum similarity or a maximum distance)."""
        return score >= threshold if self.higher_is_better else score <= threshold

    def sort_key(self, scores: np.ndarray) -> np.ndarray:
        """Keys that sort best-first in ascending order."""
        return -scores if self.higher_is_better else scores
