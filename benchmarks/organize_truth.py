"""Which suggested removals are truly copies: the ground truth of the generated scale collection.

Every file of ``benchmarks/organize_scale.py``'s collection (``organize_collection.py``) is a crop of a source picture (one of 15 photos, a
Fashion-MNIST item, a digit), so two files of one source can show much of the same frame without being copies.
Each file's :class:`Source` (which picture, the crop box in its pixels, mirrored or not; a planted copy: its
original's) is written to ``<collection>.sources.json``.

Two files are **truly copies** when one is a planted copy of the other, or when both are crops of the same source
picture, mirrored alike, and their crop boxes share at least :data:`COPY_SHARE` of each side of *both* frames: the
same shot, at most "slightly cropped" (the planted ``cropped`` copies cut 5-10 % of each side's length; the pixel
test's near gate asks ~9 % at most, with a margin). Brightness and size may differ. Two crops that share less of a
frame show a part of the picture the other lacks: they are at most ``similar``.

    .venv/bin/python benchmarks/organize_truth.py --images 20000 --index /tmp/vislearn-bench/scale/index-judge12-20k

``--rejudge`` judges every ``remove`` row again against its kept file with the code as it is now (the full pixel test
over all cores; no pre-judge, which only ever rejects), and audits the removals that would stay: a quick check of a
stricter near test on a large run's removals without repeating the run (~20 ms a pair per core).

``--same-as OTHER/duplicates.csv`` also checks that a change meant to be only faster changed no verdict: every row
(path, the file it was matched to) has the same kind, test, score and suggestion in both files.
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

COPY_SHARE = 0.85  # of each side of each frame the two crop boxes must share (15 % cut at most per side's length)


class Source(NamedTuple):
    kind: str  # "photos" | "fashion" | "digits"
    index: int  # the picture in that pool
    box: tuple[int, int, int, int]  # (left, top, right, bottom) of the crop in the source picture's pixels
    mirrored: bool
    planted_from: str = ""  # a planted copy: its original's path (the box is the original's)
    copy_kind: str = ""


def write_sources(path: Path, found) -> None:
    """``found``: (file path, :class:`Source`) pairs -> a JSON object path -> source fields."""
    path.write_text(json.dumps({str(p): list(s) for p, s in found}))


def read_sources(path: Path) -> dict[str, Source]:
    return {p: Source(k, i, tuple(b), m, f, c) for p, (k, i, b, m, f, c) in json.loads(Path(path).read_text()).items()}


def frame_share(a: Source, b: Source) -> float:
    """The smallest share of a side of either frame that the two crop boxes have in common (0 for other sources or
    mirroring; 1.0 for the same box)."""
    if (a.kind, a.index, a.mirrored) != (b.kind, b.index, b.mirrored):
        return 0.0
    shares = []
    for lo, hi in ((0, 2), (1, 3)):
        common = max(0, min(a.box[hi], b.box[hi]) - max(a.box[lo], b.box[lo]))
        shares += [common / (a.box[hi] - a.box[lo]), common / (b.box[hi] - b.box[lo])]
    return min(shares)


def truly_copy(path_a: str, path_b: str, sources: dict[str, Source]) -> bool:
    a, b = sources[path_a], sources[path_b]
    if a.planted_from == path_b or b.planted_from == path_a:
        return True
    return frame_share(a, b) >= COPY_SHARE


class RemovalAudit(NamedTuple):
    removals: int
    truly_copies: int
    planted: int  # removals that are a planted copy or the original of one (against their group's kept file)
    wrong: list[tuple[str, str, float, str]]  # (removed, kept, frame share, the test's detail)
    shares: list[float]  # frame share of every removal that is not a planted pair

    @property
    def precision(self) -> float:
        return self.truly_copies / max(self.removals, 1)


def audit_removals(duplicates_csv: Path, sources: dict[str, Source]) -> RemovalAudit:
    """Each ``remove`` row of organize's duplicates.csv against the file it was matched to (``matched_to``, else its
    group's kept file)."""
    with open(duplicates_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    kept = {r["duplicate_group"]: r["path"] for r in rows if r["suggestion"] == "keep"}
    good = planted = 0
    wrong, shares = [], []
    removals = [r for r in rows if r["suggestion"] == "remove"]
    for r in removals:
        other = r["matched_to"] or kept[r["duplicate_group"]]
        a, b = sources[r["path"]], sources[other]
        is_planted = a.planted_from == other or b.planted_from == r["path"]
        planted += is_planted
        share = frame_share(a, b)
        if not is_planted:
            shares.append(share)
        if truly_copy(r["path"], other, sources):
            good += 1
        else:
            wrong.append((r["path"], other, share, r["detail"]))
    return RemovalAudit(len(removals), good, planted, wrong, shares)


def share_histogram(shares: list[float]) -> str:
    edges = [0.0, 0.5, 0.6, 0.7, 0.8, COPY_SHARE, 0.9, 0.95, 1.0001]
    counts, _ = np.histogram(shares, bins=edges)
    return ", ".join(f"{lo:.2f}-{min(hi, 1.0):.2f}: {c}" for lo, hi, c in zip(edges, edges[1:], counts))


def print_audit(duplicates_csv: Path, sources: dict[str, Source], show: int = 10) -> RemovalAudit:
    """Prints the audit of organize's ``remove`` suggestions: precision, the frame shares, the worst wrong ones."""
    audit = audit_removals(duplicates_csv, sources)
    kinds = Counter(sources[p].kind for p, *_ in audit.wrong)
    strict = sum(1 for s in audit.shares if s < 0.9)
    print(f"removals {audit.removals:,}: truly copies (share >= {COPY_SHARE}) {audit.truly_copies:,} (planted pairs "
          f"{audit.planted:,}), precision {audit.precision:.4f}; wrong {len(audit.wrong):,} {dict(kinds)}; "
          f"{strict:,} removals of two crops share less than 0.90 of a side")
    print(f"frame share of the removals that are not planted pairs: {share_histogram(audit.shares)}")
    for removed, kept, share, detail in sorted(audit.wrong, key=lambda w: -w[2])[:show]:
        print(f"  share {share:.2f}  {Path(removed).name} vs {Path(kept).name}: {detail}")
    return audit


def rejudged_csv(duplicates_csv: Path, out_csv: Path) -> Counter:
    """``duplicates_csv`` with every ``remove`` row judged again (its file against ``matched_to``, else its group's kept
    file) by the current full pixel test: rows no longer exact/near become ``keep`` with the new kind and detail.
    Written to ``out_csv``; returns the count of (old kind -> new kind) changes."""
    from vislearn.organize.full_test import FullTest
    from vislearn.organize.verdict import REMOVABLE

    with open(duplicates_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    kept = {r["duplicate_group"]: r["path"] for r in rows if r["suggestion"] == "keep"}
    removals = [r for r in rows if r["suggestion"] == "remove" and r["kind"] != "exact"]
    with FullTest(-1) as full_test:
        verdicts = full_test.judge([(r["path"], r["matched_to"] or kept[r["duplicate_group"]]) for r in removals])
    changes = Counter()
    for r, v in zip(removals, verdicts):
        if v.kind not in REMOVABLE:
            changes[f"{r['kind']} -> {v.kind}"] += 1
            r.update(suggestion="keep", kind=str(v.kind), test=v.test, score=f"{v.score:.4f}", detail=v.detail)
    with open(out_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return changes


def verdict_rows(duplicates_csv: Path) -> dict[tuple[str, str], tuple[str, ...]]:
    """(path, matched_to) -> (kind, test, score, suggestion) of each row of a duplicates.csv."""
    with open(duplicates_csv, newline="") as f:
        return {(r["path"], r["matched_to"]): (r["kind"], r["test"], r["score"], r["suggestion"]) for r in csv.DictReader(f)}


def verdict_changes(before_csv: Path, after_csv: Path) -> list[tuple[tuple[str, str], tuple | None, tuple | None]]:
    """The rows whose verdict differs between two duplicates.csv files: (key, before, after), None where missing."""
    before, after = verdict_rows(before_csv), verdict_rows(after_csv)
    return [(key, before.get(key), after.get(key)) for key in sorted(before.keys() | after.keys())
            if before.get(key) != after.get(key)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, required=True, help="the collection organize_scale.py built (--images)")
    parser.add_argument("--index", required=True, help="organize's index folder (its duplicates.csv is audited)")
    parser.add_argument("--show", type=int, default=10, help="wrong removals to list")
    parser.add_argument("--rejudge", action="store_true", help="judge the removals again with the current code, then audit")
    parser.add_argument("--same-as", help="another duplicates.csv that should hold the same verdicts (a speed change)")
    args = parser.parse_args()
    from organize_collection import build_collection, sources_of

    build_collection(args.images)  # writes the sources file of a collection built before it existed
    audited = Path(args.index) / "duplicates.csv"
    if args.rejudge:
        print_audit(audited, sources_of(args.images), 0)
        rejudged = Path(args.index) / "duplicates-rejudged.csv"
        changes = rejudged_csv(audited, rejudged)
        print(f"removals judged again with the current code: {sum(changes.values())} no longer removed {dict(changes)} "
              f"-> {rejudged}")
        audited = rejudged
    print_audit(audited, sources_of(args.images), args.show)
    if args.same_as:
        changes = verdict_changes(Path(args.same_as), Path(args.index) / "duplicates.csv")
        print(f"rows whose verdict differs from {args.same_as}: {len(changes)} of {len(verdict_rows(Path(args.same_as))):,}")
        for key, before, after in changes[:args.show]:
            print(f"  {key}: {before} -> {after}")


if __name__ == "__main__":
    main()
