"""Tiny digit folders, a tiny config and a one-call ``fit`` for the engine tests.

Helpers are fixtures because tests run with ``--import-mode=importlib`` (test folders are not importable).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vislearn.config import TrainConfig
from vislearn.data import Sample, eval_transform, make_loader, train_transform
from vislearn.engine import fit
from vislearn.models import create_model, preprocessing_for
from vislearn.tasks.classify.train import ClassifyTask

IMAGE_PX = 16


@pytest.fixture(autouse=True)
def _engine_on_one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="session")
def digit_folders(tmp_path_factory, make_digits) -> Path:
    """3 classes x 10 PNGs (8x8 scans of the digits 0, 1, 2) as ``root/<digit>/*.png``. Read-only."""
    return make_digits(tmp_path_factory.mktemp("engine") / "digits", 10, range(3))


@pytest.fixture
def digit_samples(digit_folders) -> list[Sample]:
    """The 30 digit PNGs labelled 0..2, in a fixed order."""
    return [Sample(str(p), int(p.parent.name)) for p in sorted(digit_folders.glob("*/*.png"))]


@pytest.fixture
def tiny_config() -> TrainConfig:
    """CPU, fp32, 16 px, batches of 8, no early stopping, 2 epochs; tests ``.replace()`` what they vary."""
    return TrainConfig(model="tiny_cnn_small", weights="none", epochs=2, batch_size=8, image_size=IMAGE_PX,
                       patience=100, workers=0, device="cpu", precision="fp32")


def start_model(num_classes: int = 3, seed: int = 0):
    """tiny_cnn_small with weights drawn from ``seed``: the same starting point on every call."""
    torch.manual_seed(seed)
    return create_model("tiny_cnn_small", num_classes, weights="none")


def train_tiny(run_dir, samples, config, task=None, model=None, resume=False, log=None):
    """``fit`` on ``samples`` (train) and every second one (val), wired as ``classify.train`` does.
    Returns (model, FitResult)."""
    num_classes = 1 + max(s.label for s in samples)
    model = model if model is not None else start_model(num_classes)
    pre = preprocessing_for(model, config.image_size)
    train_loader = make_loader(samples, train_transform(pre, config.augment), config.batch_size, True, config.workers, config.seed)
    val_loader = make_loader(samples[::2], eval_transform(pre), config.batch_size, False, config.workers)
    result = fit(model, task or ClassifyTask(num_classes), train_loader, val_loader, config, run_dir, resume=resume,
                 log=log or (lambda _line: None), progress=False)
    return model, result


@pytest.fixture
def fit_tiny():
    """``fit_tiny(run_dir, samples, config, task=None, model=None, resume=False, log=None) -> (model, FitResult)``;
    the model defaults to tiny_cnn_small drawn from seed 0."""
    return train_tiny


@pytest.fixture
def new_model():
    """``new_model(num_classes=3, seed=0)``: tiny_cnn_small with weights drawn from ``seed``."""
    return start_model


@pytest.fixture
def ctrl_c_after_epoch():
    """``ctrl_c_after_epoch(n)``: a ``log`` for fit that raises KeyboardInterrupt once epoch ``n`` is
    checkpointed and logged, as a user pressing Ctrl-C between epochs."""

    def log_for(n: int):
        def log(line: str) -> None:
            if line.startswith(f"epoch {n:>3}"):
                raise KeyboardInterrupt(line)

        return log

    return log_for
