"""What a trained run folder can do next, for every task: evaluate on other data, predict, explain.

``vislearn.evaluate``/``predict``/``explain`` are these functions; each finds the run's task in ``TASKS`` and calls
its :class:`~vislearn.tasks.base.Task` method. The tasks' CLI commands call them here, below the public API, so that
no task imports the API that dispatches to it.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..data.images import expand_images
from ..run import Run
from .base import TASKS


def load_run(run: Run | str | Path) -> Run:
    """A run folder's facts (config, class names, preprocessing); a :class:`Run` is returned as it is."""
    return run if isinstance(run, Run) else Run.load(run)


def evaluate(run: Run | str | Path, data: str | Path, out: str | Path | None = None, refer_below: float | None = None,
             progress: bool = True) -> dict:
    """Metrics of a trained run on another labelled data set (its ``test/`` split if present); pictures go to ``out``."""
    run = load_run(run)
    out_dir = Path(out) if out else run.dir / f"eval-{Path(data).name}"
    metrics = TASKS.get(run.config.task).evaluate(run, data, out_dir, refer_below, progress)  # writes its own pictures too
    metrics["out"] = str(out_dir)
    return metrics


def predict(run: Run | str | Path, images: Sequence[str | Path], *, progress: bool = True, **options) -> tuple[list, list]:
    """Typed predictions for files or folders of images: (list of predictions, list of Problem for unreadable files).

    One prediction per readable image, of the run's task's type (:mod:`vislearn.tasks.predictions`):
    ``ClassPrediction``, ``DefectPrediction``, ``Detections`` or ``SegmentationMask``. ``options`` are the task's:
    classify: ``refer_below``, ``max_error``, ``prediction_sets``, ``backend``, ``batch_size`` (left None, the
    referral options take the values the run was trained with); detect: ``conf``, ``iou``, ``batch_size``;
    segment: ``tile_overlap``; defects: ``batch_size``.
    """
    run = load_run(run)
    return TASKS.get(run.config.task).predict(run, expand_images(images), progress=progress, **options)


def explain(run: Run | str | Path, image: str | Path, out: str | Path | None = None, method: str | None = None,
            target: str | None = None, **options) -> dict:
    """Heatmaps of what drove the prediction on one image, written to ``out`` (default RUN/explain/<image name>).

    classify: Grad-CAM and Integrated Gradients (or one ``method``) for ``target`` (default: the predicted class), and
    layer views; segment: Grad-CAM per class region; detect: Grad-CAM per box; defects: the defect heatmap and mask.
    Returns what was written (the task's keys; see each task's ``explain``).
    """
    run = load_run(run)
    out_dir = Path(out) if out else run.dir / "explain" / Path(image).stem
    return TASKS.get(run.config.task).explain(run, Path(image), out_dir, method, target, **options)
