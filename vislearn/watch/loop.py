"""``watch``: frames from the reader thread through the run's analyser, into events, an annotated video and figures.

Lag is measured from a frame's capture (decoded; a paced file: when it was due) to its result being written.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import detect_tracks  # noqa: F401 - registers the detect analyser
from .analysers import ANALYSERS, WatchOptions
from .annotate import VideoSink
from .board import LiveBoard
from .reader import FrameReader, ReaderStats
from .sources import SourceError, parse_source


class EventLog:
    """Events as JSON lines, flushed one by one so that a reader of the file sees them as they happen; None: kept in memory only."""

    def __init__(self, path: str | Path | None, also: Callable[[dict], None] | None = None):
        self.path = Path(path) if path else None
        self.also = also  # e.g. the live page's board
        self.events: list[dict] = []
        self._file = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8")

    def write(self, event: dict) -> None:
        self.events.append(event)
        if self.also:
            self.also(event)
        if self._file:
            self._file.write(json.dumps(event) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file:
            self._file.close()


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"p50": round(float(p50), 4), "p90": round(float(p90), 4), "p99": round(float(p99), 4), "max": round(max(values), 4)}


def figures(stats: ReaderStats, processed: int, started_s: float, lags: list[float]) -> dict:
    """The running figures: processed and source FPS, dropped frames, end-to-end lag percentiles (seconds)."""
    elapsed = max(1e-9, time.monotonic() - started_s)
    source_fps = stats.source_fps
    return {"processed_frames": processed, "processed_fps": round(processed / elapsed, 2),
            "source_fps": round(source_fps, 2) if source_fps else None, "decoded_frames": stats.decoded,
            "dropped_frames": stats.dropped, "reconnects": stats.reconnects, "corrupt_packets": stats.corrupt_packets,
            "lag_s": _percentiles(lags)}


def watch(run, source: str, options: WatchOptions | None = None, out: str | Path | None = None, events: str | Path | None = None,
          realtime: bool | None = None, pace: bool = False, timeout_s: float = 5.0, give_up_s: float = 30.0,
          max_frames: int | None = None, log: Callable[[str], None] = print, report_every_s: float = 5.0, analyser=None,
          board: LiveBoard | None = None) -> dict:
    """Analyse SOURCE with ``run`` until it ends (a file), ``max_frames`` are done, or a stream gives up; returns the summary.

    realtime: latest-frame policy (default: live sources yes, files no); pace: read a file at its own frame rate.
    ``analyser``: an object with ``analyse(frame) -> FrameResult`` and ``summary()``, instead of the run's task's.
    ``board``: where ``watch --serve``'s page reads each annotated frame, the counts, the figures and the events.
    """
    src, options = parse_source(source), options or WatchOptions()
    log(f"watch: {src.kind} {src.text}; " + ("latest-frame policy (stale frames dropped)" if (src.live if realtime is None else realtime)
                                             else "every frame analysed"))
    event_log, sink = EventLog(events, board.add_event if board else None), None
    lags: list[float] = []
    processed, started, last_report = 0, time.monotonic(), time.monotonic()
    reader = FrameReader(src, realtime=realtime, keep=1 if (src.live if realtime is None else realtime) else 4, pace=pace,
                         timeout_s=timeout_s, give_up_s=give_up_s, log=log, on_event=lambda kind, f: event_log.write({"event": kind, **f}))
    given, fps = analyser, 30.0
    if given is None:  # the model is loaded (and kept by the run) before the first frame is waiting for it
        analyser = ANALYSERS.get(run.config.task)(run, options, fps)
    try:
        with reader:
            for frame in reader:
                if given is None and (reader.stats.nominal_fps or fps) != fps:  # the source's rate is known once it is open
                    fps = reader.stats.nominal_fps
                    analyser = ANALYSERS.get(run.config.task)(run, options, fps)
                result = analyser.analyse(frame)
                for event in result.events:
                    event_log.write({"frame": frame.index, "time_s": round(frame.clock_s, 3), **event})
                if out:
                    sink = sink or VideoSink(Path(out), reader.stats.nominal_fps or 30.0)
                    sink.write(result.picture)
                lags.append(time.monotonic() - frame.captured_s)
                processed += 1
                if board:
                    board.publish(result.picture, analyser_summary(analyser), figures(reader.stats, processed, started, lags[-200:]))
                if time.monotonic() - last_report >= report_every_s:
                    last_report = time.monotonic()
                    log("watch: " + json.dumps(figures(reader.stats, processed, started, lags[-200:])))
                if max_frames and processed >= max_frames:
                    break
    finally:
        if sink:
            sink.close()
        event_log.close()
        if board:
            board.close()
    summary = {"source": src.text, "kind": src.kind, **figures(reader.stats, processed, started, lags), **analyser_summary(analyser)}
    summary.update({"annotated": str(out) if sink else None, "events": str(events) if events else None, "notes": reader.stats.notes})
    if reader.stats.error:
        if processed == 0:
            raise SourceError(reader.stats.error)
        summary["error"] = reader.stats.error
    return summary


def analyser_summary(analyser) -> dict:
    return analyser.summary() if analyser is not None and hasattr(analyser, "summary") else {}
