"""A run's defect detector: the method a configuration builds, loading it from a run folder, and scoring image files
(one :class:`~vislearn.predictions.DefectPrediction` each). ``train.py`` fits and saves it; ``outputs.py`` and the
task object load and score with it."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch

from ...anomaly import METHODS, Detector
from ...anomaly.tiling import MAX_NATIVE_SIDE
from ...config import TrainConfig
from ...data import Sample, eval_transform, make_loader
from ...engine import load_tensors, read_json
from ...models import Preprocessing, create_model, preprocessing_for
from ...predictions import DefectPrediction


DETECTOR = "detector.safetensors"


DEFAULTS = {"method": "patchcore+distill", "max_false_alarm": 0.01, "max_memory_mb": 256.0, "held_out_fraction": 0.2,
            "max_native_side": MAX_NATIVE_SIDE, "tile": None}


def options(config: TrainConfig) -> dict:
    return {**DEFAULTS, **config.extra}


def build_method(config: TrainConfig):
    """(method, preprocessing); PatchCore gets the backbone (timm name, local weights file or the default)."""
    method_cls = METHODS.get(options(config)["method"])
    if method_cls.needs_pretrained:
        backbone = create_model(config.model, 1000, config.weights)
        pre = preprocessing_for(backbone, config.image_size or 128)
        return method_cls(backbone=backbone, max_memory_mb=options(config)["max_memory_mb"], seed=config.seed), pre
    return method_cls(seed=config.seed), Preprocessing((0.5,) * 3, (0.5,) * 3, config.image_size or 128)


def _loader(paths: list[str], pre: Preprocessing, batch_size: int):
    return make_loader([Sample(p, i) for i, p in enumerate(paths)], eval_transform(pre), batch_size, False, 0)


def load_detector(run_dir: Path) -> tuple[Detector, Preprocessing, TrainConfig]:
    saved = read_json(run_dir / "config.json")
    pre = Preprocessing.from_dict(saved.pop("preprocessing"))
    saved.pop("class_names", None)
    config = TrainConfig.from_dict(saved)
    torch.manual_seed(config.seed)  # as in train: a backbone built with --weights none is the same random network
    method, _ = build_method(config.replace(weights="none" if not METHODS.get(options(config)["method"]).needs_pretrained else config.weights))
    tensors, meta = load_tensors(run_dir / DETECTOR)
    return Detector.restore(method, tensors, meta, options(config)["tile"]), pre, config


def predict_paths(detector: Detector, paths: list[str], pre: Preprocessing, batch_size: int = 32,
                  problems: list | None = None) -> Iterator[DefectPrediction]:
    """Streams one DefectPrediction per readable image; unreadable files are skipped (and added to ``problems``)."""
    threshold = detector.calibration.threshold
    for batch in _loader(paths, pre, batch_size):
        if problems is not None:
            problems.extend(batch.failed)
        if not len(batch):
            continue
        s = detector.score(batch.images)
        for j, idx in enumerate(batch.indices.tolist()):
            score, local, global_ = float(s.score_b[j]), float(s.local_z_b[j]), float(s.global_z_b[j])
            defect = score > threshold
            kind = ("local" if local >= global_ else "global") if defect else ""
            heat = s.heatmap_bhw[j].numpy()
            yield DefectPrediction(paths[idx], score, defect, kind, local, global_, heat, heat > threshold)
