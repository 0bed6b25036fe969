"""Label mistakes found by ``vislearn review``: precision and recall against planted flips, and what correcting them buys.

One run per setting: a data set's training images get ``--rate`` of their labels flipped, either at random or to the
most confusable class (the class the clean model confuses them with most, measured on the clean labels' confusion of
a first run), written as class folders; a run trains on the noisy folders; ``review`` on the same folders ranks likely
mistakes. Printed: flagged, precision and recall of the flagged images, precision at the number of flips; then the
test accuracy of the noisy run against a run trained from it on the folders with the flagged labels corrected to the
suggestion (``--corrections``), both scored on the data set's clean test split.

    .venv/bin/python benchmarks/review_mistakes.py --data fashion-mnist --images 3000 --rate 0.10 --flip random
    .venv/bin/python benchmarks/review_mistakes.py --data digits --rate 0.05 --flip random
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
from _common import CACHE  # noqa: E402

import vislearn  # noqa: E402
from vislearn.tasks.classify.review import review  # noqa: E402

# the class a person most easily files an image of each class under (digits: shapes; Fashion-MNIST: kinds)
CONFUSABLE = {"digits": {"0": "6", "1": "7", "2": "3", "3": "8", "4": "9", "5": "6", "6": "5", "7": "1", "8": "3", "9": "4"},
              "fashion-mnist": {"t-shirt": "shirt", "trouser": "dress", "pullover": "coat", "dress": "coat", "coat": "pullover",
                                "sandal": "sneaker", "shirt": "t-shirt", "sneaker": "sandal", "bag": "pullover", "ankle-boot": "sneaker"}}


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


def clean_set(data: str, images: int) -> Path:
    root = CACHE / f"review_{data}_{images}"
    if not root.is_dir():
        if data == "digits":  # the digits sample has no split: make one
            tmp = vislearn.sample("digits", root / "all", quiet=True)
            rng = random.Random(0)
            for cls in sorted(tmp.iterdir()):
                for path in sorted(cls.iterdir()):
                    dest = root / ("test" if rng.random() < 0.2 else "train") / cls.name / path.name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(path), dest)
            shutil.rmtree(root / "all")
        else:
            vislearn.sample(data, root, quiet=True, limit=images)
    return root


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("digits", "fashion-mnist"), default="digits")
    parser.add_argument("--images", type=int, default=3000, help="Fashion-MNIST: training images used (the test split is cut alike)")
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--flip", choices=("random", "confusable"), default="random")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--model", default="tiny_cnn", help="the runs' model (e.g. tf_efficientnet_lite0 with --weights default)")
    parser.add_argument("--weights", default="none")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    clean = clean_set(args.data, args.images)
    work = CACHE / f"review_{args.data}_{args.flip}_{args.rate}_{args.seed}" if args.model == "tiny_cnn" else \
        CACHE / f"review_{args.data}_{args.flip}_{args.rate}_{args.seed}_{args.model}"
    flipped = noisy_copy(clean, work / "data", args.rate, args.flip, CONFUSABLE[args.data], args.seed)
    recipe = dict(model=args.model, weights=args.weights, epochs=args.epochs, seed=args.seed, val_fraction=0.15, log=None, progress=False,
                  **({"image_size": args.image_size} if args.image_size else {}))
    noisy = vislearn.train("classify", data=work / "data", out=work / "noisy", **recipe)
    found = review(noisy, work / "data" / "train", work / "review", explain=0, progress=False, log=lambda *_: None)
    rows = list(csv.DictReader(open(found["csv"])))
    hits = [r for r in rows if str(Path(r["path"]).resolve()) in flipped]
    right = sum(r["suggested"] == flipped[str(Path(r["path"]).resolve())] for r in hits)
    at_k = sum(str(Path(r["path"]).resolve()) in flipped for r in rows[:len(flipped)])
    print(f"{args.data}, {len(flipped)} of the training labels flipped ({args.flip}, {args.rate:.0%}), {args.model} {args.epochs} epochs "
          f"(accuracy of the noisy run {noisy.metrics['accuracy']:.4f}):")
    print(f"  flagged {len(rows)}: precision {len(hits) / max(1, len(rows)):.3f}, recall {len(hits) / max(1, len(flipped)):.3f}, "
          f"suggested label right {right} of {len(hits)}; precision at {len(flipped)} (the number flipped): {at_k / max(1, len(flipped)):.3f}")
    (work / "corrections.csv").write_text("path,label\n" + "".join(f"{r['path']},{r['suggested']}\n" for r in rows))
    fixed = vislearn.train("classify", data=work / "data", out=work / "corrected", extra={"corrections": str(work / "corrections.csv")},
                           **recipe)
    result = {"flipped": len(flipped), "flagged": len(rows), "precision": len(hits) / max(1, len(rows)),
              "recall": len(hits) / max(1, len(flipped)), "noisy_accuracy": noisy.metrics["accuracy"],
              "corrected_accuracy": fixed.metrics["accuracy"]}
    print(f"  test accuracy: trained on the noisy labels {result['noisy_accuracy']:.4f}; with the flagged labels corrected to "
          f"the suggestion {result['corrected_accuracy']:.4f} (clean test split, {noisy.metrics['num_images']} images)")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
