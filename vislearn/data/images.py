"""Reading one image file into an 8-bit RGB picture, whatever Pillow mode it is stored in.

Every failure raises :class:`ImageReadError` naming the file and the reason, at the boundary.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DataLayoutError, ImageReadError
from ..files import Problem

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"})
# 8,192 x 8,192: far above what any model here looks at, far below a decompression bomb.
MAX_PIXELS = 8192 * 8192
BACKGROUND_RGB = (255, 255, 255)  # transparent pixels become white, as most viewers show them


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
    if "truncated" in reason.lower():
        return "file is truncated (an interrupted copy or download?)"
    return reason


def _open(path: Path, max_pixels: int, data: bytes | None = None) -> Image.Image:
    """The header of ``path``, or of ``data`` (its bytes, already read) when given; ``path`` names the file in errors."""
    try:
        if (len(data) if data is not None else path.stat().st_size) == 0:
            raise ImageReadError(path, "empty file (0 bytes)")
        with warnings.catch_warnings():
            # max_pixels decides below; Pillow's warning applies its own, unrelated limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path if data is None else io.BytesIO(data))
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image Pillow can read (wrong format or corrupt header)") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, f"over Pillow's pixel limit (a decompression bomb?): {exc}") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot open: {_reason(exc)}") from None
    w, h = image.size
    if w * h > max_pixels:
        image.close()
        raise ImageReadError(path, f"{w}x{h} pixels is over the {max_pixels:,} pixel limit (a decompression bomb?)")
    if w == 0 or h == 0:
        image.close()
        raise ImageReadError(path, f"image has no pixels ({w}x{h})")
    return image


def image_size(path: str | Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) from the header alone: cheap check that a file is an image within limits."""
    with _open(Path(path), max_pixels) as image:
        return image.size


def size_or_problem(path: str | Path) -> tuple[tuple[int, int] | None, Problem | None]:
    """((width, height), None) for a readable image header, else (None, the Problem saying why)."""
    try:
        return image_size(path), None
    except ImageReadError as err:
        return None, Problem(err.path, err.reason)


def expand_images(items: Sequence[str | Path]) -> list[Path]:
    """Image files named directly or found (recursively, sorted) inside named folders."""
    found: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found += sorted(p for p in item.rglob("*") if p.is_file() and is_image_file(p))
        else:
            found.append(item)
    if not found:
        raise DataLayoutError(f"no images found in {', '.join(map(str, items))}")
    return found


def _to_rgb(image: Image.Image, sixteen_bit: bool = False) -> Image.Image:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and float images: stretch the type's range (not the image's own) to 0..255
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if sixteen_bit or mode.startswith("I;16") or array.max() > 255 else 255.0
        if mode == "F":
            top = 1.0 if array.max() <= 1.0 else max(float(array.max()), 1.0)
        array = np.clip(array / top * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(array, mode="L").convert("RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND_RGB + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """An RGB ``PIL.Image`` upright as a viewer shows it (EXIF orientation applied).

    Raises :class:`ImageReadError` for missing, empty, non-image, truncated, corrupt or oversized files.
    """
    path = Path(path)
    return _decode(path, _open(path, max_pixels))


def read_file_bytes(path: str | Path) -> bytes:
    """The file's bytes, for callers that also hash them; an unreadable file is the same :class:`ImageReadError` as in
    :func:`read_image`."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImageReadError(Path(path), f"cannot open: {_reason(exc)}") from None


def read_image_bytes(data: bytes, path: str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """:func:`read_image` of a file's bytes already in memory (read once, e.g. to hash them too); ``path`` names
    the file in errors."""
    path = Path(path)
    return _decode(path, _open(path, max_pixels, data))


def _decode(path: Path, image: Image.Image) -> Image.Image:
    try:
        with image:
            image.load()
            # Pillow holds 16-bit PGM/PPM as mode "I" scaled to 0..65535, even when every value is small
            sixteen_bit = image.format == "PPM" and image.mode == "I"
            upright = ImageOps.exif_transpose(image)
            return _to_rgb(upright, sixteen_bit)
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, f"cannot decode: {_reason(exc)}") from None
