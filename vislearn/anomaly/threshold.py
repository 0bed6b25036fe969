"""Thresholds and score calibration from good images only."""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

# The threshold is also kept at or above a tail fit's bound: the largest of 40 calibration scores (the conformal
# threshold for 1 %) is a noisy estimate of the tail. Good test images flagged, textile 250 px seeds 0-2 (40
# calibration images each, 300 good test images): at --max-false-alarm 0.01 (promised 2.4 % by the rank alone) 20
# -> 4 with the bound at 90 % confidence (at 50 %: 13, at 75 %: 6); at 0.05 (promised 4.9 %) 31 -> 17. The cost:
# tiny specks detected at 0.01 99/98/99 % -> 98/95/98 %
TAIL_CONFIDENCE = 0.9
TAIL_DRAWS = 2000  # parametric bootstrap draws for the bound
MIN_TAIL_IMAGES = 30  # fewer calibration scores: the conformal rule alone (the bound of a fit to 16 scores lay so high
# that grass cracks detected at 1 % fell from 62 to 0 %, while the conformal rule alone flagged 10 of 120 good grass and
# gravel images against a promised 5.9 %: within its range)
_EULER = 0.5772156649015329


def _gumbel_quantile(scores_bn: torch.Tensor, max_false_alarm: float) -> torch.Tensor:
    """(B, n) samples -> (B,) the (1 - a)-quantile of the Gumbel (maxima) law fitted to each row by its moments."""
    scale = scores_bn.std(dim=1, unbiased=True) * math.sqrt(6) / math.pi
    location = scores_bn.mean(dim=1) - _EULER * scale
    return location - scale * math.log(-math.log(1 - max_false_alarm))


def gumbel_tail_bound(good_scores_n: torch.Tensor, max_false_alarm: float, confidence: float = TAIL_CONFIDENCE,
                      draws: int = TAIL_DRAWS, seed: int = 0) -> float:
    """Upper ``confidence`` bound of the score that a fraction ``max_false_alarm`` of good images exceed, for a Gumbel
    law (the law of maxima: an image's score is its map's peak) fitted to the n scores by moments; the bound by a
    parametric bootstrap (``draws`` samples of n from the fit, refitted; the ``confidence`` quantile of their
    quantiles). Deterministic for a ``seed``. E.g. 40 scores of mean 0.5, spread 0.9 and a = 0.01 -> about 4.
    """
    scores = good_scores_n.double()[None]
    scale = float(scores.std(unbiased=True)) * math.sqrt(6) / math.pi
    location = float(scores.mean()) - _EULER * scale
    uniform = torch.rand(draws, scores.shape[1], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    samples = location - scale * torch.log(-torch.log(uniform.clamp(1e-12, 1 - 1e-12)))
    return float(torch.quantile(_gumbel_quantile(samples, max_false_alarm), confidence))


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
    # the k-th score itself and the upper confidence bound of the asked quantile of a Gumbel tail fitted to the
    # calibration scores (None: too few images, or a run saved before the tail was fitted); threshold = the higher
    ranked_score: float | None = None
    tail_bound: float | None = None

    def describe(self) -> str:
        """One line for the log and the report."""
        said = (f"threshold {self.threshold:.2f} (z): at most {self.guaranteed_false_alarm:.1%} false alarms on good images "
                f"like the {self.calibration_images} calibration ones by the conformal rule (their rank-{self.rank} score; "
                f"these images support rates down to {self.lowest_supported:.1%})")
        if self.tail_bound is not None:
            said += (f"; a Gumbel tail fitted to their scores puts {self.asked_false_alarm:.1%} (asked) above "
                     f"{self.tail_bound:.2f} with {TAIL_CONFIDENCE:.0%} confidence, and the threshold is the higher of that "
                     f"and the rank-{self.rank} score {self.ranked_score:.2f}")
        return said + (f"; warning: {self.fallback}" if self.fallback else "")


def conformal_rank(n: int, max_false_alarm: float) -> int:
    """k = ceil((n + 1)(1 - a)): the rank (1 = smallest) of the calibration score used as the threshold; may exceed n."""
    return max(1, math.ceil((n + 1) * (1 - max_false_alarm) - 1e-9))


def conformal_threshold(good_scores_n: torch.Tensor, max_false_alarm: float, tail: bool = True) -> ConformalThreshold:
    """The k-th smallest of ``n`` calibration scores, k = :func:`conformal_rank`; when k > n (a < 1/(n+1)) the
    largest score, which promises 1/(n+1) only, and ``fallback`` says so. With ``tail`` and at least
    ``MIN_TAIL_IMAGES`` scores, raised to :func:`gumbel_tail_bound` where that is higher (a higher threshold keeps
    the conformal promise).

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
                    f"the conformal threshold is their highest score. For {max_false_alarm:.1%}, "
                    f"{math.ceil(1 / max_false_alarm) - 1} calibration images are needed: add good images or raise "
                    "--held-out-fraction")
        k = n
    ranked = float(torch.sort(good_scores_n.double()).values[k - 1])
    bound = gumbel_tail_bound(good_scores_n, max_false_alarm) if tail and n >= MIN_TAIL_IMAGES else None
    return ConformalThreshold(max(ranked, bound if bound is not None else ranked), n, max_false_alarm, (n + 1 - k) / (n + 1),
                              1 / (n + 1), fallback, k, ranked, bound)
