"""Sample datasets written as ordinary ImageFolder trees, so users see the layout vislearn expects."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ...errors import DataLayoutError
from ...registry import Registry
from ..idx import read_idx_folder

SAMPLES: Registry = Registry("sample dataset")
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def _write(images: np.ndarray, labels: np.ndarray, names: list[str], out: Path, prefix: str, quiet: bool) -> int:
    for name in names:
        (out / name).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(tqdm(list(zip(images, labels)), desc=f"writing {out}", disable=quiet, unit="img")):
        Image.fromarray(image).save(out / names[label] / f"{prefix}{i:05d}.png")
    return len(images)


@SAMPLES.register("digits")
def digits(out: Path, quiet: bool = False, **_) -> int:
    """scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels) as ``out/<digit>/*.png``."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images * (255.0 / 16.0)).round().astype(np.uint8)
    return _write(images, data.target, [str(d) for d in range(10)], out, "digit_", quiet)


@SAMPLES.register("fashion-mnist")
def fashion_mnist(out: Path, quiet: bool = False, source: str | None = None, limit: int | None = None, **_) -> int:
    """Fashion-MNIST from its IDX files (``apt-get install dataset-fashion-mnist``) as ``out/{train,test}/<class>``."""
    folder = Path(source or FASHION_MNIST_DIR)
    if not folder.is_dir():
        raise DataLayoutError(f"{folder}: not found. Install it (Debian: apt-get install dataset-fashion-mnist) "
                              "or pass --source DIR with the IDX files")
    total = 0
    for split in ("train", "test"):
        images, labels = read_idx_folder(folder, split)
        if limit:
            images, labels = images[:limit], labels[:limit]
        total += _write(images, labels, FASHION_CLASSES, out / split, f"{split}_", quiet)
    return total


@SAMPLES.register("defects")
def defects(out: Path, quiet: bool = False, limit: int | None = None, **_) -> int:
    """Texture crops (brick, grass, gravel) in the MVTec AD layout with synthetic local and global defects and masks."""
    from .defects import write_defect_sample

    return write_defect_sample(out, quiet=quiet, limit=limit)


@SAMPLES.register("collection")
def collection(out: Path, quiet: bool = False, limit: int | None = None, **_) -> int:
    """Photo crops of 8 scikit-image pictures (astronaut, coffee, cat, rocket, brick, grass, gravel, galaxies) in
    one folder each, plus exact and re-saved duplicates: a collection to try ``vislearn organize`` on."""
    from .collection import write_collection

    return write_collection(out, per_group=limit or 24)


@SAMPLES.register("detect")
def detect(out: Path, quiet: bool = False, limit: int | None = None, **_) -> int:
    """Cup, cat and rocket photo patches on brick/grass/gravel crops, exact boxes in both YOLO and COCO layouts."""
    from .detect import write_detect_sample

    return write_detect_sample(out, quiet=quiet, limit=limit)


@SAMPLES.register("tracks")
def tracks(out: Path, quiet: bool = False, limit: int | None = None, **_) -> int:
    """A video (video.mp4, 180 frames at 30 FPS) of cup, cat and rocket photos moving over a texture, crossing and
    occluding each other, with MOT ground truth (gt/gt.txt): for `vislearn watch` and tracking metrics."""
    from .tracks import write_tracks_sample

    return write_tracks_sample(out, quiet=quiet, limit=limit)


@SAMPLES.register("tracks-frames")
def tracks_frames(out: Path, quiet: bool = False, limit: int | None = None, **_) -> int:
    """The detect sample plus 300 still frames of the tracks generator (other clips than the tracks sample's), where
    objects hide each other, with their whole boxes: a detector trained on it keeps objects that are partly hidden."""
    from .detect import write_detect_sample
    from .tracks_frames import write_tracks_frames

    return write_detect_sample(out, quiet=quiet, limit=limit) + write_tracks_frames(out)


@SAMPLES.register("segment")
def segment(out: Path, quiet: bool = False, limit: int | None = None, **_) -> int:
    """Discs, squares and triangles cut from photos on brick/grass/gravel: PNG masks + classes.json + COCO RLE."""
    from .segment import write_shapes_sample

    return write_shapes_sample(out, count=limit or 300, quiet=quiet)


def write_sample(name: str, out: str | Path, quiet: bool = False, **options) -> Path:
    """Write sample set ``name`` under ``out``; refuses to write into a non-empty folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataLayoutError(f"{out}: is a file; choose a new folder")
    if out.exists() and any(out.iterdir()):
        raise DataLayoutError(f"{out}: folder exists and is not empty; choose a new folder")
    writer = SAMPLES.get(name)
    out.mkdir(parents=True, exist_ok=True)
    writer(out, quiet=quiet, **options)
    return out
