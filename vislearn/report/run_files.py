"""Read a run folder for the report: every file is optional, and a broken one is noted, never raised."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

# attribute -> (file inside the run folder, JSON type it must hold)
JSON_FILES: dict[str, tuple[str, type]] = {
    "config": ("config.json", dict),
    "data_summary": ("data_summary.json", dict),
    "history": ("history.json", list),
    "calibration": ("calibration.json", dict),
    "metrics": ("metrics.json", dict),
    "examples": ("explain/examples.json", list),
    "layers": ("explain/layers.json", list),
}
PREDICTIONS_FILE = "predictions_test.csv"


class PredictionCounts(NamedTuple):
    """Tallies from predictions_test.csv; referred is None when the column is absent."""

    total: int
    wrong: int
    referred: int | None


@dataclass(frozen=True)
class RunFiles:
    """The parsed files of one run folder; None where a file is missing or unreadable."""

    run_dir: Path
    config: dict | None = None
    data_summary: dict | None = None
    history: list | None = None
    calibration: dict | None = None
    metrics: dict | None = None
    examples: list | None = None
    layers: list | None = None
    predictions: PredictionCounts | None = None
    problems: list[str] = field(default_factory=list)


def read_json(path: Path, expected: type) -> tuple[object | None, str | None]:
    """(value, None) on success, (None, None) when the file is absent, (None, problem) when broken."""
    if not path.is_file():
        return None, None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"{path.name}: could not be read as JSON ({error})"
    if not isinstance(value, expected):
        kind = "an object" if expected is dict else "a list"
        return None, f"{path.name}: expected {kind} at the top level"
    return value, None


def _is_true(text: str | None) -> bool:
    return str(text).strip().lower() in {"1", "true", "yes"}


def read_predictions(path: Path) -> tuple[PredictionCounts | None, str | None]:
    """Count rows, wrong predictions and referrals in a predictions CSV."""
    if not path.is_file():
        return None, None
    try:
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            rows = list(reader)
            columns = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        return None, f"{path.name}: could not be read as CSV ({error})"
    wrong = sum(not _is_true(row.get("correct")) for row in rows) if "correct" in columns else 0
    referred = sum(_is_true(row.get("refer_to_human")) for row in rows) if "refer_to_human" in columns else None
    return PredictionCounts(total=len(rows), wrong=wrong, referred=referred), None


def load_run(run_dir: str | Path) -> RunFiles:
    """Read every report input in run_dir; problems lists the files that exist but are broken."""
    run_dir = Path(run_dir)
    values: dict[str, object] = {}
    problems: list[str] = []
    for name, (relative, expected) in JSON_FILES.items():
        values[name], problem = read_json(run_dir / relative, expected)
        if problem:
            problems.append(problem)
    values["predictions"], problem = read_predictions(run_dir / PREDICTIONS_FILE)
    if problem:
        problems.append(problem)
    return RunFiles(run_dir=run_dir, problems=problems, **values)
