"""write_report: one self-contained HTML file per training run (images inlined, no external resources)."""
from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import jinja2

from ..errors import CheckpointError
from . import context as ctx
from . import plots
from .add_good import add_good_context
from .defects import defect_config_rows, defects_context, is_defects_run, outlier_warnings
from .detection import detection_context
from .embed import png_data_uri
from .gate import gate_context
from .referral import referral_context
from .run_files import RunFiles, load_run
from .segmentation import segmentation_context
from .template import CSS, TEMPLATE

REPORT_FILE = "report.html"
PLOTS_DIR = "plots"
MANY_CLASSES = 20  # above this, per-class plots keep their pixel size and scroll sideways


def _plot_jobs(run: RunFiles) -> dict[str, tuple[object, Callable[[Path], Path]]]:
    """name -> (input, draw); a plot is drawn only when its input is present."""
    metrics = run.metrics or {}
    counts = ctx.ordered_counts(run.data_summary)
    names = ctx.class_names(run.config, run.data_summary, run.metrics)
    return {
        "class_counts": (counts, lambda p: plots.class_counts_plot(counts, p)),
        "learning_curves": (run.history, lambda p: plots.learning_curves(run.history, p)),
        "confusion_matrix": (metrics.get("confusion_matrix"),
                             lambda p: plots.confusion_matrix_plot(metrics["confusion_matrix"], names, p)),
        "reliability": (metrics.get("reliability"),
                        lambda p: plots.reliability_diagram(metrics["reliability"], metrics.get("ece"), p)),
        "coverage": (metrics.get("coverage"), lambda p: plots.coverage_curve(metrics["coverage"], p)),
    }


def make_plots(run: RunFiles, plots_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """Draw every plot whose input exists into plots_dir; returns {name: png path} and problems."""
    paths: dict[str, Path] = {}
    problems: list[str] = []
    for name, (source, draw) in _plot_jobs(run).items():
        if not source:
            continue
        try:
            paths[name] = draw(plots_dir / f"{name}.png")
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            # malformed run files must cost one plot, not the whole report
            problems.append(f"{name.replace('_', ' ')} plot could not be drawn: {error!r}")
    return paths, problems


def _referral_sentence(run: RunFiles) -> str:
    counts = run.predictions
    if counts is None or counts.total == 0 or counts.referred is None:
        return ""
    share = ctx.fmt_percent(counts.referred / counts.total)
    return (f"Referred to a human: {counts.referred} of {counts.total} images in predictions_test.csv "
            f"({share}). Predicted wrongly: {counts.wrong}.")


def _default_title(run: RunFiles) -> str:
    config = run.config or {}
    parts = [str(config[key]) for key in ("model", "task") if config.get(key)]
    return " · ".join(parts + [run.run_dir.name]) if parts else f"Training run {run.run_dir.name}"


def build_context(run: RunFiles, plot_paths: dict[str, Path], title: str | None, plots_dir: Path | None = None) -> dict:
    """Everything the template shows, as plain strings, rows and data URIs."""
    metrics = run.metrics or {}
    history = run.history or []
    names = ctx.class_names(run.config, run.data_summary, run.metrics)
    context = {
        "title": title or _default_title(run),
        "run_name": run.run_dir.name,
        "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "css": CSS,
        "cards": ctx.summary_cards(run),
        "problems": run.problems,
        "config_rows": defect_config_rows(run.config) if is_defects_run(run.config, run.metrics) else ctx.config_rows(run.config),
        "data_source": (run.data_summary or {}).get("source"),
        "count_table": ctx.count_table(ctx.ordered_counts(run.data_summary)),
        "plots": {name: png_data_uri(plot_paths[name]) if name in plot_paths else None
                  for name in _plot_jobs(run)},
        "epochs_note": f"{len(history)} epochs." if history else "",
        "metrics_split": metrics.get("split"),
        "metric_rows": ctx.metric_rows(run.metrics),
        "referral": _referral_sentence(run),
        "per_class": ctx.per_class_rows(run.metrics),
        "many_classes": len(names) > MANY_CLASSES,
        "calibration_rows": ctx.calibration_rows(run.calibration),
        "temperature": ctx.fmt_number((run.calibration or {}).get("temperature"), 2) if run.calibration else "",
        "has_examples": run.examples is not None,
        "examples": ctx.example_grids(run.run_dir, run.examples),
        "layers": ctx.layer_items(run.run_dir, run.layers),
        "has_data_summary": run.data_summary is not None,
        "listed": ctx.skipped_and_warnings(run.data_summary, outlier_warnings(run.data_summary)),
        "defects": defects_context(run.run_dir, run.metrics, run.config, run.data_summary),
        "refer": referral_context(run.run_dir, run.calibration, run.metrics, plots_dir or run.run_dir / PLOTS_DIR),
        "detection": detection_context(run.run_dir, run.metrics),
        "segmentation": segmentation_context(run.run_dir, run.metrics),
        "gate": gate_context(run.run_dir),
        "add_good": add_good_context(run.run_dir),
    }
    # segmentation, detection and defect runs hide the whole-image classification views (accuracy, calibration, grids)
    context["hide_classification"] = bool(context["segmentation"] or context["detection"] or context["defects"])
    # a defects method without a student (patchcore) has no epochs: no empty learning-curves section
    context["show_learning_curves"] = not context["defects"] or bool(history)
    return context


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)
    return environment.from_string(TEMPLATE)


def render_report(context: dict) -> str:
    return _template().render(**context)


def write_report(run_dir: str | Path, title: str | None = None) -> Path:
    """Write run_dir/report.html (plots also saved as PNGs in run_dir/plots/); returns its path.

    Every input file is optional: missing or unreadable parts get a "Not available" note.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: run folder not found; pass the folder a training run wrote")
    run = load_run(run_dir)
    plot_paths, plot_problems = make_plots(run, run_dir / PLOTS_DIR)
    run = dataclasses.replace(run, problems=run.problems + plot_problems)
    report_path = run_dir / REPORT_FILE
    report_path.write_text(render_report(build_context(run, plot_paths, title, run_dir / PLOTS_DIR)), encoding="utf-8")
    return report_path
