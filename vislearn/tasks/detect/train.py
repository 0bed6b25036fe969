"""Object detection: boxes and classes from COCO or YOLO data, scored by pycocotools' mAP.

Model, loss and decoding come side by side from :mod:`.detect_kinds` (vislearn's CenterNet or torchvision's
detectors); the shared engine trains them, early-stopping on mAP@.5 over the validation split.
"""
from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ...config import TrainConfig
from ...data.box_dataset import make_box_loader
from ...data.box_transforms import box_eval_transform, box_train_transform
from ...data.boxes import DetectionData
from ...data.detection import read_detection
from ...engine import BEST, default_workers, fit, load_tensors, pick_device, pick_precision, write_json
from ...metrics.detection import ImageBoxes, map_scores
from ...models.detection import create_detector, detector_preprocessing
from ..common import log_data_notes
from .kinds import kind_of
from .model import NEW_RUN_DEFAULTS, options
from .outputs import evaluate_records

SUMMARY_KEYS = ("split", "map", "map50", "map75")  # what `vislearn train detect --json` prints


class DetectTask:
    """What the engine needs: forward (torchvision detectors need the targets), loss, and a mAP meter."""

    score_name = "map50"

    def __init__(self, model: torch.nn.Module, class_names: list[str], box_loss: str = "l1"):
        self.model, self.kind, self.class_names, self.box_loss = model, kind_of(model), class_names, box_loss

    def forward(self, model, images: torch.Tensor, targets) -> dict:
        return self.kind.forward(model, images, targets)

    def loss(self, outputs: dict, targets) -> torch.Tensor:
        return self.kind.loss(self.model, outputs, targets, self.box_loss)

    def new_meter(self) -> DetectionMeter:
        return DetectionMeter(self.class_names)


class DetectionMeter:
    """Mean loss; mAP and mAP@.5 (pycocotools) when the pass produced detections (validation), else only the loss."""

    def __init__(self, class_names: list[str]):
        self.class_names, self.losses, self.truths, self.found = class_names, [], [], []

    def update(self, outputs: dict, targets: list[dict], loss: torch.Tensor) -> None:
        self.losses.append(float(loss))
        if outputs.get("detections") is None:
            return
        for target, d in zip(targets, outputs["detections"]):
            self.truths.append(ImageBoxes(target["boxes_xyxy"].cpu().numpy(), target["class_ids"].cpu().numpy()))
            self.found.append(ImageBoxes(d.boxes_xyxy.cpu().numpy(), d.class_ids.cpu().numpy(), d.scores.cpu().numpy()))

    def compute(self) -> dict[str, float]:
        metrics = {"loss": float(np.mean(self.losses)) if self.losses else float("nan")}
        if self.truths:
            metrics.update(map_scores(self.truths, self.found, self.class_names))
        return metrics


def auto_image_size(data: DetectionData, limit: int = 200) -> int:
    """Median longer side of the training images, rounded up to 32, within 64..640."""
    records = data.splits["train"][:: max(1, len(data.splits["train"]) // limit)]
    median = statistics.median(max(r.width, r.height) for r in records)
    return int(max(64, min(640, -(-median // 32) * 32)))


def _log_data(data: DetectionData, log) -> None:
    log_data_notes(data.warnings, [], log)
    for problem in data.skipped:
        log(f"skipped {problem.path}: {problem.reason}")


def train(config: TrainConfig, run_dir: str | Path, resume: bool = False, log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Read boxes, train with the shared engine, evaluate the best epoch on the test split (else val)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    opts = {**NEW_RUN_DEFAULTS, **options(config)}
    data = read_detection(config.data, config.seed, config.val_fraction, config.test_fraction, opts["layout"])
    _log_data(data, log)
    size = config.image_size or auto_image_size(data)
    config = config.replace(image_size=size, extra=opts)
    torch.manual_seed(config.seed)
    model = create_detector(config.model, len(data.class_names), config.weights, size)
    pre = dataclasses.replace(detector_preprocessing(model, size), resize_mode=opts["resize_mode"])
    device = pick_device(config.device)
    runtime = {"device": str(device), "precision": pick_precision(device, config.precision), "torch": torch.__version__}
    log(f"data {data.source} ({data.layout}): {len(data.class_names)} classes, "
        + ", ".join(f"{k} {len(v)} images" for k, v in data.splits.items()) + f"; model {config.model} at {size}px on {device}")
    log(f"pictures fitted to the {size}px input by {opts['resize_mode']}; boxes learned with the {opts['box_loss']} box loss")
    write_json(run_dir / "config.json", {**config.to_dict(), "class_names": data.class_names, "preprocessing": pre.to_dict(), "runtime": runtime})
    write_json(run_dir / "data_summary.json", data.summary())
    workers = default_workers() if config.workers < 0 else config.workers
    train_loader = make_box_loader(data.splits["train"], box_train_transform(pre, config.augment), config.batch_size, True, workers, config.seed)
    val_loader = make_box_loader(data.splits["val"], box_eval_transform(pre), config.batch_size, False, workers)
    result = fit(model, DetectTask(model, data.class_names, opts["box_loss"]), train_loader, val_loader, config, run_dir, resume, log, progress)
    summary = data.summary()
    summary["skipped"] += [vars(p) for p in result.skipped if p.path not in {s["path"] for s in summary["skipped"]}]
    write_json(run_dir / "data_summary.json", summary)  # files that failed to decode during training join the list
    weights, _ = load_tensors(run_dir / BEST)
    model.load_state_dict(weights)
    split = "test" if data.splits.get("test") else "val"
    metrics = evaluate_records(model.eval(), data.splits[split], data.class_names, pre, config, run_dir, split, progress)
    metrics.update(best_epoch=result.best_epoch, stopped_early=result.stopped_early)
    write_json(run_dir / "metrics.json", metrics)
    return {"model": model, "data": data, "preprocessing": pre, "metrics": metrics, "config": config}
