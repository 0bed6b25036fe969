"""The generated collection of ``benchmarks/organize_scale.py`` and each file's ground truth.

N images under /tmp/vislearn-bench/scale/scale-<N>-<seed>/ (about 3 KB each), made from the seed alone: 40 % crops of
15 scikit-image photos and textures, 40 % Fashion-MNIST items, 20 % scikit-learn digits, each an augmented crop under
a random name in folders of 1,000, and 1 % of them with a planted copy. Beside the folder: ``.planted.json`` (the
(original, copy) pairs) and ``.sources.json`` (each file's :class:`organize_truth.Source`: its picture, crop box and
mirroring), replayed from the seed for a collection built before that file existed.
"""
from __future__ import annotations

import gzip
import json
import random
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

ROOT = Path("/tmp/vislearn-bench/scale")
FASHION = Path("/usr/share/datasets/fashion-mnist")
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "page", "hubble_deep_field", "immunohistochemistry",
          "retina", "colorwheel", "brick", "grass", "gravel")
PER_FOLDER = 1000
PLANTED_SHARE = 0.01


def _idx(path: Path) -> np.ndarray:
    data = gzip.open(path).read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def sources() -> dict[str, list[np.ndarray]]:
    """Source pictures by kind: photos (H, W, 3), fashion items (28, 28) and digits (8, 8 scaled to 0..255)."""
    import skimage.data
    from sklearn.datasets import load_digits

    photos = []
    for name in PHOTOS:
        p = np.asarray(getattr(skimage.data, name)())
        photos.append(np.repeat(p[..., None], 3, 2) if p.ndim == 2 else p[..., :3])
    files = [FASHION / f"{split}-images-idx3-ubyte.gz" for split in ("train", "t10k")]
    fashion = list(np.concatenate([_idx(f) for f in files])) if all(f.exists() for f in files) else []
    digits = [(255 - d * 16).clip(0, 255).astype(np.uint8) for d in load_digits().images]
    return {"photos": photos, "fashion": fashion, "digits": digits}


def augmented(kind: str, picture: np.ndarray, rng: random.Random) -> tuple[Image.Image, tuple[int, int, int, int], bool]:
    """A random crop of ``picture``, resized, maybe flipped, brightness +-15 %; with its crop box (left, top, right,
    bottom) in the source picture's pixels and whether it was mirrored (the ground truth of
    :mod:`organize_truth`)."""
    h, w = picture.shape[:2]
    share = rng.uniform(0.2, 0.6) if kind == "photos" else rng.uniform(0.85, 1.0)
    ch, cw = max(4, int(h * share)), max(4, int(w * share * rng.uniform(0.8, 1.2)))
    cw = min(cw, w)
    y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
    side = {"photos": (64, 160), "fashion": (40, 96), "digits": (32, 64)}[kind]
    size = rng.randint(*side)
    image = Image.fromarray(np.ascontiguousarray(picture[y:y + ch, x:x + cw]))
    image = image.resize((size, max(8, int(size * ch / cw))), Image.Resampling.BILINEAR)
    mirrored = rng.random() < 0.5
    if mirrored:
        image = ImageOps.mirror(image)
    return ImageEnhance.Brightness(image).enhance(rng.uniform(0.85, 1.15)), (x, y, x + cw, y + ch), mirrored


def generated(n: int, seed: int = 0):
    """The collection's files in order, made from the seed alone: yields ``(path, image or None, bytes or None,
    quality, source)`` where ``source`` is an :class:`organize_truth.Source` (a planted copy: its original's, marked
    planted). Replaying it (without writing) gives the ground truth of a collection built earlier."""
    from organize_truth import Source

    from vislearn.organize.planted import COPIES, plant_copies

    folder = ROOT / f"scale-{n}-{seed}"
    pictures, rng, nrng = sources(), random.Random(seed), np.random.default_rng(seed)
    kinds = [("photos", 0.4), ("fashion", 0.4 if pictures["fashion"] else 0.0), ("digits", 0.2)]
    names, weights = zip(*kinds)
    copy_kinds, written = COPIES.names(), 0
    while written < n:
        kind = rng.choices(names, weights)[0]
        pool = pictures[kind]
        # rng.choice(range(k)) draws exactly as rng.choice(pool) did: collections built before keep their files
        index = written % len(pool) if kind != "photos" else rng.choice(range(len(pool)))
        image, box, mirrored = augmented(kind, pool[index], rng)
        sub = folder / f"batch_{written // PER_FOLDER:04d}"
        path = sub / f"{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}.{'jpg' if kind == 'photos' else 'png'}"
        source = Source(kind, index, box, mirrored)
        quality = rng.randint(80, 95) if kind == "photos" else None
        yield path, image, None, quality, source
        written += 1
        if written < n and rng.random() < PLANTED_SHARE:
            copy_kind = rng.choice(copy_kinds)
            _, data, suffix = plant_copies(image, nrng, [copy_kind])[0]
            copy = path.with_name(f"{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}{suffix}")
            yield copy, None, data, None, source._replace(planted_from=str(path), copy_kind=copy_kind)
            written += 1


def build_collection(n: int, seed: int = 0) -> tuple[Path, list[tuple[str, str]]]:
    """``n`` image files (originals plus planted copies) under ROOT/scale-<n>-<seed>; built once. Returns the
    folder and the planted (original, copy) path pairs; each file's source and crop box go to
    ``<folder>.sources.json`` (replayed from the seed for a collection built before it was written)."""
    from organize_truth import write_sources

    folder = ROOT / f"scale-{n}-{seed}"
    planted_file = folder.parent / f"{folder.name}.planted.json"
    sources_file = folder.parent / f"{folder.name}.sources.json"
    if planted_file.exists():
        if not sources_file.exists():
            write_sources(sources_file, [(path, source) for path, _, _, _, source in generated(n, seed)])
        return folder, [tuple(p) for p in json.loads(planted_file.read_text())]
    print(f"building {n:,} images in {folder} (once) ...", file=sys.stderr, flush=True)
    planted, written, start, found = [], 0, time.perf_counter(), []
    for path, image, data, quality, source in generated(n, seed):
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
            planted.append((source.planted_from, str(path)))
        else:
            image.save(path, quality=quality) if quality else image.save(path)
        found.append((path, source))
        written += 1
        if written % 10_000 == 0 or written == n:
            print(f"  {written:,} images ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    write_sources(sources_file, found)
    planted_file.write_text(json.dumps(planted))
    return folder, planted


def sources_of(n: int, seed: int = 0):
    """Each file's :class:`organize_truth.Source` in the collection built for ``--images n``."""
    from organize_truth import read_sources

    return read_sources(ROOT / f"scale-{n}-{seed}.sources.json")
