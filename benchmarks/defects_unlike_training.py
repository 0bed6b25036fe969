"""How well a defect run refers images unlike its training images, and how rarely it refers its own product.

Trains a defect run on one product, then scores: held-out and test good images of that product, its defective
images per type, and foreign images (other textures, Fashion-MNIST items, scikit-learn digits, scikit-image
photos, an untinted grey photo of the same texture as "another camera", blank images, noise). Prints the share of
each set referred as "unlike training images" and the AUROC (scikit-learn) of the whole-image score, foreign
against good and foreign against defective images of the product. A measurement, not a test.

    .venv/bin/python benchmarks/defects_unlike_training.py --product brick            # the project's sample texture
    .venv/bin/python benchmarks/defects_unlike_training.py --product fashion:trouser  # made differently: Fashion-MNIST

Fashion-MNIST needs ``apt-get install dataset-fashion-mnist``. The fashion product's defects are drawn here
(dark holes, bright tears), not by the defects sample.
"""
from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import roc_auc_score

import vislearn
from vislearn.data.idx import read_idx_folder
from vislearn.data.samples import FASHION_CLASSES, FASHION_MNIST_DIR
from vislearn.data.samples.defects import TEXTURES, random_crop, texture_rgb, write_texture
from vislearn.engine import read_json
from vislearn.run import Run
from vislearn.tasks.defects.outputs import predict
from vislearn.tasks.defects.unlike import UNLIKE_TRAINING

FLOORS = (10.0, 15.0, 20.0, 30.0)  # other thresholds shown for comparison (the run's own is in the "referred" column)
PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "rocket", "coins", "moon", "page", "text", "hubble_deep_field",
          "immunohistochemistry", "retina")


def _save(array: np.ndarray, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return str(path)


def _rgb(grey_or_rgb: np.ndarray, size: int) -> np.ndarray:
    """Any uint8/bool image -> (size, size, 3) uint8."""
    a = grey_or_rgb.astype(np.uint8) * (255 if grey_or_rgb.dtype == bool else 1)
    a = np.stack([a] * 3, -1) if a.ndim == 2 else a[..., :3]
    return np.asarray(Image.fromarray(a).resize((size, size), Image.BILINEAR))


def _fashion(name: str, split: str, count: int, size: int, skip: int = 0) -> list[np.ndarray]:
    images, labels = read_idx_folder(FASHION_MNIST_DIR, split)
    picked = images[labels == FASHION_CLASSES.index(name)][skip:skip + count]
    return [_rgb(255 - im, size) for im in picked]  # dark item on a light background, like a product photo


def _local_defect(image: np.ndarray, rng, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A dark hole or a bright tear on the item (on its darker pixels): (image, mask)."""
    size = image.shape[0]
    yy, xx = np.mgrid[:size, :size]
    ys, xs = np.nonzero(image.mean(axis=2) < 160)
    i = rng.integers(len(ys))
    if kind == "hole":
        mask = (yy - ys[i]) ** 2 + (xx - xs[i]) ** 2 <= (size * rng.uniform(0.04, 0.07)) ** 2
        return np.where(mask[..., None], 20, image).astype(np.uint8), mask
    angle = rng.uniform(0, np.pi)
    along = (yy - ys[i]) * np.sin(angle) + (xx - xs[i]) * np.cos(angle)
    across = -(yy - ys[i]) * np.cos(angle) + (xx - xs[i]) * np.sin(angle)
    mask = (np.abs(across) <= 1) & (np.abs(along) <= size * 0.2)
    return np.where(mask[..., None], 250, image).astype(np.uint8), mask


def write_fashion_product(name: str, root: Path, size: int, rng) -> None:
    """MVTec layout: 120 good training items, 30 good test items, 10 holes and 10 tears with masks."""
    for i, im in enumerate(_fashion(name, "train", 120, size)):
        _save(im, root / "train/good" / f"{i:03d}.png")
    test = _fashion(name, "test", 50, size)
    for i, im in enumerate(test[:30]):
        _save(im, root / "test/good" / f"{i:03d}.png")
    for j, kind in enumerate(("hole", "tear")):
        for i, im in enumerate(test[30 + 10 * j:40 + 10 * j]):
            image, mask = _local_defect(im, rng, kind)
            _save(image, root / "test" / kind / f"{i:03d}.png")
            _save(mask.astype(np.uint8) * 255, root / "ground_truth" / kind / f"{i:03d}_mask.png")


def foreign_sets(product: str, out: Path, size: int, rng) -> dict[str, list[str]]:
    """Images unlike the product, 10-16 per set."""
    import skimage.data
    from sklearn.datasets import load_digits

    sets = {f"texture {t}": [_save((random_crop(texture_rgb(t), size, rng) * 255).astype(np.uint8), out / f"{t}_{i}.png")
                             for i in range(12)] for t in TEXTURES if t != product}
    if product in TEXTURES:  # the same surface without its colour: another camera
        grey = getattr(skimage.data, product)()
        sets["same texture, grey camera"] = [_save(_rgb(grey[y:y + 192, x:x + 192], size), out / f"grey_{i}.png")
                                             for i, (y, x) in enumerate(rng.integers(0, 300, (12, 2)))]
    others = [c for c in ("sneaker", "bag", "shirt", "dress") if f"fashion:{c}" != product]
    sets["fashion items"] = [_save(im, out / f"fashion_{c}_{i}.png") for c in others for i, im in enumerate(_fashion(c, "test", 4, size))]
    digits = load_digits().images[:12]
    sets["digits"] = [_save(_rgb((255 - d * 255 / 16).astype(np.uint8), size), out / f"digit_{i}.png") for i, d in enumerate(digits)]
    sets["photos"] = [_save(_rgb(getattr(skimage.data, p)(), size), out / f"photo_{p}.png") for p in PHOTOS]
    sets["blank"] = [_save(np.full((size, size, 3), v, np.uint8), out / f"blank_{i}.png") for i, v in
                     enumerate([(0, 0, 0), (128, 128, 128), (255, 255, 255), (200, 60, 40)])]
    sets["noise"] = [_save(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), out / f"noise_u{i}.png") for i in range(3)] + \
                    [_save(np.clip(rng.normal(128, 40, (size, size, 3)), 0, 255).astype(np.uint8), out / f"noise_g{i}.png") for i in range(3)]
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--product", default="brick", help="a sample texture (brick, grass, gravel) or fashion:<class>")
    parser.add_argument("--method", default="patchcore")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--work", type=Path, default=None, help="folder for data and run (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="unlike-"))
    rng = np.random.default_rng(0)
    root = work / "data"
    if args.product in TEXTURES:
        write_texture(args.product, root, rng, args.size, 120, 30, 8)
    else:
        write_fashion_product(args.product.split(":", 1)[1], root, args.size, rng)
    started = time.perf_counter()
    run = vislearn.train("defects", data=root, out=work / "run", log=print, progress=False, image_size=args.size,
                         extra={"method": args.method})
    print(f"fit + test: {time.perf_counter() - started:.0f} s")
    with open(run.dir / "predictions_test.csv", newline="") as f:
        test_rows = list(csv.DictReader(f))
    by_set: dict[str, list[float]] = {}
    for r in test_rows:
        by_set.setdefault("test good" if r["defect_type"] == "good" else f"defect {r['defect_type']}", []).append(float(r["global_z"]))
    threshold = read_json(run.dir / "threshold.json")["unlike_training"]["threshold"]
    foreign = foreign_sets(args.product, work / "foreign", args.size, rng)
    rows = predict(Run.load(run.dir), [Path(p) for paths in foreign.values() for p in paths])
    z = {r["path"]: r["global_z"] for r in rows}
    referred = {r["path"] for r in rows if r["verdict"] == UNLIKE_TRAINING}
    print(f"\nproduct {args.product}, {args.method}, {args.size} px; unlike-training threshold {threshold:.1f} (whole-image z)\n")
    others = [t for t in FLOORS if t != threshold]
    print(f"| set | images | referred | whole-image z (min-max) | {' | '.join(f'referred at {t:g}' for t in others)} |")
    print("|---" * (4 + len(others)) + "|")
    table = {**by_set, **{f"foreign: {name}": [z[p] for p in paths] for name, paths in foreign.items()}}
    for name, values in table.items():
        values = np.asarray(values)
        print(f"| {name} | {len(values)} | {np.mean(values > threshold):.0%} | {values.min():.1f}-{values.max():.1f} | "
              + " | ".join(f"{np.mean(values > t):.0%}" for t in others) + " |")
    assert all((z[p] > threshold) == (p in referred) for p in z)  # the verdicts follow the saved threshold
    foreign_z = np.asarray(list(z.values()))
    for against in ("test good", "defect"):
        own = np.concatenate([v for k, v in by_set.items() if k.startswith(against)])
        auroc = roc_auc_score(np.r_[np.ones(len(foreign_z)), np.zeros(len(own))], np.r_[foreign_z, own])
        print(f"OOD AUROC, foreign vs {against} images of the product: {auroc:.4f}")


if __name__ == "__main__":
    main()
