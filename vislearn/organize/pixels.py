"""Do two photos show the same pixels, up to resizing, re-compression, brightness and a crop of up to 10 %?

Both are shrunk to 64 x 64 grey thumbnails (slightly blurred: JPEG noise and texture grain stop mattering);
one is shrunk again by 0-10 % (coarse to fine, 1 % steps) and slid over the other, and the best normalised
cross-correlation (NCC, blind to brightness and contrast) is taken, both ways round.

What counts as "close" depends on the picture: two different handwritten 3s correlate at 0.99, a
re-compressed photo of grass at 0.97. So the mismatch ``1 - NCC`` is divided by each thumbnail's own
mismatch with itself shifted by one pixel (``1 - smoothness``): a ratio below 1 means the two differ less
than the picture differs from itself moved by one thumbnail pixel. On the planted test collection
duplicates reach at most 0.91, distinct pictures at least 1.13.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageOps
from scipy.ndimage import gaussian_filter

SIDE = 64
BLUR_SIGMA = 1.0
CROPS = tuple(np.round(np.arange(0, 0.101, 0.01), 2))  # fraction cut from each side, in total
COARSE_STEP = 3
FLAT = 1e-3  # a thumbnail whose pixels vary less than this (0-255 scale) is one flat colour


class Thumbnail(NamedTuple):
    grey_hw: np.ndarray  # (SIDE, SIDE) float32, blurred
    templates: list[np.ndarray]  # per crop in CROPS: the thumbnail shrunk, zero-mean, unit-norm
    smoothness: float  # NCC of the thumbnail with itself moved by one pixel (the lower of x and y)
    flat: bool


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))


def thumbnail(image: Image.Image) -> Thumbnail:
    grey = np.asarray(image.convert("L").resize((SIDE, SIDE), Image.Resampling.BILINEAR), dtype=np.float32)
    grey = gaussian_filter(grey, BLUR_SIGMA)
    if grey.std() < FLAT:
        return Thumbnail(grey, [], 1.0, True)
    templates = []
    for crop in CROPS:
        side = int(round(SIDE * (1 - crop)))
        t = np.asarray(Image.fromarray(grey).resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32)
        t = t - t.mean()
        templates.append(t / max(float(np.linalg.norm(t)), 1e-12))
    smoothness = min(_ncc(grey[:, :-1], grey[:, 1:]), _ncc(grey[:-1], grey[1:]))
    return Thumbnail(grey, templates, smoothness, False)


def read_thumbnail(path: str | Path) -> Thumbnail | None:
    """The thumbnail of an image file, or None when it cannot be read (the caller decides without pixels)."""
    try:
        with Image.open(path) as image:
            image.draft("L", (2 * SIDE, 2 * SIDE))  # JPEG: decode at 1/2..1/8 scale, many times faster
            return thumbnail(ImageOps.exif_transpose(image))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def _best_match(image: np.ndarray, template: np.ndarray) -> float:
    """Highest NCC of ``template`` (zero-mean, unit-norm) over every position inside ``image``."""
    side = template.shape[0]
    windows = sliding_window_view(image, (side, side))
    centred = windows - windows.mean(axis=(2, 3), keepdims=True)
    score = np.einsum("pqij,ij->pq", centred, template) / (np.sqrt((centred ** 2).sum(axis=(2, 3))) + 1e-12)
    return float(score.max())


def aligned_ncc(a: Thumbnail, b: Thumbnail) -> float:
    """Best NCC of ``a`` and ``b`` with either cropped by 0-10 % at any offset.

    Coarse to fine: crops of 0, 3, 6 and 9 % first, then the 1 % steps either side of the best.
    """
    def at(k: int) -> float:
        return max(_best_match(a.grey_hw, b.templates[k]), _best_match(b.grey_hw, a.templates[k]))

    scores = {k: at(k) for k in range(0, len(CROPS), COARSE_STEP)}
    best = max(scores, key=scores.get)
    for k in (best - 1, best + 1):
        if 0 <= k < len(CROPS) and k not in scores:
            scores[k] = at(k)
    return max(scores.values())


def pixel_mismatch(a: Thumbnail, b: Thumbnail) -> float:
    """(1 - aligned NCC) / (1 - smoothness of the rougher one): below 1, the same picture."""
    if a.flat or b.flat:
        same_colour = a.flat and b.flat and abs(float(a.grey_hw.mean() - b.grey_hw.mean())) < 8
        return 0.0 if same_colour else float("inf")
    return (1 - aligned_ncc(a, b)) / max(1 - min(a.smoothness, b.smoothness), 1e-6)
