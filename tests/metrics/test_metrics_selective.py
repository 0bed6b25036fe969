"""Selective classification with guaranteed risk: the bound, the sample size it needs, and the promise itself."""
from __future__ import annotations

import numpy as np
import pytest

from vislearn.errors import CalibrationError
from vislearn.metrics.selective import error_upper_bound, guaranteed_threshold, images_needed, selective_risk_curve


def test_clopper_pearson_bound_with_no_errors_has_its_closed_form():
    # P(0 errors in m | rate b) = (1 - b)^m = delta  ->  b = 1 - delta^(1/m)
    assert error_upper_bound(0, 299, 0.05) == pytest.approx(1 - 0.05 ** (1 / 299), rel=1e-6)
    assert error_upper_bound(3, 3, 0.05) == 1.0 and error_upper_bound(0, 0, 0.05) == 1.0
    assert error_upper_bound(5, 1000, 0.05) > 5 / 1000  # an upper bound lies above the observed rate


def test_images_needed_is_the_smallest_set_that_can_certify_the_rate():
    needed = images_needed(0.01, 0.95)
    assert (1 - 0.01) ** needed < 0.05 <= (1 - 0.01) ** (needed - 1)
    assert needed == 299  # no union bound: a bisection over 16 thresholds needed 459
    assert images_needed(0.05, 0.95) < images_needed(0.02, 0.95) < needed


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, float("nan")])
def test_a_rate_outside_zero_one_is_a_clear_error(bad):
    with pytest.raises(CalibrationError, match="strictly between 0 and 1"):
        guaranteed_threshold(np.ones(10), np.ones(10, bool), bad)


def test_too_few_calibration_images_name_the_number_needed():
    with pytest.raises(CalibrationError, match=f"at least {images_needed(0.01, 0.95)} calibration images"):
        guaranteed_threshold(np.ones(100), np.ones(100, bool), 0.01)


def _draw(n: int, rng, sharpness: float = 12):
    """Calibrated confidences: P(correct | c) = c, with c mostly high (a good classifier; sharper when ``sharpness`` grows)."""
    confidence = 1 - rng.beta(0.5, sharpness, size=n)
    return confidence, rng.random(n) < confidence


def test_the_error_among_decided_images_stays_below_the_rate_as_often_as_promised():
    rng = np.random.default_rng(0)
    test_conf, test_correct = _draw(200_000, rng)
    order = np.argsort(-test_conf)
    cum_wrong = np.cumsum(~test_correct[order])
    sorted_conf = test_conf[order]
    violations, coverages = 0, []
    for _ in range(200):
        conf, correct = _draw(2_000, rng)
        try:
            g = guaranteed_threshold(conf, correct, 0.02, level=0.9)
        except CalibrationError:  # an error among the most confident stops the sequence early: nothing decided
            coverages.append(0.0)
            continue
        decided = int(np.searchsorted(-sorted_conf, -g.threshold, side="right"))
        violations += cum_wrong[decided - 1] / decided > 0.02
        coverages.append(decided / len(test_conf))
        assert g.error_bound < 0.02 and g.calibration_error <= g.error_bound
    assert violations <= 200 * 0.1  # promised: at most 10 % of calibrations
    assert np.mean(coverages) > 0.5  # and it still decides most images


def test_the_promise_holds_with_few_calibration_images_where_each_test_uses_the_whole_delta():
    """500 calibration images for 1 % at 95 %: only zero or one error among the decided can pass, so this is where
    testing every threshold without a union bound would break first if the sequence were not fixed."""
    rng = np.random.default_rng(3)
    test_conf, test_correct = _draw(200_000, rng, sharpness=80)
    order = np.argsort(-test_conf)
    cum_wrong, sorted_conf = np.cumsum(~test_correct[order]), test_conf[order]
    violations, certified = 0, 0
    for _ in range(300):
        conf, correct = _draw(500, rng, sharpness=80)
        try:
            g = guaranteed_threshold(conf, correct, 0.01, level=0.95)
        except CalibrationError:
            continue  # nothing certified: every image referred, the promise kept
        certified += 1
        decided = int(np.searchsorted(-sorted_conf, -g.threshold, side="right"))
        violations += cum_wrong[decided - 1] / decided > 0.01
    assert certified >= 100 and violations <= 0.05 * 300


def test_the_search_stops_at_the_first_threshold_it_cannot_certify():
    confidence = np.linspace(1.0, 0.5, 1_000)
    correct = np.ones(1_000, bool)
    correct[350] = False  # the 351st most confident is wrong: 299..350 certify, 351 does not (1 error needs 473)
    correct[900:] = True
    g = guaranteed_threshold(confidence, correct, 0.01)
    assert g.coverage == pytest.approx(350 / 1_000) and g.calibration_error == 0.0


def test_a_model_that_is_never_wrong_decides_everything():
    g = guaranteed_threshold(np.linspace(0.9, 1.0, 1_000), np.ones(1_000, bool), 0.01)
    assert g.coverage == 1.0 and g.threshold == pytest.approx(0.9)


def test_the_risk_curve_falls_as_coverage_shrinks_on_calibrated_scores():
    rng = np.random.default_rng(1)
    conf, correct = _draw(5_000, rng)
    rows = selective_risk_curve(conf, correct, points=10)
    assert rows[-1]["coverage"] == 1.0 and rows[0]["error"] < rows[-1]["error"]
