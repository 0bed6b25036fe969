"""What ``watch --serve`` shows, shared between the analysing loop (one writer) and the page's viewers (many readers):
the newest annotated frame, the counts and running figures, and the latest events, all bounded.

    board = LiveBoard()
    board.publish(picture, counts={"line_counts": ...}, figures={"processed_fps": ...})
    board.add_event({"event": "crossed line", ...})
    version, jpeg_bytes = board.jpeg()           # encoded once per frame, only when someone asks for it
    board.wait_newer(version, timeout_s=1.0)     # a viewer waits for the next frame
    board.events_after(seq)                      # ([events with "seq" > seq], the last seq)
"""
from __future__ import annotations

import io
import threading
from collections import deque

from PIL import Image


class LiveBoard:
    """The newest frame (kept as a picture, JPEG-encoded on demand), counts, figures and the last ``keep_events`` events."""

    def __init__(self, keep_events: int = 500, jpeg_quality: int = 80):
        self.jpeg_quality = jpeg_quality
        self._changed = threading.Condition()
        self._picture: Image.Image | None = None
        self._version = 0
        self._jpeg: tuple[int, bytes] = (0, b"")
        self._events: deque[dict] = deque(maxlen=keep_events)
        self._seq = 0
        self.counts: dict = {}
        self.figures: dict = {}
        self.closed = False

    def publish(self, picture: Image.Image, counts: dict, figures: dict) -> None:
        with self._changed:
            self._picture, self.counts, self.figures = picture, counts, figures
            self._version += 1
            self._changed.notify_all()

    def add_event(self, event: dict) -> None:
        with self._changed:
            self._seq += 1
            self._events.append({"seq": self._seq, **event})

    def close(self) -> None:
        """The source ended: viewers waiting for a frame are woken and their streams end."""
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def wait_newer(self, version: int, timeout_s: float) -> int:
        """Wait until a frame newer than ``version`` is published (or the board closes, or the timeout); the newest version."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > version or self.closed, timeout=timeout_s)
            return self._version

    def jpeg(self) -> tuple[int, bytes]:
        """(version, JPEG bytes) of the newest frame; (0, b"") before the first one."""
        with self._changed:
            picture, version = self._picture, self._version
            if picture is None or self._jpeg[0] == version:
                return self._jpeg
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="JPEG", quality=self.jpeg_quality)
        with self._changed:
            if self._jpeg[0] < version:
                self._jpeg = (version, buffer.getvalue())
            return self._jpeg

    def events_after(self, seq: int) -> tuple[list[dict], int]:
        with self._changed:
            return [e for e in self._events if e["seq"] > seq], self._seq

    def state(self) -> dict:
        with self._changed:
            return {"frames": self._version, "counts": self.counts, "figures": self.figures, "ended": self.closed}
