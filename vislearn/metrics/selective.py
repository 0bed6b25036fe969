"""A confidence threshold with a guaranteed error rate among the images decided without a human.

Given calibration images (confidence, correct) that played no part in training or model choice, pick
the lowest confidence threshold whose decided images have an error rate certified below ``max_error``:

    P( error rate among the images decided (confidence >= threshold) > max_error ) <= 1 - level

over the draw of the calibration images. The thresholds are the calibration confidences, tested in a
fixed sequence from the most confident down (fixed-sequence testing, as in Learn then Test, Angelopoulos
et al. 2021, on the selective risk of Geifman & El-Yaniv 2017): each test asks whether the exact
(Clopper-Pearson) upper bound on the error among the images decided at that threshold lies below
``max_error`` at level ``delta = 1 - level``, and the sequence stops at the first threshold that fails.
Which thresholds are tested and in what order depends on the confidences only, never on which images
are wrong, so no union bound is needed: 1 % at 95 % needs 299 calibration images (a bisection with a
union bound over its 5 tests needed 459), and every calibration confidence is a candidate, so the
coverage is as fine as the calibration set allows. The sequence starts at the first threshold that
decides enough images to pass at all. The threshold then applies to new images from the same source.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.stats import beta

from ..errors import CalibrationError


class Guarantee(NamedTuple):
    threshold: float  # decide an image itself when its calibrated confidence >= threshold
    max_error: float  # the requested error rate among decided images
    level: float  # the probability with which the rate holds (1 - delta)
    coverage: float  # share of calibration images decided at the threshold
    error_bound: float  # certified upper bound of the error among decided images (< max_error)
    calibration_error: float  # observed error among the decided calibration images
    images: int  # calibration images


def error_upper_bound(errors, decided, delta: float):
    """Clopper-Pearson upper bound on a binomial rate: P(rate > bound) <= delta given ``errors`` of ``decided``.

    Scalars give a float; arrays (K,) of errors and decided give the (K,) bounds (1.0 where every decided image is wrong
    or none is decided)."""
    errors, decided = np.asarray(errors), np.asarray(decided)
    bound = np.where(errors >= decided, 1.0, beta.ppf(1 - delta, errors + 1, np.maximum(decided - errors, 1)))
    return float(bound) if bound.ndim == 0 else bound


def images_needed(max_error: float, level: float) -> int:
    """Fewest calibration images, all decided and all right, with which ``max_error`` can be certified:
    the smallest m with (1 - max_error)^m < 1 - level."""
    check_rate(max_error, "--max-error")
    check_rate(level, "the guarantee level")
    m = max(1, math.ceil(math.log(1 - level) / math.log(1 - max_error)))
    while error_upper_bound(0, m, 1 - level) >= max_error:  # the closed form can land on the boundary
        m += 1
    return m


def check_rate(value: float, name: str) -> None:
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise CalibrationError(f"{name} must be a rate strictly between 0 and 1, got {value!r}")


def guaranteed_threshold(confidence_n: np.ndarray, correct_n: np.ndarray, max_error: float, level: float = 0.95) -> Guarantee:
    """The lowest certified threshold for calibration confidences (N,) and correctness (N,) of the top-1 class."""
    check_rate(max_error, "--max-error")
    check_rate(level, "the guarantee level")
    confidence_n, correct_n = np.asarray(confidence_n, dtype=np.float64), np.asarray(correct_n, dtype=bool)
    n = len(confidence_n)
    needed = images_needed(max_error, level)
    if n < needed:
        raise CalibrationError(f"--max-error {max_error} with {level:.0%} confidence needs at least {needed} calibration images "
                               f"(this run has {n}); label more images for the held-out split or ask for a larger rate")
    order = np.argsort(-confidence_n, kind="stable")
    sorted_conf, wrong = confidence_n[order], ~correct_n[order]
    errors_top = np.cumsum(wrong)  # errors among the top-(i+1) most confident
    values = np.unique(sorted_conf)[::-1]  # descending: each next threshold decides more images (ties decide together)
    decided_at = np.searchsorted(-sorted_conf, -values, side="right")  # images with confidence >= value
    eligible = decided_at >= needed
    values, decided_k = values[eligible], decided_at[eligible]
    errors_k = errors_top[decided_k - 1]
    bound_k = error_upper_bound(errors_k, decided_k, 1 - level)
    failed = np.flatnonzero(bound_k >= max_error)
    passed = len(values) if len(failed) == 0 else int(failed[0])  # fixed-sequence testing stops at the first failure
    if passed == 0:
        raise CalibrationError(f"no confidence threshold certifies --max-error {max_error} with {level:.0%} confidence on "
                               f"{n} calibration images (at least {needed} images decided without error are needed); "
                               "label more held-out images or ask for a larger rate")
    k = passed - 1
    decided, errors = int(decided_k[k]), int(errors_k[k])
    return Guarantee(float(values[k]), max_error, level, decided / n, float(bound_k[k]), errors / decided, n)


def selective_risk_curve(confidence_n: np.ndarray, correct_n: np.ndarray, points: int = 60) -> list[dict]:
    """Observed (coverage, error among decided) as the threshold sweeps the calibration confidences."""
    order = np.argsort(-np.asarray(confidence_n, dtype=np.float64), kind="stable")
    wrong = ~np.asarray(correct_n, dtype=bool)[order]
    n = len(order)
    rows = []
    for decided in sorted({max(1, round(n * (i + 1) / points)) for i in range(points)}):
        rows.append({"coverage": decided / n, "error": float(wrong[:decided].mean()),
                     "threshold": float(np.asarray(confidence_n)[order][decided - 1])})
    return rows
