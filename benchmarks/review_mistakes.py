"""Label mistakes found by ``vislearn review``: precision and recall against planted flips, and what correcting them buys.

One run per setting: a data set's training images get ``--rate`` of their labels flipped, either at random or to the
most confusable class (digits and Fashion-MNIST: a person's table, ``review_sets.CONFUSABLE``; the crops set made here:
each kind's most confused other kind, measured on the clean labels), written as class folders; a run trains on the
noisy folders; ``review`` on the same folders ranks likely mistakes (it is never told which pairs were flipped).
Printed: flagged, precision and recall of the flagged images, precision at the number of flips (``review`` asked for
``top`` that many: the flagged images, then the unflagged by the same score), the out-of-fold probabilities' accuracy
against the true labels; then the test
accuracy of the noisy run against a run trained from it on the folders with the flagged labels corrected to the
suggestion (``--corrections``), both scored on the data set's clean test split. ``--grid``: {Fashion-MNIST, digits}
x {5 %, 10 %} x {random, confusable}, plus the crops set at 10 % confusable, as one table. A run folder already
trained with the same recipe (and, for the corrected run, the same corrections) under the cache is reused.

    .venv/bin/python benchmarks/review_mistakes.py --data fashion-mnist --images 3000 --rate 0.10 --flip random
    .venv/bin/python benchmarks/review_mistakes.py --data digits --rate 0.05 --flip random
    .venv/bin/python benchmarks/review_mistakes.py --grid
    .venv/bin/python benchmarks/review_mistakes.py --data fashion-mnist --images 10000 --rate 0.10 --flip confusable \
        --model cnn5 --optimizer sgd --schedule onecycle --lr 0.05 --augment mirror    # another base model
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
from _common import CACHE  # noqa: E402
from review_sets import clean_set, confusable_table  # noqa: E402

import vislearn  # noqa: E402
from vislearn.tasks.classify.review import review  # noqa: E402

DEFAULTS = {"model": "tiny_cnn", "weights": "none", "epochs": 12}  # the runs' folder names say what differs from these
GRID = [(data, rate, flip) for data in ("fashion-mnist", "digits") for rate in (0.05, 0.10) for flip in ("random", "confusable")] \
    + [("crops", 0.10, "confusable")]


def noisy_copy(clean: Path, out: Path, rate: float, flip: str, table: dict, seed: int = 0) -> dict[str, str]:
    """``clean``'s train images copied to ``out/train/<label>`` with ``rate`` of labels flipped, test kept as is.
    Returns {copied train path: true label} of the flipped ones."""
    rng, flipped = random.Random(seed), {}
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(clean / "test", out / "test")
    classes = sorted(p.name for p in (clean / "train").iterdir())
    for cls in classes:
        for path in sorted((clean / "train" / cls).iterdir()):
            label = cls
            if rng.random() < rate:
                label = table.get(cls, cls) if flip == "confusable" else rng.choice([c for c in classes if c != cls])
            dest = out / "train" / label / path.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest)
            if label != cls:
                flipped[str(dest.resolve())] = cls
    return flipped


RECIPE_KEYS = ("model", "weights", "epochs", "seed", "optimizer", "schedule", "lr", "augment", "image_size")


def trained(out: Path, data: Path, recipe: dict, **more):
    """The run in ``out`` when it was trained with ``recipe`` and finished; else a new one."""
    if (out / "metrics.json").is_file():
        run = vislearn.load_run(out)
        if all(getattr(run.config, k) == v for k, v in recipe.items() if k in RECIPE_KEYS):
            return run
    return vislearn.train("classify", data=data, out=out, **recipe, **more)


def recipe_of(args) -> dict:
    """The runs' training options: the model and epochs, and any of optimizer, schedule, lr, augment given."""
    chosen = {k: getattr(args, k) for k in ("optimizer", "schedule", "lr", "augment", "image_size") if getattr(args, k) is not None}
    return dict(model=args.model, weights=args.weights, epochs=args.epochs, seed=args.seed, val_fraction=0.15, log=None,
                progress=False, **chosen)


def one_setting(data: str, rate: float, flip: str, args) -> dict:
    """Flip, train, review (ranked past the flagged set to the number flipped), correct, retrain; the figures of one
    setting. Precision and recall: of the flagged images; precision at the number flipped: of the ranked list's first
    as many as were flipped (flagged first, then the unflagged by the same score where fewer were flagged)."""
    cache = Path(args.cache)
    clean = clean_set(data, args.images, cache)
    recipe = recipe_of(args)
    tag = "_".join(f"{k}{v}" for k, v in recipe.items() if k in RECIPE_KEYS and k != "seed" and (k, v) not in DEFAULTS.items())
    size = f"_{args.images}" if data == "fashion-mnist" else ""
    work = cache / f"review_{data}_{flip}_{rate}_{args.seed}{size}{'_' + tag if tag else ''}"
    flipped = noisy_copy(clean, work / "data", rate, flip, confusable_table(data, clean), args.seed)
    noisy = trained(work / "noisy", work / "data", recipe)
    found = review(noisy, work / "data" / "train", work / f"review{'' if args.method == 'features' else '_' + args.method}",
                   folds=args.folds, explain=0, progress=False, log=print if args.method == "retrain" else lambda *_: None,
                   top=len(flipped), keep_probabilities=True, method=args.method)
    classes = noisy.class_names
    true_labels = [classes.index(flipped.get(str(Path(p).resolve()), Path(p).parent.name)) for p in found["paths"]]
    np.savez(Path(found["csv"]).parent / "probabilities.npz", probabilities=found["probabilities"], paths=np.array(found["paths"]),
             true_labels=np.asarray(true_labels))  # for comparing methods offline
    ranked = list(csv.DictReader(open(found["csv"])))
    rows = [r for r in ranked if r["flagged"] == "yes"]
    truth = [flipped.get(str(Path(r["path"]).resolve())) for r in ranked]
    hits = [t is not None for t in truth]
    flagged_hits = hits[:len(rows)]
    both = [h for h, r in zip(hits, rows) if r["both_tests"] == "yes"]
    result = {"data": data, "rate": rate, "flip": flip, "flipped": len(flipped), "flagged": len(rows),
              "precision": sum(flagged_hits) / max(1, len(rows)), "recall": sum(flagged_hits) / max(1, len(flipped)),
              "precision_at_flipped": sum(hits[:len(flipped)]) / max(1, len(flipped)),
              "suggestion_right": sum(t == r["suggested"] for t, r in zip(truth, rows) if t) / max(1, sum(flagged_hits)),
              "both_tests": len(both), "both_tests_precision": sum(both) / max(1, len(both)),
              "out_of_fold_accuracy": found["out_of_fold_accuracy"],
              "out_of_fold_accuracy_true": float((found["probabilities"].argmax(1) == np.asarray(true_labels)).mean()),
              "noisy_accuracy": noisy.metrics["accuracy"], "method": args.method, "ranked_by": found["ranked_by"],
              "ranking_reason": found["ranking_reason"],
              "method_cpu_seconds": found["method_cpu_seconds"],
              "recipe": {k: v for k, v in recipe.items() if k in RECIPE_KEYS}}
    if args.no_retrain:
        result["corrected_accuracy"] = None
        return result
    corrections = "path,label\n" + "".join(f"{r['path']},{r['suggested']}\n" for r in rows)
    before = (work / "corrections.csv").read_text() if (work / "corrections.csv").is_file() else ""
    if sorted(before.splitlines()) != sorted(corrections.splitlines()):  # the same corrections in another order: same run
        shutil.rmtree(work / "corrected", ignore_errors=True)
    (work / "corrections.csv").write_text(corrections)
    fixed = trained(work / "corrected", work / "data", recipe, extra={"corrections": str(work / "corrections.csv")})
    result["corrected_accuracy"] = fixed.metrics["accuracy"]
    return result


def print_setting(r: dict, args) -> None:
    print(f"{r['data']}, {r['flipped']} of the training labels flipped ({r['flip']}, {r['rate']:.0%}), {args.model} {args.epochs} "
          f"epochs (accuracy of the noisy run {r['noisy_accuracy']:.4f}):")
    print(f"  flagged {r['flagged']}: precision {r['precision']:.3f}, recall {r['recall']:.3f}, suggested label right for "
          f"{r['suggestion_right']:.3f} of the hits; precision at {r['flipped']} (the number flipped): {r['precision_at_flipped']:.3f}; "
          f"out-of-fold accuracy against the true labels {r['out_of_fold_accuracy_true']:.3f} ({r['method']}: "
          f"{r['method_cpu_seconds']:.0f} CPU s)")
    print(f"  ranked by the {r['ranked_by']}: {r['ranking_reason']}")
    corrected = "not measured (--no-retrain)" if r["corrected_accuracy"] is None else f"{r['corrected_accuracy']:.4f}"
    print(f"  test accuracy: trained on the noisy labels {r['noisy_accuracy']:.4f}; with the flagged labels corrected to "
          f"the suggestion {corrected} (clean test split)")


def print_grid(results: list[dict]) -> None:
    print("| data | flips | flipped | flagged | precision | recall | precision at the number flipped | ranked by | both_tests (precision) "
          "| OOF accuracy | test accuracy: noisy -> corrected |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        corrected = "not measured" if r["corrected_accuracy"] is None else f"{r['corrected_accuracy']:.3f}"
        print(f"| {r['data']} | {r['rate']:.0%} {r['flip']} | {r['flipped']} | {r['flagged']} | {r['precision']:.3f} | {r['recall']:.3f} "
              f"| {r['precision_at_flipped']:.3f} | {r['ranked_by']} | {r['both_tests']} ({r['both_tests_precision']:.3f}) "
              f"| {r['out_of_fold_accuracy_true']:.3f} "
              f"| {r['noisy_accuracy']:.3f} -> {corrected} |")


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("digits", "fashion-mnist", "crops"), default="digits")
    parser.add_argument("--images", type=int, default=3000, help="Fashion-MNIST: training images used (the test split is cut alike)")
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--flip", choices=("random", "confusable"), default="random")
    parser.add_argument("--grid", action="store_true", help="every setting of GRID (ignores --data, --rate, --flip)")
    parser.add_argument("--no-retrain", action="store_true", help="skip the run trained with the corrections (its accuracy: not measured)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--method", default="features", help="review's --method: features (default) or retrain (the recipe "
                                                                 "trained once per fold)")
    parser.add_argument("--cache", default=str(CACHE), help=f"folder of the data sets and runs (default {CACHE})")
    parser.add_argument("--model", default="tiny_cnn", help="the runs' model (e.g. tf_efficientnet_lite0 with --weights default)")
    parser.add_argument("--weights", default="none")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--optimizer", default=None, help="the runs' optimizer (default: the train default)")
    parser.add_argument("--schedule", default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--augment", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = []
    for data, rate, flip in GRID if args.grid else [(args.data, args.rate, args.flip)]:
        results.append(one_setting(data, rate, flip, args))
        print_setting(results[-1], args)
        print(json.dumps(results[-1]), flush=True)
    if args.grid:
        print_grid(results)
    return results


if __name__ == "__main__":
    main()
