"""Tiny files for the data tests: flat-colour images, class folders, hand-written IDX files.

Each maker is handed to tests as a fixture of the same name (the suite imports test files with
``--import-mode=importlib``, so a helper module could not be imported by name).
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

IDX_TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
                  np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def save_flat(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (4, 4)) -> Path:
    """A lossless one-colour PNG (or other format by suffix) of ``size`` (W, H)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).save(path)
    return path


def make_classes(root: Path, per_class: dict[str, int], size: tuple[int, int] = (4, 4)) -> dict[str, list[Path]]:
    """``root/<class>/<class>_<i>.png``; every file has different bytes (its colour encodes class and index)."""
    out = {}
    for c, (name, n) in enumerate(per_class.items()):
        out[name] = [save_flat(root / name / f"{name}_{i:03d}.png", (40 * c % 256, i % 256, i // 256), size) for i in range(n)]
    return out


def truncated_copy(source: Path, target: Path) -> Path:
    """``target`` holds the first half of ``source``: an interrupted copy, its header intact."""
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def noisy_png(path: Path, size: int = 64, seed: int = 0) -> Path:
    """A PNG of random pixels: big enough (kilobytes) that half of it is still a valid header."""
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG signature and IHDR claiming ``width`` x ``height`` RGB, with no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding: 0, 0, type code, ndim, each dimension as big-endian uint32, then big-endian data."""
    big_endian = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    header = bytes([0, 0, IDX_TYPE_CODES[big_endian.dtype], array.ndim])
    return header + b"".join(struct.pack(">I", n) for n in array.shape) + big_endian.tobytes()


def write_idx(path: Path, array: np.ndarray) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.fixture(name="save_flat")
def _save_flat():
    return save_flat


@pytest.fixture(name="make_classes")
def _make_classes():
    return make_classes


@pytest.fixture(name="truncated_copy")
def _truncated_copy():
    return truncated_copy


@pytest.fixture(name="noisy_png")
def _noisy_png():
    return noisy_png


@pytest.fixture(name="png_header_only")
def _png_header_only():
    return png_header_only


@pytest.fixture(name="write_idx")
def _write_idx():
    return write_idx


def write_noise_pngs(root: Path, count: int = 10, broken_at: int = 4, classes: int = 3) -> list:
    """``count`` random-noise PNGs of 12 x (9 + i) pixels in ``root`` (labels i % classes), with a corrupt
    ``broken.png`` (a PNG signature and nothing readable) inserted at position ``broken_at``: a list of Samples."""
    from vislearn.data import Sample

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    samples = []
    for i in range(count):
        path = root / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, (9 + i, 12, 3), dtype=np.uint8)).save(path)
        samples.append(Sample(str(path), i % classes))
    broken = root / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return [*samples[:broken_at], Sample(str(broken), 1), *samples[broken_at:]]


@pytest.fixture(name="write_noise_pngs")
def _write_noise_pngs():
    return write_noise_pngs
