"""MVTec AD layout (train/good, test/good, test/<defect>, ground_truth/<defect>/*_mask.png) or a plain folder of good images."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataLayoutError
from .images import is_image_file, read_image

GOOD = "good"


@dataclass(frozen=True)
class DefectSample:
    path: str
    defect_type: str  # "good" or the defect folder's name
    mask_path: str | None = None  # None: no ground truth (or a good image)

    @property
    def is_defect(self) -> bool:
        return self.defect_type != GOOD


@dataclass
class DefectData:
    train_good: list[str]
    test: list[DefectSample] = field(default_factory=list)
    source: str = ""

    def defect_types(self) -> list[str]:
        return sorted({s.defect_type for s in self.test})


def _images(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() and is_image_file(p) and not p.name.startswith("."))


def _mask_for(root: Path, image: Path, defect: str) -> str | None:
    mask = root / "ground_truth" / defect / f"{image.stem}_mask.png"
    return str(mask) if mask.is_file() else None


def read_test_folder(root: Path) -> list[DefectSample]:
    """``root/test/<type>/*`` with masks from ``root/ground_truth``; ``root`` may also be the test folder itself."""
    test = root / "test" if (root / "test").is_dir() else root
    base = test.parent
    samples = []
    for folder in sorted(p for p in test.iterdir() if p.is_dir()):
        for path in _images(folder):
            mask = None if folder.name == GOOD else _mask_for(base, Path(path), folder.name)
            samples.append(DefectSample(path, folder.name, mask))
    return samples


def read_defect_data(source: str | Path) -> DefectData:
    """MVTec layout if ``source/train/good`` exists, else every image under ``source`` is a good training image."""
    root = Path(source)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: folder not found; pass an MVTec-style folder (train/good, test/...) or a folder of good images")
    if (root / "train" / GOOD).is_dir():
        data = DefectData(_images(root / "train" / GOOD), read_test_folder(root) if (root / "test").is_dir() else [], str(root))
    else:
        data = DefectData(_images(root), [], str(root))
    if len(data.train_good) < 4:
        raise DataLayoutError(f"{root}: {len(data.train_good)} good training images; defects needs at least 4 (20+ is better)")
    return data


def read_mask(path: str | Path, size_wh: tuple[int, int], image_path: str | Path) -> np.ndarray:
    """Ground-truth mask as (H, W) bool; a mask whose size differs from its image's is an error naming both files."""
    mask = np.asarray(read_image(path).convert("L")) > 127
    if (mask.shape[1], mask.shape[0]) != tuple(size_wh):
        raise DataLayoutError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image {image_path} is "
                              f"{size_wh[0]}x{size_wh[1]}; masks must have their image's size")
    return mask
