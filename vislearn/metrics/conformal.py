"""Prediction sets by split conformal prediction (APS score), computed by MAPIE.

With calibration images that played no part in training or model choice, the set of classes returned for
a new image from the same source contains its true class with probability at least ``level`` (Romano et
al. 2020, "adaptive prediction sets"; MAPIE's ``SplitConformalClassifier``, ``include_last_label=True``:
the conservative, non-random variant). The network's calibrated probabilities are handed to MAPIE as the
features of a classifier that returns them unchanged, so MAPIE never sees nor refits the network.
"""
from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..errors import CalibrationError
from .selective import check_rate

SETS_SEED = 0  # MAPIE's APS calibration scores subtract U * p(true class), U uniform: seeded, the same run gives the same sets


class GivenProbabilities(ClassifierMixin, BaseEstimator):
    """An already-fitted 'classifier' whose input X (N, K) is its class probabilities."""

    def __init__(self, num_classes: int = 2):
        self.num_classes = num_classes

    def fit(self, X=None, y=None):
        self.classes_ = np.arange(self.num_classes)
        self.n_features_in_ = self.num_classes
        return self

    def predict_proba(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64)

    def predict(self, X) -> np.ndarray:
        return np.asarray(X).argmax(axis=1)


def images_needed_for_sets(level: float) -> int:
    """Fewest calibration images for which a ``level`` set can be smaller than every class: ceil(1/(1-level)) - 1."""
    return int(np.ceil(1 / (1 - level))) - 1


def conformalize(calib_probs_nk: np.ndarray, calib_labels_n: np.ndarray, level: float):
    """A fitted MAPIE ``SplitConformalClassifier`` on calibration probabilities (N, K) and true labels (N,)."""
    from mapie.classification import SplitConformalClassifier

    check_rate(level, "--prediction-sets")
    calib_probs_nk, calib_labels_n = np.asarray(calib_probs_nk, dtype=np.float64), np.asarray(calib_labels_n)
    needed = images_needed_for_sets(level)
    if len(calib_labels_n) < needed:
        raise CalibrationError(f"--prediction-sets {level} needs at least {needed} calibration images (this run has "
                               f"{len(calib_labels_n)}); label more held-out images or ask for a lower level")
    sets = SplitConformalClassifier(GivenProbabilities(calib_probs_nk.shape[1]).fit(), confidence_level=level,
                                    conformity_score="aps", prefit=True, random_state=SETS_SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MAPIE warns about the estimator's n_features; our X is the probabilities
        return sets.conformalize(calib_probs_nk, calib_labels_n)


def sets_of(conformalized, probs_mk: np.ndarray) -> np.ndarray:
    """Boolean (M, K): class k is in image m's set."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, chosen = conformalized.predict_set(np.asarray(probs_mk, dtype=np.float64), conformity_score_params={"include_last_label": True})
    return chosen[:, :, 0].astype(bool)


def aps_quantile(conformalized, level: float) -> float:
    """The fitted APS threshold at ``level`` (MAPIE's quantile for it): what an exported run carries so that
    :func:`aps_sets` rebuilds the sets without MAPIE.

    From MAPIE's public ``conformity_scores`` (N,) of the calibration images, by MAPIE's split-conformal rule: the
    ceil((N + 1)(1 - alpha))-th smallest score, alpha = 1 - level computed in decimals as MAPIE does.
    """
    scores = np.asarray(conformalized.conformity_scores, dtype=np.float64).ravel()
    alpha = float(Decimal("1") - Decimal(str(level)))
    rank = np.ceil((len(scores) + 1) * (1 - alpha))
    if not 0 < rank <= len(scores):
        raise CalibrationError(f"prediction sets at {level}: {len(scores)} calibration scores give no finite APS threshold")
    return float(np.quantile(scores, rank / len(scores), method="lower"))


def aps_sets(probs_mk: np.ndarray, quantile: float) -> np.ndarray:
    """Boolean (M, K) APS sets from probabilities and the fitted threshold, in numpy: MAPIE's rule with
    ``include_last_label=True`` (classes by decreasing probability up to the first whose cumulative probability
    reaches the threshold, ties with it included), equal to :func:`sets_of` (tests pin it)."""
    eps = 1e-8  # MAPIE's EPSILON
    probs_mk = np.asarray(probs_mk, dtype=np.float64)
    order = np.flip(np.argsort(probs_mk, axis=1), axis=1)
    cumsum_sorted = np.cumsum(np.take_along_axis(probs_mk, order, axis=1), axis=1)
    cumsum = np.take_along_axis(cumsum_sorted, np.argsort(order, axis=1), axis=1)  # at each class's own position
    over = cumsum - quantile
    last = np.where(over >= -eps, over, np.inf).argmin(axis=1)  # all below: index 0, as MAPIE's masked argmin gives
    p_last = probs_mk[np.arange(len(probs_mk)), last]
    smallest_nonzero = np.where(probs_mk >= eps, probs_mk, np.inf).min(axis=1)
    p_last = np.where(p_last <= eps, smallest_nonzero, p_last)
    return probs_mk - p_last[:, None] >= -eps


def prediction_sets(calib_probs_nk: np.ndarray, calib_labels_n: np.ndarray, probs_mk: np.ndarray, level: float) -> np.ndarray:
    """Boolean (M, K): class k is in image m's set. Calibration probabilities (N, K) with true labels (N,)."""
    return sets_of(conformalize(calib_probs_nk, calib_labels_n, level), probs_mk)
