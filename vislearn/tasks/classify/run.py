"""A classify run folder put to work: its temperature, referral rule, model, prediction backend and calibrated predictions.

These read a :class:`~vislearn.run.Run` (the folder's facts) and keep what is costly to build in ``run.kept``, so a
server (``vislearn serve``) that calls them for every batch loads the model and the rule once.
"""
from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from ...data import Problem, Sample, eval_transform, make_loader
from ...engine import BEST, default_workers, load_tensors, pick_device, read_json, write_json
from ...engine.predict import BACKENDS, fastest_backend
from ...errors import CalibrationError, CheckpointError
from ...metrics import calibrated_probs
from ...metrics.referral import Referrer, refer_everything
from ...models import create_model
from ...models.with_features import WithFeatures, split_outputs
from ...predictions import ClassPrediction
from ...run import Run
from .referral import CALIBRATION_TENSORS, load_referrer

AUTOTUNE_FROM = 256  # images: below this, timing backends costs more than it saves
BACKEND_CHOICE = "backend.json"  # the auto backend timed on this machine, remembered beside model.onnx


def temperature(run: Run) -> float:
    """The run's calibration temperature (calibration.json; 1.0 for a run without one)."""
    path = run.dir / "calibration.json"
    return float(read_json(path)["temperature"]) if path.exists() else 1.0


def has_referral_data(run: Run) -> bool:
    """Runs trained since vislearn kept its calibration images (and the unlike-training model)."""
    return (run.dir / CALIBRATION_TENSORS).exists()


def referrer(run: Run, refer_below: float | None = None, max_error: float | None = None,
             prediction_sets: float | None = None) -> Referrer:
    """The run's referral rule; arguments left None take the values the run was trained with.

    Built once per request and kept: the CLI logs the same rule that :func:`predict` applies.
    """
    return run.kept(("referrer", refer_below, max_error, prediction_sets),
                    lambda: _build_referrer(run, refer_below, max_error, prediction_sets))


def _build_referrer(run: Run, refer_below: float | None, max_error: float | None, prediction_sets: float | None) -> Referrer:
    config = run.config
    below = config.refer_below if refer_below is None else refer_below
    sets = config.prediction_sets if prediction_sets is None else prediction_sets
    t = temperature(run)
    if max_error is not None or config.max_error is None:
        return load_referrer(run.dir, t, run.class_names, below, max_error, config.guarantee_level, sets)
    try:  # the rate the run was trained with: where training could not certify it, every image is referred (as then)
        return load_referrer(run.dir, t, run.class_names, below, config.max_error, config.guarantee_level, sets)
    except CalibrationError as exc:
        plain = load_referrer(run.dir, t, run.class_names, below, None, config.guarantee_level, sets)
        return refer_everything(plain, str(exc))


def load_model(run: Run) -> nn.Module:
    """The best epoch's weights in a freshly built classifier (CPU, eval mode); safetensors only."""
    model = create_model(run.config.model, len(run.class_names), weights="none")
    weights, _ = load_tensors(run.dir / BEST)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"{run.dir / BEST}: does not fit model {run.config.model} ({exc})") from None
    return model.eval()


def runner(run: Run, backend: str = "auto", n_images: int = 0, device: str | None = None):
    """(backend name, run(images) -> outputs): logits (B, K), and penultimate features after them where the
    run keeps an unlike-training model (see :mod:`vislearn.models.with_features`)."""
    model = run.kept("runner-model", lambda: _runner_model(run))
    device = device or run.config.device
    # ONNX first: it is quick to time, and an eager model far slower than it then stops after one run
    options = {"onnx": {"onnx_path": _onnx_path(run)}, "torch": {"device": device}}
    if backend == "auto":
        backend = _auto_backend(run, model, device, n_images, options)
    return backend, run.kept(("runner", backend, device), lambda: BACKENDS.get(backend)(
        model, image_size=run.preprocessing.image_size, **options.get(backend, {})))


def _runner_model(run: Run) -> nn.Module:
    model = load_model(run)
    return WithFeatures(model, len(run.class_names)).eval() if has_referral_data(run) else model


def _auto_backend(run: Run, model: nn.Module, device: str, n_images: int, options: dict) -> str:
    """On CPU, the backend that timed fastest on this machine (timed once, then read from backend.json)."""
    if pick_device(device).type != "cpu":
        return "torch"
    path, machine = run.dir / BACKEND_CHOICE, _machine()
    if _newer_than_weights(run, path):
        saved = read_json(path)
        if saved.get("machine") == machine and saved.get("backend") in BACKENDS:
            return saved["backend"]
    if n_images < AUTOTUNE_FROM:
        return "torch"
    backend = fastest_backend(model, run.preprocessing.image_size, options)
    try:
        write_json(path, {"backend": backend, "machine": machine})
    except OSError:  # a read-only run folder: time again next time
        pass
    return backend


def _newer_than_weights(run: Run, path: Path) -> bool:
    """A file derived from the weights (exported graph, backend choice) that is still current."""
    return path.exists() and path.stat().st_mtime >= (run.dir / BEST).stat().st_mtime


def _onnx_path(run: Run) -> Path:
    # named for what the graph returns: logits, pooled features, their spreads and the middle stage
    # (models/with_features.py); a graph cached before the spreads existed keeps its old name and is never read
    path = run.dir / ("model_with_spreads.onnx" if has_referral_data(run) else "model.onnx")
    if path.exists() and not _newer_than_weights(run, path):
        path.unlink()
    return path


def predict(run: Run, images: Sequence[str | Path], refer_below: float | None = None, backend: str = "auto",
            batch_size: int = 64, workers: int | None = None, progress: bool = True, max_error: float | None = None,
            prediction_sets: float | None = None) -> tuple[list[ClassPrediction], list[Problem]]:
    """Calibrated predictions for image files, streamed in batches; unreadable files come back as problems.

    Referral (see :mod:`vislearn.metrics.referral`): ``max_error`` (a guaranteed error rate among decided
    images) replaces the fixed ``refer_below``; ``prediction_sets`` asks for conformal sets at that level.
    Left None, each takes the value the run was trained with.
    """
    rule = referrer(run, refer_below, max_error, prediction_sets)  # first: a bad request fails before any work
    samples = [Sample(str(p), -1) for p in images]
    _, forward = runner(run, backend, len(samples))
    workers = min(4, default_workers()) if workers is None else workers
    loader = make_loader(samples, eval_transform(run.preprocessing), batch_size, False, workers if len(samples) > batch_size else 0)
    names, t = run.class_names, temperature(run)
    predictions, problems = [], []
    for batch in tqdm(loader, desc="predict", disable=not progress, unit="batch", leave=False):
        problems.extend(batch.failed)
        if len(batch) == 0:
            continue
        logits, features = split_outputs(forward(batch.images), len(names))
        probs = calibrated_probs(logits, t)
        decisions = rule.decide(logits, rule.unlike_scores(features) if features.shape[1] else None)
        # one tolist() per batch: indexing tensors per image cost ~20 ms per 1,000 images (1 % for tiny_cnn)
        for idx, d, row in zip(batch.indices.tolist(), decisions, probs.tolist()):
            members = tuple(names[k] for k in d.prediction_set) if d.prediction_set is not None else None
            predictions.append(ClassPrediction(samples[idx].path, names[d.predicted], d.confidence, d.refer_to_human,
                                               dict(zip(names, row)), d.refer_reason, members, d.unlike_score))
    return predictions, problems


def _machine() -> dict:
    """What a remembered backend choice holds for: this computer and these library versions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        onnxruntime = version("onnxruntime")
    except PackageNotFoundError:
        onnxruntime = None
    return {"host": platform.node(), "cpus": os.cpu_count(), "torch": torch.__version__, "onnxruntime": onnxruntime}
