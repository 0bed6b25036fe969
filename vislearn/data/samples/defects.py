"""The ``defects`` sample set: real texture photos (scikit-image) cut into crops, with synthetic defects and exact masks."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ...registry import Registry

TEXTURES = {"brick": (1.0, 0.78, 0.66), "grass": (0.75, 1.0, 0.65), "gravel": (0.92, 0.9, 0.85)}  # tint per channel
DEFECTS: Registry = Registry("synthetic defect")
Defect = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]  # (H,W,3) float -> (image, mask_hw)


def texture_rgb(name: str) -> np.ndarray:
    """scikit-image's grey texture photo (512, 512) tinted to (512, 512, 3) float in [0, 1]."""
    import skimage.data

    grey = getattr(skimage.data, name)().astype(np.float32) / 255.0
    return grey[..., None] * np.asarray(TEXTURES[name], dtype=np.float32)


def random_crop(texture: np.ndarray, size: int, rng: np.random.Generator, stretch: float = 1.0) -> np.ndarray:
    """(size, size, 3) crop at a random offset, randomly flipped / turned by 180 degrees and rotated a few degrees."""
    h_in, w_in = int(size * 1.5), int(size * 1.5 / stretch)
    y, x = rng.integers(0, texture.shape[0] - h_in), rng.integers(0, texture.shape[1] - w_in)
    patch = texture[y:y + h_in, x:x + w_in]
    patch = ndimage.rotate(patch, rng.uniform(-4, 4), reshape=False, order=1, mode="reflect")
    patch = np.asarray(Image.fromarray((patch * 255).astype(np.uint8)).resize((int(size * 1.5), int(size * 1.5)), Image.BILINEAR)) / 255.0
    m = (patch.shape[0] - size) // 2
    crop = patch[m:m + size, m:m + size]
    crop = crop[:, ::-1] if rng.random() < 0.5 else crop
    return np.ascontiguousarray(crop[::-1, ::-1] if rng.random() < 0.5 else crop)


def _walk(size: int, rng, steps: int, smooth: float) -> tuple[np.ndarray, np.ndarray]:
    angle = rng.uniform(0, 2 * np.pi)
    angles = angle + np.cumsum(rng.normal(0, smooth, steps))
    ys = size / 2 + rng.uniform(-size / 4, size / 4) + np.cumsum(np.sin(angles))
    xs = size / 2 + rng.uniform(-size / 4, size / 4) + np.cumsum(np.cos(angles))
    return np.clip(ys, 0, size - 1).astype(int), np.clip(xs, 0, size - 1).astype(int)


def _line_mask(size: int, ys, xs, width: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[ys, xs] = True
    return ndimage.binary_dilation(mask, iterations=width)


def _blob_mask(size: int, rng, r_lo: int, r_hi: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.uniform(size * 0.25, size * 0.75, 2)
    ry, rx = rng.uniform(r_lo, r_hi, 2)
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


@DEFECTS.register("crack")
def crack(image, rng):
    mask = _line_mask(image.shape[0], *_walk(image.shape[0], rng, image.shape[0] // 2, 0.35), 1)
    return np.where(mask[..., None], image * 0.25, image), mask


@DEFECTS.register("scratch")
def scratch(image, rng):
    mask = _line_mask(image.shape[0], *_walk(image.shape[0], rng, image.shape[0] // 2, 0.03), 1)
    return np.where(mask[..., None], np.minimum(1.0, image * 0.4 + 0.65), image), mask


@DEFECTS.register("hole")
def hole(image, rng):
    mask = _blob_mask(image.shape[0], rng, image.shape[0] / 20, image.shape[0] / 10)
    return np.where(mask[..., None], image * 0.15, image), mask


@DEFECTS.register("stain")
def stain(image, rng):
    mask = _blob_mask(image.shape[0], rng, image.shape[0] / 12, image.shape[0] / 6)
    colour = np.asarray([0.45, 0.3, 0.1]) if rng.random() < 0.5 else np.asarray([0.2, 0.3, 0.55])
    return np.where(mask[..., None], image * 0.45 + colour * 0.55, image), mask


SPECK_MAX_SIDE_SHARE = 0.03  # a speck spans at most 3 % of the image side: 3 px at 128 px, 7 px at 250 px


def speck_mask(size: int, rng) -> np.ndarray:
    """(size, size) bool disc on a whole pixel, spanning at most SPECK_MAX_SIDE_SHARE of the side (at least 1 pixel)."""
    largest = (SPECK_MAX_SIDE_SHARE * size - 1) / 2  # a disc of radius r on a pixel centre spans 2 * floor(r) + 1 pixels
    radius = rng.uniform(max(min(1.0, largest), 2 / 3 * largest), max(largest, 0.0))
    cy, cx = rng.integers(round(size * 0.1), round(size * 0.9), 2)
    yy, xx = np.mgrid[:size, :size]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2


# a speck must be a visible flaw: its brightness lies outside the range of its surround (the pixels within
# SURROUND_PX of it), a dark dot on a light spot or a light dot on a dark one. The old rule (a random dark or light
# dot anywhere) put dark dots in grass's own shadows, inside the good images' local contrast: nobody sees those.
SURROUND_PX = 3
SPECK_MIN_ROOM = 0.35  # brightness room (0-1) needed beyond the surround's extreme; else another spot is drawn
SPECK_DEPTH = 0.8  # the dot goes this share of the room: at least 0.28 outside the surround's range
SPECK_TRIES = 50


def _surround_range(brightness_hw: np.ndarray, mask_hw: np.ndarray) -> tuple[float, float]:
    ring = ndimage.binary_dilation(mask_hw, iterations=SURROUND_PX) & ~mask_hw
    return float(brightness_hw[ring].min()), float(brightness_hw[ring].max())


def _shade(darkest: float, lightest: float, dark: bool) -> float:
    return darkest * (1 - SPECK_DEPTH) if dark else lightest + (1 - lightest) * SPECK_DEPTH


@DEFECTS.register("speck")
def speck(image, rng):
    """A tiny flat grey dot (dust, a pit, a fleck of paint) anywhere but the rim, darker (half of them, drawn at
    random) or lighter than every pixel around it: the spot is redrawn, up to SPECK_TRIES times, until its surround
    leaves SPECK_MIN_ROOM of brightness to spare on that side; failing that, the spot and side with the most room."""
    brightness, dark = image.mean(axis=2), rng.random() < 0.5
    best = (-1.0, None, dark)  # (room, mask, dark)
    for _ in range(SPECK_TRIES):
        mask = speck_mask(image.shape[0], rng)
        darkest, lightest = _surround_range(brightness, mask)
        if (darkest if dark else 1 - lightest) >= SPECK_MIN_ROOM:
            best = (SPECK_MIN_ROOM, mask, dark)
            break
        best = max(best, (darkest, mask, True), (1 - lightest, mask, False), key=lambda b: b[0])
    _, mask, dark = best
    return np.where(mask[..., None], _shade(*_surround_range(brightness, mask), dark), image), mask


def _whole(image) -> np.ndarray:
    return np.ones(image.shape[:2], bool)


@DEFECTS.register("color_drift")
def color_drift(image, rng):
    gains = np.asarray([1.0, 1.0, 1.0]) + rng.choice([-1, 1], 3) * rng.uniform(0.15, 0.25, 3)
    return np.clip(image * gains, 0, 1), _whole(image)


@DEFECTS.register("blur")
def blur(image, rng):
    return ndimage.gaussian_filter(image, sigma=(rng.uniform(1.5, 2.5),) * 2 + (0,)), _whole(image)


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(array * 255 if array.dtype != bool else array * 255, 0, 255).astype(np.uint8)).save(path)


def write_texture(texture: str, out: Path, rng, size: int, n_train: int, n_test_good: int, n_per_defect: int) -> int:
    """One MVTec category: out/train/good, out/test/{good,<defect>}, out/ground_truth/<defect>/*_mask.png."""
    rgb = texture_rgb(texture)
    for i in range(n_train):
        _save(random_crop(rgb, size, rng), out / "train" / "good" / f"{i:03d}.png")
    for i in range(n_test_good):
        _save(random_crop(rgb, size, rng), out / "test" / "good" / f"{i:03d}.png")
    for name in DEFECTS.names() + ["stretch"]:
        for i in range(n_per_defect):
            if name == "stretch":  # texture pulled 1.6x wider: normal patch by patch, wrong as a whole
                image, mask = random_crop(rgb, size, rng, stretch=1.6), np.ones((size, size), bool)
            else:
                image, mask = DEFECTS.get(name)(random_crop(rgb, size, rng), rng)
            _save(image, out / "test" / name / f"{i:03d}.png")
            _save(mask, out / "ground_truth" / name / f"{i:03d}_mask.png")
    return n_train + n_test_good + n_per_defect * (len(DEFECTS.names()) + 1)


def write_defect_sample(out: Path, quiet: bool = False, limit: int | None = None, size: int = 128, seed: int = 0,
                        textures=tuple(TEXTURES), **_) -> int:
    """``out/<texture>/...`` for brick, grass, gravel; ``limit`` caps the good training images per texture (default 120)."""
    rng = np.random.default_rng(seed)
    n_train = limit or 120
    return sum(write_texture(t, out / t, rng, size, n_train, max(10, n_train // 4), max(3, n_train // 15)) for t in textures)
