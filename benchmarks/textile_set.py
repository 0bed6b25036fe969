"""A woven-textile defect set made differently from vislearn's sample: a procedural plain weave, real-photo grain.

    python benchmarks/textile_set.py /tmp/textile            # 250 px, 300 good to learn from, 100 per test type
    vislearn train defects --data /tmp/textile --out runs/textile
    python benchmarks/textile_set.py /tmp/textile --train runs/textile   # both, then AUROCs per type, fit time, ms/image

vislearn's own sample (`vislearn data sample defects`) crops scikit-image texture photos (brick, grass, gravel) and
paints its defects; this set is built another way on purpose: threads are drawn (warp and weft crossing over and
under, each thread a little wider, darker or displaced than its neighbours), lit by a low-passed crop of
scikit-image's ``moon`` photo and grained with its high-passed pixels. The test set, in the MVTec layout:

- ``tiny``: a speck about 8 px across (6-10 px; <= 4 % of the side): a dark knot or a foreign fibre, with masks;
- ``scratch``: a thin (1-2 px) pulled, lighter thread 60-150 px long, slightly curved, with masks;
- ``texture``: a texture-wide change (denser weave, dye shift, out of focus, or weaker contrast), no masks.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

WARP_RGB, WEFT_RGB = np.array([0.55, 0.42, 0.30]), np.array([0.62, 0.50, 0.36])  # two tones of a linen-like cloth


def _photo() -> np.ndarray:
    import skimage.data

    return skimage.data.moon().astype(np.float32) / 255.0  # (512, 512) grey


def _smooth_noise(shape, rng, sigma: float) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.normal(size=shape), sigma)
    return noise / (noise.std() + 1e-8)


def weave(size: int, rng: np.random.Generator, photo: np.ndarray, period: float = 9.0, contrast: float = 1.0) -> np.ndarray:
    """(size, size, 3) float in [0, 1]: a plain weave with thread jitter, lit and grained by a real photo crop."""
    angle = np.deg2rad(rng.uniform(-3, 3))
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    yr, xr = yy * np.cos(angle) - xx * np.sin(angle), yy * np.sin(angle) + xx * np.cos(angle)
    u = (yr + 1.2 * _smooth_noise((size, size), rng, 12)) / period + rng.uniform(0, 64)  # across the warp threads
    v = (xr + 1.2 * _smooth_noise((size, size), rng, 12)) / period + rng.uniform(0, 64)  # across the weft threads
    row, col = np.floor(u).astype(int), np.floor(v).astype(int)
    fu, fv = u - row, v - col
    shade_row, shade_col = 1 + 0.08 * rng.normal(size=256), 1 + 0.08 * rng.normal(size=256)  # threads differ
    warp_on_top = (row + col) % 2 == 0
    warp = np.sin(np.pi * fu) ** 0.7 * (0.8 + 0.2 * np.sin(np.pi * fv)) * shade_row[row % 256]
    weft = np.sin(np.pi * fv) ** 0.7 * (0.8 + 0.2 * np.sin(np.pi * fu)) * shade_col[col % 256]
    height = np.where(warp_on_top, warp, weft)[..., None]
    tone = np.where(warp_on_top[..., None], WARP_RGB, WEFT_RGB)
    y, x = rng.integers(0, photo.shape[0] - size, 2)
    crop = photo[y:y + size, x:x + size]
    light = ndimage.gaussian_filter(crop, 20)
    grain = crop - ndimage.gaussian_filter(crop, 2)
    image = tone * (0.35 + 0.65 * height * contrast + 0.35 * (1 - contrast)) * (0.75 + 0.5 * light[..., None])
    return np.clip(image + 0.25 * grain[..., None], 0, 1)


def _blob(size: int, rng, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.uniform(0.1 * size, 0.9 * size, 2)
    ry, rx = radius * rng.uniform(0.75, 1.25, 2)
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


def tiny(image, rng, **_):
    """A knot (darker) or a foreign fibre (another colour), 6-10 px across."""
    mask = _blob(image.shape[0], rng, rng.uniform(3.0, 5.0))
    soft = ndimage.gaussian_filter(mask.astype(np.float32), 0.8)[..., None]
    colour = image * 0.35 if rng.random() < 0.5 else np.array([0.25, 0.32, 0.55]) * image.mean(axis=2, keepdims=True) * 2
    return image * (1 - soft) + colour * soft, mask


def scratch(image, rng, **_):
    """A pulled thread: a thin lighter curve."""
    size = image.shape[0]
    length, width = rng.integers(60, 150), rng.integers(1, 3)
    angles = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.03, length))
    ys = rng.uniform(0.2, 0.8) * size + np.cumsum(np.sin(angles))
    xs = rng.uniform(0.2, 0.8) * size + np.cumsum(np.cos(angles))
    keep = (ys >= 0) & (ys < size) & (xs >= 0) & (xs < size)
    mask = np.zeros((size, size), bool)
    mask[ys[keep].astype(int), xs[keep].astype(int)] = True
    mask = ndimage.binary_dilation(mask, iterations=width - 1) if width > 1 else mask
    return np.where(mask[..., None], np.minimum(1, image * 0.5 + 0.45), image), mask


def texture(image, rng, photo=None, **_):
    """A texture-wide change: denser weave, a dye shift, out of focus or weaker contrast (no mask: it is everywhere)."""
    change = rng.integers(4)
    size = image.shape[0]
    if change == 0:
        image = weave(size, rng, photo, period=9.0 * 0.88)
    elif change == 1:
        image = np.clip(image * np.array([0.93, 1.0, 1.1]), 0, 1)
    elif change == 2:
        image = ndimage.gaussian_filter(image, (1.2, 1.2, 0))
    else:
        image = weave(size, rng, photo, contrast=0.7)
    return image, None


DEFECT_TYPES = {"tiny": tiny, "scratch": scratch, "texture": texture}


def _save(image: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(path)


def write_textile(root: Path, size: int = 250, n_train: int = 300, n_test_good: int = 100, n_per_defect: int = 100, seed: int = 0) -> Path:
    """MVTec layout under ``root``: train/good, test/good, test/<type>, ground_truth/<type>/*_mask.png."""
    rng, photo = np.random.default_rng(seed), _photo()
    for i in range(n_train):
        _save(weave(size, rng, photo), root / "train/good" / f"{i:03d}.png")
    for i in range(n_test_good):
        _save(weave(size, rng, photo), root / "test/good" / f"{i:03d}.png")
    for name, make in DEFECT_TYPES.items():
        for i in range(n_per_defect):
            image, mask = make(weave(size, rng, photo), rng, photo=photo)
            _save(image, root / "test" / name / f"{i:03d}.png")
            if mask is not None:
                _save(mask.astype(np.float32), root / "ground_truth" / name / f"{i:03d}_mask.png")
    return root


def train_and_time(data: Path, out: Path) -> dict:
    """Default settings on ``data``: image AUROC per type, pixel AUROC, fit seconds (wall and CPU), ms per test image."""
    import os
    import resource
    import time

    import vislearn

    started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    run = vislearn.train("defects", data=data, out=out, log=print, progress=False)
    wall = time.perf_counter() - started
    used = resource.getrusage(resource.RUSAGE_SELF)
    m = run.metrics
    scoring = m["ms_per_image"] * m["num_images"] / 1000
    return {"image_auroc": m["image_auroc"], "pixel_auroc": m["pixel_auroc"], "aupro": m["aupro"],
            "per_type": {row["defect_type"]: row["image_auroc"] for row in m["per_defect"]},
            "fit_s": wall - scoring, "ms_per_image": m["ms_per_image"], "wall_s": wall,
            "cpu_s": used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime, "load_average": os.getloadavg()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=250)
    parser.add_argument("--good", type=int, default=300, help="good training images")
    parser.add_argument("--per-type", type=int, default=100, help="test images per defect type and good test images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=Path, help="then train with default settings into this run folder and time it")
    args = parser.parse_args()
    if not (args.out / "train").is_dir():
        write_textile(args.out, args.size, args.good, args.per_type, args.per_type, args.seed)
        print(f"wrote {args.out}")
    if args.train:
        print(train_and_time(args.out, args.train))
