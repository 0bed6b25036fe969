"""Where the default defect method's seconds go: process CPU ms per image for each stage, at the run's resolution.

    python benchmarks/textile_set.py /tmp/textile                       # 250 px images (or any MVTec-layout folder)
    OMP_NUM_THREADS=1 python benchmarks/defects_stage_cost.py /tmp/textile --size 250
    OMP_NUM_THREADS=2 python benchmarks/defects_stage_cost.py /tmp/textile --run runs/textile   # scoring a saved run
    OMP_NUM_THREADS=2 python benchmarks/defects_stage_cost.py /tmp/textile --run runs/textile --stages  # its stages

CPU time (not wall) is reported beside wall time: on a shared machine the wall time of one process mostly measures
the others. A full fit at 250 px runs the backbone about 660 times (240 fitted, 240 leave-one-out, 3 x 60 held out),
the student's forward and backward pass epochs x 240 times, and two greedy coresets of 4,096 picks.
"""
from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from vislearn.anomaly.coreset import greedy_coreset
from vislearn.anomaly.detector import upsample_map
from vislearn.anomaly.features import pooled_features
from vislearn.anomaly.front import BACKENDS, Front
from vislearn.anomaly.memory_bank import MemoryBank
from vislearn.anomaly.patchcore import STEPS, _distances, _flatten
from vislearn.anomaly.scales import strongest
from vislearn.config import TrainConfig
from vislearn.tasks.defects.train import _loader, build_method, load_detector, predict_paths


def timed(name: str, work, per: int) -> None:
    """Runs ``work`` once to warm up, then three times; prints CPU and wall ms per ``per`` items."""
    work()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(3):
        work()
    scale = 1000 / (3 * per)
    print(f"{name:44s} {(time.process_time() - cpu) * scale:8.1f} ms CPU {(time.perf_counter() - wall) * scale:8.1f} ms wall")


def main(data: Path, size: int, count: int = 16) -> None:
    paths = sorted(str(p) for p in (data / "train" / "good").glob("*.png"))[:2 * count]
    method, pre = build_method(TrainConfig(task="defects", image_size=size))
    patchcore, student = method.patchcore, method.distill
    images = torch.cat([b.images for b in _loader(paths, pre, count)])
    batch = images[:count]
    print(f"{len(batch)} images of {size} px, {torch.get_num_threads()} thread(s); per image:")
    timed("backbone to stride 16 + patch features", lambda: patchcore._patches(batch), count)
    timed("pixel scale: fit sums", lambda: patchcore.pixels.add(batch), count)
    patchcore.pixels.finish()
    timed("pixel scale: map", lambda: patchcore.pixels.distance_map(batch), count)
    for name, patches in zip(("coarse", "fine"), patchcore._patches(batch)):
        flat = _flatten(patches)
        bank = MemoryBank(flat[torch.randperm(len(flat))[:4096]], torch.zeros(4096, dtype=torch.long))
        timed(f"{name} bank search (4,096 x {flat.shape[1]} dims)", lambda bank=bank, flat=flat: bank.nearest_distances(flat), count)
        timed(f"{name} bank search, leave-one-out (k=16)", lambda bank=bank, flat=flat: bank.nearest_distances_excluding(flat, 1), count)
    timed("student + teacher forward (scoring)", lambda: student.local_map(batch), count)

    def train_step():
        student.model.train()
        student.model(batch).mean().backward()
    timed("student forward + backward (training)", train_step, count)
    candidates = torch.randn(65_536, 128)
    timed("greedy coreset: one pick of 65,536 candidates", lambda: greedy_coreset(candidates, 64), 64)


def score_run(data: Path, run: Path, batch_size: int = 16) -> None:
    """Scoring alone (decoding included) over ``data``'s test images with a saved run: wall and CPU ms per image once
    the scorer is built (the first batch builds it: ONNX export, agreement check, sessions; timed apart), and the
    image AUROC per defect type of these scores beside the largest gap to the run's saved test scores."""
    detector, pre, config = load_detector(run)
    paths = sorted(str(p) for p in (data / "test").glob("*/*.png"))
    wall, cpu = time.perf_counter(), time.process_time()
    found = list(predict_paths(detector, paths[:batch_size], pre, batch_size))
    print(f"first batch of {len(found)} (builds the scorer: {detector.scoring_backend()}): "
          f"{time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU")
    wall, cpu = time.perf_counter(), time.process_time()
    found += predict_paths(detector, paths[batch_size:], pre, batch_size)
    count = len(found) - batch_size
    wall, cpu = (time.perf_counter() - wall) * 1000 / count, (time.process_time() - cpu) * 1000 / count
    print(f"{count} images, {torch.get_num_threads()} thread(s): {wall:.0f} ms/image wall, {cpu:.0f} ms/image CPU; "
          f"load average {os.getloadavg()}")
    types = np.asarray([Path(p.path).parent.name for p in found])
    scores = np.asarray([p.score for p in found])
    good = types == "good"
    aurocs = {t: roc_auc_score(np.r_[np.zeros(good.sum()), np.ones((types == t).sum())], np.r_[scores[good], scores[types == t]])
              for t in sorted(set(types) - {"good"})}
    print(f"image AUROC: all {roc_auc_score(~good, scores):.4f}; " + ", ".join(f"{t} {a:.4f}" for t, a in aurocs.items()))
    saved = run / "predictions_test.csv"
    if saved.exists():
        with open(saved, newline="") as f:
            before = {r["path"]: float(r["score"]) for r in csv.DictReader(f)}
        gaps = [abs(p.score - before[p.path]) / max(1.0, abs(before[p.path])) for p in found if p.path in before]
        print(f"largest score gap to the run's saved test scores ({len(gaps)} images), relative to the score (at least 1): "
              f"{max(gaps, default=float('nan')):.1e} (saved scores are rounded to 1e-4)")


def score_stages(data: Path, run: Path, count: int = 16) -> None:
    """Where a saved run's scoring time goes, stage by stage, on ``count`` test images in one batch."""
    detector, pre, config = load_detector(run)
    method = detector.method
    patchcore = getattr(method, "patchcore", method)
    heads = ((method.distill.local_map,), (method.distill.model,)) if hasattr(method, "distill") else ((), ())
    paths = sorted(str(p) for p in (data / "test").glob("*/*.png"))[::25][:count]
    timed("decode + resize (loader)", lambda: next(iter(_loader(paths, pre, count))), len(paths))
    images = next(iter(_loader(paths, pre, count))).images
    print(f"{len(images)} images of {images.shape[-1]} px, {torch.get_num_threads()} thread(s); per image:")
    for name in BACKENDS.names():
        front = Front(patchcore.conv_front(*heads), prefer=(name,))
        timed(f"front by {name} (backbone, pixel map, student)", lambda front=front: front(images), len(images))
    convs = front(images)
    stages, pixel = convs[:len(patchcore.stages)], convs[len(patchcore.stages)]
    timed("patch features (pool, unit length, upsample)", lambda: patchcore._patches_of(stages), len(images))
    patches = patchcore._patches_of(stages)
    for name, bank, p, step in zip(("coarse", "fine"), patchcore.banks, patches, STEPS):
        timed(f"{name} bank search ({len(bank):,} x {p.shape[1]} dims, every {step} cell(s))",
              lambda bank=bank, p=p, step=step: _distances(bank, p, None, step), len(images))
    maps = [_distances(bank, p, None, step) for bank, p, step in zip(patchcore.banks, patches, STEPS)] + [pixel]
    timed("pooled features (trimmed mean, spread)", lambda: pooled_features(patches[0], maps[0]), len(images))
    timed("maps in units, pixel-wise strongest", lambda: strongest(maps, patchcore.scales), len(images))
    local = method.describe(images).local_map_bhw
    timed("upsample + blur to input size", lambda: upsample_map(local, tuple(images.shape[-2:])), len(images))
    timed("Detector.score, all of the above", lambda: detector.score(images), len(images))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="an MVTec-layout folder (train/good/*.png)")
    parser.add_argument("--size", type=int, default=250)
    parser.add_argument("--run", type=Path, help="instead: time the scoring of the test images with this saved run")
    parser.add_argument("--stages", action="store_true", help="with --run: time each stage of scoring apart")
    args = parser.parse_args()
    if args.run:
        score_stages(args.data, args.run) if args.stages else score_run(args.data, args.run)
    else:
        main(args.data, args.size)
