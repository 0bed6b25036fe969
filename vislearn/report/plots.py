"""Report plots: plain data in, one PNG file out, its path returned.

Figures are built from ``matplotlib.figure.Figure`` directly, never through pyplot:
no backend is selected, no global figure list grows, and nothing needs closing, so
these functions are safe to call from any thread or after another library picked a
GUI backend. Layouts are "constrained" and saved without a tight bounding box, so
a PNG's pixel size is exactly ``figsize * DPI`` and predictable from the inputs.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 100
MARKED_THRESHOLDS = (0.5, 0.8, 0.9)
SPLIT_COLOURS = {"train": "#4C72B0", "val": "#DD8452", "test": "#55A868"}


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png", facecolor="white")
    return path


def _floats(values: Iterable) -> np.ndarray:
    """JSON null becomes NaN, so missing epochs and empty bins are gaps, not zeros."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _short(name: object, limit: int = 18) -> str:
    """Class names on axes are cut in the middle: 50 long names still leave room for
    the plot, and names that differ only at the end (``class_12``) stay distinct."""
    text = str(name)
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="grey")


def _draw_series(ax, history: Sequence[Mapping], series: Sequence[tuple[str, str]]) -> None:
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    drawn = 0
    for key, label in series:
        values = _floats(row.get(key) for row in history)
        if np.isnan(values).all():
            continue
        ax.plot(epochs, values, marker="o" if len(epochs) <= 30 else None, markersize=3, label=label)
        drawn += 1
    if drawn:
        ax.legend(fontsize=8)
    else:
        _note(ax, "not recorded")


def learning_curves(history: Sequence[Mapping], path: str | Path) -> Path:
    """Three panels over epochs: loss (train, val), accuracy / macro-F1, learning rate.

    history: one dict per epoch with any of epoch, train_loss, val_loss,
    train_accuracy, val_accuracy, val_macro_f1, lr; absent keys are skipped.
    """
    panels = [
        ("Loss", [("train_loss", "train"), ("val_loss", "val")]),
        ("Scores", [("train_accuracy", "train accuracy"), ("val_accuracy", "val accuracy"), ("val_macro_f1", "val macro-F1"),
                    ("val_map50", "val mAP@.5"), ("train_miou", "train mean IoU"), ("val_miou", "val mean IoU")]),
        ("Learning rate", [("lr", "learning rate")]),
    ]
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    for ax, (title, series) in zip(fig.subplots(1, 3), panels):
        _draw_series(ax, history, series)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.axes[2].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return _save(fig, path)


def _annotate_counts(ax, counts: np.ndarray, share: np.ndarray) -> None:
    k = counts.shape[0]
    fontsize = 10 if k <= 10 else 8 if k <= 20 else 6 if k <= 35 else 5
    for true_index, predicted_index in np.ndindex(counts.shape):
        count = int(counts[true_index, predicted_index])
        if count == 0 and k > 20:
            continue  # zeros would bury the few mistakes that matter
        colour = "white" if share[true_index, predicted_index] > 0.5 else "black"
        ax.text(predicted_index, true_index, str(count), ha="center", va="center",
                fontsize=fontsize, color=colour)


def confusion_matrix_plot(matrix: Sequence[Sequence[int]], class_names: Sequence[str], path: str | Path) -> Path:
    """Annotated confusion matrix; colour is the share of each true class (row-normalised).

    matrix: (K, K) counts, rows = true class, columns = predicted class.
    class_names: K names; any other length falls back to class indices.
    """
    counts = np.asarray(matrix, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"confusion matrix must be square and non-empty, got shape {counts.shape}")
    k = counts.shape[0]
    names = [_short(n) for n in class_names] if len(class_names) == k else [str(i) for i in range(k)]
    row_totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, row_totals, out=np.zeros_like(counts), where=row_totals > 0)

    side = float(np.clip(2.5 + 0.32 * k, 4.5, 20.0))
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label="share of the true class")
    tick_size = 10 if k <= 20 else 7
    ax.set_xticks(range(k), names, fontsize=tick_size, rotation=90 if k > 8 else 45,
                  ha="center" if k > 8 else "right", rotation_mode="default" if k > 8 else "anchor")
    ax.set_yticks(range(k), names, fontsize=tick_size)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    # Lay out once, then freeze, before adding up to K*K counts: otherwise saving
    # draws every count twice (layout pass + render pass), seconds for 50 classes.
    fig.get_layout_engine().execute(fig)
    fig.set_layout_engine("none")
    _annotate_counts(ax, counts, share)
    return _save(fig, path)


def reliability_diagram(reliability: Mapping, ece: float | None, path: str | Path) -> Path:
    """Accuracy per confidence bin against the diagonal, with the image count per bin below.

    reliability: bin_edges (B + 1), bin_accuracy, bin_confidence, bin_count (B each);
    empty bins have count 0 and may hold null accuracy/confidence; they get no bar.
    """
    edges = _floats(reliability["bin_edges"])
    accuracy = _floats(reliability["bin_accuracy"])
    confidence = _floats(reliability.get("bin_confidence") or [None] * len(accuracy))
    count = np.nan_to_num(_floats(reliability["bin_count"]))
    if not len(edges) == len(accuracy) + 1 == len(count) + 1 == len(confidence) + 1:
        raise ValueError("reliability needs B + 1 bin_edges and B values per bin")
    lefts, widths = edges[:-1], np.diff(edges)
    filled = (count > 0) & np.isfinite(accuracy)
    with_conf = filled & np.isfinite(confidence)

    fig = Figure(figsize=(6, 6.4), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([edges[0], edges[-1]], [edges[0], edges[-1]], "--", color="grey", label="perfect calibration")
    top.bar(lefts[filled], accuracy[filled], width=widths[filled], align="edge",
            color="#4C72B0", edgecolor="white", label="accuracy")
    top.hlines(confidence[with_conf], lefts[with_conf], (lefts + widths)[with_conf], colors="#C44E52",
               linewidth=2.5, label="mean confidence")
    top.set_ylim(0, 1.02)
    top.set_ylabel("accuracy in bin")
    top.set_title("Reliability" if ece is None else f"Reliability (ECE {float(ece):.3f})")
    top.legend(loc="upper left", fontsize=8)

    bottom.bar(lefts, count, width=widths, align="edge", color="#8C8C8C", edgecolor="white")
    for left, width, n in zip(lefts, widths, count):
        if n > 0:
            bottom.text(left + width / 2, n, str(int(n)), ha="center", va="bottom",
                        fontsize=8 if len(count) <= 15 else 6)
    bottom.set_ylim(0, max(count.max(initial=0.0), 1.0) * 1.3)
    bottom.set_xlim(edges[0], edges[-1])
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("images")
    return _save(fig, path)


def _nearest_row(rows: Sequence[Mapping], threshold: float, tolerance: float = 0.026) -> Mapping | None:
    best = min(rows, key=lambda r: abs(r["threshold"] - threshold))
    return best if abs(best["threshold"] - threshold) <= tolerance else None


def coverage_curve(coverage: Sequence[Mapping], path: str | Path) -> Path:
    """Accuracy on the images decided automatically vs the share decided automatically.

    coverage: rows {threshold, coverage, accuracy}; images whose confidence is below
    the threshold are referred to a human. Thresholds 0.5 / 0.8 / 0.9 are marked.
    """
    rows = sorted((r for r in coverage if r.get("coverage") is not None and r.get("accuracy") is not None),
                  key=lambda r: r["threshold"])
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.subplots()
    if rows:
        ax.plot([r["coverage"] for r in rows], [r["accuracy"] for r in rows], marker=".", color="#4C72B0")
        marked = {id(r): r for r in (_nearest_row(rows, m) for m in MARKED_THRESHOLDS) if r is not None}.values()
        lines = []
        for row in marked:
            ax.scatter([row["coverage"]], [row["accuracy"]], color="#C44E52", zorder=3)
            lines.append(f"refer below {row['threshold']:.2f}: {row['coverage']:.1%} decided, {row['accuracy']:.1%} right")
        # one text block instead of labels at the points: near-identical points would print on top of each other
        ax.text(0.02, 0.04, "\n".join(lines), transform=ax.transAxes, fontsize=8, va="bottom",
                bbox=dict(boxstyle="round", facecolor="white", alpha=0.85, edgecolor="#cccccc"))
        low = min(r["coverage"] for r in rows)
        ax.set_xlim(max(0.0, low - 0.1) if low > 0.5 else 0.0, 1.01)
    else:
        _note(ax, "no coverage points")
        ax.set_xlim(0, 1.02)
    ax.set_xlabel("coverage (share of images decided without a human)")
    ax.set_ylabel("accuracy on those images")
    ax.set_title("Accuracy / coverage trade-off")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def class_counts_plot(counts: Mapping[str, Mapping[str, int]], path: str | Path) -> Path:
    """Grouped bars of images per class, one bar per split.

    counts: {split: {class_name: number_of_images}}; classes are drawn in the
    order they first appear, so pass the dict in class order.
    """
    splits = [split for split, per_class in counts.items() if per_class]
    names = list(dict.fromkeys(name for split in splits for name in counts[split]))
    k = len(names)
    fig = Figure(figsize=(float(np.clip(1.5 + 0.3 * k, 6.0, 22.0)), 4.0), layout="constrained")
    ax = fig.subplots()
    if not k:
        _note(ax, "no images counted")
        return _save(fig, path)
    bar_width = 0.8 / len(splits)
    positions = np.arange(k)
    for i, split in enumerate(splits):
        heights = [counts[split].get(name, 0) for name in names]
        ax.bar(positions + (i - (len(splits) - 1) / 2) * bar_width, heights, width=bar_width,
               label=split, color=SPLIT_COLOURS.get(split))
    ax.set_xticks(positions, [_short(n) for n in names], rotation=90 if k > 10 else 0,
                  fontsize=9 if k <= 30 else 7)
    ax.set_xlim(-0.6, k - 0.4)
    ax.set_ylabel("images")
    ax.set_title("Images per class")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)
