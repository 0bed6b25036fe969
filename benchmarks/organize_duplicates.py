"""Duplicate precision and recall on collections made differently from ``vislearn data sample collection``.

Three collections, each as files with random names in a temporary folder, with planted copies (every
transformation in :data:`vislearn.organize.planted.COPIES`: resized by four resamplers, JPEG q40-85, cropped
5-10 %, brightened/darkened, EXIF-rotated, converted to JPEG/WebP/PNG, all at once):

  fashion  Fashion-MNIST items upscaled to 64 px (many look-alikes of few kinds; Debian dataset-fashion-mnist)
  digits   scikit-learn digits upscaled to 64 px
  photos   crops of scikit-image photos that overlap little, plus bursts of some (moved 8-15 %, turned 1-3
           degrees, other light, fresh noise): bursts must come out ``similar``, never removable

Candidates: perceptual hashes within 11 bits plus each file's 8 nearest neighbours (cosine >= 0.8) in the
embedding organize uses (``--embedding lite0``, the default; ``pixels``: a 16 x 16 grey-pixel stand-in, fast,
but it misses most 5-10 % crops of textured photos). Precision and recall are scikit-learn's over all pairs of
files: "shows the same picture" (planted) vs "in one removable group". Per copy kind: how many were found
with their original, and of those missed, how many were never a candidate pair.

    python benchmarks/organize_duplicates.py --items 300 --planted 30 --cache /tmp/lite0-cache.npz
"""
from __future__ import annotations

import argparse
import hashlib
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from skimage import data

from vislearn.organize.candidates import candidate_pairs
from vislearn.organize.duplicates import find_duplicates
from vislearn.organize.judging import judging_summary
from vislearn.organize.planted import burst, encode, plant_copies
from vislearn.organize.records import ImageRecord, perceptual_hash

SCENES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel", "coins", "moon",
          "hubble_deep_field", "immunohistochemistry", "retina", "cell", "clock", "page")


def fashion(n: int, rng) -> list[Image.Image]:
    from vislearn.data.idx import read_idx_folder
    from vislearn.data.samples import FASHION_MNIST_DIR

    images, _ = read_idx_folder(FASHION_MNIST_DIR, "train")
    return [Image.fromarray(a).resize((64, 64), Image.Resampling.BILINEAR) for a in images[:n]]


def digits(n: int, rng) -> list[Image.Image]:
    from sklearn.datasets import load_digits

    grey = (load_digits().images[:n] * 255 / 16).astype(np.uint8)
    return [Image.fromarray(d).resize((64, 64), Image.Resampling.BILINEAR) for d in grey]


def photo_boxes(scene: Image.Image, n: int, rng) -> list[tuple[int, int, int, int]]:
    """Up to ``n`` square boxes of 100-180 px that overlap each other by less than a third of their area."""
    boxes = []
    for _ in range(50 * n):
        side = int(rng.integers(100, 181))
        left, top = int(rng.integers(0, scene.width - side)), int(rng.integers(0, scene.height - side))
        box = (left, top, left + side, top + side)
        if all(_overlap(box, b) < 1 / 3 for b in boxes):
            boxes.append(box)
        if len(boxes) == n:
            break
    return boxes


def _overlap(a, b) -> float:
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0) / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def photos(n: int, rng) -> tuple[list[Image.Image], list[tuple[int, Image.Image]]]:
    """Crops (128 px) and bursts: (index of the crop it is a burst of, burst image)."""
    crops, bursts = [], []
    per_scene = max(2, n // len(SCENES))
    for name in SCENES:
        scene = Image.fromarray(getattr(data, name)()).convert("RGB")
        for box in photo_boxes(scene, per_scene, rng):
            crops.append(scene.crop(box).resize((128, 128), Image.Resampling.LANCZOS))
            if rng.random() < 0.3 and box[0] > 30 and box[1] > 30 and box[2] < scene.width - 30 and box[3] < scene.height - 30:
                bursts.append((len(crops) - 1, burst(scene, box, rng).resize((128, 128), Image.Resampling.LANCZOS)))
    return crops, bursts


def write_file(folder: Path, content: bytes, suffix: str, rng) -> ImageRecord:
    """``content`` written under a random name in ``folder``; its record as organize makes it."""
    path = folder / f"{rng.integers(1 << 48):012x}{suffix}"
    path.write_bytes(content)
    with Image.open(path) as opened:
        upright = ImageOps.exif_transpose(opened)
        return ImageRecord(str(path), upright.width, upright.height, len(content), 0, hashlib.sha256(content).hexdigest(),
                           perceptual_hash(upright))


def write_collection(folder: Path, originals: list[Image.Image], planted: set[int], bursts, rng):
    """Files with random names; returns records, source picture per file, transformation per file."""
    files = []
    for i, image in enumerate(originals):
        files.append((i, "original", encode(image, "PNG"), ".png"))
        files += [(i, kind, content, suffix) for kind, content, suffix in (plant_copies(image, rng) if i in planted else [])]
    files += [(len(originals) + k, "burst", encode(image, "PNG"), ".png") for k, (_, image) in enumerate(bursts)]
    records, source, kinds = [], [], []
    for i, kind, content, suffix in files:
        records.append(write_file(folder, content, suffix, rng))
        source.append(i)
        kinds.append(kind)
    return records, np.array(source), kinds


def pixel_embeddings(records) -> np.ndarray:
    """(N, 256) unit vectors: 16 x 16 grey thumbnails, mean removed."""
    rows = []
    for r in records:
        with Image.open(r.path) as opened:
            grey = np.asarray(ImageOps.exif_transpose(opened).convert("L").resize((16, 16)), dtype=np.float32).ravel()
        grey -= grey.mean()
        rows.append(grey / max(float(np.linalg.norm(grey)), 1e-6))
    return np.stack(rows)


def lite0_embeddings(records, cache: Path | None = None) -> np.ndarray:
    """(N, D) Lite0 embeddings as organize computes them (224 px, the default embedder); ``cache``: an .npz of
    earlier embeddings by sha256, read and extended (the collections are the same on every run)."""
    import torch

    from vislearn.data.images import read_image_bytes
    from vislearn.data.transforms import eval_transform
    from vislearn.models.backbones import Preprocessing
    from vislearn.organize.embedders import create_embedder

    known = dict(np.load(cache, allow_pickle=False)) if cache and cache.exists() else {}
    todo = [r for r in records if r.sha256 not in known]
    if todo:
        embedder = create_embedder("lite0")
        transform = eval_transform(Preprocessing(embedder.mean, embedder.std, embedder.image_size))
        with torch.no_grad():
            for start in range(0, len(todo), 32):
                batch = todo[start:start + 32]
                images = torch.stack([transform(read_image_bytes(Path(r.path).read_bytes(), r.path)) for r in batch])
                rows = embedder.split(embedder.model(images)).embedding_nd.numpy()
                known.update({r.sha256: row for r, row in zip(batch, rows)})
        if cache:
            np.savez(cache, **known)
    return np.stack([known[r.sha256] for r in records])


EMBEDDINGS = {"lite0": lite0_embeddings, "pixels": lambda records, cache=None: pixel_embeddings(records)}


def rejected_verdicts(records, candidates) -> dict:
    """The full pixel test on every candidate pair the pre-judge rejects: how many it would have called each kind
    (exact or near here = a copy the pre-judge dropped)."""
    from collections import Counter

    from vislearn.organize.judging import PairJudge, prejudged_pairs
    from vislearn.organize.prejudge import PASS_RESIDUAL

    judge = PairJudge(records, None, np.unique([r.sha256 for r in records], return_inverse=True)[1])
    residual = prejudged_pairs(candidates.first, candidates.second, judge)[0]
    rejected = np.flatnonzero(residual > PASS_RESIDUAL)
    return dict(Counter(str(judge(int(candidates.first[p]), int(candidates.second[p])).kind) for p in rejected))


def measure(name, originals, bursts, n_planted, rng, embedding="lite0", cache=None, check_rejected=False):
    from sklearn.metrics import precision_score, recall_score

    planted = set(rng.choice(len(originals), n_planted, replace=False).tolist())
    with tempfile.TemporaryDirectory() as tmp:
        records, source, kinds = write_collection(Path(tmp), originals, planted, bursts, rng)
        embeddings = EMBEDDINGS[embedding](records, cache)
        start = time.perf_counter()
        groups = find_duplicates(records, embeddings)
        seconds = time.perf_counter() - start
        candidates = candidate_pairs(np.array([r.phash for r in records], dtype=np.uint64), embeddings, 11, 0.8)
        candidate = set(zip(candidates.first.tolist(), candidates.second.tolist()))
        dropped = rejected_verdicts(records, candidates) if check_rejected else None
    where = {r.path: k for k, r in enumerate(records)}
    label = np.arange(len(records))
    for g in groups:
        for path in g.remove:
            label[where[path]] = label[where[g.keep]]
    upper = np.triu_indices(len(records), 1)  # bursts have their own source: never the same picture
    truth = (source[:, None] == source[None, :])[upper]
    found = (label[:, None] == label[None, :])[upper]
    precision, recall = precision_score(truth, found, zero_division=0.0), recall_score(truth, found)
    wrong_removes = sum(1 for g in groups for p in g.remove if source[where[p]] != source[where[g.keep]])
    print(f"\n{name}: {len(records)} files ({len(originals)} distinct, {len(planted)} with planted copies, {len(bursts)} bursts); "
          f"find_duplicates {seconds:.1f} s ({len(candidate)} candidate pairs, {1000 * seconds / max(len(candidate), 1):.0f} ms each)")
    print(f"  pairs: precision {precision:.4f}  recall {recall:.4f}  removes of a different picture: {wrong_removes}")
    print(f"  {judging_summary(groups.judging).lstrip('; ')}")
    if dropped is not None:
        print(f"  the full test on every pair the pre-judge rejected: {dropped} (exact/near: copies it dropped)")
    original_of = {int(source[k]): k for k, c in enumerate(kinds) if c == "original"}
    for kind in sorted(set(kinds) - {"original", "burst"}):
        copies = [k for k, c in enumerate(kinds) if c == kind]
        missed = [k for k in copies if label[k] != label[original_of[int(source[k])]]]
        never = sum((min(k, original_of[int(source[k])]), max(k, original_of[int(source[k])])) not in candidate for k in missed)
        print(f"  {kind:13s} found with its original: {len(copies) - len(missed)}/{len(copies)}"
              + (f" ({never} of the missed never a candidate pair)" if missed else ""))
    if bursts:
        similar = {p for g in groups if g.kind == "similar" for p in [g.keep, *g.similar]}
        burst_files = [k for k, c in enumerate(kinds) if c == "burst"]
        group_size = np.bincount(label, minlength=len(records))
        removable = sum(group_size[label[k]] > 1 for k in burst_files)
        shown = sum(records[k].path in similar for k in burst_files)
        print(f"  bursts: {removable}/{len(bursts)} in a removable group (must be 0), {shown}/{len(bursts)} shown as similar")
    return precision, recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=400, help="distinct pictures per collection (fashion, digits)")
    parser.add_argument("--planted", type=int, default=40, help="pictures that get every copy transformation")
    parser.add_argument("--only", nargs="*", default=["fashion", "digits", "photos"])
    parser.add_argument("--embedding", choices=sorted(EMBEDDINGS), default="lite0", help="candidates by this embedding")
    parser.add_argument("--cache", type=Path, help=".npz of Lite0 embeddings by sha256, reused across runs")
    parser.add_argument("--check-rejected", action="store_true", help="also judge every pair the pre-judge rejects (slow)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    if "fashion" in args.only:
        measure("fashion (Fashion-MNIST, 64 px)", fashion(args.items, rng), [], args.planted, rng, args.embedding, args.cache, args.check_rejected)
    if "digits" in args.only:
        measure("digits (scikit-learn, 64 px)", digits(args.items, rng), [], args.planted, rng, args.embedding, args.cache, args.check_rejected)
    if "photos" in args.only:
        crops, bursts = photos(args.items // 2, rng)
        measure("photos (scikit-image crops + bursts)", crops, bursts, min(args.planted, len(crops) // 3), rng, args.embedding,
                args.cache, args.check_rejected)
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (timings on a shared, loaded 2-core machine)")


if __name__ == "__main__":
    main()
