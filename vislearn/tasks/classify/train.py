"""Image classification: a backbone with a linear head, cross-entropy, calibrated probabilities."""
from __future__ import annotations

import csv
import os
import statistics
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ...config import TrainConfig
from ...data import LabelledData, Sample, eval_transform, make_loader, read_labelled, train_transform
from ...data import tensor_batches
from ...data.image_cache import cache_budget, cached_loader, decide, decode_or_reuse
from ...data.images import image_size
from ...engine import (
    BEST, collect_outputs, distributed, default_workers, fit, load_tensors, memory_format, pick_device, pick_precision,
    read_json, write_json,
)
from ...metrics import ClassificationMeter, calibrated_probs, classification_report
from ...models import Preprocessing, create_model, preprocessing_for
from ...models.with_features import split_outputs
from . import gate as classify_gate
from . import run as classify_run
from .corrections import apply_corrections, read_corrections
from .referral import check_requests, fit_referral, referral_outputs, split_calibration
from ..common import log_data_notes


class ClassifyTask:
    """What the engine needs from classification: a loss (cross-entropy, with ``label_smoothing`` of the target spread
    over all the classes) and a validation meter."""

    score_name = "macro_f1"

    def __init__(self, num_classes: int, label_smoothing: float = 0.0):
        self.num_classes, self.label_smoothing = num_classes, label_smoothing

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``logits`` (B, K), ``labels`` (B,) class indices."""
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)

    def new_meter(self) -> ClassificationMeter:
        return ClassificationMeter(self.num_classes)


def image_size_choice(samples: list[Sample], model_default: int, limit: int = 200) -> tuple[int, str]:
    """(input size, why): the training images' median longer side, at most the model's default. Rounded up to 32, and
    at least min(64, default), except that images within 3/4 of that floor keep their own size (rounded up to 4):
    upsampling 28 px Fashion-MNIST to 32 would cost 1.3x the pixels and add no detail."""
    sides = [max(image_size(s.path)) for s in samples[:: max(1, len(samples) // limit)]]
    median = int(statistics.median(sides)) if sides else model_default
    floor = min(64, model_default)
    if median >= model_default:
        return model_default, f"the images' median side ({median} px) is at least the model's default: {model_default} px"
    if median < floor and median >= 0.75 * floor:
        size = -(-median // 4) * 4
        return size, f"the images' median side is {median} px: trained at their own size ({size} px), not upsampled to {floor}"
    size = min(model_default, max(floor, -(-median // 32) * 32))
    return size, f"the images' median side is {median} px: {size} px (rounded up to 32, at least {floor})"


def auto_image_size(samples: list[Sample], model_default: int, limit: int = 200) -> int:
    """The input size :func:`image_size_choice` picks for ``samples``."""
    return image_size_choice(samples, model_default, limit)[0]


def _workers(config: TrainConfig) -> int:
    return default_workers() if config.workers < 0 else config.workers


def decode_workers(config: TrainConfig) -> int:
    """Loader processes for the one decoding pass: every core (at most 8) when --workers is left to vislearn, since
    this process only collects the pictures meanwhile (the epochs keep one core for the model)."""
    if config.workers >= 0:
        return config.workers
    return min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def cache_side(pre: Preprocessing) -> int:
    """Pictures above this many pixels on their longer side are kept shrunk in the image cache: twice the input size
    (at least 256), so that the training crops (at least 3/4 of a side) still come from more pixels than they keep."""
    return max(256, 2 * pre.image_size)


def loaders(data: LabelledData, pre: Preprocessing, config: TrainConfig, log: Callable[[str], None] = print, progress: bool = False):
    """(train loader, val loader, the image-cache decision, the batching decision): the epochs read decoded images from
    memory when they fit (:mod:`vislearn.data.image_cache`; ``--image-cache off`` never), and are then batched and
    augmented in torch (:mod:`vislearn.data.tensor_batches`; ``--tensor-batches off`` never)."""
    workers = _workers(config)
    train_t, val_t = train_transform(pre, config.augment), eval_transform(pre)
    splits = [data.splits["train"], data.splits["val"]]
    mode = config.extra.get("image_cache", "auto")
    decision = decide(splits[0] + splits[1], cache_side(pre), config.epochs, cache_budget(), mode)
    log(f"image cache: {decision.reason}")
    batching = tensor_batches.choose(config.extra.get("tensor_batches", "auto"), decision.use, config.augment,
                                     distributed.world_from_env().size)
    log(f"augmentation: {batching.reason}")
    if not decision.use:
        return (make_loader(splits[0], train_t, config.batch_size, True, workers, config.seed),
                make_loader(splits[1], val_t, config.batch_size * 2, False, workers), decision, batching)
    decoders = decode_workers(config)
    (train_cache, train_note), (val_cache, val_note) = (decode_or_reuse(samples, cache_side(pre), decoders, progress, mode == "auto", data.digests)
                                                        for samples in splits)
    log(f"image cache: train images {train_note}; val images {val_note} ({decoders} decoding processes)")
    if batching.use:
        return (tensor_batches.tensor_loader(splits[0], train_cache, pre, config.batch_size, True, config.augment, config.seed),
                tensor_batches.tensor_loader(splits[1], val_cache, pre, config.batch_size * 2, False, None), decision, batching)
    return (cached_loader(splits[0], train_cache, train_t, config.batch_size, True, workers, config.seed),
            cached_loader(splits[1], val_cache, val_t, config.batch_size * 2, False, workers), decision, batching)


def predict_logits(model, samples: list[Sample], pre: Preprocessing, config: TrainConfig, desc: str, progress: bool):
    """Logits (N, K) for ``samples`` in order of the returned indices, plus files that failed."""
    device = pick_device(config.device)
    loader = make_loader(samples, eval_transform(pre), config.batch_size * 2, False, _workers(config))
    model.to(device, memory_format=memory_format(device, config.channels_last))
    return collect_outputs(model, loader, device, pick_precision(device, config.precision),
                           memory_format(device, config.channels_last), desc=desc, progress=progress)


PREDICTION_COLUMNS = ["path", "predicted", "confidence", "refer_to_human", "refer_reason", "prediction_set", "unlike_score"]


def prediction_cells(path: str, predicted: str, confidence: float, refer_to_human: bool, refer_reason: str,
                     prediction_set, unlike_score: float | None) -> list:
    """One predictions-CSV row's :data:`PREDICTION_COLUMNS` (evaluation and ``vislearn predict`` alike)."""
    members = "|".join(prediction_set) if prediction_set is not None else ""
    unlike = f"{unlike_score:.3f}" if unlike_score is not None else ""
    return [path, predicted, f"{confidence:.4f}", int(refer_to_human), refer_reason, members, unlike]


def decision_row(path: str, decision, class_names: list[str]) -> list:
    members = [class_names[k] for k in decision.prediction_set] if decision.prediction_set is not None else None
    return prediction_cells(path, class_names[decision.predicted], decision.confidence, decision.refer_to_human,
                            decision.refer_reason, members, decision.unlike_score)


def write_predictions(path: Path, samples: list[Sample], indices, probs, decisions, class_names) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(_with_label(PREDICTION_COLUMNS, "label", "correct") + [f"prob_{n}" for n in class_names])
        for i, idx in enumerate(indices.tolist()):
            s, d = samples[idx], decisions[i]
            label = class_names[s.label] if s.label >= 0 else ""
            correct = int(label == class_names[d.predicted]) if label else ""
            w.writerow(_with_label(decision_row(s.path, d, class_names), label, correct) + [f"{float(p):.4f}" for p in probs[i]])


def _with_label(row: list, label, correct) -> list:
    """path, label, predicted, confidence, correct, refer_to_human, ...: the evaluation CSV's column order."""
    return row[:1] + [label] + row[1:3] + [correct] + row[3:]


def referral_report(decisions, labels) -> dict:
    """What the referral rule did on labelled images: referred per reason, coverage, error among the decided."""
    truth = labels.tolist()
    decided = [d.predicted == y for d, y in zip(decisions, truth) if not d.refer_to_human]
    reasons: dict[str, int] = {}
    for d in decisions:
        if d.refer_to_human:
            key = "ambiguous" if d.refer_reason.startswith("ambiguous") else d.refer_reason
            reasons[key] = reasons.get(key, 0) + 1
    errors = [d.predicted != y for d, y in zip(decisions, truth)]
    return {"images": len(decisions), "decided": len(decided), "coverage": len(decided) / max(len(decisions), 1),
            "decided_error": (len(decided) - sum(decided)) / len(decided) if decided else None,
            "referred": len(decisions) - len(decided), "referred_by_reason": reasons, "errors": sum(errors),
            "errors_referred": sum(e and d.refer_to_human for e, d in zip(errors, decisions))}


def evaluate_split(model, data: LabelledData, split: str, pre, config, referrer, out_dir: Path, progress=True) -> dict:
    """Metrics (torchmetrics) of the calibrated model on one split and what referral did; writes metrics and predictions."""
    samples = data.splits[split]
    outputs, labels, indices, failed = predict_logits(referral_outputs(model, len(data.class_names)), samples, pre, config,
                                                      f"evaluate {split}", progress)
    if len(labels) == 0:
        raise ValueError(f"no readable images in the {split} split")
    logits, features = split_outputs(outputs, len(data.class_names))
    probs = calibrated_probs(logits, referrer.temperature)
    decisions = referrer.decide(logits, referrer.unlike_scores(features))
    metrics = {"split": split, **classification_report(probs, labels, data.class_names),
               "refer_below": referrer.confidence_threshold, "referral": referral_report(decisions, labels),
               "unreadable": [vars(p) for p in failed]}
    write_json(out_dir / "metrics.json", metrics)
    write_predictions(out_dir / f"predictions_{split}.csv", samples, indices, probs, decisions, data.class_names)
    return metrics


def train(config: TrainConfig, run_dir: str | Path, resume: bool = False, log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Read data, train, calibrate, evaluate on the test split (else val). Returns the test metrics."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = read_labelled(config.data, config.seed, config.val_fraction, config.test_fraction)
    corrections = {}
    if config.extra.get("corrections"):
        corrections = read_corrections(config.extra["corrections"], data.class_names)
        data = apply_corrections(data, corrections, config.extra["corrections"])
    previous, frozen = None, []
    if config.extra.get("from_run"):  # the earlier run's test images stay frozen for the gate: no split may train on them
        previous, frozen, data = classify_gate.from_previous(config.extra["from_run"], config, data, log, corrections)
        config = classify_gate.fine_tune_lr(config, log)
    data = split_calibration(data, config.calibration_share, config.seed)
    log_data_notes(data.warnings, data.skipped, log)
    check_requests(config, len(data.splits.get("calibration", data.splits.get("val", []))))
    torch.manual_seed(config.seed)  # fresh weights (a new head, or weights="none") follow the seed too
    model = create_model(config.model, len(data.class_names), config.weights)
    if previous is not None:
        classify_gate.start_from(previous, model, log)
    default_size = preprocessing_for(model).image_size
    size, why = config.image_size, "--image-size"
    if not size:
        size, why = ((previous.preprocessing.image_size, "the earlier run's") if previous
                     else image_size_choice(data.splits["train"], default_size))
    log(f"image size {size} px: {why}")
    pre = preprocessing_for(model, size)
    config = config.replace(image_size=size)
    log(f"data {data.source}: {len(data.class_names)} classes, " + ", ".join(f"{k} {len(v)}" for k, v in data.splits.items())
        + f"; model {config.model} at {size}px")
    device = pick_device(config.device)
    runtime = {"device": str(device), "precision": pick_precision(device, config.precision), "torch": torch.__version__}
    if distributed.world_from_env().size > 1:
        runtime["processes"] = distributed.world_from_env().size
    log(f"training on {runtime['device']} ({runtime['precision']}), {torch.get_num_threads()} torch threads, batch {config.batch_size}")
    if distributed.is_main():  # under torchrun the other processes only train (engine.fit); rank 0 writes
        write_json(run_dir / "config.json", {**config.to_dict(), "class_names": data.class_names, "preprocessing": pre.to_dict(),
                                             "runtime": runtime})
        write_json(run_dir / "data_summary.json", data.summary())
    train_loader, val_loader, cache, batching = loaders(data, pre, config, log, progress)
    result = fit(model, ClassifyTask(len(data.class_names), config.label_smoothing), train_loader, val_loader, config, run_dir, resume, log, progress)
    distributed.cleanup()  # the epochs are over: what follows runs in rank 0 alone, on whole splits
    if not distributed.is_main():
        return {"model": model, "data": data, "preprocessing": pre, "metrics": None, "config": config}
    summary = data.summary()
    summary["skipped"] += [vars(p) for p in result.skipped if p.path not in {s["path"] for s in summary["skipped"]}]
    summary["image_cache"] = {"used": cache.use, "reason": cache.reason, "megabytes": round(cache.bytes / 2**20, 1)}
    summary["augmentation"] = {"augment": config.augment, "batched_in_torch": batching.use, "reason": batching.reason}
    write_json(run_dir / "data_summary.json", summary)
    saved = read_json(run_dir / "config.json")  # the recipe as fit resolved it (weight decay, memory format and why)
    write_json(run_dir / "config.json", {**saved, "runtime": {**saved["runtime"], "recipe": result.recipe}})
    weights, _ = load_tensors(run_dir / BEST)
    model.load_state_dict(weights)
    referrer = fit_referral(model, data, pre, config, run_dir, predict_logits, progress, log)
    split = "test" if data.splits.get("test") else "val"
    metrics = evaluate_split(model, data, split, pre, config, referrer, run_dir, progress)
    metrics.update(best_epoch=result.best_epoch, stopped_early=result.stopped_early, temperature=referrer.temperature)
    if previous is not None:
        verdict = classify_gate.gate(previous, frozen, model, data, pre, config, run_dir, referrer.temperature, predict_logits, progress, log,
                                     float(config.extra.get("gate_margin", 0.01)))
        metrics["gate"] = {k: verdict[k] for k in ("promoted", "reasons", "accuracy", "difference_interval_95", "old_run")}
    write_json(run_dir / "metrics.json", metrics)
    return {"model": model, "data": data, "preprocessing": pre, "metrics": metrics, "config": config}


def relabel(data: LabelledData, class_names: list[str]) -> LabelledData:
    """Express ``data``'s labels in a trained model's class list; classes it never saw are an error."""
    unknown = sorted(set(data.class_names) - set(class_names))
    if unknown:
        from ...errors import DataLayoutError

        raise DataLayoutError(f"{data.source}: classes {', '.join(unknown)} were not in training ({', '.join(class_names)})")
    index = {name: class_names.index(name) for name in data.class_names}
    splits = {k: [Sample(s.path, index[data.class_names[s.label]]) for s in v] for k, v in data.splits.items()}
    return LabelledData(list(class_names), splits, data.skipped, data.warnings, data.source, data.digests)


def labelled_for_run(source: str | Path, run, min_classes: int = 1, split: str = "test") -> LabelledData:
    """Every readable image of a labelled folder/CSV (all its splits together, as ``split``), labelled in the run's classes."""
    data = read_labelled(source, run.config.seed, 0.0, 0.0, min_classes=min_classes)
    data.splits = {split: [s for part in data.splits.values() for s in part]}
    return relabel(data, run.class_names)


def evaluate(run, data_source: str | Path, out_dir: Path, refer_below: float | None = None, progress: bool = True) -> dict:
    """Evaluate a trained run on another labelled folder/CSV: its test split if it has one, else every image."""
    source = Path(data_source)
    if source.is_dir() and (source / "test").is_dir():
        source = source / "test"
    data = labelled_for_run(source, run)
    out_dir.mkdir(parents=True, exist_ok=True)
    referrer = classify_run.referrer(run, refer_below)
    metrics = evaluate_split(classify_run.load_model(run), data, "test", run.preprocessing, run.config, referrer, out_dir, progress)
    metrics["skipped"] = [vars(p) for p in data.skipped]
    write_json(out_dir / "metrics.json", metrics)
    from ...report import confusion_matrix_plot, reliability_diagram

    confusion_matrix_plot(metrics["confusion_matrix"], run.class_names, out_dir / "confusion_matrix.png")
    reliability_diagram(metrics["reliability"], metrics["ece"], out_dir / "reliability.png")
    return metrics

