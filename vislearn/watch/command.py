"""``vislearn watch RUN SOURCE``: its flags and what it does (cli.py stays a thin layer)."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a trained run folder (detect: tracking and counting; classify, defects, segment: per frame)")
    p.add_argument("source", help="a video file, an http(s):// or rtsp:// stream URL, or a webcam index (0)")
    p.add_argument("--out", help="write the annotated video here (.mp4): boxes, track IDs, the line, the zone, the counts")
    p.add_argument("--events", help="write events here as JSON lines (crossed line, entered/left zone, referred frame, reconnects)")
    p.add_argument("--line", help="count tracks crossing the segment x1,y1,x2,y2 (frame pixels), per class and direction")
    p.add_argument("--zone", help="count tracks entering and leaving the polygon x1,y1,x2,y2,x3,y3,...")
    p.add_argument("--conf", type=float, help="detect: lowest box score handed to the tracker (default 0.1, or the run's conf if lower)")
    p.add_argument("--iou", type=float, help="detect: NMS IoU (default: the run's)")
    p.add_argument("--track-high", type=float, help="detect: boxes scoring this or more start tracks; lower ones only keep them "
                                                    "(default: the run's conf, at least 0.5)")
    p.add_argument("--smooth-frames", type=int, default=5, help="classify: average the probabilities over about this many frames")
    p.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                   help="latest-frame policy: analyse the newest frame, drop stale ones (default: on for streams and webcams, off for files)")
    p.add_argument("--pace", action="store_true", help="read a file at its own frame rate, as a camera would deliver it (implies --realtime)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds a connection or a read may take before it counts as dropped")
    p.add_argument("--give-up", type=float, default=30.0, help="seconds of failed reconnects after which a stream is given up")
    p.add_argument("--max-frames", type=int, help="stop after analysing this many frames")
    p.add_argument("--gt", help="detect: MOT ground truth (gt.txt) of a file SOURCE: print MOTA, IDF1 and ID switches of the tracks")
    p.add_argument("--serve", action="store_true", help="show the live annotated stream (MJPEG), the counts and the events on a "
                                                        "web page at http://HOST:PORT/ while watch runs")
    p.add_argument("--host", default="127.0.0.1", help="--serve: loopback address to bind (default 127.0.0.1; only loopback is allowed)")
    p.add_argument("--port", type=int, default=8090, help="--serve: port (default 8090; 0: any free port)")
    p.add_argument("--max-viewers", type=int, default=4, help="--serve: viewers of the stream at once at most (default 4)")


def command(args, log) -> dict:
    from ..api import load_run
    from .analysers import WatchOptions
    from .counting import parse_points
    from .loop import watch
    from .sources import SourceError, parse_source

    parse_source(args.source)  # a refused or empty source, or a host that is not loopback, is said before the run is loaded
    if args.serve:
        from .live import check_loopback

        check_loopback(args.host)
    try:
        line = tuple(parse_points(args.line, "--line", 2)[:2]) if args.line else ()
        zone = tuple(parse_points(args.zone, "--zone", 3)) if args.zone else ()
    except ValueError as exc:
        raise SourceError(str(exc)) from None
    run = load_run(args.run)
    options = WatchOptions(conf=args.conf, iou=args.iou, line=line, zone=zone, smooth_frames=args.smooth_frames, track_high=args.track_high)
    realtime = True if args.pace else args.realtime
    scorer = TrackScorer(args.gt) if args.gt else None
    if scorer and realtime:
        raise SourceError("--gt scores every frame of a file: leave out --realtime and --pace")
    settings = dict(out=args.out, events=args.events, realtime=realtime, pace=args.pace, timeout_s=args.timeout, give_up_s=args.give_up,
                    max_frames=args.max_frames, log=log, analyser=scorer.wrap(run, options) if scorer else None)
    summary = served(run, args, options, settings, log) if args.serve else watch(run, args.source, options, **settings)
    if scorer:
        summary["tracking"] = scorer.score()
    log(f"watch: {summary['processed_frames']} frames at {summary['processed_fps']} FPS (source {summary['source_fps']}), "
        f"{summary['dropped_frames']} dropped, lag {summary['lag_s']}" + (f"; tracking {summary['tracking']}" if scorer else ""))
    return summary


def served(run, args, options, settings: dict, log) -> dict:
    """``watch`` with its page on http://HOST:PORT/ for as long as it runs."""
    from .board import LiveBoard
    from .live import LiveServer
    from .loop import watch

    board = LiveBoard()
    with LiveServer(board, args.host, args.port, args.max_viewers) as server:
        log(f"watch: live page at {server.url} (stream {server.url}stream.mjpg, counts {server.url}counts, events {server.url}events)")
        summary = watch(run, args.source, options, board=board, **settings)
    return {**summary, "served_at": server.url}


class TrackScorer:
    """Wraps the detect analyser to keep each frame's tracks, then scores them against MOT ground truth."""

    def __init__(self, gt_path: str):
        from .mot import read_mot

        self.truth, self.tracks, self.inner = read_mot(gt_path), [], None

    def wrap(self, run, options):
        from ..errors import VislearnError

        if run.config.task != "detect":
            raise VislearnError(f"--gt scores tracks: it needs a detect run, not a {run.config.task} run")
        self.run, self.options = run, options
        return self

    def analyse(self, frame):
        from .analysers import ANALYSERS
        from .loop import detect_tracks  # noqa: F401 - registers the detect analyser

        self.inner = self.inner or ANALYSERS.get("detect")(self.run, self.options, 30.0)
        result = self.inner.analyse(frame)
        tracks = result.row["tracks"]
        self.tracks.append((frame.index + 1, [t["track_id"] for t in tracks], [t["box_xyxy"] for t in tracks]))
        return result

    def summary(self) -> dict:
        return self.inner.summary() if self.inner else {}

    def score(self) -> dict:
        from .mot import score_tracks

        return score_tracks(self.truth, self.tracks, frames=max(self.truth))
