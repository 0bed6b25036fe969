"""A finished (or interrupted) run folder: its config, calibrated model, and what it can do next."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import torch
from torch import nn
from tqdm import tqdm

from .config import TrainConfig
from .data import Problem, Sample, eval_transform, make_loader
from .engine import BEST, load_tensors, read_json
from .engine.predict import BACKENDS, fastest_backend
from .errors import CheckpointError
from .metrics import calibrated_probs
from .models import Preprocessing, create_model

AUTOTUNE_FROM = 256  # images: below this, timing backends costs more than it saves


class Prediction(NamedTuple):
    path: str
    predicted: str
    confidence: float  # calibrated probability of ``predicted``
    refer_to_human: bool  # confidence below the referral threshold
    probabilities: dict[str, float]


@dataclass
class Run:
    dir: Path
    config: TrainConfig
    class_names: list[str]
    preprocessing: Preprocessing
    temperature: float

    @classmethod
    def load(cls, run_dir: str | Path) -> "Run":
        run_dir = Path(run_dir)
        if not (run_dir / "config.json").is_file():
            raise CheckpointError(f"{run_dir}: not a vislearn run folder (no config.json)")
        saved = read_json(run_dir / "config.json")
        class_names = saved.pop("class_names")
        pre = Preprocessing.from_dict(saved.pop("preprocessing"))
        temperature = read_json(run_dir / "calibration.json")["temperature"] if (run_dir / "calibration.json").exists() else 1.0
        return cls(run_dir, TrainConfig.from_dict(saved), class_names, pre, float(temperature))

    @property
    def metrics(self) -> dict | None:
        path = self.dir / "metrics.json"
        return read_json(path) if path.exists() else None

    @property
    def report_path(self) -> Path:
        return self.dir / "report.html"

    def load_model(self) -> nn.Module:
        """The best epoch's weights in a freshly built model (CPU, eval mode); safetensors only."""
        model = create_model(self.config.model, len(self.class_names), weights="none")
        weights, _ = load_tensors(self.dir / BEST)
        try:
            model.load_state_dict(weights)
        except RuntimeError as exc:
            raise CheckpointError(f"{self.dir / BEST}: does not fit model {self.config.model} ({exc})") from None
        return model.eval()

    def runner(self, backend: str = "auto", n_images: int = 0, device: str | None = None):
        model = self.load_model()
        device = device or self.config.device
        options = {"torch": {"device": device}, "onnx": {"onnx_path": self._onnx_path()}}
        if backend == "auto":
            on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
            backend = fastest_backend(model, self.preprocessing.image_size, options) if on_cpu and n_images >= AUTOTUNE_FROM else "torch"
        return backend, BACKENDS.get(backend)(model, image_size=self.preprocessing.image_size, **options.get(backend, {}))

    def _onnx_path(self) -> Path:
        path = self.dir / "model.onnx"
        if path.exists() and path.stat().st_mtime < (self.dir / BEST).stat().st_mtime:
            path.unlink()
        return path

    def predict(self, images: Sequence[str | Path], refer_below: float = 0.8, backend: str = "auto",
                batch_size: int = 64, workers: int | None = None, progress: bool = True) -> tuple[list[Prediction], list[Problem]]:
        """Calibrated predictions for image files, streamed in batches; unreadable files come back as problems."""
        samples = [Sample(str(p), -1) for p in images]
        _, run = self.runner(backend, len(samples))
        workers = min(4, max(0, (os.cpu_count() or 1) - 1)) if workers is None else workers
        loader = make_loader(samples, eval_transform(self.preprocessing), batch_size, False, workers if len(samples) > batch_size else 0)
        predictions, problems = [], []
        for batch in tqdm(loader, desc="predict", disable=not progress, unit="batch", leave=False):
            problems.extend(batch.failed)
            if len(batch) == 0:
                continue
            probs = calibrated_probs(run(batch.images), self.temperature)
            for idx, p in zip(batch.indices.tolist(), probs):
                conf, k = p.max(dim=0)
                predictions.append(Prediction(samples[idx].path, self.class_names[int(k)], float(conf), float(conf) < refer_below,
                                              {n: float(v) for n, v in zip(self.class_names, p)}))
        return predictions, problems
