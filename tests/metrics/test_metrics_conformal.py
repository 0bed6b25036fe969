"""Prediction sets (split conformal, APS via MAPIE) hold the truth as often as promised."""
from __future__ import annotations

import numpy as np
import pytest

from vislearn.errors import CalibrationError
from vislearn.metrics.conformal import aps_quantile, aps_sets, conformalize, images_needed_for_sets, prediction_sets, sets_of


def _draw(n: int, k: int, rng):
    logits = 2.5 * rng.normal(size=(n, k))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(k, p=p) for p in probs])
    return probs, labels


def test_sets_contain_the_true_class_at_least_as_often_as_the_level():
    rng = np.random.default_rng(0)
    coverages, sizes = [], []
    for _ in range(20):
        probs, labels = _draw(1_400, 6, rng)
        sets = prediction_sets(probs[:400], labels[:400], probs[400:], 0.9)
        coverages.append(sets[np.arange(1_000), labels[400:]].mean())
        sizes.append(sets.sum(axis=1).mean())
    assert np.mean(coverages) >= 0.9 - 0.01  # the promise is on average over calibrations; 0.01 for 20 draws' noise
    assert np.mean(sizes) < 6  # and the sets say something: fewer than all classes


def test_a_confident_model_gets_single_class_sets():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 500)
    probs = np.full((500, 4), 0.001)
    probs[np.arange(500), labels] = 0.997
    sets = prediction_sets(probs[:300], labels[:300], probs[300:], 0.95)
    assert (sets.sum(axis=1) == 1).all() and sets[np.arange(200), labels[300:]].all()


def test_too_few_calibration_images_for_the_level_is_a_clear_error():
    assert images_needed_for_sets(0.95) == 19
    probs = np.full((10, 3), 1 / 3)
    with pytest.raises(CalibrationError, match="at least 19 calibration images"):
        prediction_sets(probs, np.arange(10) % 3, probs, 0.95)
    with pytest.raises(CalibrationError, match="strictly between 0 and 1"):
        prediction_sets(probs, np.arange(10) % 3, probs, 1.5)


def test_the_same_calibration_gives_the_same_sets_every_time():
    """MAPIE's APS calibration scores draw random numbers: seeded, two predict calls on one run agree."""
    probs, labels = _draw(600, 5, np.random.default_rng(3))
    first = prediction_sets(probs[:300], labels[:300], probs[300:], 0.9)
    assert all((prediction_sets(probs[:300], labels[:300], probs[300:], 0.9) == first).all() for _ in range(3))


@pytest.mark.parametrize("seed", range(6))
def test_numpy_aps_sets_equal_mapies_on_random_and_tied_probabilities(seed):
    """What an exported run decides without MAPIE (the sidecar's threshold + aps_sets) is MAPIE's set, row for row."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 12))
    calib = rng.dirichlet(np.ones(k) * rng.uniform(0.1, 2), size=200)
    labels = np.array([rng.choice(k, p=p) for p in calib])
    level = (0.5, 0.8, 0.9, 0.95, 0.8, 0.9)[seed]
    fitted = conformalize(calib, labels, level)
    probs = rng.dirichlet(np.ones(k) * rng.uniform(0.1, 2), size=400)
    probs[0], probs[1] = np.eye(k)[0], np.full(k, 1.0 / k)  # one sure class; every class tied
    expected = sets_of(fitted, probs)
    assert np.array_equal(aps_sets(probs, aps_quantile(fitted, level)), expected)
    assert expected.sum(1).min() >= 1 and expected[1].all()


@pytest.mark.parametrize("level", [0.5, 0.9, 0.95])
def test_the_aps_threshold_from_mapies_public_scores_is_the_one_mapie_predicts_with(level):
    rng = np.random.default_rng(1)
    calib = rng.dirichlet(np.ones(5) * 0.5, size=60)
    fitted = conformalize(calib, np.array([rng.choice(5, p=p) for p in calib]), level)
    sets_of(fitted, calib[:2])  # MAPIE computes its quantile when it first predicts
    mapies_own = fitted._mapie_classifier.conformity_score_function_.quantiles_  # pinned MAPIE's private state, test only
    assert aps_quantile(fitted, level) == float(np.asarray(mapies_own).ravel()[0])
