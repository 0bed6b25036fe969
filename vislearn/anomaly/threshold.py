"""Thresholds and score calibration from good images only."""
from __future__ import annotations

import math
from typing import NamedTuple

import torch


class GoodStats(NamedTuple):
    """Mean and spread of a score over good images: ``z = (score - mean) / std``."""

    mean: float
    std: float

    def z(self, scores: torch.Tensor) -> torch.Tensor:
        return (scores - self.mean) / self.std


def good_stats(good_scores_n: torch.Tensor, min_std: float = 1e-6) -> GoodStats:
    scores = good_scores_n.double()
    return GoodStats(float(scores.mean()), max(float(scores.std(unbiased=True)) if len(scores) > 1 else 0.0, min_std))


def threshold_at_false_alarm(good_scores_n: torch.Tensor, max_false_alarm: float) -> float:
    """Smallest score ``t`` among the good scores such that at most ``max_false_alarm`` of them are ``> t``.

    E.g. scores 1..100 and 0.01 -> 99: only the score 100 is flagged.
    """
    if len(good_scores_n) == 0:
        raise ValueError("a threshold needs scores of good images")
    ordered = torch.sort(good_scores_n.double(), descending=True).values
    allowed = int(math.floor(max_false_alarm * len(ordered) + 1e-9))
    return float(ordered[min(allowed, len(ordered) - 1)])
