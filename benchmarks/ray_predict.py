"""Prediction throughput on a local Ray cluster (1 and 2 actors) against the single-process ``vislearn predict`` path.

All three sides predict the same image files with the same run and backend, in one process: the single-process path
is ``classify_run.predict`` (what ``vislearn predict RUN FILES`` does); the Ray sides are ``predict_on_ray`` (what
``vislearn predict RUN FILES --engine ray`` does) into a fresh shard folder each, on a cluster started once before
timing. A Ray side's wall time includes starting its actors (each imports vislearn and loads the run); its steady rate
counts the images of the shards finished after the first one, over the time between the first and the last shard.
The merged rows must give the same classes as the single-process path.

    .venv/bin/python benchmarks/ray_predict.py                         # tf_efficientnet_lite0, 224 px, 384 photos
    .venv/bin/python benchmarks/ray_predict.py --model tiny_cnn --count 4096
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_run, digit_files, photo_files  # noqa: E402

from vislearn.run import Run  # noqa: E402
from vislearn.tasks.classify import run as classify_run  # noqa: E402
from vislearn.tasks.predict_ray import predict_on_ray  # noqa: E402

SIZES = {"tf_efficientnet_lite0": 224, "tiny_cnn": 32}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="tf_efficientnet_lite0", help="tf_efficientnet_lite0 (photos) or tiny_cnn (digits)")
    p.add_argument("--count", type=int, default=384, help="image files")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--shard-size", type=int, default=64)
    p.add_argument("--backend", default="torch", help="every side's backend: torch, onnx or auto")
    p.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    return p.parse_args()


def single_process(run_dir: Path, files: list[Path], args) -> tuple[float, list[str]]:
    start = time.perf_counter()
    predictions, _ = classify_run.predict(Run.load(run_dir), files, backend=args.backend, batch_size=args.batch_size, progress=False)
    return time.perf_counter() - start, [p.predicted for p in predictions]


def on_ray(run_dir: Path, files: list[Path], actors: int, args) -> tuple[float, float, list[str]]:
    out = Path(tempfile.mkdtemp(prefix="vislearn-raybench-"))
    try:
        start = time.perf_counter()
        result = predict_on_ray(Run.load(run_dir), [str(f) for f in files], out, {"backend": args.backend, "batch_size": args.batch_size},
                                actors=actors, shard_size=args.shard_size, log=lambda _: None)
        wall = time.perf_counter() - start
        finished = sorted(s.stat().st_mtime for s in (out / "shards").glob("*.parquet"))
        steady = (len(files) - args.shard_size) / max(finished[-1] - finished[0], 1e-9) if len(finished) > 1 else float("nan")
        by_path = {row[0]: row[1] for row in result["rows"]}
        return wall, steady, [by_path[str(f)] for f in files]
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    import ray

    args = parse_args()
    run_dir = bench_run(args.model, SIZES.get(args.model, 224))
    files = photo_files(args.count) if args.model != "tiny_cnn" else digit_files(args.count)
    files = sorted(dict.fromkeys(files))  # distinct files, in the sorted order the Ray path merges them in
    print(f"model {args.model}, {len(files)} files, batch {args.batch_size}, shards of {args.shard_size}, backend {args.backend}")
    start = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    print(f"Ray cluster of {args.cpus} CPUs started in {time.perf_counter() - start:.1f} s (not counted below)")
    single_process(run_dir, files[:args.batch_size], args)  # warm-up: lazy initialisation, file cache
    base, classes = single_process(run_dir, files, args)
    print(f"{'side':<28}{'wall s':>8}{'img/s':>8}{'ratio':>7}{'steady img/s':>14}{'ratio':>7}")
    print(f"{'single process':<28}{base:>8.1f}{len(files) / base:>8.1f}{1:>7.2f}{len(files) / base:>14.1f}{1:>7.2f}")
    for actors in (1, 2):
        wall, steady, ray_classes = on_ray(run_dir, files, actors, args)
        assert ray_classes == classes, "Ray predictions differ from the single-process ones"
        print(f"{f'Ray, {actors} actor' + ('s' if actors > 1 else ''):<28}{wall:>8.1f}{len(files) / wall:>8.1f}{base / wall:>7.2f}"
              f"{steady:>14.1f}{steady * base / len(files):>7.2f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
