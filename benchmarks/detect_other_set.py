"""A detection set made differently from vislearn's sample: grey, non-square pictures, other objects and backgrounds.

    python benchmarks/detect_other_set.py /tmp/det-other                         # 200 train, 40 val, 40 test, COCO layout
    vislearn train detect --data /tmp/det-other --model tiny_det --weights none --epochs 10 --batch-size 16 --out runs/other
    vislearn train detect ... --resize-mode stretch --out runs/other-stretch     # the old fit, for comparison

vislearn's sample (`vislearn data sample detect`) pastes colour cup / cat / rocket patches on tinted texture squares
(128 x 128). This set is built another way on purpose:

- pictures are 160 x 96 (landscape) or 96 x 160 (portrait), so the fit to the square input matters (letterbox vs stretch);
- everything is grey (the colour cue the sample's classes have is gone);
- the objects are other scikit-image photos: the astronaut's helmet and face, the clock, the colour wheel; smaller
  (their longer side 16-45 % of the picture's shorter side, 15-43 px) and never turned;
- the backgrounds are crops of other photos (camera man, moon, Hubble deep field, immunohistochemistry), not textures.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from vislearn.data.boxes import BoxRecord
from vislearn.data.coco import write_coco

OBJECTS = {"face": ("astronaut", (0, 250), (140, 340)), "clock": ("clock", (10, 290), (40, 360)), "wheel": ("colorwheel", (0, 370), (0, 371))}
BACKGROUNDS = ("camera", "moon", "hubble_deep_field", "immunohistochemistry")
SIDES = ((160, 96), (96, 160))  # (width, height): landscape, portrait


def _grey(photo: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(photo).convert("L"), np.float32)


def _photos() -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    import skimage.data

    objects = {n: _grey(getattr(skimage.data, p)()[r0:r1, c0:c1]) for n, (p, (r0, r1), (c0, c1)) in OBJECTS.items()}
    return objects, [_grey(getattr(skimage.data, name)()) for name in BACKGROUNDS]


def _free(x: int, y: int, w: int, h: int, taken: list) -> bool:
    return all(x + w + 2 <= a or a2 + 2 <= x or y + h + 2 <= b or b2 + 2 <= y for a, b, a2, b2 in taken)


def picture(objects: dict, backgrounds: list, rng) -> tuple[np.ndarray, list, list]:
    """(H, W, 3) uint8 grey picture, exact integer boxes_xyxy and class ids of its 1-4 objects."""
    width, height = SIDES[int(rng.integers(len(SIDES)))]
    back = backgrounds[int(rng.integers(len(backgrounds)))]
    y, x = int(rng.integers(0, back.shape[0] - 2 * height)), int(rng.integers(0, back.shape[1] - 2 * width))
    canvas = np.array(Image.fromarray(back[y:y + 2 * height, x:x + 2 * width]).resize((width, height), Image.BILINEAR), np.float32)
    names, boxes, ids = list(objects), [], []
    for _ in range(int(rng.integers(1, 5))):
        k = int(rng.integers(len(names)))
        photo = objects[names[k]]
        long_side = rng.uniform(0.16, 0.45) * min(width, height)
        aspect = photo.shape[1] / photo.shape[0]
        w, h = (long_side, long_side / aspect) if aspect >= 1 else (long_side * aspect, long_side)
        w, h = max(6, int(round(w))), max(6, int(round(h)))
        spots = [(int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))) for _ in range(50)]
        spot = next((s for s in spots if _free(*s, w, h, boxes)), None)
        if spot is None:
            continue
        patch = np.asarray(Image.fromarray(photo).resize((w, h), Image.BILINEAR), np.float32) * rng.uniform(0.7, 1.3)
        canvas[spot[1]:spot[1] + h, spot[0]:spot[0] + w] = patch
        boxes.append((spot[0], spot[1], spot[0] + w, spot[1] + h))
        ids.append(k)
    return np.repeat(np.clip(canvas, 0, 255).astype(np.uint8)[..., None], 3, axis=2), boxes, ids


def write_other_set(out: Path, n_train: int = 200, seed: int = 1) -> int:
    """COCO layout: out/images/<split>/NNNN.png and out/annotations_<split>.json; returns the number of pictures."""
    rng = np.random.default_rng(seed)
    objects, backgrounds = _photos()
    counts = {"train": n_train, "val": n_train // 5, "test": n_train // 5}
    for split, n in counts.items():
        records = []
        for i in range(n):
            pixels, boxes, ids = picture(objects, backgrounds, rng)
            path = out / "images" / split / f"{i:04d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
            records.append(BoxRecord(str(path), pixels.shape[1], pixels.shape[0], np.asarray(boxes, np.float32).reshape(-1, 4),
                                     np.asarray(ids, np.int64)))
        write_coco(out / f"annotations_{split}.json", list(objects), records)
    return sum(counts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--train-images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{write_other_set(args.out, args.train_images, args.seed)} pictures in {args.out}")


if __name__ == "__main__":
    main()
