"""The pixel test alone, pair by pair: each planted copy against its original (must be ``near``) and the
hardest distinct pairs (must never be ``near``), with the time per pair. Also what the gates before the full
test (pre-judge, geometry gate, fine look: :meth:`vislearn.organize.judging.PairJudge.screen`) decide about each
pair: a copy they stop is a copy lost (must be none), a distinct pair they stop costs no full test.

Collections (made differently from ``vislearn data sample collection``):

  fashion  Fashion-MNIST items at 64 px (Debian dataset-fashion-mnist); distinct pairs: each item's nearest
           neighbour in raw pixels (the same kind of garment, the closest cut)
  digits   scikit-learn digits at 64 px; distinct pairs as for fashion
  photos   128-px crops of scikit-image photos and textures (:func:`organize_duplicates.photos`); distinct
           pairs: nearest neighbours in raw pixels, two crops of one photo that overlap by 15-50 %, and bursts
           (the camera moved 8-15 % and turned 1-3 degrees): bursts may be ``similar``, never ``near``

    python benchmarks/organize_pixel_pairs.py --items 150
"""
from __future__ import annotations

import argparse
import io
import time
from collections import Counter

import numpy as np
from organize_duplicates import SCENES, digits, fashion, photos
from PIL import Image
from skimage import data

from vislearn.organize.fine_judge import fine_thumbnail
from vislearn.organize.judging import PairJudge
from vislearn.organize.pixels import compare_pictures, read_picture
from vislearn.organize.planted import COPIES, burst, encode
from vislearn.organize.prejudge import thumbnail
from vislearn.organize.verdict import REMOVABLE, judge_pictures


def as_picture(content: bytes):
    return read_picture(io.BytesIO(content))


def nearest_in_pixels(images: list[Image.Image]) -> list[tuple[int, int]]:
    """Each picture with its nearest other picture in raw 32 x 32 grey pixels (mean removed, unit length)."""
    flat = np.stack([np.asarray(i.convert("L").resize((32, 32)), np.float32).ravel() for i in images])
    flat -= flat.mean(1, keepdims=True)
    flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-6)
    similarity = flat @ flat.T - 3 * np.eye(len(flat))
    return sorted({(min(i, j), max(i, j)) for i, j in enumerate(similarity.argmax(1).tolist())})


def overlapping_crops(n: int, rng) -> list[tuple[Image.Image, Image.Image]]:
    """``n`` pairs of 128-px crops of one photo whose boxes overlap by 15-50 % of their area (shifted views)."""
    pairs = []
    for k in range(n):
        scene = Image.fromarray(getattr(data, SCENES[k % len(SCENES)])()).convert("RGB")
        largest = min(180, int(scene.width / 1.9), scene.height - 1)
        side = int(rng.integers(min(100, largest - 10), largest + 1))
        share = rng.uniform(0.15, 0.5)  # overlap along x; full along y -> area overlap = share
        shift = round(side * (1 - share))
        left, top = int(rng.integers(0, scene.width - side - shift)), int(rng.integers(0, scene.height - side + 1))
        boxes = [(left, top, left + side, top + side), (left + shift, top, left + shift + side, top + side)]
        pairs.append(tuple(scene.crop(b).resize((128, 128), Image.Resampling.LANCZOS) for b in boxes))
    return pairs


def bursts_of(n: int, rng) -> list[tuple[Image.Image, Image.Image]]:
    pairs = []
    for k in range(n):
        scene = Image.fromarray(getattr(data, SCENES[k % len(SCENES)])()).convert("RGB")
        largest = min(180, min(scene.size) - 80)
        side = int(rng.integers(min(100, largest - 10), largest + 1))
        left, top = int(rng.integers(35, scene.width - side - 35)), int(rng.integers(35, scene.height - side - 35))
        box = (left, top, left + side, top + side)
        pairs.append((scene.crop(box).resize((128, 128), Image.Resampling.LANCZOS),
                      burst(scene, box, rng).resize((128, 128), Image.Resampling.LANCZOS)))
    return pairs


class Tally:
    """Verdicts per label, the smallest residual among distinct pairs, and the time of every comparison."""

    def __init__(self):
        self.kinds: dict[str, Counter] = {}
        self.seconds: list[float] = []
        self.closest: dict[str, tuple[float, float]] = {}
        self.correlations: dict[str, list[float]] = {}  # coarse correlation per verdict kind
        self.wrong: list[str] = []  # copies not found, distinct pairs found: what the test decided, with its numbers
        self.gated: dict[str, Counter] = {}  # label -> which gate stopped the pair ("through": none, the full test judges)

    def add(self, label: str, a: bytes, b: bytes) -> None:
        pa, pb = as_picture(a), as_picture(b)
        start = time.perf_counter()
        verdict = judge_pictures(pa, pb)
        self.seconds.append(time.perf_counter() - start)
        match = compare_pictures(pa, pb)
        self.correlations.setdefault(str(verdict.kind), []).append(match.correlation)
        self.kinds.setdefault(label, Counter())[str(verdict.kind)] += 1
        if (verdict.kind in REMOVABLE) != label.startswith("copy"):
            self.wrong.append(f"{label}: {verdict.kind}, {verdict.detail}")
        stopped_by = gate_verdict(pa, pb)
        self.gated.setdefault(label, Counter())[stopped_by] += 1
        if label.startswith("copy") and stopped_by != "through":
            self.wrong.append(f"{label}: stopped by the {stopped_by} before the full test")
        low = self.closest.get(label, (np.inf, np.inf))
        self.closest[label] = (min(low[0], match.residual), min(low[1], match.worst_window))

    def report(self, name: str) -> None:
        print(f"\n{name}")
        for label, counts in self.kinds.items():
            total = sum(counts.values())
            removable = sum(counts[k] for k in REMOVABLE)
            low = self.closest[label]
            gated = ", ".join(f"{k} {v}" for k, v in sorted(self.gated[label].items()))
            print(f"  {label:22s} near {removable:4d}/{total:<4d} similar {counts['similar']:4d}  "
                  f"lowest residual {low[0]:.3f}, worst window {low[1]:.3f}; gates: {gated}")
        for line in self.wrong:
            print(f"    wrong: {line}")
        print("  coarse correlation per verdict: " + ", ".join(
            f"{kind} {min(c):.2f}-{max(c):.2f}" for kind, c in sorted(self.correlations.items())))
        print(f"  time per pair: median {1000 * np.median(self.seconds):.0f} ms, mean {1000 * np.mean(self.seconds):.0f} ms")


def gate_verdict(pa, pb) -> str:
    """Which gate before the full test stops the pair of pictures ("pre-judge", "rough look", "fine look"), or
    "through" when none does (the full test judges it)."""
    if pa is None or pb is None:
        return "through"
    judge = PairJudge([], None, np.arange(2))
    judge.thumbnails_nss, judge.fine_nss = np.stack([thumbnail(pa), thumbnail(pb)]), np.stack([fine_thumbnail(pa), fine_thumbnail(pb)])
    judge.thumbnail_read_n, judge.size_n2 = np.ones(2, bool), np.array([(pa.width, pa.height), (pb.width, pb.height)], float)
    verdict = judge.screen(np.array([0]), np.array([1]))[1][0]
    return "through" if verdict is None else verdict.test


def measure(name: str, images: list[Image.Image], copies_of: int, rng, extra: dict | None = None) -> Tally:
    tally = Tally()
    files = [encode(i, "PNG") for i in images]
    for k in rng.choice(len(images), min(copies_of, len(images)), replace=False).tolist():
        for kind in COPIES.names():
            tally.add(f"copy {kind}", files[k], COPIES.get(kind)(images[k], rng)[0])
    for i, j in nearest_in_pixels(images):
        tally.add("distinct: nearest", files[i], files[j])
    for label, pairs in (extra or {}).items():
        for a, b in pairs:
            tally.add(label, encode(a, "PNG"), encode(b, "PNG"))
    tally.report(name)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=150, help="distinct pictures per collection")
    parser.add_argument("--copied", type=int, default=40, help="pictures that get every copy transformation")
    parser.add_argument("--only", nargs="*", default=["fashion", "digits", "photos"])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    seconds = []
    if "fashion" in args.only:
        seconds += measure("fashion (Fashion-MNIST, 64 px)", fashion(args.items, rng), args.copied, rng).seconds
    if "digits" in args.only:
        seconds += measure("digits (scikit-learn, 64 px)", digits(args.items, rng), args.copied, rng).seconds
    if "photos" in args.only:
        crops, _ = photos(args.items, rng)
        extra = {"distinct: overlap<50%": overlapping_crops(args.items // 3, rng), "distinct: burst": bursts_of(args.items // 3, rng)}
        seconds += measure("photos (scikit-image crops)", crops, args.copied, rng, extra).seconds
    print(f"\nall pairs: median {1000 * np.median(seconds):.0f} ms per pair (shared, loaded 2-core machine)")


if __name__ == "__main__":
    main()
