"""Decoding in its own thread into a bounded queue: a live source keeps only the latest frames (stale ones are dropped
and counted), a file is read frame by frame. A stream that drops is reopened with backoff; one that never connects
is given up after ``give_up_s``.

    with FrameReader(parse_source("rtsp://cam/1"), log=print) as reader:
        for frame in reader:          # Frame(image_hwc (H, W, 3) uint8 RGB, index, captured_s)
            ...
        reader.stats                  # decoded, dropped, reconnects, corrupt packets, source FPS, error
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .sources import Source, SourceError, open_container


@dataclass(frozen=True)
class Frame:
    """One decoded frame. captured_s: time.monotonic() when it was decoded (a paced file: when it was due);
    clock_s: the time to track by: captured_s for a live source, the frame's time in the video for a file."""

    image_hwc: np.ndarray
    index: int
    captured_s: float
    clock_s: float


@dataclass
class ReaderStats:
    decoded: int = 0
    dropped: int = 0  # stale frames thrown away because the consumer was behind (live sources only)
    reconnects: int = 0
    corrupt_packets: int = 0
    nominal_fps: float | None = None  # what the container says
    first_s: float | None = None
    last_s: float | None = None
    error: str | None = None  # why reading stopped early (None: the end of a file, or stopped by us)
    notes: list[str] = field(default_factory=list)

    @property
    def source_fps(self) -> float | None:
        """Frames decoded per second of wall time, measured (a file read at full speed: the decoder's rate)."""
        if self.decoded < 2 or self.first_s is None or self.last_s == self.first_s:
            return self.nominal_fps
        return (self.decoded - 1) / (self.last_s - self.first_s)


class FrameReader:
    """Iterate over a source's frames; ``keep`` frames at most wait in the queue.

    realtime: drop stale frames (latest-frame policy). Default: True for live sources, False for a file (every frame
    is analysed; the reader waits). ``pace=True`` reads a file at its own frame rate, as a camera would deliver it.
    on_event(kind, fields) is called for "stream dropped", "reconnecting", "reconnected", "gave up".
    """

    def __init__(self, source: Source, keep: int = 2, realtime: bool | None = None, pace: bool = False, timeout_s: float = 5.0,
                 give_up_s: float = 30.0, log: Callable[[str], None] = print, on_event: Callable[[str, dict], None] | None = None):
        self.source, self.keep, self.pace = source, keep, pace
        self.realtime = source.live if realtime is None else realtime
        self.timeout_s, self.give_up_s, self.log = timeout_s, give_up_s, log
        self.on_event = on_event or (lambda kind, fields: None)
        self.stats = ReaderStats()
        self._queue: deque[Frame] = deque()
        self._changed = threading.Condition()
        self._stopping = self._finished = False
        self._thread = threading.Thread(target=self._run, name="vislearn-watch-reader", daemon=True)

    def __enter__(self) -> FrameReader:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join(timeout=self.timeout_s + 2)

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue or self._finished)
                if not self._queue:
                    return
                frame = self._queue.popleft()
                self._changed.notify_all()
            yield frame

    def _put(self, frame: Frame) -> None:
        with self._changed:
            if self.realtime:
                while len(self._queue) >= self.keep:
                    self._queue.popleft()
                    self.stats.dropped += 1
            else:
                self._changed.wait_for(lambda: len(self._queue) < self.keep or self._stopping)
            self._queue.append(frame)
            self._changed.notify_all()

    def _event(self, kind: str, **fields) -> None:
        self.log(f"watch: {kind} " + " ".join(f"{k}={v}" for k, v in fields.items()))
        self.on_event(kind, {"source": self.source.text, **fields})

    def _run(self) -> None:
        try:
            self._connect_and_read()
        except SourceError as exc:
            self.stats.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - the consumer must learn why the frames stopped, not hang
            self.stats.error = f"{self.source.text}: reading stopped ({type(exc).__name__}: {exc})"
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()

    def _connect_and_read(self) -> None:
        self._backoff, self._since = 0.25, time.monotonic()
        connected_before = False
        while not self._stopping:
            try:
                container = open_container(self.source, self.timeout_s)
            except ConnectionError as exc:
                self._wait_or_give_up(str(exc))
                continue
            if connected_before:
                self.stats.reconnects += 1
                self._event("reconnected", reconnects=self.stats.reconnects)
            connected_before = True
            with container:
                got, problem = self._read(container)
            if self.source.kind == "file" or self._stopping:
                if problem and not got:
                    raise SourceError(f"{self.source.text}: no frame could be decoded ({problem})")
                if problem:
                    self.stats.notes.append(f"stopped reading after frame {self.stats.decoded}: {problem}")
                return
            self._event("stream dropped", frames=self.stats.decoded, reason=problem or "end of stream")
            if got:
                self._backoff, self._since = 0.25, time.monotonic()
            else:  # it connects but sends nothing: back off as if it had not connected
                self._wait_or_give_up(problem or "no frames")

    def _wait_or_give_up(self, reason: str) -> None:
        """Sleep the current backoff (0.25 s doubling to 4 s), or raise SourceError once ``give_up_s`` has passed without frames."""
        waited = time.monotonic() - self._since
        if waited + self._backoff > self.give_up_s:
            self._event("gave up", after_s=round(waited, 1), reason=reason)
            raise SourceError(f"{self.source.text}: could not connect for {waited:.0f} s ({reason}); giving up")
        self._event("reconnecting", wait_s=self._backoff, reason=reason)
        time.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, 4.0)

    def _read(self, container) -> tuple[int, str | None]:
        """Decode until the end, an error or stop: (frames decoded from this connection, the error or None)."""
        import av

        if not container.streams.video:
            raise SourceError(f"{self.source.text}: has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        self.stats.nominal_fps = float(rate) if rate else self.stats.nominal_fps
        got, started, first_time = 0, time.monotonic(), None
        try:
            for packet in container.demux(stream):
                if self._stopping:
                    break
                try:
                    decoded = packet.decode()
                except av.error.InvalidDataError:
                    self.stats.corrupt_packets += 1  # one bad packet costs its frame(s), not the stream
                    continue
                for frame in decoded:
                    video_s = float(frame.time) if frame.time is not None else self.stats.decoded / float(rate or 30)
                    due_s = None
                    if self.pace:  # as a camera: the frame exists from its due time on, whether or not we are ready
                        first_time = video_s if first_time is None else first_time
                        due_s = started + video_s - first_time
                        time.sleep(max(0.0, due_s - time.monotonic()))
                    self._keep(frame.to_ndarray(format="rgb24"), video_s, due_s)
                    got += 1
        except (av.error.FFmpegError, OSError) as exc:
            return got, str(exc)
        return got, None

    def _keep(self, image_hwc: np.ndarray, video_s: float, due_s: float | None) -> None:
        now = time.monotonic() if due_s is None else due_s
        self.stats.first_s = now if self.stats.first_s is None else self.stats.first_s
        self.stats.last_s = now
        self._put(Frame(image_hwc, self.stats.decoded, now, now if self.realtime else video_s))
        self.stats.decoded += 1
