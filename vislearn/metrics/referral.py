"""Which images vislearn decides itself and which it refers to a human, and why.

Three reasons, checked in this order (the first that applies is given):

- ``unlike training images``: the image's penultimate features are farther from every class than the
  calibration images allow (threshold set so that at most ``unlike_rate`` of images like the training
  ones are referred; the conformal quantile of the calibration scores);
- ``ambiguous: a|b``: the conformal prediction set at ``set_level`` holds more than one class;
- ``low confidence``: the calibrated confidence is below the threshold, either a fixed ``--refer-below`` or
  the one that guarantees ``--max-error`` (:mod:`vislearn.metrics.selective`).

Everything here is plain tensors in, plain rows out; the run folder's files are read by the caller.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
import torch

from ..errors import CalibrationError
from .calibration import calibrated_probs
from .conformal import aps_quantile, conformalize, sets_of
from .selective import Guarantee, check_rate, guaranteed_threshold
from .unlike import unlike_training_score

UNLIKE = "unlike training images"
LOW = "low confidence"


class Decision(NamedTuple):
    predicted: int
    confidence: float
    refer_to_human: bool
    refer_reason: str  # "" when decided
    prediction_set: tuple[int, ...] | None  # class indices, when prediction sets were asked for
    unlike_score: float | None


@dataclass(frozen=True)
class CalibrationImages:
    """What a run keeps of its calibration images: raw logits (N, K), labels (N,), unlike-training scores (N,)."""

    logits_nk: torch.Tensor
    labels_n: torch.Tensor
    unlike_n: torch.Tensor | None = None


@dataclass(frozen=True)
class UnlikeTraining:
    """The fitted out-of-distribution model: class means (K, D), shared precision (D, D), referral threshold."""

    means_kd: torch.Tensor
    precision_dd: torch.Tensor
    threshold: float
    rate: float


def conformal_upper_threshold(scores_n: np.ndarray, rate: float) -> float:
    """The ceil((n+1)(1-rate))-th smallest score: a new in-distribution score exceeds it with probability <= rate."""
    check_rate(rate, "the unlike-training referral rate")
    scores = np.sort(np.asarray(scores_n, dtype=np.float64))
    if len(scores) == 0:
        return math.inf
    rank = math.ceil((len(scores) + 1) * (1 - rate))
    return float(scores[min(rank, len(scores)) - 1])


@dataclass(frozen=True)
class Referrer:
    """A referral rule for one run; :meth:`decide` applies it to logits (B, K) and unlike-training scores (B,)."""

    temperature: float
    confidence_threshold: float
    threshold_rule: str  # one sentence: where the confidence threshold came from
    guarantee: Guarantee | None = None
    unlike: UnlikeTraining | None = None
    set_level: float | None = None
    calibration: CalibrationImages | None = None
    class_names: tuple[str, ...] = ()

    def describe(self) -> str:
        """One log line: the rule in force for this call, and why (the log says what vislearn decided)."""
        parts = [self.threshold_rule]
        if self.set_level is not None:
            parts.append(f"prediction sets at {self.set_level:.0%} (split conformal, APS)")
        parts.append(f"unlike-training threshold {self.unlike.threshold:.2f}" if self.unlike is not None else
                     "no unlike-training model in this run (trained before vislearn kept one): foreign images are not referred")
        return "referral: " + "; ".join(parts)

    def unlike_scores(self, features_bd: torch.Tensor) -> torch.Tensor | None:
        if self.unlike is None:
            return None
        # the Gaussians read the first D feature columns: the pooled features and their spreads, or the pooled
        # features alone in a run trained before vislearn kept the spreads (models/with_features.py)
        means_kd = self.unlike.means_kd
        return unlike_training_score(features_bd[:, : means_kd.shape[1]], means_kd, self.unlike.precision_dd)

    @cached_property
    def _conformal(self):
        calib = self.calibration
        return conformalize(calibrated_probs(calib.logits_nk, self.temperature).numpy(), calib.labels_n.numpy(), self.set_level)

    @property
    def aps_quantile(self) -> float | None:
        """The fitted APS threshold of the prediction sets (what an export carries), or None when the run has no sets."""
        return None if self.set_level is None else aps_quantile(self._conformal, self.set_level)

    def sets(self, probs_bk: torch.Tensor) -> np.ndarray | None:
        """Boolean (B, K) conformal prediction sets, or None when none were asked for."""
        return None if self.set_level is None else sets_of(self._conformal, probs_bk.numpy())

    def decide(self, logits_bk: torch.Tensor, unlike_b: torch.Tensor | None = None) -> list[Decision]:
        probs = calibrated_probs(logits_bk, self.temperature)
        confidence, predicted = probs.max(dim=1)
        sets = self.sets(probs)
        rows = []
        for i, (conf, k) in enumerate(zip(confidence.tolist(), predicted.tolist())):
            members = tuple(np.flatnonzero(sets[i]).tolist()) if sets is not None else None
            score = float(unlike_b[i]) if unlike_b is not None else None
            reason = self.reason(conf, members, score)
            rows.append(Decision(k, conf, bool(reason), reason, members, score))
        return rows

    def reason(self, confidence: float, members: tuple[int, ...] | None, unlike_score: float | None) -> str:
        if self.unlike is not None and unlike_score is not None and unlike_score > self.unlike.threshold:
            return UNLIKE
        if members is not None and len(members) != 1:
            names = [self.class_names[k] if k < len(self.class_names) else str(k) for k in members]
            return "ambiguous: " + "|".join(names) if names else "ambiguous: no class"
        return LOW if confidence < self.confidence_threshold else ""


def build_referrer(temperature: float, calibration: CalibrationImages | None, unlike: UnlikeTraining | None,
                   class_names: list[str] | tuple[str, ...] = (), refer_below: float = 0.8, max_error: float | None = None,
                   level: float = 0.95, set_level: float | None = None) -> Referrer:
    """The rule for a run: ``max_error`` (a guaranteed rate) replaces the fixed ``refer_below`` when given."""
    if (max_error is not None or set_level is not None) and calibration is None:
        raise CalibrationError("this run keeps no calibration images (trained before vislearn 0.2, or not a classify run): "
                               "retrain it to use --max-error or --prediction-sets")
    if calibration is not None and (max_error is not None or set_level is not None) and len(calibration.labels_n.unique()) < 2:
        raise CalibrationError("the run's calibration images hold a single class: no guarantee can be stated for the others; "
                               "retrain with held-out images of every class")
    if set_level is not None:
        check_rate(set_level, "--prediction-sets")
    names = tuple(class_names)
    base = Referrer(temperature, refer_below, f"fixed: refer below confidence {refer_below}", None, unlike, set_level, calibration, names)
    if set_level is not None:
        base._conformal  # noqa: B018  (fit now: too few calibration images fail before any image is read)
    if max_error is None:
        return base
    confidence, correct = _kept_calibration(base)
    try:
        guarantee = guaranteed_threshold(confidence, correct, max_error, level)
    except CalibrationError as exc:
        dropped = len(calibration.labels_n) - len(confidence)
        if dropped:
            raise CalibrationError(f"{exc} ({dropped} of the {len(calibration.labels_n)} calibration images are already referred "
                                   "as unlike training images or ambiguous)") from None
        raise
    rule = (f"--max-error {max_error}: refer below confidence {guarantee.threshold:.4f}, the lowest threshold whose error among "
            f"decided images is below {max_error:.1%} with {level:.0%} confidence (fixed-sequence test on {guarantee.images} calibration images; "
            f"{guarantee.coverage:.1%} of them decided)")
    return Referrer(temperature, guarantee.threshold, rule, guarantee, unlike, set_level, calibration, names)


def refer_everything(rule: Referrer, why: str) -> Referrer:
    """The safe fallback when a promised rate cannot be certified: no image is decided without a human."""
    return Referrer(rule.temperature, math.inf, f"every image referred: {why}", None, rule.unlike, rule.set_level,
                    rule.calibration, rule.class_names)


def _kept_calibration(rule: Referrer) -> tuple[np.ndarray, np.ndarray]:
    """Confidence and correctness of the calibration images that no other reason refers (the guarantee is about these)."""
    calib = rule.calibration
    no_confidence_rule = Referrer(rule.temperature, 0.0, "", None, rule.unlike, rule.set_level, calib, rule.class_names)
    decisions = no_confidence_rule.decide(calib.logits_nk, calib.unlike_n)
    kept = np.array([not d.refer_to_human for d in decisions], dtype=bool)
    confidence = np.array([d.confidence for d in decisions])
    correct = np.array([d.predicted for d in decisions]) == calib.labels_n.numpy()
    return confidence[kept], correct[kept]
