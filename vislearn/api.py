"""The Python API; the CLI is a thin layer over these functions.

``load_run``, ``evaluate``, ``predict`` and ``explain`` are written in :mod:`vislearn.tasks.verbs`, below the tasks'
CLI commands; they work on a run of any task, through its :class:`~vislearn.tasks.base.Task` object.

    run = vislearn.train("classify", data="data/digits", model="tiny_cnn", epochs=10, out="runs/digits")
    predictions, problems = vislearn.predict(run, ["a.png", "b.png"], max_error=0.01, prediction_sets=0.95)
    masks, problems = vislearn.predict("runs/shapes", ["photo.png"])   # a segment run: SegmentationMask per image
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from .config import TrainConfig
from .data.images import expand_images
from .engine import distributed, pick_device
from .errors import DistributedSetupError
from .run import Run
from .tasks import TASKS
from .tasks.base import trains_in_processes
from .tasks.predictions import ClassPrediction, DefectPrediction, Detections, SegmentationMask
from .tasks.verbs import evaluate, explain, load_run, predict

Prediction = ClassPrediction  # the name classification's predictions had before every task had its own


def _quiet(_: str) -> None:
    pass


def default_run_dir(task: str) -> Path:
    return Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(task: str = "classify", data: str | Path = "", out: str | Path | None = None, resume: bool = False,
          log: Callable[[str], None] | None = print, progress: bool = True, **options) -> Run | None:
    """Train ``task`` on ``data``; then calibrate, evaluate, explain and write ``report.html`` in ``out``.

    ``options`` are :class:`TrainConfig` fields (model, weights, epochs, batch_size, lr, image_size, ...).
    With ``resume=True`` an interrupted run in ``out`` continues from its last finished epoch.
    Under torchrun (``vislearn train --nproc N``; docs/distributed.md) every process trains and rank 0 alone writes
    the run folder and returns its Run; the other processes return None.
    """
    log = log or _quiet
    chosen = TASKS.get(task)
    config = TrainConfig(task=task, data=str(data), **options)
    world = distributed.world_from_env()
    if world.size > 1 and not trains_in_processes(chosen):
        raise DistributedSetupError(f"{task} trains in one process only (torchrun / --nproc train classify); "
                                    f"run `vislearn train {task}` without them")
    try:
        distributed.start(pick_device(config.device))  # before the task makes its loaders, which then split the data
        run_dir = Path(distributed.from_main(str(Path(out) if out else default_run_dir(task))))  # one folder for all
        resume = resume or distributed.restarted()  # torchrun --max-restarts: the restarted processes go on
        if not world.is_main:
            log, progress = _quiet, False
        if resume and (run_dir / "config.json").exists():
            saved = Run.load(run_dir).config
            config = saved.replace(epochs=options.get("epochs", saved.epochs), image_size=saved.image_size)
        result = chosen.train(config, run_dir, resume=resume, log=log, progress=progress)
        if not world.is_main:
            return None  # rank 0 evaluates, explains and reports; the others are done once the epochs are
        chosen.finish(run_dir, result, log)
        return Run.load(run_dir)
    finally:
        distributed.cleanup()


def finish(run_dir: Path, model, log: Callable[[str], None], examples: int = 12) -> Run:
    """Explanations and the HTML report for a trained classification run folder."""
    from .tasks.classify.task import write_explanations_and_report

    run = Run.load(run_dir)
    write_explanations_and_report(run, model, log, examples)
    return run


__all__ = ["Prediction", "ClassPrediction", "DefectPrediction", "Detections", "SegmentationMask", "Run", "train", "finish", "load_run",
           "evaluate", "predict", "explain", "expand_images"]


def organize_photos(collection: str | Path, out: str | Path, log: Callable[[str], None] | None = None, progress: bool = False, **options):
    """Group, name and de-duplicate a photo collection into the index folder ``out`` (see docs/organize.md).

    ``options`` are :class:`vislearn.tasks.organize.index.OrganizeOptions` fields (embedder, groups, names, ...).
    Returns an ``OrganizeResult`` (counts, quality rows, report path).
    """
    from .tasks.organize.index import OrganizeOptions
    from .tasks.organize.index import organize as run_organize

    if "names" in options:
        options["names"] = tuple(options["names"])
    return run_organize(collection, out, OrganizeOptions(**options), log=log or _quiet, progress=progress)


def search_photos(index: str | Path, image: str | Path | None = None, text: str | None = None, k: int = 10) -> list:
    """Top-``k`` ``Hit(path, score)`` in an organize index, like an example ``image`` or matching ``text``."""
    from .tasks.organize.search import search_by_image, search_by_text

    if (image is None) == (text is None):
        raise ValueError("give exactly one of image= or text=")
    return search_by_image(index, str(image), k) if image is not None else search_by_text(index, text, k)[0]
