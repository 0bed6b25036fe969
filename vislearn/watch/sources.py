"""What ``vislearn watch`` reads from: a video file, an http(s)/rtsp stream URL, or a webcam index; opened with PyAV.

Only these are accepted: any other URL scheme (ftp:, file:, concat:, pipe: ... which FFmpeg would also open) is refused,
so that a SOURCE typed by a user cannot make FFmpeg read or run something else.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlparse

from ..errors import VislearnError

STREAM_SCHEMES = ("http", "https", "rtsp")


class SourceError(VislearnError):
    """A video source cannot be used: a refused scheme, a missing, empty or unreadable file, a stream that never connects."""


@dataclass(frozen=True)
class Source:
    """Where frames come from. kind: "file" (ends at its end), "stream" (reconnects) or "webcam" (a device index)."""

    text: str
    kind: str

    @property
    def live(self) -> bool:
        """Live sources produce frames whether or not we keep up: the reader keeps only the latest frames."""
        return self.kind != "file"


def parse_source(text: str) -> Source:
    """A Source for a file path, an http/https/rtsp URL or a webcam index ("0"); raises SourceError otherwise."""
    text = str(text)
    if text.isdigit():
        return Source(text, "webcam")
    scheme = urlparse(text).scheme.lower()
    if scheme in STREAM_SCHEMES:
        return Source(text, "stream")
    if "://" in text or (len(scheme) > 1 and ":" in text and not os.path.exists(text)):
        raise SourceError(f"{text}: URL scheme {scheme!r} is not allowed; use a video file, "
                          f"{', '.join(s + '://' for s in STREAM_SCHEMES)} or a webcam index")
    if not os.path.isfile(text):
        raise SourceError(f"{text}: no such video file")
    if os.path.getsize(text) == 0:
        raise SourceError(f"{text}: the file is empty (0 bytes); give a video file")
    return Source(text, "file")


def open_container(source: Source, timeout_s: float):
    """An open PyAV input container; FFmpeg's own open and read timeouts are ``timeout_s`` so that no call hangs."""
    import av

    try:
        if source.kind == "webcam":
            return av.open(f"/dev/video{source.text}", format="v4l2", timeout=(timeout_s, timeout_s))
        options = {"rtsp_transport": "tcp"} if source.text.lower().startswith("rtsp") else {}
        return av.open(source.text, options=options, timeout=(timeout_s, timeout_s))
    except (av.error.FFmpegError, OSError) as exc:
        if source.kind == "file":
            raise SourceError(f"{source.text}: cannot be read as a video ({exc})") from None
        raise ConnectionError(str(exc)) from None
