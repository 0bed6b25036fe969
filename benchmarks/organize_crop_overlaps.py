"""Is every `remove` truly a copy on crops of one photo at many overlaps? A collection made unlike the project's generators.

For each of 19 scikit-image photos and textures (the stereo motorcycle, text, cells, a clock, microaneurysms among them),
a few base crops (35-55 % of the picture), and around each base crop:

  grey      the base crop converted to grey (PNG)                                  a copy
  noisy     the base crop with sensor-like noise (sigma 4 grey levels), JPEG q85    a copy
  keep-93   a crop inside it keeping 93 % of one side (the other whole)             a copy (slightly cropped)
  keep-90x90  keeping 90 % of both sides                                            a copy
  keep-80, keep-70, keep-60   keeping that share of one side                        NOT copies: similar at most
  shift-5, shift-15, shift-30  the same box moved by that share of its width        5 %: a copy; others not
  outer-80  a box around it of which the base shows 80 % of each side               NOT a copy

every crop saved at 60-100 % of the base's pixels per detail (never enlarged: the hardest case for the scale
test), JPEG or PNG, under random names. "Truly a copy" is :func:`organize_truth.truly_copy` (same photo, the crop
boxes share >= 0.85 of each side of both frames). Duplicates are found by ``find_duplicates`` with Lite0
candidates as organize runs it; precision of `remove` (each removed file against the one it was matched to) must be
1.0; recall is reported over the truly-copy pairs, and per variant against its base crop.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/organize_crop_overlaps.py --per-scene 2 --cache /tmp/lite0-cache.npz
"""
from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from organize_duplicates import lite0_embeddings, write_file
from organize_truth import COPY_SHARE, Source, frame_share, share_histogram
from PIL import Image
from skimage import data

from vislearn.organize.duplicates import find_duplicates
from vislearn.organize.planted import encode
from vislearn.organize.records import ImageRecord

SCENES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel", "coins", "moon", "page",
          "text", "cell", "clock", "stereo_motorcycle", "microaneurysms", "hubble_deep_field", "immunohistochemistry", "retina")
KEEP_ONE_SIDE = {"keep-93": 0.93, "keep-80": 0.8, "keep-70": 0.7, "keep-60": 0.6}
SHIFTS = {"shift-5": 0.05, "shift-15": 0.15, "shift-30": 0.3}


def variant_boxes(base, scene_wh, rng) -> dict[str, tuple[int, int, int, int]]:
    """Every crop box around ``base`` (left, top, right, bottom), clipped to the scene."""
    left, top, right, bottom = base
    w, h = right - left, bottom - top
    boxes = {}
    for name, keep in KEEP_ONE_SIDE.items():
        if rng.random() < 0.5:
            cut = round(w * (1 - keep))
            x = left + int(rng.integers(0, cut + 1))
            boxes[name] = (x, top, x + w - cut, bottom)
        else:
            cut = round(h * (1 - keep))
            y = top + int(rng.integers(0, cut + 1))
            boxes[name] = (left, y, right, y + h - cut)
    cut_w, cut_h = round(0.1 * w), round(0.1 * h)
    x, y = left + int(rng.integers(0, cut_w + 1)), top + int(rng.integers(0, cut_h + 1))
    boxes["keep-90x90"] = (x, y, x + w - cut_w, y + h - cut_h)
    for name, shift in SHIFTS.items():
        dx = round(shift * w) * (1 if left + round(shift * w) + w <= scene_wh[0] else -1)
        boxes[name] = (left + dx, top, right + dx, bottom)
    grow_w, grow_h = round(w / 0.8) - w, round(h / 0.8) - h
    boxes["outer-80"] = (left - grow_w // 2, top - grow_h // 2, right + grow_w - grow_w // 2, bottom + grow_h - grow_h // 2)
    return {k: b for k, b in boxes.items() if b[0] >= 0 and b[1] >= 0 and b[2] <= scene_wh[0] and b[3] <= scene_wh[1]}


def scene_files(name: str, index: int, per_scene: int, rng) -> list[tuple[str, Source, bytes, str]]:
    """(variant, its source, file bytes, suffix) for every crop of one scene."""
    picture = getattr(data, name)()
    scene = Image.fromarray(picture[0] if name == "stereo_motorcycle" else picture).convert("RGB")  # its left view
    files = []
    for _ in range(per_scene):
        w = int(min(scene.size) * rng.uniform(0.35, 0.55))
        h = int(w * rng.uniform(0.75, 1.33))
        left, top = int(rng.integers(0, scene.width - w)), int(rng.integers(0, scene.height - h))
        base = (left, top, left + w, top + h)
        per_pixel = rng.uniform(112, 160) / max(w, h)  # the base crop's file pixels per scene pixel
        image = scene.crop(base).resize((round(w * per_pixel), round(h * per_pixel)), Image.Resampling.LANCZOS)
        files.append(("base", Source("scene", index, base, False), encode(image, "JPEG", quality=90), ".jpg"))
        files.append(("grey", Source("scene", index, base, False), encode(image.convert("L"), "PNG"), ".png"))
        noisy = np.clip(np.asarray(image, np.float32) + rng.normal(0, 4, (image.height, image.width, 3)), 0, 255)
        files.append(("noisy", Source("scene", index, base, False), encode(Image.fromarray(noisy.astype(np.uint8)), "JPEG", quality=85), ".jpg"))
        for variant, box in variant_boxes(base, scene.size, rng).items():
            f = per_pixel * rng.uniform(0.6, 1.0)  # never enlarged against the base
            crop = scene.crop(box).resize((max(16, round((box[2] - box[0]) * f)), max(16, round((box[3] - box[1]) * f))), Image.Resampling.LANCZOS)
            fmt, suffix = ("PNG", ".png") if rng.random() < 0.5 else ("JPEG", ".jpg")
            files.append((variant, Source("scene", index, box, False), encode(crop, fmt, **({"quality": 90} if fmt == "JPEG" else {})), suffix))
    return files


def write_files(folder: Path, files, rng) -> tuple[list[ImageRecord], list[str], list[Source]]:
    records, variants, sources = [], [], []
    for variant, source, content, suffix in files:
        records.append(write_file(folder, content, suffix, rng))
        variants.append(variant)
        sources.append(source)
    return records, variants, sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-scene", type=int, default=2, help="base crops per photo")
    parser.add_argument("--cache", type=Path, help=".npz of Lite0 embeddings by sha256, reused across runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    files = [f for k, name in enumerate(SCENES) for f in scene_files(name, k, args.per_scene, rng)]
    with tempfile.TemporaryDirectory() as tmp:
        records, variants, sources = write_files(Path(tmp), files, rng)
        groups = find_duplicates(records, lite0_embeddings(records, args.cache))
    n = len(records)
    where = {r.path: k for k, r in enumerate(records)}
    share = np.array([[frame_share(sources[i], sources[j]) for j in range(n)] for i in range(n)])
    removes = []  # (removed file, the file it was matched to in its own group)
    for g in groups:
        matched = {e.path: e.matched_to for e in g.evidence}
        removes += [(where[p], where[matched.get(p) or g.keep]) for p in g.remove]
    wrong = [(variants[a], variants[b], share[a, b]) for a, b in removes if share[a, b] < COPY_SHARE]
    label = np.arange(n)
    for g in groups:
        for p in g.remove:
            label[where[p]] = label[where[g.keep]]
    upper = np.triu_indices(n, 1)
    truth, found = (share >= COPY_SHARE)[upper], (label[:, None] == label[None, :])[upper]
    similar = {p for g in groups if g.kind == "similar" for p in [g.keep, *g.similar]}
    print(f"{n} files from {len(SCENES)} photos ({args.per_scene} base crops each); removals {len(removes)}, "
          f"truly copies {len(removes) - len(wrong)}: precision of remove {(len(removes) - len(wrong)) / max(len(removes), 1):.4f}")
    print(f"pairs that are truly copies: {int(truth.sum())}, in one removable group: {int((truth & found).sum())} "
          f"(recall {(truth & found).sum() / max(truth.sum(), 1):.3f}); removable pairs that are not copies {int((found & ~truth).sum())}")
    print(f"frame share of each removal: {share_histogram([share[a, b] for a, b in removes])}")
    for w in wrong:
        print(f"  WRONG remove: {w[0]} vs {w[1]}, frame share {w[2]:.2f}")
    base_of = {}
    for k, v in enumerate(variants):
        if v == "base":
            base = k
        base_of[k] = base
    print(f"{'variant':<12}{'share':>8}{'files':>7}{'removable with base':>21}{'shown similar':>15}")
    for variant in dict.fromkeys(variants):
        ks = [k for k, v in enumerate(variants) if v == variant and v != "base"]
        if ks:
            together = sum(label[k] == label[base_of[k]] for k in ks)
            shown = sum(records[k].path in similar for k in ks)
            print(f"{variant:<12}{np.mean([share[k, base_of[k]] for k in ks]):>8.2f}{len(ks):>7}{together:>21}{shown:>15}")
    print(f"kinds of groups: {dict(Counter(g.kind for g in groups))}")


if __name__ == "__main__":
    main()
