"""The parity gate: the same images through the run's PyTorch chain and through the export, compared row by row.

Each :class:`Check` is one row of the table: how many images were compared, on how many the two chains differ
beyond the row's tolerance, the largest error seen, and whether the row passes. An export is valid only when
every row passes.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataLayoutError
from ..files import read_json

NEAR_THRESHOLD = 1e-4  # a decision flag may differ only for images this close to its threshold (float rounding)
TENSOR_TOLERANCE = 1e-4  # raw outputs: max abs difference, relative to the largest |value| of the PyTorch output (at least 1)


class Check(NamedTuple):
    """One row of the parity table."""

    name: str
    compared: int
    differ: int
    max_error: float | None  # None for decisions compared by equality
    tolerance: str
    passed: bool
    note: str = ""


def decision_check(name: str, torch_values: Sequence, onnx_values: Sequence, note: str = "") -> Check:
    """Labels (or any decision) that must be equal on every image."""
    differ = sum(a != b for a, b in zip(torch_values, onnx_values, strict=True))
    return Check(name, len(torch_values), differ, None, "0 differing", differ == 0, note)


def flag_check(name: str, torch_flags: Sequence[bool], onnx_flags: Sequence[bool], near_threshold: Sequence[bool],
               note: str = "") -> Check:
    """Yes/no decisions that may differ only where PyTorch's score lies within NEAR_THRESHOLD of the threshold."""
    differ = [a != b for a, b in zip(torch_flags, onnx_flags, strict=True)]
    unexplained = sum(d and not near for d, near in zip(differ, near_threshold))
    return Check(name, len(differ), sum(differ), None, f"only within {NEAR_THRESHOLD:g} of the threshold", unexplained == 0, note)


def tensor_check(name: str, torch_arrays: Sequence[np.ndarray], onnx_arrays: Sequence[np.ndarray], note: str = "",
                 relative: float = TENSOR_TOLERANCE) -> Check:
    """Raw outputs, one array per image: max abs difference within ``relative`` x max(1, largest |PyTorch value|)."""
    if not torch_arrays:
        return Check(name, 0, 0, 0.0, "-", True, note)
    errors = np.array([float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)), initial=0.0))
                       for a, b in zip(torch_arrays, onnx_arrays, strict=True)])
    scale = max(1.0, max(float(np.max(np.abs(a), initial=0.0)) for a in torch_arrays))
    tolerance = relative * scale
    # NaN never passes: a graph that yields NaN where PyTorch does not is broken
    differ = int(np.sum(~(errors <= tolerance)))
    return Check(name, len(errors), differ, float(np.max(errors)), f"{tolerance:.2g} abs", differ == 0, note)


def error_check(name: str, errors: Sequence[float], tolerance: float, unit: str = "abs", note: str = "") -> Check:
    """Errors already measured per item (e.g. matched boxes), each within ``tolerance``."""
    errors_n = np.asarray(errors, np.float64)
    differ = int(np.sum(~(errors_n <= tolerance)))
    return Check(name, len(errors_n), differ, float(errors_n.max(initial=0.0)), f"{tolerance:.2g} {unit}", differ == 0, note)


def same_images_check(torch_paths: Sequence[str], onnx_paths: Sequence[str]) -> Check:
    """Both chains read (and skipped) the same files."""
    differ = len(set(torch_paths) ^ set(onnx_paths))
    return Check("images read", len(set(torch_paths) | set(onnx_paths)), differ, None, "0 differing", differ == 0)


def table(checks: Sequence[Check]) -> str:
    """The parity table as plain text, one row per check."""
    header = ("check", "compared", "differ", "max error", "tolerance", "pass")
    rows = [(c.name, str(c.compared), str(c.differ), "-" if c.max_error is None else f"{c.max_error:.3g}", c.tolerance,
             "yes" if c.passed else "NO") for c in checks]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in (header, *rows)]
    notes = [f"  {c.name}: {c.note}" for c in checks if c.note]
    return "\n".join(lines + (["notes:", *notes] if notes else []))


def write_parity(path: Path, checks: Sequence[Check], images: dict) -> dict:
    """parity.json: every check, the images compared and the verdict."""
    answer = {"valid": all(c.passed for c in checks), "images": images, "checks": [c._asdict() for c in checks]}
    path.write_text(json.dumps(answer, indent=2, default=float) + "\n")
    return answer


def held_out_images(run_dir: Path, limit: int) -> tuple[str, list[str]]:
    """(split name, image paths) of the run's held-out split (test, else val), as its predictions file lists them."""
    metrics = run_dir / "metrics.json"
    split = read_json(metrics).get("split", "test") if metrics.exists() else "test"
    for name in (split, "test", "val"):
        listed = _listed(run_dir, name)
        if listed:
            return name, listed[:limit]
    raise DataLayoutError(f"{run_dir}: no held-out predictions (predictions_test.csv/.json) to check the export on; "
                          "pass images with --images")


def _listed(run_dir: Path, split: str) -> list[str]:
    table_path, coco_path = run_dir / f"predictions_{split}.csv", run_dir / f"predictions_{split}.json"
    if table_path.is_file():
        with table_path.open(newline="") as f:
            return [row["path"] for row in csv.DictReader(f) if row.get("path")]
    if coco_path.is_file():
        return [image["file_name"] for image in read_json(coco_path).get("images", [])]
    return []
