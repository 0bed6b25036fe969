"""Tracking metrics (py-motmetrics: MOTA, IDF1, ID switches) of `vislearn watch` on two generated videos:

  tracks   the `vislearn data sample tracks` video (180 frames, 192 px, 4 objects over a texture, 1-2.5 px/frame)
  noise    made differently: grey noise background, 5 objects, faster (2.5-4 px/frame), other sizes, another seed

each with ground-truth boxes fed to ByteTrack (the tracker alone) and with each detect run's boxes (detector + tracker).
``--seed-shift N`` moves both clips to other seeds (tracks N, noise N + 1): settings were chosen on ``--seed-shift 5``
and are reported on the default clips (0).

    vislearn data sample tracks-frames data/det-frames
    vislearn train detect --data data/det-frames --model tiny_det --weights none --epochs 12 --batch-size 16 --image-size 128 --out runs/det
    python benchmarks/track_metrics.py runs/det [runs/det-seed1 ...] [--high 0.25] [--any-class]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from vislearn.data.samples.tracks import write_tracks_sample
from vislearn.run import Run
from vislearn.watch.analysers import WatchOptions
from vislearn.watch.command import TrackScorer
from vislearn.watch.loop import watch
from vislearn.watch.mot import read_mot, score_tracks, track_truth_boxes

SETS = {"tracks": dict(seed=0), "noise": dict(background="noise", objects=5, speed=(2.5, 4.0), scale=(0.2, 0.4), seed=1)}
SHOWN = ["idf1", "mota", "num_switches", "num_false_positives", "num_misses", "num_objects"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--frames", type=int, default=180)
    parser.add_argument("--seed-shift", type=int, default=0, help="add this to each clip's seed (other clips of the same kind)")
    parser.add_argument("--conf", type=float, help="lowest box score handed to the tracker (default 0.1)")
    parser.add_argument("--high", type=float, help="boxes scoring this or more start tracks (default: the run's conf, at least 0.5)")
    parser.add_argument("--any-class", action="store_true", help="let a box extend a track of another class (ByteTrack as it comes)")
    args = parser.parse_args()
    options, rows = WatchOptions(conf=args.conf, track_high=args.high, track_by_class=not args.any_class), []
    with tempfile.TemporaryDirectory() as tmp:
        for name, clip in SETS.items():
            folder = Path(tmp) / name
            write_tracks_sample(folder, limit=args.frames, **{**clip, "seed": clip["seed"] + args.seed_shift})
            truth = read_mot(folder / "gt" / "gt.txt")
            rows.append((name, "ground-truth boxes", score_tracks(truth, track_truth_boxes(truth), frames=args.frames)))
            for run_dir in args.runs:
                run, scorer = Run.load(run_dir), TrackScorer(str(folder / "gt" / "gt.txt"))
                summary = watch(run, str(folder / "video.mp4"), log=lambda m: None, analyser=scorer.wrap(run, options))
                rows.append((name, f"{Path(run_dir).name} ({summary['processed_fps']} FPS)", scorer.score()))
    print(f"{'set':8} {'boxes':30} " + " ".join(f"{k:>20}" for k in SHOWN))
    for name, boxes, metrics in rows:
        print(f"{name:8} {boxes:30} " + " ".join(f"{metrics[k]:>20}" for k in SHOWN))


if __name__ == "__main__":
    main()
