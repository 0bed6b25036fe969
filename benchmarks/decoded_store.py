"""The decode path on photos made differently from the project's samples: correct, and what each stage costs.

N photos of 64-96 px a side (half JPEG, half PNG) cut from scikit-image's colour photos, one class per source photo,
and one corrupt file among them. One torch thread; each check is exact and printed ok / FAILED:

- the content key (every file hashed), decoding in this process and in loader processes (every core): equal bit for bit;
- stored on disk and mapped back (``data/decoded_store.py``), as a second run does: equal bit for bit;
- the streamed path, what a folder too big for memory gets (files decoded every epoch, ``make_loader``), against the
  cache (``cached_loader``), both with the evaluation transform over every image: equal batches; the corrupt file
  reported by name on both;
- the cache decision with a budget below the pictures' size: streamed, and the reason says so.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decoded_store.py                # 20,000 photos
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decoded_store.py --images 2000
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CACHE, PHOTOS, cpu_seconds  # noqa: E402

from vislearn.data import Sample, decoded_store, eval_transform, make_loader  # noqa: E402
from vislearn.data.image_cache import cached_loader, decide, decode_once  # noqa: E402
from vislearn.models import Preprocessing  # noqa: E402


def small_photos(n: int, seed: int = 0) -> list[Sample]:
    """``n`` photos of 64-96 px (JPEG and PNG alternating) in CACHE/small-photos-N/<source photo>/, written once,
    plus one corrupt PNG; labels are the source photos."""
    import skimage.data

    folder = CACHE / f"small-photos-{n}-{seed}"
    rng = random.Random(seed)
    sources = [np.ascontiguousarray(getattr(skimage.data, name)()[..., :3]) for name in PHOTOS]
    samples = []
    for i in range(n):
        label = rng.randrange(len(PHOTOS))
        path = folder / PHOTOS[label] / f"photo_{i:05d}.{'jpg' if i % 2 else 'png'}"
        samples.append(Sample(str(path), label))
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        image = sources[label]
        h, w = image.shape[:2]
        side = rng.randint(96, min(320, h, w))
        top, left = rng.randint(0, h - side), rng.randint(0, w - side)
        crop = Image.fromarray(image[top:top + side, left:left + side])
        crop.resize((rng.randint(64, 96), rng.randint(64, 96)), Image.BILINEAR).save(path, quality=90)
    broken = folder / PHOTOS[0] / "corrupt.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    return samples[: n // 2] + [Sample(str(broken), 0)] + samples[n // 2:]


def timed(label: str, fn):
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = fn()
    print(f"{label:44} {time.perf_counter() - wall:8.2f} s wall {cpu_seconds() - cpu:8.2f} CPU s", flush=True)
    return result


def same_pictures(a, b) -> bool:
    return (np.array_equal(np.asarray(a.buffer), np.asarray(b.buffer)) and np.array_equal(a.offsets, b.offsets)
            and np.array_equal(a.shapes, b.shapes) and sorted(a.problems) == sorted(b.problems))


def batches(loader) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    images, indices, failed = [], [], []
    for batch in loader:
        images.append(batch.images)
        indices.append(batch.indices)
        failed += [p.path for p in batch.failed]
    return torch.cat(images), torch.cat(indices), failed


def check(name: str, ok: bool) -> bool:
    print(f"{'ok' if ok else 'FAILED':7} {name}", flush=True)
    return ok


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--image-size", type=int, default=64)
    args = p.parse_args()
    torch.set_num_threads(1)
    samples = timed(f"writing {args.images:,} photos (once)", lambda: small_photos(args.images))
    cores = min(8, len(os.sched_getaffinity(0)))
    print(f"{len(samples):,} files, {cores} cores, load average {os.getloadavg()[0]:.1f}")
    key = timed("content key (BLAKE2b of every file)", lambda: decoded_store.content_key(samples, 256))
    serial = timed("decode, this process", lambda: decode_once(samples, 256, workers=0))
    parallel = timed(f"decode, {cores} loader processes", lambda: decode_once(samples, 256, workers=cores))
    results = [check("parallel decode equals serial decode bit for bit", same_pictures(serial, parallel))]
    with tempfile.TemporaryDirectory() as store:
        timed("store on disk", lambda: decoded_store.save(Path(store), key, serial))
        mapped = timed("map back from disk (a second run)", lambda: decoded_store.load(Path(store), key, samples))
        results.append(check("mapped back equals decoded bit for bit", same_pictures(serial, mapped)))
    pre = Preprocessing((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), args.image_size)
    streamed = timed("epoch streamed from files (eval transform)", lambda: batches(make_loader(samples, eval_transform(pre), 256, False, 0)))
    cached = timed("epoch from the cache (eval transform)", lambda: batches(cached_loader(samples, serial, eval_transform(pre), 256, False, 0)))
    results.append(check("streamed batches equal cached batches", torch.equal(streamed[0], cached[0]) and torch.equal(streamed[1], cached[1])))
    results.append(check("the corrupt file is reported by name on both paths, and only it",
                         streamed[2] == cached[2] == [s.path for s in samples if s.path.endswith("corrupt.png")]))
    too_big = decide(samples, 256, epochs=5, budget_bytes=int(serial.buffer.size) // 2)
    results.append(check(f"over budget: streamed ({too_big.reason})", not too_big.use and "over the" in too_big.reason))
    print("all checks passed" if all(results) else "SOME CHECKS FAILED")


if __name__ == "__main__":
    main()
