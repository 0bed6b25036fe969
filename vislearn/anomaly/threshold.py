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


class ConformalThreshold(NamedTuple):
    """The split-conformal threshold over ``n`` good images that tuned nothing, and what it promises.

    For a new good image exchangeable with the calibration ones, P(score > threshold) <= ``guaranteed_false_alarm``
    (averaged over draws of the calibration images; a single draw scatters around it, Beta-distributed).
    """

    threshold: float
    calibration_images: int  # n
    asked_false_alarm: float  # a, the user's --max-false-alarm
    guaranteed_false_alarm: float  # (n + 1 - k) / (n + 1) for the k-th smallest score, <= a unless the fallback applies
    lowest_supported: float  # 1 / (n + 1): no threshold among n scores promises less
    fallback: str  # "" or why the threshold promises more than was asked
    rank: int  # k: the threshold is the k-th smallest calibration score

    def describe(self) -> str:
        """One line for the log and the report."""
        said = (f"threshold {self.threshold:.2f} (z), the conformal quantile of {self.calibration_images} calibration good "
                f"images: at most {self.guaranteed_false_alarm:.1%} false alarms on good images like them "
                f"(asked {self.asked_false_alarm:.1%}; these images support rates down to {self.lowest_supported:.1%})")
        return said + (f"; warning: {self.fallback}" if self.fallback else "")


def conformal_rank(n: int, max_false_alarm: float) -> int:
    """k = ceil((n + 1)(1 - a)): the rank (1 = smallest) of the calibration score used as the threshold; may exceed n."""
    return max(1, math.ceil((n + 1) * (1 - max_false_alarm) - 1e-9))


def conformal_threshold(good_scores_n: torch.Tensor, max_false_alarm: float) -> ConformalThreshold:
    """The k-th smallest of ``n`` calibration scores, k = :func:`conformal_rank`; when k > n (a < 1/(n+1)) the
    largest score, which promises 1/(n+1) only, and ``fallback`` says so.

    E.g. 99 scores and a = 0.01 -> k = 99: the largest, promising 1 %; 39 scores and a = 0.05 -> k = 38.
    """
    n = len(good_scores_n)
    if n == 0:
        raise ValueError("a threshold needs scores of good images")
    if not 0 < max_false_alarm < 1:
        raise ValueError(f"max_false_alarm must be in (0, 1), got {max_false_alarm}")
    k = conformal_rank(n, max_false_alarm)
    fallback = ""
    if k > n:
        fallback = (f"{n} calibration images cannot promise {max_false_alarm:.1%} (they support {1 / (n + 1):.1%} at best); "
                    f"the threshold is their highest score. For {max_false_alarm:.1%}, "
                    f"{math.ceil(1 / max_false_alarm) - 1} calibration images are needed: add good images or raise "
                    "--held-out-fraction")
        k = n
    ordered = torch.sort(good_scores_n.double()).values
    return ConformalThreshold(float(ordered[k - 1]), n, max_false_alarm, (n + 1 - k) / (n + 1), 1 / (n + 1), fallback, k)
