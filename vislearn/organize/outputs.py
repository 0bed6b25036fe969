"""The files ``vislearn organize`` writes into INDEX: groups.csv/json, duplicates.csv, skipped.csv, quality.json."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..engine.checkpoint import write_json
from .cluster import OTHER, Grouping
from .duplicates import DuplicateGroup
from .naming import GroupName
from .scan import Skipped

OTHER_NAME = "other"


def group_label(group_id: int, names: list[GroupName]) -> str:
    return OTHER_NAME if group_id == OTHER else names[group_id].name


def write_groups(folder: Path, paths: list[str], grouping: Grouping, names: list[GroupName], image_labels: list[str] = ()) -> None:
    """groups.csv: one row per image (path, group, group_id, outlier, similarity, the image's own label);
    groups.json: groups with names and typical images."""
    labels = list(image_labels) or [""] * len(paths)
    with open(folder / "groups.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "group", "group_id", "outlier", "similarity_to_centre", "image_label"])
        for path, g, s, label in zip(paths, grouping.group_n, grouping.similarity_n, labels):
            w.writerow([path, group_label(int(g), names), int(g), int(g) == OTHER, f"{s:.4f}", label])
    groups = [{"id": g, "name": names[g].name, "named_by": names[g].method, "confident": names[g].confident, "evidence": names[g].detail,
               "size": int((grouping.group_n == g).sum()), "typical": [paths[i] for i in grouping.typical[g]],
               "images": [paths[i] for i in np.flatnonzero(grouping.group_n == g)]} for g in range(grouping.n_groups)]
    data = {"n_images": len(paths), "n_groups": grouping.n_groups, "groups_chosen_by": grouping.chosen_by, "groups": groups,
            "other": [paths[i] for i in np.flatnonzero(grouping.group_n == OTHER)]}
    write_json(folder / "groups.json", data, indent=1)


DUPLICATE_COLUMNS = ["duplicate_group", "path", "suggestion", "kind", "test", "score", "threshold", "matched_to", "detail", "reason"]


def write_duplicates(folder: Path, duplicates: list[DuplicateGroup]) -> None:
    """duplicates.csv: one row per file of each group; ``remove`` only for exact and near groups. ``test``,
    ``score`` (at most ``threshold`` to pass) and ``detail`` say how the file matched ``matched_to``."""
    with open(folder / "duplicates.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(DUPLICATE_COLUMNS)
        for i, d in enumerate(duplicates):
            w.writerow([i, d.keep, "keep", d.kind, "", "", "", "", "", d.reason])
            evidence = {e.path: e for e in d.evidence}
            for p in [*d.remove, *d.similar]:
                e = evidence.get(p)
                test = [e.verdict.test, f"{e.verdict.score:.4f}", f"{e.verdict.threshold:.4f}", e.matched_to, e.verdict.detail] if e else [""] * 5
                w.writerow([i, p, "remove" if p in d.remove else "keep", d.kind, *test, d.reason])


def write_skipped(folder: Path, skipped: list[Skipped]) -> None:
    with open(folder / "skipped.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "reason"])
        w.writerows(sorted(set(skipped)))


def groups_for_export(paths: list[str], grouping: Grouping, names: list[GroupName]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path, g in zip(paths, grouping.group_n):
        out.setdefault(group_label(int(g), names), []).append(path)
    return out
