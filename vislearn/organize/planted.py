"""Planted copies and bursts: the edits that make a duplicate, to measure and test the duplicate finder.

Each copy transformation takes a picture and a random generator and returns the bytes of a new file and its
suffix: what a person's collection gathers when a photo is shared, re-saved or edited a little. A burst
is another picture of the same scene (the camera moved, the light changed): not a copy, never to be removed.
"""
from __future__ import annotations

import io
from typing import Callable

import numpy as np
from PIL import Image, ImageEnhance
from scipy.ndimage import gaussian_filter

from ..registry import Registry

COPIES: Registry = Registry("copy transformation")
ORIENTATION_TAG = 0x0112
RESAMPLERS = (Image.Resampling.LANCZOS, Image.Resampling.BICUBIC, Image.Resampling.BILINEAR, Image.Resampling.BOX)
EXIF_ROTATIONS = {6: Image.Transpose.ROTATE_90, 3: Image.Transpose.ROTATE_180, 8: Image.Transpose.ROTATE_270}


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _rgb_or_grey(image: Image.Image) -> Image.Image:
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


@COPIES.register("resized")
def resized(image: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    """Shrunk to 40-80 % per side (as a messenger or a thumbnailer would) by one of four resamplers, saved as PNG."""
    scale = rng.uniform(0.4, 0.8)
    size = (max(8, round(image.width * scale)), max(8, round(image.height * scale)))
    return encode(image.resize(size, RESAMPLERS[int(rng.integers(len(RESAMPLERS)))]), "PNG"), ".png"


@COPIES.register("recompressed")
def recompressed(image: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    """Saved again as JPEG at quality 40-85."""
    return encode(_rgb_or_grey(image), "JPEG", quality=int(rng.integers(40, 86))), ".jpg"


@COPIES.register("cropped")
def cropped(image: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    """5-10 % cut off in total along each side's length, at a random place (more on one edge than the other)."""
    w, h = image.size
    cut_x, cut_y = rng.uniform(0.05, 0.10, 2)
    left, top = round(w * cut_x * rng.random()), round(h * cut_y * rng.random())
    box = (left, top, left + round(w * (1 - cut_x)), top + round(h * (1 - cut_y)))
    return encode(image.crop(box), "PNG"), ".png"


@COPIES.register("brightened")
def brightened(image: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    """Brightness x1.1-1.3 or x0.75-0.9 (bright pixels clip at white), contrast x0.9-1.1."""
    factor = rng.uniform(1.1, 1.3) if rng.random() < 0.5 else rng.uniform(0.75, 0.9)
    edited = ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(factor)).enhance(rng.uniform(0.9, 1.1))
    return encode(edited, "PNG"), ".png"


@COPIES.register("exif-rotated")
def exif_rotated(image: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    """The pixels stored turned by 90, 180 or 270 degrees with an EXIF orientation that turns them back (JPEG q92),
    as cameras write portrait photos."""
    orientation = int(rng.choice(list(EXIF_ROTATIONS)))
    stored = _rgb_or_grey(image).transpose(EXIF_ROTATIONS[orientation])
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return encode(stored, "JPEG", quality=92, exif=exif.tobytes()), ".jpg"


@COPIES.register("converted")
def converted(image: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    """Another format: PNG -> JPEG q75-95 or WebP q80 (lossy), or the decoded pixels as lossless PNG."""
    kind = rng.integers(3)
    if kind == 0:
        return encode(_rgb_or_grey(image), "JPEG", quality=int(rng.integers(75, 96))), ".jpg"
    if kind == 1:
        return encode(_rgb_or_grey(image), "WEBP", quality=80), ".webp"
    return encode(image, "PNG", compress_level=9), ".png"


@COPIES.register("edited")
def edited(image: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    """Several edits at once: cropped 5 %, shrunk to 70 %, brightened x1.1, saved as JPEG q70."""
    w, h = image.size
    box = (round(0.03 * w), round(0.02 * h), round(0.98 * w), round(0.97 * h))
    small = image.crop(box).resize((max(8, round(0.7 * 0.95 * w)), max(8, round(0.7 * 0.95 * h))), Image.Resampling.LANCZOS)
    return encode(_rgb_or_grey(ImageEnhance.Brightness(small).enhance(1.1)), "JPEG", quality=70), ".jpg"


def burst(scene: Image.Image, box: tuple[int, int, int, int], rng: np.random.Generator) -> Image.Image:
    """Another shot of ``box`` inside ``scene``: the view moved by 8-15 % of its side, turned by 1-3 degrees, the light
    changed (x0.8-1.2, slightly uneven) and fresh sensor noise. (H, W) of the box, same mode as the scene."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    dx, dy = (rng.uniform(0.08, 0.15, 2) * rng.choice([-1, 1], 2) * (w, h)).round().astype(int)
    angle = rng.uniform(1, 3) * rng.choice([-1, 1])
    centre = (left + dx + w / 2, top + dy + h / 2)
    turned = scene.rotate(angle, resample=Image.Resampling.BILINEAR, center=centre)
    shot = np.asarray(turned.crop((left + dx, top + dy, right + dx, bottom + dy)), dtype=np.float32)
    ramp = np.linspace(rng.uniform(0.8, 1.0), rng.uniform(1.0, 1.2), w, dtype=np.float32)
    light = ramp[None, :, None] if shot.ndim == 3 else ramp[None, :]
    noisy = shot * light + rng.normal(0, 4, shot.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def look_alike_trousers(n: int, seed: int = 0) -> list[Image.Image]:
    """``n`` (64, 64) grey trousers on black, as in Fashion-MNIST: same cut, legs and waist a pixel wider or longer, own fabric:
    distinct photos that look alike, never duplicates."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        canvas = np.zeros((28, 28), np.float32)
        leg, length, waist = rng.integers(4, 7), rng.integers(22, 26), rng.integers(3, 5)
        canvas[2:2 + waist, 8:20] = 1
        canvas[2:length, 8:8 + leg] = 1
        canvas[2:length, 20 - leg:20] = 1
        fabric = 0.75 + 0.1 * gaussian_filter(rng.normal(size=(28, 28)), 1.5) / 0.1
        grey = np.clip(gaussian_filter(canvas, 0.6) * fabric * rng.uniform(150, 230), 0, 255).astype(np.uint8)
        out.append(Image.fromarray(grey).resize((64, 64), Image.Resampling.BILINEAR))
    return out


def plant_copies(image: Image.Image, rng: np.random.Generator, kinds: list[str] | None = None) -> list[tuple[str, bytes, str]]:
    """``(kind, file bytes, suffix)`` for each copy transformation in ``kinds`` (default: all registered)."""
    transforms: list[tuple[str, Callable]] = [(k, COPIES.get(k)) for k in (kinds or COPIES.names())]
    return [(kind, *make(image, rng)) for kind, make in transforms]
