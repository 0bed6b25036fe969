"""What the collection scan knows about each image, shared by the store, duplicates and the report."""
from __future__ import annotations

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


def perceptual_hash(image: Image.Image) -> int:
    """64-bit DCT hash: the 8x8 lowest frequencies of a 32x32 grey thumbnail, each bit = above their median.

    Survives resizing, re-compression and small colour changes; a slight crop moves only a few bits.
    """
    grey = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    low = dctn(grey, norm="ortho")[:8, :8].flatten()
    bits = low > np.median(low[1:])  # the DC term (overall brightness) would skew the median
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes."""
    return (a ^ b).bit_count()


def hamming_matrix(hashes: np.ndarray) -> np.ndarray:
    """(N, N) int Hamming distances between N uint64 hashes."""
    h = np.asarray(hashes, dtype=np.uint64)
    x = h[:, None] ^ h[None, :]
    return np.unpackbits(x.view(np.uint8).reshape(len(h), len(h), 8), axis=-1).sum(-1)
