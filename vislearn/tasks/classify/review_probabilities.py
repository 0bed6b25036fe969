"""Out-of-fold probabilities for ``vislearn review``: each image's (K,) probabilities from a model that never saw its
label. The images are cut into stratified folds once (:func:`stratified_folds`); a method, by name (``--method``),
scores each fold with a model fitted on the others:

- ``features`` (default, cheap): the run's network computes each image's penultimate features once; a logistic
  regression fitted on the other folds scores each fold. Where the folder is the run's own training data, the features
  come from a network that trained on these labels, so a mistake it memorised can sit with its wrong class and be missed.
- ``retrain`` (exact): for each fold, the run's own recipe (its config: model, weights, epochs, optimizer, schedule,
  augment, image size; seed + fold) is trained by the classify training entry point on the other folds, in a
  temporary folder removed afterwards, and predicts the held-out fold (softmax; the run's temperature is not needed:
  confident learning compares each class with its own threshold). Costs ``folds`` trainings on (folds - 1) / folds of
  the images each.
"""
from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from ...config import TrainConfig
from ...data import Sample
from ...errors import DataLayoutError
from ...files import write_csv_rows
from ...registry import Registry
from . import train as classify_train


class ProbabilityMethod(NamedTuple):
    """``fit(run, samples, labels_n, features_nd, fold_n, log, progress) -> probs_nk``; ``says``: how the log and
    review.html name it (``{folds}``, ``{model}``, ``{epochs}`` filled in); ``caveat``: how far to trust it."""

    fit: Callable[..., np.ndarray]
    says: str
    caveat: str


METHODS: Registry[ProbabilityMethod] = Registry("review probability method")


def stratified_folds(labels_n: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(N,) the fold that holds each image out: ``folds`` (at most the smallest class's count) stratified folds."""
    counts = np.bincount(labels_n)
    folds = int(min(folds, counts[counts > 0].min()))
    if folds < 2:
        raise DataLayoutError("review needs at least 2 images of every class present (cross-fitting holds some out)")
    fold_n = np.empty(len(labels_n), dtype=np.int64)
    for fold, (_, held) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels_n)), labels_n)):
        fold_n[held] = fold
    return fold_n


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (loader workers) so far."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def features_probs(run, samples: list[Sample], labels_n: np.ndarray, features_nd: np.ndarray, fold_n: np.ndarray, log=print,
                   progress: bool = False) -> np.ndarray:
    """(N, K): a logistic regression on the (N, D) features of the other folds scores each fold."""
    probs = np.zeros((len(labels_n), len(run.class_names)))
    for fold in range(int(fold_n.max()) + 1):
        fit, held = np.flatnonzero(fold_n != fold), np.flatnonzero(fold_n == fold)
        head = LogisticRegression(max_iter=500, C=1.0).fit(features_nd[fit], labels_n[fit])
        probs[np.ix_(held, head.classes_)] = head.predict_proba(features_nd[held])
    return probs


def retrained_probs(run, samples: list[Sample], labels_n: np.ndarray, features_nd: np.ndarray | None, fold_n: np.ndarray,
                    log=print, progress: bool = False, train=None) -> np.ndarray:
    """(N, K): each fold's rows from the run's recipe trained on the other folds (``train``: the classify training entry
    point, ``train(config, run_dir, log=, progress=) -> {"model", "data", "preprocessing", "config"}``); a held-out
    file the fold model cannot read keeps uniform probabilities."""
    train = train or classify_train.train
    names, folds = list(run.class_names), int(fold_n.max()) + 1
    probs = np.full((len(labels_n), len(names)), 1.0 / len(names))
    with tempfile.TemporaryDirectory(prefix="vislearn-review-folds-") as scratch:
        for fold in range(folds):
            start, started = cpu_seconds(), time.monotonic()
            fit, held = np.flatnonzero(fold_n != fold), np.flatnonzero(fold_n == fold)
            log(f"review: fold {fold + 1}/{folds}: training {run.config.model} ({run.config.epochs} epochs) on {len(fit)} images "
                f"of the other folds, then scoring its {len(held)}")
            rows = [{"path": samples[i].path, "label": names[labels_n[i]], "split": "train"} for i in fit.tolist()]
            write_csv_rows(Path(scratch) / f"fold{fold}.csv", rows, ["path", "label", "split"])
            result = train(_fold_config(run.config, Path(scratch) / f"fold{fold}.csv", fold), Path(scratch) / f"fold{fold}",
                           log=lambda *_: None, progress=progress)
            fold_probs = _held_out_probs(result, [samples[i] for i in held.tolist()], progress, f"review fold {fold + 1}/{folds}")
            columns = [names.index(name) for name in result["data"].class_names]  # a class the fold never saw: 0
            for row, p in fold_probs.items():
                probs[held[row]] = 0.0
                probs[held[row], columns] = p
            agree = float((probs[held].argmax(1) == labels_n[held]).mean())
            log(f"review: fold {fold + 1}/{folds} done: agrees with {agree:.3f} of the given labels it held out "
                f"({cpu_seconds() - start:.0f} CPU s, {time.monotonic() - started:.0f} s)")
    return probs


def _fold_config(config: TrainConfig, fold_csv: Path, fold: int) -> TrainConfig:
    """The run's recipe on one fold's CSV (its rows all ``train``: validation carved from them as the run's was),
    seed + fold; the reviewed labels as given and fresh weights (no ``--corrections``, no ``--from``)."""
    extra = {k: v for k, v in config.extra.items() if k not in ("corrections", "from_run")}
    return config.replace(data=str(fold_csv), seed=config.seed + fold, extra=extra)


def _held_out_probs(result: dict, held: list[Sample], progress: bool, desc: str) -> dict[int, np.ndarray]:
    """{row in ``held``: softmax (K_fold,)} by the fold's trained model; unreadable files left out."""
    model = result["model"].eval()
    logits, _, indices, _ = classify_train.predict_logits(model, held, result["preprocessing"], result["config"], desc, progress)
    probs = torch.softmax(logits.float(), 1).numpy()
    return dict(zip(np.asarray(indices).tolist(), probs))


METHODS.register("features")(ProbabilityMethod(
    features_probs, "a logistic regression on the run's features, {folds} folds",
    "the features come from a network trained on these labels when this is its own training data; a mistake it "
    "memorised can be missed"))
METHODS.register("retrain")(ProbabilityMethod(
    retrained_probs, "the run's recipe ({model}, {epochs} epochs) retrained on the other folds, {folds} trainings",
    "each image's probabilities come from a network that never trained on it (the run's own memorised mistakes do not "
    "hide)"))
