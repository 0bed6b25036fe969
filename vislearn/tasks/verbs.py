"""What a trained run folder can do next: evaluate on other data (any task), predict and explain (classification).

``vislearn.evaluate``/``predict``/``explain`` are these functions; the tasks' CLI commands call them here, below
the public API, so that no task imports the API that dispatches to it.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..data.images import expand_images
from ..run import Run
from .base import TASKS


def evaluate(run: Run | str | Path, data: str | Path, out: str | Path | None = None, refer_below: float | None = None,
             progress: bool = True) -> dict:
    """Metrics of a trained run on another labelled folder or CSV (its ``test/`` split if present)."""
    run = run if isinstance(run, Run) else Run.load(run)
    out_dir = Path(out) if out else run.dir / f"eval-{Path(data).name}"
    metrics = TASKS.get(run.config.task).evaluate(run, data, out_dir, refer_below, progress)  # writes its own pictures too
    metrics["out"] = str(out_dir)
    return metrics


def predict(run: Run | str | Path, images: Sequence[str | Path], refer_below: float | None = None, backend: str = "auto",
            batch_size: int = 64, progress: bool = True, max_error: float | None = None, prediction_sets: float | None = None):
    """Calibrated predictions for files or folders of images: (list of Prediction, list of Problem).

    ``max_error``: refer images so that the error among the rest stays below this rate (with the run's
    guarantee level); ``prediction_sets``: conformal sets at this level, sets of 2+ classes are referred.
    Left None, ``refer_below``, ``max_error`` and ``prediction_sets`` take the values the run was trained with.
    """
    run = run if isinstance(run, Run) else Run.load(run)
    return run.predict(expand_images(images), refer_below, backend, batch_size, progress=progress, max_error=max_error,
                       prediction_sets=prediction_sets)


def explain(run: Run | str | Path, image: str | Path, out: str | Path | None = None, method: str | None = None,
            target: str | None = None) -> dict:
    """Heatmaps (Grad-CAM and Integrated Gradients, or one ``method``) and layer views for one image."""
    from ..explain.gallery import explain_image, write_layer_views

    run = run if isinstance(run, Run) else Run.load(run)
    out_dir = Path(out) if out else run.dir / "explain" / Path(image).stem
    model = run.load_model()
    methods = (method,) if method else ("gradcam", "integrated_gradients")
    written = explain_image(model, str(image), run.preprocessing, run.class_names, out_dir, Path(image).stem, target, methods)
    written["layers"] = [v["image"] for v in write_layer_views(model, str(image), run.preprocessing, out_dir)]
    return written
