"""The copies check of ``vislearn review`` at scale (issue #16): CPU seconds, wall and what each step decided.

Uses a review benchmark's trained noisy run and data (``benchmarks/review_mistakes.py --images N`` makes them under
/tmp/vislearn-bench); the run's normalised features, labels and splits are computed once and cached under ``--work``,
then :func:`~vislearn.tasks.classify.review_duplicates.labelled_duplicates` runs on them as ``vislearn review`` does and
its rows are written to ``--work``/review_duplicates_N.csv (compare two versions' files to see that no copy is lost).

    PYTHONPATH=$PWD nice -n 19 python benchmarks/review_copies.py --images 10000
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CACHE  # noqa: E402


def features_of(images: int, work: Path) -> dict:
    """paths, labels (names), splits and (N, D) normalised features as review computes them, cached."""
    cached = work / f"features_{images}.npz"
    if cached.exists():
        saved = np.load(cached, allow_pickle=False)
        return {k: saved[k] for k in saved.files}
    from vislearn import load_run
    from vislearn.anomaly.class_gaussian import normalise
    from vislearn.data import read_labelled
    from vislearn.models.with_features import WithFeatures, split_outputs
    from vislearn.tasks.classify.review_duplicates import split_of_each
    from vislearn.tasks.classify.run import load_model
    from vislearn.tasks.classify.train import labelled_for_run, predict_logits

    folder = CACHE / f"review_fashion-mnist_confusable_0.1_0_{images}"
    run, source = load_run(folder / "noisy"), folder / "data" / "train"
    samples = labelled_for_run(source, run, min_classes=2, split="all").splits["all"]
    k = len(run.class_names)
    outputs, labels, indices, _ = predict_logits(WithFeatures(load_model(run), k, spread=False).eval(), samples,
                                                 run.preprocessing, run.config, "review", False)
    features = normalise(split_outputs(outputs, k)[1]).numpy()
    paths = [samples[i].path for i in np.asarray(indices).tolist()]
    as_split = read_labelled(source, run.config.seed, run.config.val_fraction, run.config.test_fraction, min_classes=1)
    out = {"paths": np.array(paths), "labels": np.array([run.class_names[i] for i in labels]),
           "splits": np.array(split_of_each(paths, as_split.splits)), "features": features.astype(np.float32)}
    work.mkdir(parents=True, exist_ok=True)
    np.savez(cached, **out)
    return out


def candidates_only(data: dict, before_csv: str | None) -> None:
    """Candidate pairs with every hash pair and with the review's bound (numpy only, no pixel test), and whether each
    copy group of ``before_csv`` (a review_duplicates.csv) keeps its member pairs as candidates."""
    from vislearn.organize.candidates import candidate_pairs
    from vislearn.tasks.classify.review_duplicates import HASH_PARTNERS, MIN_COSINE, _records

    records, kept = _records(data["paths"].tolist())
    hashes, features = np.array([r.phash for r in records], np.uint64), data["features"][kept]
    found = {}
    for name, partners in (("every hash pair", None), (f"{HASH_PARTNERS} hash partners per image", HASH_PARTNERS)):
        cpu = time.process_time()
        pairs = candidate_pairs(hashes, features, 11, MIN_COSINE, hash_partners=partners)
        found[name] = set(zip(pairs.first.tolist(), pairs.second.tolist()))
        print(f"{name}: {len(pairs.first):,} candidate pairs ({time.process_time() - cpu:.1f} CPU s)")
    if before_csv:
        row_of = {r.path: k for k, r in enumerate(records)}
        groups: dict[str, list[int]] = {}
        for row in csv.DictReader(open(before_csv)):
            groups.setdefault(row["group"], []).append(row_of[row["path"]])
        for group, members in groups.items():
            pairs = [(min(a, b), max(a, b)) for k, a in enumerate(members) for b in members[k + 1:]]
            print(f"group {group}: " + ", ".join(f"{name} {sum(p in found[name] for p in pairs)}" for name in found)
                  + f" of its {len(pairs)} member pairs are candidates")


def planted(work: Path) -> None:
    """40 images a class of the 3,000-image set, plus three copies (re-saved JPEG q85, resized 28 -> 42 px, cropped by one
    pixel a side) of one trouser, bag and coat each, filed under another class; ``vislearn review`` of that folder, then
    again as before issue #16: which planted copies are listed, and whether both list the same rows."""
    import shutil

    from PIL import Image

    from vislearn import load_run
    from vislearn.tasks.classify import review_duplicates
    from vislearn.tasks.classify.review import review

    source, folder = CACHE / "review_fashion-mnist_confusable_0.1_0_3000", work / "planted"
    shutil.rmtree(folder, ignore_errors=True)
    for path in sorted((source / "data" / "train").glob("*/*.png")):
        if len(list((folder / "train" / path.parent.name).glob("*"))) < 40:
            (folder / "train" / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, folder / "train" / path.parent.name / path.name)
    copies_of = {}
    for k, (kind, other) in enumerate([("trouser", "dress"), ("bag", "sandal"), ("coat", "shirt")]):
        original = sorted((folder / "train" / kind).glob("*.png"))[0]
        image = Image.open(original).convert("L")
        made = {f"resaved_{k}.jpg": image, f"resized_{k}.png": image.resize((42, 42), Image.Resampling.BICUBIC),
                f"cropped_{k}.png": image.crop((1, 1, 27, 27))}
        for name, copy in made.items():
            copy.save(folder / "train" / other / name, **({"quality": 85} if name.endswith(".jpg") else {}))
        copies_of[str(original)] = [str(folder / "train" / other / name) for name in made]
    run, find = load_run(source / "noisy"), review_duplicates.find_duplicates
    review(run, folder / "train", folder / "review", explain=0, progress=False)
    review_duplicates.find_duplicates = lambda *a, **k: find(*a, **{**k, "hash_partners": None, "similar": True})
    review(run, folder / "train", folder / "review_before", explain=0, progress=False)
    review_duplicates.find_duplicates = find
    rows = {name: sorted((r["kind"], r["problem"], r["path"], r["evidence"]) for r in csv.DictReader(open(folder / name / "review_duplicates.csv")))
            for name in ("review", "review_before")}
    listed = {row[2] for row in rows["review"]}
    for original, copies in copies_of.items():
        print(Path(original).parent.name, Path(original).name, "listed" if original in listed else "not listed", "; copies:",
              ", ".join(f"{Path(c).name} {'listed' if c in listed else 'not listed'}" for c in copies))
    print(f"rows now {len(rows['review'])}, before {len(rows['review_before'])}, the same: {rows['review'] == rows['review_before']}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10000, help="the review set's training images (3000, 10000, 20000, 40000)")
    parser.add_argument("--work", default="/tmp/copies16", help="cache of features and the rows written")
    parser.add_argument("--before", action="store_true", help="as before issue #16: every hash pair within 11 bits a "
                        "candidate, the similar groups formed")
    parser.add_argument("--candidates", metavar="CSV", nargs="?", const="", default=None, help="only count the candidate "
                        "pairs with and without the bound; with a review_duplicates.csv, whether its groups' pairs stay candidates")
    parser.add_argument("--planted", action="store_true", help="copies planted into part of the 3,000-image set "
                        "with another label: listed? the same rows as before?")
    args = parser.parse_args(argv)
    from vislearn.tasks.classify import review_duplicates
    from vislearn.tasks.classify.review_duplicates import DUPLICATE_COLUMNS, labelled_duplicates

    if args.before:
        find = review_duplicates.find_duplicates
        review_duplicates.find_duplicates = lambda *a, **k: find(*a, **{**k, "hash_partners": None, "similar": True})

    work = Path(args.work)
    if args.planted:
        return planted(work)
    data = features_of(args.images, work)
    if args.candidates is not None:
        return candidates_only(data, args.candidates or None)
    logged: list[str] = []
    cpu, wall = time.process_time(), time.perf_counter()
    children = os.times().children_user + os.times().children_system
    rows = labelled_duplicates(data["paths"].tolist(), data["labels"].tolist(), data["splits"].tolist(), data["features"],
                               log=logged.append)
    cpu = time.process_time() - cpu + os.times().children_user + os.times().children_system - children
    wall = time.perf_counter() - wall
    out = work / f"review_duplicates_{args.images}{'_before' if args.before else ''}.csv"
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, DUPLICATE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    groups = len({r["group"] for r in rows})
    print(*logged, sep="\n")
    print(f"copies check on {args.images:,} images: {groups} groups ({len(rows)} rows) -> {out}; {cpu:.1f} CPU s "
          f"(with worker processes), {wall:.1f} s wall, load average {os.getloadavg()[0]:.2f}")
    return {"groups": groups, "rows": len(rows), "cpu_seconds": cpu, "wall_seconds": wall}


if __name__ == "__main__":
    main()
