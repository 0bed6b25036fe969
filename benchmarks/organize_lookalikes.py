"""Plain, textureless look-alikes against their own true copies: the margin of every gate of the near test.

A stress set made differently from ``organize_duplicates.py`` (which upscales every item to 64 px):

  plain    the plainest Fashion-MNIST tops, trousers, dresses and bags (least fine detail inside the item), each at its
           own size of 28-64 px, grey; true copies of some: resized, recompressed, slightly cropped, brightened,
           converted, edited (:data:`vislearn.organize.planted.COPIES`); distinct pairs: each item's 3 nearest
           neighbours in raw pixels at 28 px (the same cut)
  shapes   synthetic flat-shaded garments (a body, sleeves, a collar, a light fold) on a flat background, and for each
           one a twin whose outline differs by 1-2 pixels along one stretch (a sleeve longer, a side wider, a collar
           lower): distinct, never near; with true copies as above
  20k      the closest distinct pair of the 20,000-photo run (two plain tops), when that collection exists

For every gate of :func:`vislearn.organize.verdict.judge` it prints how close the copies come to the bound (the
largest value / bound for upper bounds, the bound / smallest value for lower bounds: below 1 passes) and how close
the distinct pairs that pass every *other* gate come (above 1 fails; a single pair: its own ratios): the margin of each
gate on both sides. ``w/o outline``: pairs that would be near without the outline test (:mod:`vislearn.organize.outline`).

    OMP_NUM_THREADS=1 python benchmarks/organize_lookalikes.py --items 120 --copied 30
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from vislearn.organize import verdict as V
from vislearn.organize.pixels import NO_MATCH, pixel_matches, read_picture
from vislearn.organize.planted import COPIES, encode

PLAIN_KINDS = (0, 1, 3, 8)  # T-shirt/top, trouser, dress, bag
CLOSEST_20K = ("/tmp/vislearn-bench/scale/scale-20000-0/batch_0011/70921230cc87.png",
               "/tmp/vislearn-bench/scale/scale-20000-0/batch_0006/19c5f733fbbb.png")
UPPER = {"residual": V.NEAR_RESIDUAL, "worst_window": V.NEAR_WORST_WINDOW}
LOWER = {"inside": V.NEAR_INSIDE, "overlap": V.NEAR_OVERLAP, "side": V.NEAR_SIDE, "scale": V.NEAR_MIN_SCALE}


def gate_ratios(match) -> dict[str, float]:
    """Each near gate's value against its bound, as a ratio that is <= 1 when the gate passes."""
    ratios = {k: getattr(match, k) / b for k, b in UPPER.items()}
    ratios.update({k: b / max(getattr(match, k), 1e-9) for k, b in LOWER.items()})
    ratios["outline"] = match.outline / V.outline_bound(match.detail)
    return ratios


def plain_fashion(n: int, rng) -> list[np.ndarray]:
    """(28, 28) uint8 items of PLAIN_KINDS with the least fine detail inside the item."""
    from vislearn.data.idx import read_idx_folder
    from vislearn.data.samples import FASHION_MNIST_DIR

    images, labels = read_idx_folder(FASHION_MNIST_DIR, "train")
    pool = images[np.isin(labels, PLAIN_KINDS)][:6000].astype(np.float32)
    inside = pool > 40
    fine = np.abs(pool - gaussian_filter(pool, (0, 1, 1))) * inside
    detail = fine.sum((1, 2)) / np.maximum(inside.sum((1, 2)), 1)
    return [pool[i].astype(np.uint8) for i in np.argsort(detail)[:n]]


def flat_garment(rng, twin: bool = False, params=None) -> tuple[np.ndarray, tuple]:
    """(48, 48) uint8 flat-shaded top on a flat background; ``twin``: the same with one stretch of outline moved 1-2 px."""
    if params is None:
        params = (rng.integers(12, 17), rng.integers(30, 38), rng.integers(5, 9), rng.integers(10, 16),
                  rng.uniform(140, 220), rng.uniform(0, 40), int(rng.integers(4)))
    half, length, sleeve, sleeve_len, fill, back, moved = params
    body = [24 - half, 24 + half, 6, 6 + length]
    sleeves = sleeve_len
    collar = 3
    if twin:
        step = int(rng.integers(1, 3))
        if moved == 0:
            sleeves += step
        elif moved == 1:
            body[1] += step
        elif moved == 2:
            collar += step
        else:
            body[3] += step
    canvas = np.full((48, 48), back, np.float32)
    canvas[body[2]:body[3], body[0]:body[1]] = fill
    canvas[6:6 + sleeves, body[0] - sleeve:body[0]] = fill
    canvas[6:6 + sleeves, body[1]:body[1] + sleeve] = fill
    canvas[6:6 + collar, 21:27] = back
    canvas[body[2] + 8:body[3] - 4, 23:25] = fill * 0.93  # a light fold
    return np.clip(gaussian_filter(canvas, 0.5), 0, 255).astype(np.uint8), params


def shapes(n: int, rng) -> tuple[list[Image.Image], list[tuple[Image.Image, Image.Image]]]:
    originals, twins = [], []
    for _ in range(n):
        side = int(rng.integers(28, 65))
        grey, params = flat_garment(rng)
        twin, _ = flat_garment(rng, twin=True, params=params)
        size = (side, side)
        a = Image.fromarray(grey).resize(size, Image.Resampling.LANCZOS)
        originals.append(a)
        twins.append((a, Image.fromarray(twin).resize(size, Image.Resampling.LANCZOS)))
    return originals, twins


def as_picture(content: bytes):
    return read_picture(io.BytesIO(content))


class Margins:
    """Per label: verdict counts and, per gate, the worst ratio of copies / the closest ratio of distinct pairs."""

    def __init__(self):
        self.rows: dict[str, list[dict[str, float]]] = {}
        self.near: dict[str, int] = {}
        self.without_outline: dict[str, int] = {}  # pairs that would be near without the outline test
        self.wrong: list[str] = []

    def add(self, label: str, a, b) -> None:
        matches = pixel_matches(a, b) or [NO_MATCH]
        edited = not all(V.resave_outline_ok(m) for m in matches)
        verdicts = [V.judge(m, edited) for m in matches]
        best = min(range(len(matches)), key=lambda k: (V.KIND_ORDER.index(verdicts[k].kind), verdicts[k].score))
        verdict, ratios = verdicts[best], [gate_ratios(m) for m in matches]
        self.rows.setdefault(label, []).append(ratios[best])
        self.near[label] = self.near.get(label, 0) + (verdict.kind == "near")
        others = any(all(v <= 1 for g, v in r.items() if g != "outline") for r in ratios)
        self.without_outline[label] = self.without_outline.get(label, 0) + others
        if (verdict.kind == "near") != label.startswith("copy"):
            self.wrong.append(f"{label}: {verdict.kind}, {verdict.detail}")

    def report(self) -> None:
        gates = list(UPPER) + list(LOWER) + ["outline"]
        print(f"{'pairs':28s} {'near':>9s} {'w/o outline':>11s}  " + " ".join(f"{g:>12s}" for g in gates))
        for label, rows in self.rows.items():
            values = np.array([[r[g] for g in gates] for r in rows])
            if label.startswith("copy") or len(rows) == 1:
                shown = values.max(0)  # the copy closest to failing each gate
            else:  # of the distinct pairs that pass every other gate, the one closest to passing this one
                shown = np.array([min((v[k] for v in values if np.all(np.delete(v, k) <= 1)), default=np.nan)
                                  for k in range(len(gates))])
            print(f"{label:28s} {self.near[label]:4d}/{len(rows):<4d} {self.without_outline[label]:11d}  "
                  + " ".join(f"{x:12.3f}" for x in shown))
        for line in self.wrong:
            print(f"  wrong: {line}")


def nearest_pairs(images: list[np.ndarray], k: int = 3) -> list[tuple[int, int]]:
    flat = np.stack([np.asarray(Image.fromarray(i).resize((28, 28)), np.float32).ravel() for i in images])
    distance = ((flat[:, None] - flat[None]) ** 2).sum(-1)
    np.fill_diagonal(distance, np.inf)
    return sorted({tuple(sorted((i, int(j)))) for i in range(len(images)) for j in np.argsort(distance[i])[:k]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=120, help="plain Fashion items and synthetic shapes each")
    parser.add_argument("--copied", type=int, default=30, help="pictures of each set that get every copy transformation")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    margins = Margins()
    items = plain_fashion(args.items, rng)
    sized = [Image.fromarray(i).resize((s, s), Image.Resampling.BILINEAR) for i, s in zip(items, rng.integers(28, 65, len(items)))]
    originals, twins = shapes(args.items, rng)
    for pictures in (sized, originals):
        for k in rng.choice(len(pictures), min(args.copied, len(pictures)), replace=False).tolist():
            for kind in COPIES.names():
                margins.add(f"copy {kind}", as_picture(encode(pictures[k], "PNG")),
                            as_picture(COPIES.get(kind)(pictures[k], rng)[0]))
    for i, j in nearest_pairs(items):
        margins.add("distinct: plain nearest", as_picture(encode(sized[i], "PNG")), as_picture(encode(sized[j], "PNG")))
    for a, b in twins:
        margins.add("distinct: outline twins", as_picture(encode(a, "PNG")), as_picture(encode(b, "PNG")))
    if all(Path(p).exists() for p in CLOSEST_20K):
        margins.add("distinct: 20k closest", *(read_picture(p) for p in CLOSEST_20K))
    margins.report()


if __name__ == "__main__":
    main()
