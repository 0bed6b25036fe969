"""Small steps every task module takes the same way: telling the user about its data, writing prediction rows."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

MAX_WARNINGS_LOGGED = 20  # the rest are listed in data_summary.json and the report


def log_data_notes(warnings: list[str], skipped: list, log: Callable[[str], None]) -> None:
    """Log the reader's warnings (the first few) and how many files were skipped."""
    for warning in warnings[:MAX_WARNINGS_LOGGED]:
        log(f"warning: {warning}")
    if len(warnings) > MAX_WARNINGS_LOGGED:
        log(f"... and {len(warnings) - MAX_WARNINGS_LOGGED} more warnings (listed in data_summary.json and the report)")
    if skipped:
        log(f"skipping {len(skipped)} unreadable or non-image files (listed in the report)")


def prediction_rows(predictions: Iterable, to_row: Callable, write_pictures: Callable, out_dir: Path | None) -> list[dict]:
    """One dict per prediction; with ``out_dir``, also its pictures, named ``<index>_<image stem>``."""
    rows = []
    for i, p in enumerate(predictions):
        row = to_row(p)
        if out_dir is not None:
            row.update(write_pictures(p, Path(out_dir), f"{i:04d}_{Path(p.path).stem}"))
        rows.append(row)
    return rows
