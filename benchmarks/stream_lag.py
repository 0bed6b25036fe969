"""End-to-end lag and FPS of `vislearn watch` on a source faster than the model (not a test; timings of a shared machine).

The tracks sample video is read at its own 30 FPS, as a camera delivers it (--pace), and analysed by a detect run (or
by a stand-in model that sleeps --delay seconds a frame), twice: with the latest-frame policy (stale frames dropped)
and analysing every frame (what a plain frame loop does: the lag grows with every frame the model is slower).

    python benchmarks/stream_lag.py --run runs/det           # the detector
    python benchmarks/stream_lag.py --delay 0.1 --frames 300 # a 10 FPS model on a 30 FPS source
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from PIL import Image

from vislearn.data.samples.tracks import write_tracks_sample
from vislearn.run import Run
from vislearn.watch.analysers import FrameResult
from vislearn.watch.loop import watch


class SlowModel:
    def __init__(self, delay_s: float):
        self.delay_s = delay_s

    def analyse(self, frame):
        time.sleep(self.delay_s)
        return FrameResult(Image.fromarray(frame.image_hwc), {}, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a detect run folder (default: a stand-in model)")
    parser.add_argument("--delay", type=float, default=0.1, help="the stand-in model's seconds per frame")
    parser.add_argument("--frames", type=int, default=180)
    args = parser.parse_args()
    run = Run.load(args.run) if args.run else None
    with tempfile.TemporaryDirectory() as tmp:
        write_tracks_sample(Path(tmp) / "t", limit=args.frames)
        video = str(Path(tmp) / "t" / "video.mp4")
        print(f"{'policy':22} {'processed FPS':>14} {'source FPS':>11} {'dropped':>8} {'lag p50':>8} {'p90':>7} {'p99':>7} {'max':>7}")
        for policy, realtime in (("latest frame", True), ("every frame", False)):
            summary = watch(run, video, realtime=realtime, pace=True, log=lambda m: None,
                            analyser=None if run else SlowModel(args.delay))
            lag = summary["lag_s"]
            print(f"{policy:22} {summary['processed_fps']:>14} {summary['source_fps']:>11} {summary['dropped_frames']:>8} "
                  f"{lag['p50']:>8} {lag['p90']:>7} {lag['p99']:>7} {lag['max']:>7}")


if __name__ == "__main__":
    main()
