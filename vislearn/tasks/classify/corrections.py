"""``vislearn train classify --data DIR --corrections FILE.csv``: labels a person corrected, applied to the data.

The file has the columns ``path,label`` (as a data CSV; paths relative to the file's folder), e.g. the rows of
``review.csv`` a person checked, with the label they settled on. Each row:

- an image of the data: its label becomes ``label``, in whichever split it sits (a corrected test image makes the
  test figures truer, not easier);
- an image not in the data (but on disk): added to the training split with ``label``;
- a file that is gone: skipped and listed;
- a label not among the data's classes, or a row without path or label: an error naming the line, before any
  training (a correction is never dropped silently).

With ``--from RUN`` the corrections apply to RUN's frozen test images too, so both models are scored against the
corrected truth. What was applied is logged and listed with the data's warnings in the report.
"""
from __future__ import annotations

from pathlib import Path

from ...data import LabelledData, Sample
from ...data.layouts import csv_rows
from ...errors import DataLayoutError

MAX_LISTED = 5


def read_corrections(csv_path: str | Path, class_names: list[str]) -> dict[str, int]:
    """{resolved path: class index} from a ``path,label`` CSV; bad rows raise :class:`DataLayoutError` naming them."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataLayoutError(f"--corrections {csv_path}: file not found")
    columns, rows = csv_rows(csv_path)
    if not {"path", "label"} <= set(columns):
        hint = " (in review.csv, keep the rows you checked and name the column of the right label 'label')" if "suggested" in columns else ""
        raise DataLayoutError(f"{csv_path}: corrections need the columns path,label (found {', '.join(columns) or 'none'}){hint}")
    index = {name: i for i, name in enumerate(class_names)}
    corrections, bad = {}, []
    for line, row in rows:
        if not row["path"] or not row["label"]:
            bad.append(f"line {line}: no path or no label")
        elif row["label"] not in index:
            bad.append(f"line {line}: label {row['label']!r} is not one of the classes ({', '.join(class_names)})")
        else:
            corrections[str((csv_path.parent / row["path"]).resolve())] = index[row["label"]]
    if bad:
        more = f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        raise DataLayoutError(f"{csv_path}: {len(bad)} corrections cannot be applied: " + "; ".join(bad[:MAX_LISTED]) + more)
    return corrections


def correct_samples(samples: list[Sample], corrections: dict[str, int]) -> tuple[list[Sample], int]:
    """``samples`` with corrected labels, and how many labels changed."""
    out, changed = [], 0
    for s in samples:
        label = corrections.get(str(Path(s.path).resolve()), s.label)
        changed += label != s.label
        out.append(Sample(s.path, label))
    return out, changed


def apply_corrections(data: LabelledData, corrections: dict[str, int], source: str) -> LabelledData:
    """``data`` with its labels corrected and the corrected images it lacked added to ``train``; what was done is the
    first of the data's warnings (logged with them, listed in the report)."""
    present = {str(Path(s.path).resolve()) for part in data.splits.values() for s in part}
    changed = {}
    for split, samples in list(data.splits.items()):
        data.splits[split], changed[split] = correct_samples(samples, corrections)
    missing = [p for p in corrections if p not in present and not Path(p).is_file()]
    added = [Sample(p, label) for p, label in corrections.items() if p not in present and Path(p).is_file()]
    data.splits["train"] = data.splits.get("train", []) + added
    where = ", ".join(f"{n} in {split}" for split, n in changed.items() if n)
    note = (f"corrections {source}: {sum(changed.values())} labels changed ({where or 'none'}), "
            f"{len(corrections) - sum(changed.values()) - len(added) - len(missing)} already as given, "
            f"{len(added)} images added to train")
    if missing:
        note += f"; {len(missing)} files not found, skipped (e.g. {missing[0]})"
    data.warnings = [note, *data.warnings]
    return data
