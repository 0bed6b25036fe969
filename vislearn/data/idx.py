"""The MNIST/Fashion-MNIST IDX format (what torchvision reads): ``train-images-idx3-ubyte[.gz]`` etc."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataLayoutError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in one IDX file (gzip or plain)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataLayoutError(f"{path}: cannot read IDX file ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataLayoutError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = data[4 + 4 * ndim:]
    if len(body) != expected:
        raise DataLayoutError(f"{path}: holds {len(body)} bytes of data, its header promises {expected} (truncated?)")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataLayoutError(f"{folder}: no {stem}[.gz] file (expected the MNIST/Fashion-MNIST IDX files)")


def read_idx_folder(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, H, W) uint8, labels (N,) int) of ``split`` ("train" or "test") in ``folder``."""
    folder = Path(folder)
    images_name, labels_name = FILES[split]
    images, labels = read_idx(_find(folder, images_name)), read_idx(_find(folder, labels_name))
    if len(images) != len(labels):
        raise DataLayoutError(f"{folder}: {len(images)} images but {len(labels)} labels in the {split} split")
    return images, labels.astype(np.int64)
