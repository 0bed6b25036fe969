"""What both benchmarks share: test images on disk, a cached run folder, alternating timed rounds, a table.

Timings on a shared machine are noisy: every benchmark alternates its contenders round by round
(ABBA order, so neither always runs first) and reports medians.
"""
from __future__ import annotations

import random
import resource
import shutil
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

CACHE = Path("/tmp/vislearn-bench")  # sample images and run folders, reused between invocations
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "colorwheel")


def digit_files(n: int) -> list[Path]:
    """``n`` of scikit-learn's 8x8 digit PNGs (repeated if ``n`` > 1,797), written once under CACHE."""
    from vislearn.data import write_sample

    folder = CACHE / "digits"
    if len(list(folder.rglob("*.png"))) < 1797:
        shutil.rmtree(folder, ignore_errors=True)  # an interrupted earlier write
        write_sample("digits", folder, quiet=True)
    files = sorted(folder.rglob("*.png"))
    return [files[i % len(files)] for i in range(n)]


def photo_files(n: int, seed: int = 0) -> list[Path]:
    """``n`` distinct JPEG photos, 192..512 px a side, cut from scikit-image's colour sample photos."""
    import skimage.data

    folder = CACHE / f"photos-{n}-{seed}"
    files = [folder / f"photo_{i:05d}.jpg" for i in range(n)]
    if all(f.exists() for f in files):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    sources = [np.ascontiguousarray(getattr(skimage.data, name)()[..., :3]) for name in PHOTOS]
    rng = random.Random(seed)
    for path in files:
        image = rng.choice(sources)
        h, w = image.shape[:2]
        side = rng.randint(min(192, h, w), min(512, h, w))
        top, left = rng.randint(0, h - side), rng.randint(0, w - side)
        crop = Image.fromarray(image[top:top + side, left:left + side])
        # non-square sizes, as real photo folders have
        crop = crop.resize((side, int(side * rng.uniform(0.75, 1.0))), Image.BILINEAR)
        crop.save(path, quality=90)
    return files


def bench_run(model: str, image_size: int) -> Path:
    """A trained run folder for ``model`` (random init, 1 epoch on 300 digits: weights do not change speed)."""
    import vislearn

    run_dir = CACHE / f"run-{model}-{image_size}"
    if (run_dir / "model.safetensors").exists() and (run_dir / "calibration.json").exists():
        return run_dir
    data = CACHE / "digits-300"
    if not data.is_dir():
        for i, f in enumerate(digit_files(1797)[::6][:300]):
            (data / f.parent.name).mkdir(parents=True, exist_ok=True)
            (data / f.parent.name / f"{i:04d}.png").write_bytes(f.read_bytes())
    print(f"making run folder {run_dir} (once) ...", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vislearn.train("classify", data=data, out=run_dir, model=model, weights="none", image_size=image_size,
                       epochs=1, explain_examples=1, log=None, progress=False)
    return run_dir


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (loader workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def alternate(contenders: dict[str, Callable[[], int]], rounds: int, warmup: bool = True):
    """Run each contender ``rounds`` times, interleaved ABBA; each call returns the images it processed.

    Returns two dicts of per-round rates per contender: images per wall-clock second, and images per
    CPU second (the work done, which other users' processes disturb less than the wall clock).
    ``warmup`` runs every contender once, untimed, first.
    """
    names = list(contenders)
    if warmup:
        for name in names:
            contenders[name]()
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start, start_cpu = time.perf_counter(), cpu_seconds()
            images = contenders[name]()
            wall[name].append(images / (time.perf_counter() - start))
            cpu[name].append(images / max(cpu_seconds() - start_cpu, 1e-9))
            print(f"  round {r + 1}/{rounds}  {name:<28} {wall[name][-1]:8.1f} img/s  {cpu[name][-1]:8.1f} img/CPU-s", flush=True)
    return wall, cpu


def print_table(rates: dict[str, list[float]], unit: str = "img/s") -> dict[str, float]:
    """Median, min and max rate per contender; returns the medians."""
    print(f"\n{'':<30}{'median ' + unit:>18}{'min':>10}{'max':>10}")
    medians = {}
    for name, values in rates.items():
        medians[name] = statistics.median(values)
        print(f"{name:<30}{medians[name]:>18.1f}{min(values):>10.1f}{max(values):>10.1f}")
    return medians


def paired_ratio(rates: dict[str, list[float]], top: str, bottom: str) -> float:
    """Median of the per-round ratios: rounds run back to back, so load from other users cancels out more."""
    return statistics.median(a / b for a, b in zip(rates[top], rates[bottom]))
