"""Readers per dataset layout: class folders (optionally train/val/test), a CSV of ``path,label``.

Each reader returns a :class:`LabelledData`: class names, samples per split, and every file that
was left out with the reason, so a report can show the user what was skipped and why.
"""
from __future__ import annotations

import csv
import hashlib
import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataLayoutError, ImageReadError
from ..files import Problem
from .images import image_size, is_image_file

SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "test": "test", "testing": "test"}


@dataclass(frozen=True)
class Sample:
    path: str
    label: int


@dataclass
class LabelledData:
    class_names: list[str]
    splits: dict[str, list[Sample]]
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str = ""
    # {path: BLAKE2b-128 hex of the file's bytes}, as hashed for the duplicate check while listing; passed on so that
    # later steps (the decoded copy's key, data/decoded_store.py) need not read every file again. May be empty.
    digests: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        """{split: {class name: number of images}}."""
        out = {}
        for split, samples in self.splits.items():
            per = {name: 0 for name in self.class_names}
            for s in samples:
                per[self.class_names[s.label]] += 1
            out[split] = per
        return out

    def summary(self) -> dict:
        return {
            "source": self.source,
            "class_names": self.class_names,
            "counts": self.counts(),
            "skipped": [vars(p) for p in self.skipped],
            "warnings": self.warnings,
        }


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))


def _files_by_class(root: Path, skipped: list[Problem], warnings: list[str]) -> dict[str, list[Path]]:
    by_class: dict[str, list[Path]] = {}
    for class_dir in _class_dirs(root):
        files = []
        for path in sorted(class_dir.rglob("*")):
            # a hidden folder inside a class (.thumbnails, .ipynb_checkpoints) is not training data
            if not path.is_file() or any(part.startswith(".") for part in path.relative_to(class_dir).parts):
                continue
            if is_image_file(path):
                files.append(path)
            else:
                skipped.append(Problem(str(path), f"not an image file extension ({path.suffix or 'none'})"))
        if files:
            by_class[class_dir.name] = files
        else:
            warnings.append(f"class folder {class_dir} holds no images; left out")
    loose = [p for p in root.iterdir() if p.is_file() and is_image_file(p)]
    if loose and not by_class:
        raise DataLayoutError(
            f"{root}: images lie directly in the folder. Put them in one folder per class "
            f"(e.g. {root}/cat/1.jpg, {root}/dog/2.jpg), or pass a CSV with columns path,label."
        )
    for p in loose:
        skipped.append(Problem(str(p), "image outside any class folder"))
    return by_class


def _check_headers(paths: list[Path], skipped: list[Problem]) -> set[Path]:
    """Paths whose header is a readable image within the pixel limit; the rest go to ``skipped``."""

    def check(path: Path):
        try:
            image_size(path)
            return None
        except ImageReadError as err:
            return Problem(err.path, err.reason)

    with ThreadPoolExecutor(max_workers=8) as pool:
        problems = list(pool.map(check, paths))
    bad = {Path(p.path) for p in problems if p}
    skipped.extend(p for p in problems if p)
    return {p for p in paths if p not in bad}


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _digests(samples: list[Sample]) -> dict[str, str]:
    """{path: content digest} of ``samples``: each file read once, however many steps of the split ask."""
    return {s.path: _digest(Path(s.path)) for s in samples}


def stratified_split(samples: list[Sample], fractions: dict[str, float], seed: int,
                     digests: dict[str, str] | None = None) -> dict[str, list[Sample]]:
    """Per class, shuffle with ``seed`` and cut; files with identical bytes always land in one split.

    Identical files under two labels stay together too (else the test split holds a training image);
    such a group is stratified with the label of its first path.
    """
    digests = digests if digests is not None else _digests(samples)
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[digests[s.path]].append(s)
    by_label: dict[int, list[list[Sample]]] = defaultdict(list)
    for members in sorted(groups.values(), key=lambda members: members[0].path):
        by_label[members[0].label].append(members)
    rng = random.Random(seed)
    out: dict[str, list[Sample]] = {"train": [], **{name: [] for name in fractions}}
    for label in sorted(by_label):
        members = by_label[label]
        rng.shuffle(members)
        start = 0
        for name, fraction in fractions.items():
            n = int(round(len(members) * fraction))
            n = min(n, len(members) - start - 1)  # keep at least one group for training
            for group in members[start:start + max(n, 0)]:
                out[name].extend(group)
            start += max(n, 0)
        for group in members[start:]:
            out["train"].extend(group)
    return out


def _warn_cross_split_duplicates(splits: dict[str, list[Sample]], warnings: list[str], digests: dict[str, str]) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for split, samples in splits.items():
        for s in samples:
            key = digests[s.path]
            if key in seen and seen[key][0] != split:
                warnings.append(f"same file content in {seen[key][0]} and {split}: {seen[key][1]} == {s.path} (inflates {split} scores)")
            seen.setdefault(key, (split, s.path))


def _drop_empty_classes(class_names: list[str], samples: dict[str, list[Sample]], warnings: list[str]):
    """Leave out classes none of whose files could be read, renumbering the labels of the rest."""
    used = sorted({s.label for split in samples.values() for s in split})
    if len(used) == len(class_names):
        return class_names, samples
    for label, name in enumerate(class_names):
        if label not in used:
            warnings.append(f"class {name!r} has no readable images; left out")
    new_label = {old: new for new, old in enumerate(used)}
    renumbered = {split: [Sample(s.path, new_label[s.label]) for s in v] for split, v in samples.items()}
    return [class_names[i] for i in used], renumbered


def _given_splits(splits: dict[str, list[Sample]], val_fraction: float, seed: int, warnings: list[str],
                  digests: dict[str, str]) -> dict[str, list[Sample]]:
    """Splits the user assigned; val is carved from train when none was given."""
    if "val" not in splits:
        cut = stratified_split(splits.get("train", []), {"val": val_fraction}, seed, digests)
        splits["train"], splits["val"] = cut["train"], cut["val"]
    # train first, so a duplicate is reported against the held-out split it inflates
    splits = {name: splits[name] for name in ("train", "val", "test") if name in splits}
    _warn_cross_split_duplicates(splits, warnings, digests)
    return splits


def _finish(class_names: list[str], splits: dict[str, list[Sample]], source: str, skipped, warnings, min_classes: int,
            digests: dict[str, str]) -> LabelledData:
    if len(class_names) < min_classes:
        why = f"; {len(skipped)} file(s) skipped, e.g. {skipped[0].path}: {skipped[0].reason}" if skipped else ""
        raise DataLayoutError(
            f"{source}: found {len(class_names)} class{'es' if len(class_names) != 1 else ''} "
            f"({', '.join(class_names) or 'none'}); classification needs at least two classes with images{why}"
        )
    if not splits.get("train"):
        raise DataLayoutError(f"{source}: no readable training images")
    return LabelledData(class_names, splits, skipped, warnings, source, digests)


def read_folder(root: str | Path, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15, min_classes: int = 2) -> LabelledData:
    """ImageFolder layout: ``root/<class>/*.png`` or ``root/{train,val,test}/<class>/*.png``."""
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: no such folder")
    skipped: list[Problem] = []
    warnings: list[str] = []
    split_dirs = {SPLIT_ALIASES[p.name.lower()]: p for p in _class_dirs(root) if p.name.lower() in SPLIT_ALIASES}
    if split_dirs:
        if "train" not in split_dirs:
            raise DataLayoutError(f"{root}: has {', '.join(sorted(split_dirs))} folders but no train/ folder")
        files = {split: _files_by_class(d, skipped, warnings) for split, d in split_dirs.items()}
    else:
        files = {"all": _files_by_class(root, skipped, warnings)}
    class_names = sorted({c for per in files.values() for c in per})
    index = {c: i for i, c in enumerate(class_names)}
    all_paths = [p for per in files.values() for ps in per.values() for p in ps]
    good = _check_headers(all_paths, skipped)
    samples = {split: [Sample(str(p), index[c]) for c, ps in per.items() for p in ps if p in good] for split, per in files.items()}
    class_names, samples = _drop_empty_classes(class_names, samples, warnings)
    digests = _digests([s for part in samples.values() for s in part])
    if "all" in samples:
        splits = stratified_split(samples["all"], {"val": val_fraction, "test": test_fraction}, seed, digests)
    else:
        splits = _given_splits(samples, val_fraction, seed, warnings, digests)
    return _finish(class_names, splits, str(root), skipped, warnings, min_classes, digests)


def csv_rows(csv_path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(column names, [(line number, row)]) with spaces trimmed; line numbers count blank lines too."""
    try:
        # utf-8-sig: spreadsheet programs start their CSVs with a byte-order mark
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            reader.fieldnames = columns
            rows = [(reader.line_num, {k: (v or "").strip() for k, v in r.items() if k is not None})
                    for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataLayoutError(f"{csv_path}: cannot read CSV ({exc})") from None
    return columns, rows


def read_csv(csv_path: str | Path, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15, min_classes: int = 2) -> LabelledData:
    """A CSV with columns ``path,label`` (and optionally ``split``); paths relative to the CSV's folder."""
    csv_path = Path(csv_path)
    columns, rows = csv_rows(csv_path)
    if not {"path", "label"} <= set(columns):
        raise DataLayoutError(f"{csv_path}: needs a header with columns path,label (found {', '.join(columns) or 'an empty file'})")
    if not rows:
        raise DataLayoutError(f"{csv_path}: has a header but no rows")
    skipped: list[Problem] = []
    class_names = sorted({r["label"] for _, r in rows if r["label"]})
    index = {c: i for i, c in enumerate(class_names)}
    has_splits = any(SPLIT_ALIASES.get(r.get("split", "").lower()) for _, r in rows)
    paths = []
    for line, r in rows:
        where, split_name = f"{csv_path}:{line}", r.get("split", "")
        split = SPLIT_ALIASES.get(split_name.lower())
        if not r["path"] or not r["label"]:
            skipped.append(Problem(where, "row without path or label"))
        elif split_name and split is None:
            skipped.append(Problem(where, f"split {split_name!r} is not one of train, val, test"))
        elif has_splits and split is None:
            skipped.append(Problem(where, "row without a split while other rows have one"))
        else:
            paths.append(((csv_path.parent / r["path"]).resolve(), index[r["label"]], split or "all"))
    good = _check_headers([p for p, _, _ in paths], skipped)
    samples: dict[str, list[Sample]] = defaultdict(list)
    for p, label, split in paths:
        if p in good:
            samples[split].append(Sample(str(p), label))
    warnings: list[str] = []
    class_names, samples = _drop_empty_classes(class_names, dict(samples), warnings)
    digests = _digests([s for part in samples.values() for s in part])
    if has_splits:
        splits = _given_splits(samples, val_fraction, seed, warnings, digests)
    else:
        splits = stratified_split(samples.get("all", []), {"val": val_fraction, "test": test_fraction}, seed, digests)
    return _finish(class_names, splits, str(csv_path), skipped, warnings, min_classes, digests)


def read_labelled(source: str | Path, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15,
                  min_classes: int = 2) -> LabelledData:
    """Pick the reader from what ``source`` is: a ``.csv`` file or a folder."""
    source = Path(source)
    reader = read_csv if source.suffix.lower() == ".csv" else read_folder
    return reader(source, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, min_classes=min_classes)
