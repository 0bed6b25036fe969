"""An uploaded image, checked before any model sees it: size, type, pixel count, and that it decodes whole.

Every refusal is an :class:`UploadRefused` carrying the HTTP status a client gets and a message in plain words:
413 too large (bytes), 415 not an image, 422 an image vislearn will not decode (too many pixels, truncated, broken),
400 an empty body. Nothing of the request (its file name included) is ever used as a path.
"""
from __future__ import annotations

import io
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

# what PIL opens and vislearn's loaders read; anything else is refused as "not an image" (415)
FORMAT_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif", "TIFF": ".tif", "WEBP": ".webp", "PPM": ".ppm"}


class UploadRefused(Exception):
    """An upload vislearn will not predict on: ``status`` is the HTTP status, ``str(exc)`` says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """max_bytes: the largest upload (413 above it); max_pixels: width x height (422 above it, before decoding)."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class Upload:
    """A checked image: its bytes as sent, its decoded format's file suffix and its size in pixels."""

    data: bytes
    suffix: str
    width: int
    height: int


def check_upload(data: bytes, limits: Limits) -> Upload:
    """``data`` as an :class:`Upload`, or :class:`UploadRefused` with the status and the reason."""
    if not data:
        raise UploadRefused(400, "empty body: send the image's bytes (raw body or a multipart field named 'file')")
    if len(data) > limits.max_bytes:
        raise UploadRefused(413, too_large(len(data), limits.max_bytes))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UploadRefused(415, "not an image vislearn can read (PNG, JPEG, BMP, GIF, TIFF, WebP, PPM)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRefused(422, f"image has too many pixels (limit {limits.max_pixels:,})") from None
    except Exception as exc:  # a header PIL recognises but cannot parse
        raise UploadRefused(422, f"image header could not be read ({type(exc).__name__})") from None
    with image:
        if image.format not in FORMAT_SUFFIX:
            raise UploadRefused(415, f"image format {image.format} is not served (PNG, JPEG, BMP, GIF, TIFF, WebP, PPM)")
        width, height = image.size
        if width * height > limits.max_pixels:
            raise UploadRefused(422, f"image of {width}x{height} has too many pixels (limit {limits.max_pixels:,}, --max-pixels)")
        if width == 0 or height == 0:
            raise UploadRefused(422, "image has no pixels")
        try:
            image.load()  # the whole file decodes: a truncated upload is refused here, not half-predicted
        except Exception as exc:
            raise UploadRefused(422, f"image does not decode ({_reason(exc)})") from None
        return Upload(data, FORMAT_SUFFIX[image.format], width, height)


def too_large(size: int | None, max_bytes: int) -> str:
    """The 413 message; sizes in MB of 2**20 bytes, as ``--max-upload-mb`` counts them."""
    sent = f"upload of {size / 2**20:.1f} MB" if size is not None else "upload"
    return f"{sent} is over the limit of {max_bytes / 2**20:.1f} MB (--max-upload-mb)"


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A PNG header declaring ``width`` x ``height`` one-bit pixels and no pixel data: 57 bytes that claim 400 million
    pixels by default (what a decompression bomb looks like to a reader of headers; for tests and docs)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
