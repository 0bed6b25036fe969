"""Does "refer to a human" keep its promise on data made differently from the training set?

Two measurements on a trained classify run (``vislearn train classify ...``):

1. Unlike training images: the share of foreign images referred (blank frames in odd modes, noise,
   scikit-image photos and textures, and items of another data set), against the share of the run's own
   held-out test images referred for that reason; the AUROC of the unlike-training score (scikit-learn).
2. The --max-error guarantee: the run's held-out images (calibration + test, or a larger labelled folder
   given with --pool) are pooled and split at random into calibration and test sets, 5 times; for each
   requested rate the realised error among the decided test images is compared with the rate, and the
   coverage printed beside plain temperature scaling with a fixed threshold.

    python benchmarks/referral.py runs/demo --foreign fashion          # a digits run
    python benchmarks/referral.py runs/fm --foreign digits --pool data/fm/test
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vislearn.data import Sample, eval_transform, make_loader  # noqa: E402
from vislearn.data.layouts import read_labelled  # noqa: E402
from vislearn.errors import CalibrationError  # noqa: E402
from vislearn.metrics.referral import CalibrationImages, build_referrer, conformal_upper_threshold  # noqa: E402
from vislearn.models.with_features import WithFeatures, split_outputs  # noqa: E402
from vislearn.run import Run  # noqa: E402
from vislearn.tasks.classify import run as classify_run  # noqa: E402


def blank_images(folder: Path) -> list[Path]:
    """All-black CMYK, fully transparent RGBA, constant 16-bit grey, all-white and mid-grey RGB frames."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "black_cmyk.jpg": Image.new("CMYK", (32, 32), (0, 0, 0, 255)),
        "transparent_rgba.png": Image.new("RGBA", (32, 32), (0, 0, 0, 0)),
        "constant_16bit.png": Image.fromarray(np.full((32, 32), 30000, dtype=np.uint16)),
        "white.png": Image.new("RGB", (32, 32), (255, 255, 255)),
        "grey.png": Image.new("RGB", (32, 32), (128, 128, 128)),
        "black.png": Image.new("L", (32, 32), 0),
    }
    for name, image in made.items():
        image.save(folder / name)
    return [folder / n for n in made]


def noise_images(folder: Path, n: int = 40, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        side = int(rng.integers(16, 96))
        array = rng.integers(0, 256, (side, side, 3), dtype=np.uint8) if i % 2 else (rng.normal(128, 60, (side, side)).clip(0, 255).astype(np.uint8))
        paths.append(folder / f"noise_{i:03d}.png")
        Image.fromarray(array).save(paths[-1])
    return paths


def photo_and_texture_crops(folder: Path, n: int = 60, seed: int = 0) -> list[Path]:
    import skimage.data

    names = ["astronaut", "coffee", "chelsea", "rocket", "camera", "retina", "brick", "grass", "gravel", "moon", "page"]
    sources = [np.asarray(getattr(skimage.data, name)()) for name in names]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        image = rng.choice(sources)
        h, w = image.shape[:2]
        side = rng.randint(min(64, h, w), min(256, h, w))
        top, left = rng.randint(0, h - side), rng.randint(0, w - side)
        paths.append(folder / f"crop_{i:03d}.png")
        Image.fromarray(image[top:top + side, left:left + side]).save(paths[-1])
    return paths


def dataset_images(kind: str, folder: Path, n: int = 300) -> list[Path]:
    from vislearn.data import write_sample

    write_sample(kind, folder, quiet=True, limit=n) if kind == "fashion-mnist" else write_sample(kind, folder, quiet=True)
    files = sorted(folder.rglob("*.png"))
    return random.Random(0).sample(files, min(n, len(files)))


def outputs(run: Run, paths: list, labels: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw logits (N, K), features (N, D) and labels (N,) for image files."""
    model = WithFeatures(classify_run.load_model(run), len(run.class_names)).eval()
    samples = [Sample(str(p), labels[i] if labels else -1) for i, p in enumerate(paths)]
    loader = make_loader(samples, eval_transform(run.preprocessing), 128, False, 0)
    logits, features, truth = [], [], []
    with torch.inference_mode():
        for batch in loader:
            if len(batch):
                lg, ft = split_outputs(model(batch.images), len(run.class_names))
                logits.append(lg), features.append(ft), truth.append(batch.labels)
    return torch.cat(logits), torch.cat(features), torch.cat(truth)


def foreign_report(run: Run, foreign: str, work: Path) -> None:
    from sklearn.metrics import roc_auc_score

    rule = classify_run.referrer(run)
    if rule.unlike is None:
        raise SystemExit(f"{run.dir}: no unlike-training model (trained before vislearn kept one)")
    test = [r for r in _csv_rows(run.dir / "predictions_test.csv")]
    _, id_features, _ = outputs(run, [r["path"] for r in test])
    id_scores = rule.unlike_scores(id_features).numpy()
    sets = {"blank frames": blank_images(work / "blank"), "noise": noise_images(work / "noise"),
            "photos and textures": photo_and_texture_crops(work / "photos"),
            foreign: dataset_images(foreign, work / foreign)}
    print(f"run {run.dir}: unlike-training threshold {rule.unlike.threshold:.2f} (rate {rule.unlike.rate:.0%})")
    print(f"  held-out test images ({len(id_scores)}): {np.mean(id_scores > rule.unlike.threshold):.1%} referred as unlike training")
    everything = []
    for name, paths in sets.items():
        logits, features, _ = outputs(run, paths)
        scores = rule.unlike_scores(features).numpy()
        decisions = rule.decide(logits, torch.from_numpy(scores))
        referred_any = np.mean([d.refer_to_human for d in decisions])
        confident = float(torch.softmax(logits / classify_run.temperature(run), 1).max(1).values.mean())
        auroc = roc_auc_score(np.r_[np.zeros(len(id_scores)), np.ones(len(scores))], np.r_[id_scores, scores])
        print(f"  {name:22s} {len(paths):4d} images: {np.mean(scores > rule.unlike.threshold):6.1%} unlike training, "
              f"{referred_any:6.1%} referred for any reason; mean confidence {confident:.3f}; OOD AUROC {auroc:.4f}")
        everything.append(scores)
    allf = np.concatenate(everything)
    auroc = roc_auc_score(np.r_[np.zeros(len(id_scores)), np.ones(len(allf))], np.r_[id_scores, allf])
    print(f"  all foreign images: OOD AUROC {auroc:.4f}")
    calib = rule.calibration.unlike_n.numpy()
    for rate in (0.01, 0.02, 0.03, 0.04, 0.05):  # what other --unlike-rate values would have given
        threshold = conformal_upper_threshold(calib, rate)
        shares = ", ".join(f"{name} {np.mean(scores > threshold):.1%}" for name, scores in zip(sets, everything))
        print(f"  --unlike-rate {rate}: threshold {threshold:.2f}; held-out test {np.mean(id_scores > threshold):.1%}; {shares}")


def _csv_rows(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def guarantee_report(run: Run, pool: str | None, rates=(0.01, 0.02, 0.05), splits: int = 5, fixed: float = 0.9) -> None:
    if pool:
        data = read_labelled(pool, 0, 0.0, 0.0, min_classes=1)
        samples = [s for split in data.splits.values() for s in split]
        index = {n: run.class_names.index(n) for n in data.class_names}
        paths, labels = [s.path for s in samples], [index[data.class_names[s.label]] for s in samples]
    else:
        rows = _csv_rows(run.dir / "predictions_test.csv")
        paths, labels = [r["path"] for r in rows], [run.class_names.index(r["label"]) for r in rows]
    logits, features, truth = outputs(run, paths, labels)
    rule = classify_run.referrer(run)
    unlike, scores = rule.unlike, rule.unlike_scores(features)
    n = len(truth)
    print(f"guarantee: {n} labelled held-out images pooled, split {splits}x at random into calibration and test halves")
    for rate in rates:
        realised, coverage, plain_cov, plain_err, failed = [], [], [], [], 0
        for seed in range(splits):
            order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
            cal, test = order[: n // 2], order[n // 2:]
            calib = CalibrationImages(logits[cal], truth[cal], scores[cal])
            from vislearn.metrics.calibration import calibrate_temperature

            temperature = calibrate_temperature(logits[cal], truth[cal]).temperature
            try:
                rule = build_referrer(temperature, calib, unlike, run.class_names, max_error=rate)
            except CalibrationError as exc:
                failed += 1
                print(f"  rate {rate}: split {seed}: {exc}")
                continue
            decisions = rule.decide(logits[test], scores[test])
            kept = np.array([not d.refer_to_human for d in decisions])
            wrong = np.array([d.predicted for d in decisions]) != truth[test].numpy()
            realised.append(wrong[kept].mean() if kept.any() else 0.0)
            coverage.append(kept.mean())
            probs = torch.softmax(logits[test] / temperature, 1).max(1).values.numpy()
            plain_cov.append((probs >= fixed).mean())
            plain_err.append(wrong[probs >= fixed].mean())
        if realised:
            over = sum(r > rate for r in realised)
            print(f"  --max-error {rate}: realised error {np.mean(realised):.4f} (max {np.max(realised):.4f}; above the rate in "
                  f"{over} of {len(realised)} splits, promised at most 5%), coverage {np.mean(coverage):.1%}; plain temperature "
                  f"scaling with a fixed {fixed} threshold: coverage {np.mean(plain_cov):.1%}, error {np.mean(plain_err):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--foreign", default="fashion-mnist", help="sample data set used as foreign items: fashion-mnist or digits")
    parser.add_argument("--skip-guarantee", action="store_true", help="only the unlike-training measurement")
    parser.add_argument("--pool", help="labelled folder pooled for the guarantee check (default: the run's test predictions)")
    args = parser.parse_args()
    run = Run.load(args.run)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory(prefix="vislearn-referral-") as work:
        foreign_report(run, args.foreign, Path(work))
    if not args.skip_guarantee:
        guarantee_report(run, args.pool)


if __name__ == "__main__":
    main()
