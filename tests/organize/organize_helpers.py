"""Tiny photos and a no-write check shared by the organize tests."""
import os
from pathlib import Path

import numpy as np
from PIL import Image


def write_photo(path: Path, colour, size=(24, 20), noise_seed=0) -> Path:
    rng = np.random.default_rng(noise_seed)
    pixels = np.clip(np.asarray(colour, np.float32) + rng.normal(0, 20, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def fingerprint(root: Path) -> dict:
    """Bytes and mtimes of every file under root (without following links): to prove nothing was written."""
    out = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            p = Path(folder) / name
            if p.is_symlink():
                out[str(p)] = ("link", os.readlink(p))
            else:
                out[str(p)] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out
