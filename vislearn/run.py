"""A finished (or interrupted) run folder: its config, calibrated model, and what it can do next."""
from __future__ import annotations

import os
import platform
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn
from tqdm import tqdm

from .config import TrainConfig
from .data import Problem, Sample, eval_transform, make_loader
from .engine import BEST, default_workers, load_tensors, pick_device, read_json, write_json
from .engine.predict import BACKENDS, fastest_backend
from .errors import CalibrationError, CheckpointError
from .metrics import calibrated_probs
from .models import Preprocessing, create_model
from .metrics.referral import refer_everything
from .models.with_features import WithFeatures, split_outputs
from .predictions import ClassPrediction as Prediction  # the name callers have always imported from here
from .tasks.classify_referral import CALIBRATION_TENSORS, load_referrer

AUTOTUNE_FROM = 256  # images: below this, timing backends costs more than it saves
BACKEND_CHOICE = "backend.json"  # the auto backend timed on this machine, remembered beside model.onnx


@dataclass
class Run:
    dir: Path
    config: TrainConfig
    class_names: list[str]
    preprocessing: Preprocessing
    temperature: float
    _referrers: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _kept: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _keeping: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, run_dir: str | Path) -> "Run":
        run_dir = Path(run_dir)
        if not (run_dir / "config.json").is_file():
            raise CheckpointError(f"{run_dir}: not a vislearn run folder (no config.json)")
        saved = read_json(run_dir / "config.json")
        class_names = saved.pop("class_names")
        pre = Preprocessing.from_dict(saved.pop("preprocessing"))
        saved.pop("runtime", None)  # where it trained (device, precision): for the report, not for the config
        temperature = read_json(run_dir / "calibration.json")["temperature"] if (run_dir / "calibration.json").exists() else 1.0
        return cls(run_dir, TrainConfig.from_dict(saved), class_names, pre, float(temperature))

    @property
    def metrics(self) -> dict | None:
        path = self.dir / "metrics.json"
        return read_json(path) if path.exists() else None

    @property
    def report_path(self) -> Path:
        return self.dir / "report.html"

    @property
    def has_referral_data(self) -> bool:
        """Runs trained since vislearn kept its calibration images (and the unlike-training model)."""
        return (self.dir / CALIBRATION_TENSORS).exists()

    def referrer(self, refer_below: float | None = None, max_error: float | None = None, prediction_sets: float | None = None):
        """The run's referral rule; arguments left None take the values the run was trained with.

        Built once per request and kept: the CLI logs the same rule that :meth:`predict` applies.
        """
        key = (refer_below, max_error, prediction_sets)
        if key not in self._referrers:
            self._referrers[key] = self._build_referrer(refer_below, max_error, prediction_sets)
        return self._referrers[key]

    def _build_referrer(self, refer_below: float | None, max_error: float | None, prediction_sets: float | None):
        below = self.config.refer_below if refer_below is None else refer_below
        sets = self.config.prediction_sets if prediction_sets is None else prediction_sets
        if max_error is not None or self.config.max_error is None:
            return load_referrer(self.dir, self.temperature, self.class_names, below, max_error, self.config.guarantee_level, sets)
        try:  # the rate the run was trained with: where training could not certify it, every image is referred (as then)
            return load_referrer(self.dir, self.temperature, self.class_names, below, self.config.max_error,
                                 self.config.guarantee_level, sets)
        except CalibrationError as exc:
            plain = load_referrer(self.dir, self.temperature, self.class_names, below, None, self.config.guarantee_level, sets)
            return refer_everything(plain, str(exc))

    def kept(self, key, make: Callable[[], Any]) -> Any:
        """``make()``, built once per key for this Run object and kept: a model a server (``vislearn serve``) calls
        for every batch is loaded once, not per call. A new :meth:`load` of the folder starts afresh."""
        with self._keeping:  # two serving threads asking at once build it once
            if key not in self._kept:
                self._kept[key] = make()
            return self._kept[key]

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
        """(backend name, run(images) -> outputs): logits (B, K), and penultimate features after them where the
        run keeps an unlike-training model (see :mod:`vislearn.models.with_features`)."""
        model = self.kept("runner-model", self._runner_model)
        device = device or self.config.device
        # ONNX first: it is quick to time, and an eager model far slower than it then stops after one run
        options = {"onnx": {"onnx_path": self._onnx_path()}, "torch": {"device": device}}
        if backend == "auto":
            backend = self._auto_backend(model, device, n_images, options)
        return backend, self.kept(("runner", backend, device), lambda: BACKENDS.get(backend)(
            model, image_size=self.preprocessing.image_size, **options.get(backend, {})))

    def _runner_model(self) -> nn.Module:
        model = self.load_model()
        return WithFeatures(model, len(self.class_names)).eval() if self.has_referral_data else model

    def _auto_backend(self, model: nn.Module, device: str, n_images: int, options: dict) -> str:
        """On CPU, the backend that timed fastest on this machine (timed once, then read from backend.json)."""
        if pick_device(device).type != "cpu":
            return "torch"
        path, machine = self.dir / BACKEND_CHOICE, _machine()
        if self._newer_than_weights(path):
            saved = read_json(path)
            if saved.get("machine") == machine and saved.get("backend") in BACKENDS:
                return saved["backend"]
        if n_images < AUTOTUNE_FROM:
            return "torch"
        backend = fastest_backend(model, self.preprocessing.image_size, options)
        try:
            write_json(path, {"backend": backend, "machine": machine})
        except OSError:  # a read-only run folder: time again next time
            pass
        return backend

    def _newer_than_weights(self, path: Path) -> bool:
        """A file derived from the weights (exported graph, backend choice) that is still current."""
        return path.exists() and path.stat().st_mtime >= (self.dir / BEST).stat().st_mtime

    def _onnx_path(self) -> Path:
        # named for what the graph returns: logits, pooled features and their spreads (models/with_features.py); a graph
        # cached before the spreads existed keeps its old name and is never read
        path = self.dir / ("model_with_spreads.onnx" if self.has_referral_data else "model.onnx")
        if path.exists() and not self._newer_than_weights(path):
            path.unlink()
        return path

    def predict(self, images: Sequence[str | Path], refer_below: float | None = None, backend: str = "auto",
                batch_size: int = 64, workers: int | None = None, progress: bool = True, max_error: float | None = None,
                prediction_sets: float | None = None) -> tuple[list[Prediction], list[Problem]]:
        """Calibrated predictions for image files, streamed in batches; unreadable files come back as problems.

        Referral (see :mod:`vislearn.metrics.referral`): ``max_error`` (a guaranteed error rate among decided
        images) replaces the fixed ``refer_below``; ``prediction_sets`` asks for conformal sets at that level.
        Left None, each takes the value the run was trained with.
        """
        referrer = self.referrer(refer_below, max_error, prediction_sets)  # first: a bad request fails before any work
        samples = [Sample(str(p), -1) for p in images]
        _, run = self.runner(backend, len(samples))
        workers = min(4, default_workers()) if workers is None else workers
        loader = make_loader(samples, eval_transform(self.preprocessing), batch_size, False, workers if len(samples) > batch_size else 0)
        predictions, problems = [], []
        for batch in tqdm(loader, desc="predict", disable=not progress, unit="batch", leave=False):
            problems.extend(batch.failed)
            if len(batch) == 0:
                continue
            logits, features = split_outputs(run(batch.images), len(self.class_names))
            probs = calibrated_probs(logits, self.temperature)
            decisions = referrer.decide(logits, referrer.unlike_scores(features) if features.shape[1] else None)
            # one tolist() per batch: indexing tensors per image cost ~20 ms per 1,000 images (1 % for tiny_cnn)
            for idx, d, row in zip(batch.indices.tolist(), decisions, probs.tolist()):
                members = tuple(self.class_names[k] for k in d.prediction_set) if d.prediction_set is not None else None
                predictions.append(Prediction(samples[idx].path, self.class_names[d.predicted], d.confidence, d.refer_to_human,
                                              dict(zip(self.class_names, row)), d.refer_reason, members, d.unlike_score))
        return predictions, problems


def _machine() -> dict:
    """What a remembered backend choice holds for: this computer and these library versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        onnxruntime = version("onnxruntime")
    except PackageNotFoundError:
        onnxruntime = None
    return {"host": platform.node(), "cpus": os.cpu_count(), "torch": torch.__version__, "onnxruntime": onnxruntime}
