"""Image classification: a backbone with a linear head, cross-entropy, calibrated probabilities."""
from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ..config import TrainConfig
from ..data import LabelledData, Sample, eval_transform, make_loader, read_labelled, train_transform
from ..data.images import image_size
from ..engine import BEST, collect_outputs, default_workers, fit, load_tensors, memory_format, pick_device, pick_precision, write_json
from ..metrics import ClassificationMeter, calibrated_probs, classification_report, fit_temperature
from ..models import Preprocessing, create_model, preprocessing_for
from .common import log_data_notes


class ClassifyTask:
    """What the engine needs from classification: a loss and a validation meter."""

    score_name = "macro_f1"

    def __init__(self, num_classes: int):
        self.num_classes = num_classes

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels)

    def new_meter(self) -> ClassificationMeter:
        return ClassificationMeter(self.num_classes)


def auto_image_size(samples: list[Sample], model_default: int, limit: int = 200) -> int:
    """Median of the training images' longer side, rounded up to 32, within [min(64, default), default]."""
    sides = [max(image_size(s.path)) for s in samples[:: max(1, len(samples) // limit)]]
    median = statistics.median(sides) if sides else model_default
    rounded = int(-(-median // 32) * 32)
    return max(min(64, model_default), min(model_default, rounded))


def _workers(config: TrainConfig) -> int:
    return default_workers() if config.workers < 0 else config.workers


def loaders(data: LabelledData, pre: Preprocessing, config: TrainConfig):
    workers = _workers(config)
    train = make_loader(data.splits["train"], train_transform(pre, config.augment), config.batch_size, True, workers, config.seed)
    val = make_loader(data.splits["val"], eval_transform(pre), config.batch_size * 2, False, workers)
    return train, val


def predict_logits(model, samples: list[Sample], pre: Preprocessing, config: TrainConfig, desc: str, progress: bool):
    """Logits (N, K) for ``samples`` in order of the returned indices, plus files that failed."""
    device = pick_device(config.device)
    loader = make_loader(samples, eval_transform(pre), config.batch_size * 2, False, _workers(config))
    model.to(device, memory_format=memory_format(device, config.channels_last))
    return collect_outputs(model, loader, device, pick_precision(device, config.precision),
                           memory_format(device, config.channels_last), desc=desc, progress=progress)


def write_predictions(path: Path, samples: list[Sample], indices, probs, class_names, refer_below: float) -> None:
    confidence, predicted = probs.max(dim=1)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "predicted", "confidence", "correct", "refer_to_human"] + [f"prob_{n}" for n in class_names])
        for i, idx in enumerate(indices.tolist()):
            s = samples[idx]
            label = class_names[s.label] if s.label >= 0 else ""
            pred = class_names[int(predicted[i])]
            w.writerow([s.path, label, pred, f"{float(confidence[i]):.4f}", int(label == pred) if label else "",
                        int(float(confidence[i]) < refer_below)] + [f"{float(p):.4f}" for p in probs[i]])


def evaluate_split(model, data: LabelledData, split: str, pre, config, temperature, out_dir: Path, progress=True, refer_below=0.8) -> dict:
    """Metrics (torchmetrics) of the calibrated model on one split; writes metrics and predictions files."""
    samples = data.splits[split]
    logits, labels, indices, failed = predict_logits(model, samples, pre, config, f"evaluate {split}", progress)
    if len(labels) == 0:
        raise ValueError(f"no readable images in the {split} split")
    probs = calibrated_probs(logits, temperature)
    metrics = {"split": split, **classification_report(probs, labels, data.class_names),
               "refer_below": refer_below, "unreadable": [vars(p) for p in failed]}
    write_json(out_dir / "metrics.json", metrics)
    write_predictions(out_dir / f"predictions_{split}.csv", samples, indices, probs, data.class_names, refer_below)
    return metrics


def calibrate(model, data: LabelledData, pre, config, run_dir: Path, progress=True) -> float:
    """Fit the temperature on the validation split; write calibration.json; return T."""
    logits, labels, _, _ = predict_logits(model, data.splits["val"], pre, config, "calibrate", progress)
    before = classification_report(calibrated_probs(logits, 1.0), labels, data.class_names)
    temperature = fit_temperature(logits, labels)
    after = classification_report(calibrated_probs(logits, temperature), labels, data.class_names)
    write_json(run_dir / "calibration.json", {
        "temperature": temperature, "val_nll_before": before["nll"], "val_nll_after": after["nll"],
        "val_ece_before": before["ece"], "val_ece_after": after["ece"],
    })
    return temperature


def train(config: TrainConfig, run_dir: str | Path, resume: bool = False, log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Read data, train, calibrate, evaluate on the test split (else val). Returns the test metrics."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = read_labelled(config.data, config.seed, config.val_fraction, config.test_fraction)
    log_data_notes(data.warnings, data.skipped, log)
    torch.manual_seed(config.seed)  # fresh weights (a new head, or weights="none") follow the seed too
    model = create_model(config.model, len(data.class_names), config.weights)
    default_size = preprocessing_for(model).image_size
    size = config.image_size or auto_image_size(data.splits["train"], default_size)
    pre = preprocessing_for(model, size)
    config = config.replace(image_size=size)
    log(f"data {data.source}: {len(data.class_names)} classes, " + ", ".join(f"{k} {len(v)}" for k, v in data.splits.items())
        + f"; model {config.model} at {size}px")
    device = pick_device(config.device)
    runtime = {"device": str(device), "precision": pick_precision(device, config.precision), "torch": torch.__version__}
    log(f"training on {runtime['device']} ({runtime['precision']})")
    write_json(run_dir / "config.json", {**config.to_dict(), "class_names": data.class_names, "preprocessing": pre.to_dict(),
                                         "runtime": runtime})
    write_json(run_dir / "data_summary.json", data.summary())
    train_loader, val_loader = loaders(data, pre, config)
    result = fit(model, ClassifyTask(len(data.class_names)), train_loader, val_loader, config, run_dir, resume, log, progress)
    summary = data.summary()
    summary["skipped"] += [vars(p) for p in result.skipped if p.path not in {s["path"] for s in summary["skipped"]}]
    write_json(run_dir / "data_summary.json", summary)
    weights, _ = load_tensors(run_dir / BEST)
    model.load_state_dict(weights)
    temperature = calibrate(model, data, pre, config, run_dir, progress)
    split = "test" if data.splits.get("test") else "val"
    metrics = evaluate_split(model, data, split, pre, config, temperature, run_dir, progress)
    metrics.update(best_epoch=result.best_epoch, stopped_early=result.stopped_early, temperature=temperature)
    write_json(run_dir / "metrics.json", metrics)
    return {"model": model, "data": data, "preprocessing": pre, "metrics": metrics, "config": config}


def relabel(data: LabelledData, class_names: list[str]) -> LabelledData:
    """Express ``data``'s labels in a trained model's class list; classes it never saw are an error."""
    unknown = sorted(set(data.class_names) - set(class_names))
    if unknown:
        from ..errors import DataLayoutError

        raise DataLayoutError(f"{data.source}: classes {', '.join(unknown)} were not in training ({', '.join(class_names)})")
    index = {name: class_names.index(name) for name in data.class_names}
    splits = {k: [Sample(s.path, index[data.class_names[s.label]]) for s in v] for k, v in data.splits.items()}
    return LabelledData(list(class_names), splits, data.skipped, data.warnings, data.source)


def evaluate(run, data_source: str | Path, out_dir: Path, refer_below: float = 0.8, progress: bool = True) -> dict:
    """Evaluate a trained run on another labelled folder/CSV: its test split if it has one, else every image."""
    source = Path(data_source)
    if source.is_dir() and (source / "test").is_dir():
        source = source / "test"
    data = read_labelled(source, run.config.seed, 0.0, 0.0, min_classes=1)
    data.splits = {"test": [s for split in data.splits.values() for s in split]}
    data = relabel(data, run.class_names)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = evaluate_split(run.load_model(), data, "test", run.preprocessing, run.config, run.temperature, out_dir, progress, refer_below)
    metrics["skipped"] = [vars(p) for p in data.skipped]
    write_json(out_dir / "metrics.json", metrics)
    from ..report import confusion_matrix_plot, reliability_diagram

    confusion_matrix_plot(metrics["confusion_matrix"], run.class_names, out_dir / "confusion_matrix.png")
    reliability_diagram(metrics["reliability"], metrics["ece"], out_dir / "reliability.png")
    return metrics


from .classify_cli import SUMMARY_KEYS, cli_eval, cli_explain, cli_predict  # noqa: E402,F401  (the CLI's view of this task)
