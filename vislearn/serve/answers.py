"""What the server answers for each task: a typed prediction as JSON, and the picture a person looks at.

One :class:`Answering` per task in ``ANSWERS`` (a registry, not an if-chain); a task without one cannot be served and
``vislearn serve`` says so at start. Every answer has ``refer_to_human`` (bool) and ``refer_reason`` ("" when decided).

Pictures (PNG bytes): classify: Grad-CAM of the predicted class over the image; defects: the defect heatmap on the
report's colour scale (0 to twice the threshold); segment: the mask painted over the image; detect: the boxes drawn.
"""
from __future__ import annotations

import io
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..data.images import read_image
from ..explain.gallery import explain_image
from ..metrics.detection import ImageBoxes
from ..registry import Registry
from ..run import Run
from ..tasks.classify import run as classify_run
from ..tasks.defects.outputs import write_pictures as write_defect_pictures
from ..tasks.defects.task import kept_detector
from ..tasks.defects.unlike import read_unlike_training, referral_fields
from ..tasks.detect.files import draw_boxes
from ..tasks.segment.outputs import colour_overlay


@dataclass(frozen=True)
class Answering:
    """to_json(run, prediction) -> JSON-able dict; picture(run, prediction, image path) -> PNG bytes;
    predict_options(run) -> the task's ``predict`` options the server uses (e.g. classify's fastest backend)."""

    to_json: Callable[[Run, Any], dict]
    picture: Callable[[Run, Any, Path], bytes]
    predict_options: Callable[[Run], dict] = lambda run: {}


ANSWERS: Registry[Answering] = Registry("served task")


def _png(array_or_image) -> bytes:
    image = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(np.asarray(array_or_image, np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def _classify_json(run: Run, p) -> dict:
    return {"predicted": p.predicted, "confidence": _round(p.confidence), "refer_to_human": bool(p.refer_to_human),
            "refer_reason": p.refer_reason, "probabilities": {k: _round(v) for k, v in p.probabilities.items()},
            "prediction_set": list(p.prediction_set) if p.prediction_set is not None else None, "unlike_score": _round(p.unlike_score)}


def _classify_options(run: Run) -> dict:
    """The backend timed fastest on this machine (ONNX Runtime or eager torch), chosen once as for a large folder."""
    backend = run.kept("served-backend", lambda: classify_run.runner(run, "auto", classify_run.AUTOTUNE_FROM)[0])
    return {"backend": backend}


def _classify_picture(run: Run, p, image: Path) -> bytes:
    model = run.kept("explain-model", lambda: classify_run.load_model(run))
    # Grad-CAM hooks the model: one picture at a time, even with two batches in flight
    with run.kept("explain-lock", threading.Lock), tempfile.TemporaryDirectory(prefix="vislearn-serve-") as folder:
        written = explain_image(model, str(image), run.preprocessing, run.class_names, Path(folder), "upload", p.predicted, ("gradcam",))
        return Path(written["gradcam"]).read_bytes()


def _defects_json(run: Run, p) -> dict:
    unlike = run.kept("unlike-training", lambda: read_unlike_training(run.dir))
    fields = referral_fields(p.is_defect, p.global_z, unlike)
    return {"verdict": fields["verdict"], "is_defect": bool(p.is_defect), "score": _round(p.score), "kind": p.kind,
            "local_z": _round(p.local_z), "global_z": _round(p.global_z),
            "refer_to_human": bool(fields["refer_to_human"]), "refer_reason": fields["refer_reason"]}


def _defects_picture(run: Run, p, image: Path) -> bytes:
    detector = kept_detector(run)[0]
    with tempfile.TemporaryDirectory(prefix="vislearn-serve-") as folder:
        written = write_defect_pictures(p, Path(folder), "upload", detector.calibration.threshold)
        return Path(written["overlay"]).read_bytes()


def _detect_json(run: Run, p) -> dict:
    boxes = [{"label": p.class_names[int(c)], "score": _round(s), "box_xyxy": [_round(v, 2) for v in box]}
             for box, s, c in zip(p.boxes_xyxy.reshape(-1, 4).tolist(), p.scores.tolist(), p.class_ids.tolist())]
    return {"boxes": boxes, "image_wh": list(p.image_wh), "refer_to_human": False, "refer_reason": ""}


def _detect_picture(run: Run, p, image: Path) -> bytes:
    found = ImageBoxes(p.boxes_xyxy, p.class_ids, p.scores)
    return _png(draw_boxes(read_image(image), found, list(p.class_names)))


def _segment_json(run: Run, p) -> dict:
    return {"class_fractions": {k: _round(v) for k, v in p.class_fractions.items()}, "mask_hw": list(p.mask_hw.shape),
            "refer_to_human": False, "refer_reason": ""}


def _segment_picture(run: Run, p, image: Path) -> bytes:
    photo = np.asarray(read_image(image))
    mask = p.mask_hw
    if mask.shape != photo.shape[:2]:
        mask = np.asarray(Image.fromarray(mask).resize(photo.shape[1::-1], Image.NEAREST))
    return _png(colour_overlay(photo, mask))


def mask_png(p) -> bytes | None:
    """A segmentation prediction's mask as a greyscale PNG (value = class index); None for other predictions."""
    mask = getattr(p, "mask_hw", None)
    return _png(mask) if mask is not None else None


ANSWERS.register("classify")(Answering(_classify_json, _classify_picture, _classify_options))
ANSWERS.register("defects")(Answering(_defects_json, _defects_picture))
ANSWERS.register("detect")(Answering(_detect_json, _detect_picture))
ANSWERS.register("segment")(Answering(_segment_json, _segment_picture))
