"""Referral for classification runs: the calibration split, what is fitted on it, and the files that keep it.

The held-out images are split in two (stratified, seeded): ``val`` picks the epoch (early stopping) and
``calibration`` fits the temperature, the unlike-training threshold, the ``--max-error`` guarantee and the
prediction sets. No image that chose the model calibrates it.

Files in the run folder:
- ``calibration.json``: temperature and the rule that chose it, the unlike-training threshold, what was decided and why;
- ``calibration.safetensors``: the calibration images' raw logits, labels and unlike-training scores, and the
  fitted class means and precision, so ``predict`` can state any ``--max-error`` or ``--prediction-sets`` later.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

import torch

from ...config import TrainConfig
from ...data import LabelledData, Sample
from ...engine import load_tensors, read_json, save_tensors, write_json
from ...errors import CalibrationError
from ...metrics import calibrated_probs, classification_report
from ...metrics.calibration import Calibration, calibrate_temperature
from ...metrics.conformal import images_needed_for_sets
from ...metrics.referral import CalibrationImages, Referrer, UnlikeTraining, build_referrer, conformal_upper_threshold, refer_everything
from ...metrics.selective import check_rate, images_needed
from ...models.with_features import WithFeatures, split_outputs

CALIBRATION_TENSORS = "calibration.safetensors"


def split_calibration(data: LabelledData, share: float, seed: int) -> LabelledData:
    """Move ``share`` of each class's ``val`` images (seeded) into a ``calibration`` split; ``val`` keeps the rest."""
    held_out = data.splits.get("val", [])
    if not held_out or share <= 0:
        return data
    rng = random.Random(seed + 7919)
    val, calibration = [], []
    for label in sorted({s.label for s in held_out}):
        members = [s for s in held_out if s.label == label]
        rng.shuffle(members)
        cut = round(len(members) * share) if len(members) > 1 else 0
        calibration += members[:cut]
        val += members[cut:]
    if not val or not calibration:  # too few held-out images to split: both roles stay on val, and the log says so
        return data
    splits = dict(data.splits)
    splits["val"], splits["calibration"] = sorted(val, key=lambda s: s.path), sorted(calibration, key=lambda s: s.path)
    return LabelledData(data.class_names, splits, data.skipped, data.warnings, data.source, data.digests)


def check_requests(config: TrainConfig, calibration_images: int) -> None:
    """Fail before training when the calibration split cannot carry the requested guarantee."""
    if config.max_error is not None:
        needed = images_needed(config.max_error, config.guarantee_level)
        if calibration_images < needed:
            raise CalibrationError(f"--max-error {config.max_error} with {config.guarantee_level:.0%} confidence needs at least "
                                   f"{needed} calibration images, and the calibration split has {calibration_images}: raise "
                                   "--val-fraction or --calibration-share, add labelled images, or ask for a larger rate")
    if config.prediction_sets is not None:
        check_rate(config.prediction_sets, "--prediction-sets")
        needed = images_needed_for_sets(config.prediction_sets)
        if calibration_images < needed:
            raise CalibrationError(f"--prediction-sets {config.prediction_sets} needs at least {needed} calibration images "
                                   f"(the calibration split has {calibration_images})")
    check_rate(config.unlike_rate, "--unlike-rate")


def _outputs(predict_logits, model, samples: list[Sample], pre, config, desc: str, progress: bool, num_classes: int):
    outputs, labels, indices, _ = predict_logits(WithFeatures(model, num_classes), samples, pre, config, desc, progress)
    logits, features = split_outputs(outputs, num_classes)
    return logits, features, labels, indices


def fit_referral(model, data: LabelledData, pre, config: TrainConfig, run_dir: Path, predict_logits, progress: bool,
                 log: Callable[[str], None]) -> Referrer:
    """Fit the unlike-training model on the training images and calibrate on the calibration split; write both files."""
    from ...anomaly.class_gaussian import fit_class_gaussians, unlike_training_score

    k = len(data.class_names)
    split = "calibration" if data.splits.get("calibration") else "val"
    if split == "val":
        log("warning: too few held-out images to keep separate calibration images; calibrating on the validation split that "
            "also chose the epoch (its guarantees are then optimistic)")
    _, train_features, train_labels, _ = _outputs(predict_logits, model, data.splits["train"], pre, config, "features", progress, k)
    means, precision = fit_class_gaussians(train_features, train_labels, k)
    logits, features, labels, _ = _outputs(predict_logits, model, data.splits[split], pre, config, "calibrate", progress, k)
    calibration = calibrate_temperature(logits, labels)
    unlike_n = unlike_training_score(features, means, precision)
    unlike = UnlikeTraining(means, precision, conformal_upper_threshold(unlike_n.numpy(), config.unlike_rate), config.unlike_rate)
    images = CalibrationImages(logits, labels, unlike_n)
    save_tensors(run_dir / CALIBRATION_TENSORS, {"logits_nk": logits, "labels_n": labels, "unlike_n": unlike_n,
                                                 "class_means_kd": means, "precision_dd": precision})
    try:
        referrer = build_referrer(calibration.temperature, images, unlike, data.class_names, config.refer_below, config.max_error,
                                  config.guarantee_level, config.prediction_sets)
    except CalibrationError as exc:  # the trained model cannot carry the promise: keep it by referring every image
        referrer = refer_everything(build_referrer(calibration.temperature, images, unlike, data.class_names, config.refer_below,
                                                   None, config.guarantee_level, config.prediction_sets), str(exc))
        log(f"warning: {exc}; every image will be referred to a human until the run is retrained or predict is given a larger --max-error")
    write_json(run_dir / "calibration.json", calibration_summary(calibration, logits, labels, data.class_names, split, unlike, referrer))
    log(f"calibration: T = {calibration.temperature:.2f} ({calibration.reason})")
    log(f"{referrer.describe()} (at most {config.unlike_rate:.0%} of images like the training ones referred)")
    return referrer


def calibration_summary(calibration: Calibration, logits, labels, class_names, split: str, unlike: UnlikeTraining,
                        referrer: Referrer) -> dict:
    before = classification_report(calibrated_probs(logits, 1.0), labels, class_names)
    after = classification_report(calibrated_probs(logits, calibration.temperature), labels, class_names)
    guarantee = referrer.guarantee._asdict() if referrer.guarantee else None
    return {
        "temperature": calibration.temperature, "fitted_temperature": calibration.fitted, "temperature_rule": calibration.rule,
        "temperature_reason": calibration.reason, "calibration_split": split, "calibration_images": calibration.images,
        "calibration_errors": calibration.errors,
        "val_nll_before": before["nll"], "val_nll_after": after["nll"], "val_ece_before": before["ece"], "val_ece_after": after["ece"],
        "unlike_threshold": unlike.threshold, "unlike_rate": unlike.rate,
        "confidence_threshold": referrer.confidence_threshold if referrer.confidence_threshold <= 1 else None, "threshold_rule": referrer.threshold_rule,
        "guarantee": guarantee, "prediction_sets": referrer.set_level,
    }


def load_referrer(run_dir: Path, temperature: float, class_names: list[str], refer_below: float = 0.8,
                  max_error: float | None = None, level: float = 0.95, set_level: float | None = None) -> Referrer:
    """The referral rule of a run folder; a run without calibration.safetensors refers by confidence alone."""
    path = run_dir / CALIBRATION_TENSORS
    images = unlike = None
    if path.exists():
        tensors, _ = load_tensors(path)
        images = CalibrationImages(tensors["logits_nk"], tensors["labels_n"], tensors["unlike_n"])
        saved = read_json(run_dir / "calibration.json")
        unlike = UnlikeTraining(tensors["class_means_kd"], tensors["precision_dd"], float(saved["unlike_threshold"]),
                                float(saved["unlike_rate"]))
    return build_referrer(temperature, images, unlike, class_names, refer_below, max_error, level, set_level)


def referral_outputs(model, num_classes: int) -> torch.nn.Module:
    """The model a referral-aware prediction runs: logits and penultimate features in one output."""
    return WithFeatures(model, num_classes)
