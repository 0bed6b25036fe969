"""The referral rule: reasons in order, the unlike-training threshold's promise, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vislearn.errors import CalibrationError
from vislearn.metrics.referral import (LOW, UNLIKE, CalibrationImages, UnlikeTraining, build_referrer,
                                       conformal_upper_threshold)


def test_the_unlike_threshold_refers_at_most_the_rate_of_images_like_the_calibration_ones():
    rng = np.random.default_rng(0)
    referred = []
    for _ in range(200):
        threshold = conformal_upper_threshold(rng.chisquare(8, 300), 0.05)
        referred.append((rng.chisquare(8, 2_000) > threshold).mean())
    assert np.mean(referred) <= 0.05 + 0.005
    assert conformal_upper_threshold(np.arange(1, 100), 0.05) == 95  # ceil(100 * 0.95) = 95th smallest


def _calibration(n=600, k=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, k, (n,), generator=generator)
    logits = torch.randn(n, k, generator=generator) + 5 * torch.nn.functional.one_hot(labels, k)
    return CalibrationImages(logits, labels, torch.rand(n, generator=generator))


def test_reasons_come_in_order_unlike_then_ambiguous_then_low_confidence():
    unlike = UnlikeTraining(torch.zeros(3, 2), torch.eye(2), threshold=1.0, rate=0.02)
    rule = build_referrer(1.0, _calibration(), unlike, ["cat", "dog", "fox"], refer_below=0.9, set_level=0.9)
    logits = torch.tensor([[9.0, 0, 0], [3.0, 3.0, -5], [1.0, 0.6, 0.2], [9.0, 0, 0]])
    decisions = rule.decide(logits, torch.tensor([5.0, 0.1, 0.1, 0.1]))
    assert [d.refer_reason for d in decisions][0] == UNLIKE
    assert decisions[1].refer_reason == "ambiguous: cat|dog" and decisions[1].prediction_set == (0, 1)
    assert decisions[2].refer_reason.startswith("ambiguous") or decisions[2].refer_reason == LOW
    assert decisions[3].refer_reason == "" and not decisions[3].refer_to_human


def test_max_error_replaces_the_fixed_threshold_and_says_so():
    rule = build_referrer(1.0, _calibration(n=1_200), None, ["a", "b", "c"], refer_below=0.8, max_error=0.02)
    assert rule.guarantee is not None and "--max-error 0.02" in rule.threshold_rule
    assert rule.confidence_threshold == rule.guarantee.threshold


def test_a_run_without_calibration_images_cannot_promise_a_rate():
    with pytest.raises(CalibrationError, match="retrain"):
        build_referrer(1.0, None, None, ["a", "b"], max_error=0.01)
    plain = build_referrer(1.0, None, None, ["a", "b"], refer_below=0.7)  # the documented fallback: confidence alone
    assert [d.refer_reason for d in plain.decide(torch.tensor([[0.0, 0.1], [5.0, 0.0]]))] == [LOW, ""]


def test_a_single_class_calibration_set_is_a_clear_error():
    one = CalibrationImages(torch.randn(600, 2), torch.zeros(600, dtype=torch.long))
    with pytest.raises(CalibrationError, match="single class"):
        build_referrer(1.0, one, None, ["a", "b"], max_error=0.05)
