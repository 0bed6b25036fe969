"""The part of ``vislearn review`` that lists copies of one photo that carry different labels or sit in different
splits: a copy in train and test makes the test figures optimistic; copies with two labels teach both.

Copies are what ``vislearn organize`` calls exact and near duplicates, decided by the same test: candidates by
perceptual hash or by the run's features (cosine >= ``MIN_COSINE``), each pair verified on the pixels after alignment
(:func:`vislearn.organize.duplicates.find_duplicates`). Photos that merely look alike ("similar") are never listed:
two different sevens are not a problem.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...data.images import read_file_bytes, read_image_bytes
from ...errors import ImageReadError
from ...organize.duplicates import find_duplicates
from ...organize.judging import judging_summary
from ...organize.records import record_of

MIN_COSINE = 0.95  # the run's features put every image of a class close together: only very close pairs are candidates
# Of the pairs whose perceptual hashes lie within 11 bits, each image's closest few in the run's features: on 28-px grey
# look-alikes those pairs grow as N^2 (Fashion-MNIST: 147,738 at 10,000 images) and judging them all took 10+ minutes
# at 40,000 images; a copy is among the closest in features. The similar groups are not formed (never listed here).
HASH_PARTNERS = 8
DUPLICATE_COLUMNS = ["group", "kind", "problem", "path", "label", "split", "evidence"]


def _records(paths: list[str]) -> tuple[list, list[int]]:
    records, kept = [], []
    for i, path in enumerate(paths):
        try:
            data = read_file_bytes(path)
            records.append(record_of(path, data, read_image_bytes(data, path)))
            kept.append(i)
        except ImageReadError:  # unreadable files are already reported by the review itself
            continue
    return records, kept


def labelled_duplicates(paths: list[str], labels: list[str], splits: list[str], features_nd: np.ndarray,
                        progress: bool = False, log=None) -> list[dict]:
    """Rows of ``review_duplicates.csv``: every member of each copy group whose labels or splits differ.

    ``paths``, ``labels`` (class names), ``splits`` and ``features_nd`` (N, D) rows align; ``log``: told how the candidate
    pairs were decided."""
    records, kept = _records(paths)
    if len(records) < 2:
        return []
    by_path = {paths[i]: i for i in kept}
    rows = []
    groups = find_duplicates(records, np.asarray(features_nd)[kept], min_cosine=MIN_COSINE, progress=progress,
                             hash_partners=HASH_PARTNERS, similar=False)
    if log is not None:  # organize's own line speaks of files to remove: review never removes anything
        log(f"{sum(g.kind == 'exact' for g in groups)} exact and {sum(g.kind == 'near' for g in groups)} near groups of copies "
            f"among {len(records)} images (hash candidates: each image's {HASH_PARTNERS} closest by the run's features; "
            f"features cosine >= {MIN_COSINE}; look-alikes never listed){judging_summary(getattr(groups, 'judging', None))}")
    for group in groups:
        members = [group.keep, *group.remove]
        names = {labels[by_path[p]] for p in members}
        where = {splits[by_path[p]] for p in members}
        problems = (["different labels"] if len(names) > 1 else []) + (["in different splits"] if len(where) > 1 else [])
        if not problems:
            continue
        evidence = {e.path: e.verdict.detail for e in group.evidence}
        number = len({r["group"] for r in rows}) + 1
        rows += [{"group": number, "kind": group.kind, "problem": " and ".join(problems), "path": p, "label": labels[by_path[p]],
                  "split": splits[by_path[p]], "evidence": evidence.get(p, "kept file" if p == group.keep else "")}
                 for p in members]
    return rows


def split_of_each(paths: list[str], data_splits: dict[str, list]) -> list[str]:
    """The split (train, val, test, calibration...) each path sits in, by resolved path; "" where none."""
    where = {str(Path(s.path).resolve()): name for name, samples in data_splits.items() for s in samples}
    return [where.get(str(Path(p).resolve()), "") for p in paths]
