"""``vislearn train classify --data DIR --from RUN``: fine-tune an earlier run on new and corrected data, then gate it.

The new run starts from RUN's best weights (same model and classes; RUN's image size unless ``--image-size`` is
given) and trains as any run does. The frozen test images are RUN's own test split (``predictions_test.csv``, with
the labels it was scored on): they are taken out of the new data before the split, so neither model trained on them,
and both are scored on exactly those images (:mod:`vislearn.metrics.regression_gate`). Where fewer than
``MIN_FROZEN`` of them still exist, the new run's test split stands in, and the log says so. ``gate.json`` in the new run holds the figures and the verdict. Only a
promoted run is recorded as RUN's successor in ``RUN/promoted.json`` (``run``: the new folder), the file a deployment
reads to know which model to serve; a refused one leaves it as it was, and the log says what got worse.
"""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from ...data import LabelledData, Sample
from ...engine import BEST, load_tensors, write_json
from ...errors import DataLayoutError
from ...metrics import calibrated_probs
from ...metrics.regression_gate import compare_models
from ...run import Run
from . import run as classify_run
from .corrections import correct_samples

PROMOTED = "promoted.json"
GATE = "gate.json"
MIN_FROZEN = 10
MAX_CHANGED = 48  # images listed per kind in gate.json and the report
FINE_TUNE_LR_SCALE = 0.3  # --from without --lr: the default learning rate times this (the weights are already trained)


def frozen_test(old: Run, class_names: list[str]) -> list[Sample]:
    """RUN's test images that still exist, labelled as RUN scored them (empty when RUN kept no test predictions)."""
    path = old.dir / "predictions_test.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    index = {name: i for i, name in enumerate(class_names)}
    return [Sample(r["path"], index[r["label"]]) for r in rows if r.get("label") in index and Path(r["path"]).is_file()]


def hold_out_frozen(data: LabelledData, frozen: list[Sample], log) -> LabelledData:
    """``data`` without the frozen test images in any split (matched by resolved path)."""
    held = {str(Path(s.path).resolve()) for s in frozen}
    splits = {k: [s for s in v if str(Path(s.path).resolve()) not in held] for k, v in data.splits.items()}
    removed = sum(len(v) for v in data.splits.values()) - sum(len(v) for v in splits.values())
    if removed:
        log(f"gate: {removed} images of the earlier run's frozen test split held out of this run's data")
    data.splits = splits
    return data


def from_previous(folder: str | Path, config, data: LabelledData, log,
                  corrections: dict[str, int] | None = None) -> tuple[Run, list[Sample], LabelledData]:
    """The earlier run (checked: a classify run of ``config.model`` with ``data``'s classes), its frozen test images
    (labels corrected by ``corrections``, {resolved path: class}), and ``data`` without them."""
    old = Run.load(folder)
    if old.config.task != "classify":
        raise DataLayoutError(f"--from {folder}: a {old.config.task} run; fine-tuning starts from a classify run")
    if old.config.model != config.model:
        raise DataLayoutError(f"--from {folder}: that run is a {old.config.model} model; pass --model {old.config.model}")
    if list(old.class_names) != list(data.class_names):
        raise DataLayoutError(f"--from {folder}: its classes ({', '.join(old.class_names)}) differ from the data's "
                              f"({', '.join(data.class_names)}); fine-tuning keeps the class list")
    frozen, changed = correct_samples(frozen_test(old, data.class_names), corrections or {})
    if changed:
        log(f"gate: {changed} of the earlier run's frozen test labels corrected; both models are scored on the corrected labels")
    return old, frozen, hold_out_frozen(data, frozen, log)


def fine_tune_lr(config, log):
    """``config`` with a lower learning rate where the user kept the from-scratch default: a run started from trained
    weights at the full rate can undo them (the README's new-batch walk-through, seed 0: accuracy 0.982 -> 0.954 on the
    frozen images at 1e-3, 0.982 -> 0.991 at 3e-4; seeds 1-2 reach 0.991 either way)."""
    default = type(config)().lr
    if config.lr != default:
        return config
    log(f"learning rate {default * FINE_TUNE_LR_SCALE:g} for fine-tuning ({FINE_TUNE_LR_SCALE}x the from-scratch default "
        f"{default:g}; --lr sets it)")
    return config.replace(lr=default * FINE_TUNE_LR_SCALE)


def start_from(old: Run, model, log) -> None:
    """Load ``old``'s best weights into ``model`` (built for the same model name and classes)."""
    weights, _ = load_tensors(old.dir / BEST)
    model.load_state_dict(weights)
    log(f"fine-tuning from {old.dir} (its best epoch's weights, {old.preprocessing.image_size}px)")


def changed_images(paths: list[str], old_probs_nk, new_probs_nk, labels_n, class_names: list[str], limit: int = MAX_CHANGED) -> dict:
    """The images only one model gets right: ``fixed`` (the new one) and ``broken`` (the old one), in the order of the frozen images,
    cut at ``limit`` each: path, truth, each model's class and confidence, for the report to show side by side."""
    old_conf, old_pred = old_probs_nk.max(1)
    new_conf, new_pred = new_probs_nk.max(1)
    out = {"fixed": [], "broken": []}
    for i, path in enumerate(paths):
        old_right, new_right = bool(old_pred[i] == labels_n[i]), bool(new_pred[i] == labels_n[i])
        if old_right != new_right:
            out["fixed" if new_right else "broken"].append({
                "path": path, "truth": class_names[int(labels_n[i])],
                "old": class_names[int(old_pred[i])], "old_confidence": round(float(old_conf[i]), 4),
                "new": class_names[int(new_pred[i])], "new_confidence": round(float(new_conf[i]), 4)})
    return {kind: rows[:limit] for kind, rows in out.items()}


def gate(old: Run, frozen: list[Sample], model, data, pre, config, run_dir: Path, new_temperature: float, predict_logits,
         progress: bool, log, margin: float = 0.01) -> dict:
    """Score ``old`` and the new ``model`` on ``frozen`` (else the new run's test split, or val); write gate.json, and
    promote if it passes."""
    samples, split = frozen, "frozen test"
    if len(samples) < MIN_FROZEN:
        split = "test" if data.splits.get("test") else "val"
        log(f"gate: {old.dir} has {len(samples)} readable test images (fewer than {MIN_FROZEN}); comparing on this run's {split} split")
        samples = data.splits[split]
    new_logits, labels, new_idx, _ = predict_logits(model, samples, pre, config, "gate (new)", progress)
    old_logits, _, old_idx, _ = predict_logits(classify_run.load_model(old), samples, old.preprocessing, config, "gate (old)", progress)
    if list(new_idx) != list(old_idx):  # the same images, in the same order, or the comparison is not paired
        raise DataLayoutError(f"gate: the old and new model could not read the same {split} images")
    old_probs, new_probs = calibrated_probs(old_logits, classify_run.temperature(old)), calibrated_probs(new_logits, new_temperature)
    verdict = compare_models(old_probs, new_probs, labels, data.class_names, margin, seed=config.seed)
    verdict.update(old_run=str(old.dir), new_run=str(run_dir), split=split,
                   changed=changed_images([samples[i].path for i in new_idx], old_probs, new_probs, labels, data.class_names))
    write_json(run_dir / GATE, verdict)
    acc, lo_hi = verdict["accuracy"], verdict["difference_interval_95"]
    log(f"gate on {verdict['images']} {split} images: accuracy {acc['old']:.4f} (old) -> {acc['new']:.4f} (new), "
        f"difference 95% interval [{lo_hi[0]:+.4f}, {lo_hi[1]:+.4f}], McNemar p = {verdict['mcnemar']['p_value']:.3g}")
    if verdict["worse_classes"]:
        log(f"gate: worse by more than {margin} on classes {', '.join(verdict['worse_classes'])}")
    if verdict["promoted"]:
        write_json(old.dir / PROMOTED, {"run": str(Path(run_dir).resolve()), "at": dt.datetime.now(dt.timezone.utc).isoformat(),
                                        "accuracy": acc, "gate": str(Path(run_dir).resolve() / GATE)})
        log(f"gate: promoted -- {old.dir / PROMOTED} now names {run_dir}")
    else:
        log("gate: NOT promoted -- " + "; ".join(verdict["reasons"]) + f" ({old.dir} stays the promoted model)")
    return verdict
