"""Tiny photos and a no-write check shared by the organize tests."""
import os
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter


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


def plain_top(side: int, moved_from: int | None = None, hem: int = 0, collar: int = 0, sleeves: int = 0) -> Image.Image:
    """A flat grey top on a dark flat background; ``moved_from``: its right side 1 px wider from that row down (of 48);
    ``hem``, ``collar``, ``sleeves``: the hem longer, the collar deeper, both sleeves longer by that many pixels (of 48)."""
    canvas = np.full((48, 48), 20, np.float32)
    canvas[6:42 + hem, 12:36] = 180
    canvas[6:18 + sleeves, 6:12] = canvas[6:18 + sleeves, 36:42] = 180
    canvas[6:9 + collar, 21:27] = 20
    if moved_from is not None:
        canvas[moved_from:42, 36] = 180
    grey = np.clip(gaussian_filter(canvas, 0.6), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).resize((side, side), Image.Resampling.LANCZOS)
