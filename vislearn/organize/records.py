"""What the collection scan knows about each image, shared by the store, duplicates and the report."""
from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
from PIL import Image
from scipy.fft import dctn


class ImageRecord(NamedTuple):
    path: str  # as found under the collection root (the user's original, never written)
    width: int
    height: int
    file_bytes: int
    mtime_ns: int
    sha256: str  # of the file's bytes: equal digests are exact duplicates
    phash: int  # 64-bit perceptual hash of the pixels: small Hamming distance = looks the same


def record_of(path: str, data: bytes, image: Image.Image, mtime_ns: int = 0) -> ImageRecord:
    """The record of a file whose ``data`` (bytes) decoded to ``image``."""
    return ImageRecord(path, image.width, image.height, len(data), mtime_ns, sha256_hex(data), perceptual_hash(image))


def keep_order(record: ImageRecord) -> tuple:
    """Sort key among duplicates: the file to keep sorts first (largest resolution, larger file, shorter path, path)."""
    return (-record.width * record.height, -record.file_bytes, len(record.path), record.path)


def sha256_hex(data: bytes) -> str:
    """The sha256 digest of a file's bytes as 64 hex characters (what :attr:`ImageRecord.sha256` holds)."""
    return hashlib.sha256(data).hexdigest()


def perceptual_hash(image: Image.Image) -> int:
    """64-bit DCT hash: the 8x8 lowest frequencies of a 32x32 grey thumbnail, each bit = above their median.

    Survives resizing, re-compression and small colour changes; a slight crop moves only a few bits.
    """
    grey = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    low = dctn(grey, norm="ortho")[:8, :8].flatten()
    bits = low > np.median(low[1:])  # the DC term (overall brightness) would skew the median
    return int(np.packbits(bits).view(">u8")[0])
