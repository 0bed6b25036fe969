"""The ``collection`` sample set: an unlabelled-looking photo collection with known groups, for ``vislearn organize``.

Real photos and textures from scikit-image, cut into random crops (position, scale, flips, size), one folder
per source photo so ``--evaluate-labels`` can score the grouping; a few re-saved near-duplicates and exact
copies are added so duplicate finding has something to find.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# folder name -> scikit-image picture (texture pictures are grey and get a tint)
SOURCES = {
    "astronaut": "astronaut", "coffee": "coffee", "cat": "chelsea", "rocket": "rocket",
    "brick": "brick", "grass": "grass", "gravel": "gravel", "galaxies": "hubble_deep_field",
}
# real collections are uneven (many beach photos, a few of the cat): group sizes vary 4x
SIZE_FACTORS = (2.0, 0.5, 1.0, 1.5, 0.5, 1.0, 0.75, 1.25)
TINTS = {"brick": (1.0, 0.78, 0.66), "grass": (0.75, 1.0, 0.65), "gravel": (0.92, 0.9, 0.85)}


def source_rgb(name: str) -> np.ndarray:
    """(H, W, 3) uint8 picture for a folder name of :data:`SOURCES`."""
    import skimage.data

    picture = getattr(skimage.data, SOURCES[name])()
    if picture.ndim == 2:
        picture = (picture[..., None].astype(np.float32) * np.asarray(TINTS[name], np.float32)).astype(np.uint8)
    return np.ascontiguousarray(picture[..., :3])


def random_view(picture: np.ndarray, rng: np.random.Generator, size_range=(96, 160), scale=(0.15, 0.6)) -> Image.Image:
    """A random square crop of ``scale`` of the shorter side, maybe mirrored, brighter or darker, resized to a random size.

    Small crops of one photo show different things (the astronaut's face, flag or suit): grouping them needs
    more than matching pixels, as a real collection does.
    """
    h, w = picture.shape[:2]
    side = int(min(h, w) * rng.uniform(*scale))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = picture[y:y + side, x:x + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    crop = np.clip(crop.astype(np.float32) * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8)
    size = int(rng.integers(size_range[0], size_range[1] + 1))
    return Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.Resampling.BILINEAR)


def write_collection(out: Path, per_group: int = 24, duplicates: int = 4, seed: int = 0, groups: list[str] | None = None) -> int:
    """Write ``out/<group>/photo_XXX.jpg`` (+ ``copy_of_...`` exact and re-saved near duplicates). Returns the count."""
    rng = np.random.default_rng(seed)
    written = 0
    for name, factor in zip(groups or list(SOURCES), SIZE_FACTORS * 4):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        picture = source_rgb(name)
        for i in range(max(2, round(per_group * factor))):
            random_view(picture, rng).save(folder / f"{name}_{i:03d}.jpg", quality=90)
            written += 1
    firsts = sorted(out.glob("*/*_000.jpg"))[:duplicates]
    for i, path in enumerate(firsts):
        if i % 2 == 0:  # exact copy: same bytes
            (path.parent / f"copy_of_{path.name}").write_bytes(path.read_bytes())
        else:  # near duplicate: smaller and re-compressed
            with Image.open(path) as image:
                image.resize((image.width * 3 // 4, image.height * 3 // 4)).save(path.parent / f"resaved_{path.name}", quality=70)
        written += 1
    return written
