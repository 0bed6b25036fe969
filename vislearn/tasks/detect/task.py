"""The detect task object: what the API and the CLI call on a detection run (see :class:`~vislearn.tasks.base.Task`)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ...data.box_transforms import RESIZE_MODES
from ...errors import VislearnError
from ..base import TASKS, Flag, FlagGroup, TrainFlag, finish_with_details, train_returning_result
from ..predictions import Detections
from . import cli as detect_cli
from . import outputs as detect_outputs
from . import train as detect
from .loss import BOX_LOSSES
from .model import load_detector, thresholds

PREDICT_FLAGS = FlagGroup("detect runs", "options of `predict` on a detect run", (
    Flag("--conf", "conf", {"type": float, "help": "keep boxes scoring at least this (default 0.25)"}),
    Flag("--iou", "iou", {"type": float, "help": "overlap above which NMS keeps only the better box (default 0.5)"}),
))

TRAIN_FLAGS = FlagGroup("detect", "options of `train detect`: how boxes are learned and how images are fitted to the model's input", (
    TrainFlag("--box-loss", "box_loss", False, {"choices": BOX_LOSSES, "help": (
        "giou (default): generalized IoU of each decoded box on top of L1 on log size and offset; l1: L1 only, as earlier runs")}),
    TrainFlag("--resize-mode", "resize_mode", False, {"choices": RESIZE_MODES.names(), "help": (
        "letterbox (default): keep the aspect ratio, pad to a square; stretch: resize each side to the input size")}),
))


@dataclass(frozen=True)
class Detection:
    """Boxes and classes (COCO or YOLO data), scored by pycocotools' mAP; Grad-CAM per detected box."""

    summary_keys = detect.SUMMARY_KEYS
    train_flags = TRAIN_FLAGS
    commands = MappingProxyType({"eval": detect_cli.cli_eval, "predict": detect_cli.cli_predict, "explain": detect_cli.cli_explain})
    verb_flags = MappingProxyType({"predict": PREDICT_FLAGS})

    train = train_returning_result(detect.train)
    finish = finish_with_details(detect_outputs.finish)

    def build(self, run):
        return load_detector(run)[0]

    def evaluate(self, run, data: Path, out_dir: Path, refer_below: float | None = None, progress: bool = True) -> dict:
        return detect_outputs.evaluate(run, data, out_dir, progress=progress)

    def predict(self, run, images: Sequence[Path], progress: bool = True, conf: float | None = None, iou: float | None = None,
                batch_size: int = 16):
        """(list of Detections, list of Problem): boxes scoring at least ``conf`` (default: the run's) after NMS at ``iou``."""
        from ...data.boxes import BoxRecord

        model, pre = run.kept("detector", lambda: load_detector(run))
        conf, iou = thresholds(run, conf, iou)
        records = [BoxRecord(str(p), 0, 0, np.zeros((0, 4), np.float32), np.zeros(0, np.int64)) for p in images]
        problems: list = []
        found = detect_outputs.detect_records(model, records, pre, conf, iou, batch_size, run.config.device, progress, "predict", problems)
        names = tuple(run.class_names)
        predictions = [Detections(records[i].path, item.boxes_xyxy, item.scores, item.class_ids, names, (int(w), int(h)))
                       for i, item, (w, h) in found]
        return predictions, problems

    def explain(self, run, image: Path, out_dir: Path, method: str | None = None, target: str | None = None,
                conf: float | None = None, iou: float | None = None) -> dict:
        """Grad-CAM of each detected box's score (or only boxes of class ``target``): {"boxes": rows with the PNG of each}."""
        from .explain import write_explanations

        if method not in (None, "gradcam"):
            raise VislearnError(f"detect runs are explained with gradcam only (got --method {method})")
        if target is not None and target not in run.class_names:
            raise VislearnError(f"--target {target!r} is not a class of this run ({', '.join(run.class_names)})")
        model, pre = load_detector(run)
        conf, iou = thresholds(run, conf, iou)
        class_id = None if target is None else run.class_names.index(target)
        return {"boxes": write_explanations(model, str(image), pre, run.class_names, out_dir, Path(image).stem, conf, iou, class_id)}

    def explain_targets(self, run) -> tuple[str, ...]:
        return tuple(run.class_names)


TASKS.register("detect")(Detection())
