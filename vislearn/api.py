"""The Python API; the CLI is a thin layer over these functions.

    run = vislearn.train("classify", data="data/digits", model="tiny_cnn", epochs=10, out="runs/digits")
    predictions, problems = vislearn.predict(run, ["a.png", "b.png"], max_error=0.01, prediction_sets=0.95)
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .config import TrainConfig
from .data.images import is_image_file
from .errors import DataLayoutError
from .run import Prediction, Run
from .tasks import TASKS


def _quiet(_: str) -> None:
    pass


def default_run_dir(task: str) -> Path:
    return Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(task: str = "classify", data: str | Path = "", out: str | Path | None = None, resume: bool = False,
          log: Callable[[str], None] | None = print, progress: bool = True, **options) -> Run:
    """Train ``task`` on ``data``; then calibrate, evaluate, explain and write ``report.html`` in ``out``.

    ``options`` are :class:`TrainConfig` fields (model, weights, epochs, batch_size, lr, image_size, ...).
    With ``resume=True`` an interrupted run in ``out`` continues from its last finished epoch.
    """
    log = log or _quiet
    module = TASKS.get(task)
    run_dir = Path(out) if out else default_run_dir(task)
    config = TrainConfig(task=task, data=str(data), **options)
    if resume and (run_dir / "config.json").exists():
        saved = Run.load(run_dir).config
        config = saved.replace(epochs=options.get("epochs", saved.epochs), image_size=saved.image_size)
    result = module.train(config, run_dir, resume=resume, log=log, progress=progress)
    if hasattr(module, "finish"):  # a task with its own outputs (e.g. defects) writes them itself
        module.finish(run_dir, result, log)
        return Run.load(run_dir)
    return finish(run_dir, result["model"], log, result["config"].explain_examples)


def finish(run_dir: Path, model, log: Callable[[str], None], examples: int = 12) -> Run:
    """Explanations and the HTML report for a trained run folder."""
    from .explain.gallery import write_gallery
    from .report import write_report

    run = Run.load(run_dir)
    split = run.metrics["split"] if run.metrics else "test"
    write_gallery(run.dir, model, run.preprocessing, run.class_names, split, examples)
    write_report(run.dir)
    m = run.metrics or {}
    log(f"{split} accuracy {m.get('accuracy', float('nan')):.4f}  macro-F1 {m.get('macro_f1', float('nan')):.4f}  "
        f"AUROC {m.get('auroc', float('nan')):.4f}  ECE {m.get('ece', float('nan')):.4f}  (temperature {run.temperature:.2f})")
    log(f"report: {run.report_path.resolve()}")
    return run


def load_run(run_dir: str | Path) -> Run:
    return Run.load(run_dir)


def evaluate(run: Run | str | Path, data: str | Path, out: str | Path | None = None, refer_below: float | None = None,
             progress: bool = True) -> dict:
    """Metrics of a trained run on another labelled folder or CSV (its ``test/`` split if present)."""
    run = run if isinstance(run, Run) else Run.load(run)
    out_dir = Path(out) if out else run.dir / f"eval-{Path(data).name}"
    metrics = TASKS.get(run.config.task).evaluate(run, data, out_dir, refer_below, progress)  # writes its own pictures too
    metrics["out"] = str(out_dir)
    return metrics


def expand_images(items: Sequence[str | Path]) -> list[Path]:
    """Image files named directly or found (recursively, sorted) inside named folders."""
    found: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found += sorted(p for p in item.rglob("*") if p.is_file() and is_image_file(p))
        else:
            found.append(item)
    if not found:
        raise DataLayoutError(f"no images found in {', '.join(map(str, items))}")
    return found


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
    from .explain.gallery import explain_image, write_layer_views

    run = run if isinstance(run, Run) else Run.load(run)
    out_dir = Path(out) if out else run.dir / "explain" / Path(image).stem
    model = run.load_model()
    methods = (method,) if method else ("gradcam", "integrated_gradients")
    written = explain_image(model, str(image), run.preprocessing, run.class_names, out_dir, Path(image).stem, target, methods)
    written["layers"] = [v["image"] for v in write_layer_views(model, str(image), run.preprocessing, out_dir)]
    return written


__all__ = ["Prediction", "Run", "train", "finish", "load_run", "evaluate", "predict", "explain", "expand_images"]


def organize_photos(collection: str | Path, out: str | Path, log: Callable[[str], None] | None = None, progress: bool = False, **options):
    """Group, name and de-duplicate a photo collection into the index folder ``out`` (see docs/organize.md).

    ``options`` are :class:`vislearn.tasks.organize.OrganizeOptions` fields (embedder, groups, names, ...).
    Returns an ``OrganizeResult`` (counts, quality rows, report path).
    """
    from .tasks.organize import OrganizeOptions
    from .tasks.organize import organize as run_organize

    if "names" in options:
        options["names"] = tuple(options["names"])
    return run_organize(collection, out, OrganizeOptions(**options), log=log or _quiet, progress=progress)


def search_photos(index: str | Path, image: str | Path | None = None, text: str | None = None, k: int = 10) -> list:
    """Top-``k`` ``Hit(path, score)`` in an organize index, like an example ``image`` or matching ``text``."""
    from .tasks.organize_search import search_by_image, search_by_text

    if (image is None) == (text is None):
        raise ValueError("give exactly one of image= or text=")
    return search_by_image(index, str(image), k) if image is not None else search_by_text(index, text, k)[0]
