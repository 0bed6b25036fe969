"""What a person looks at: frames with boxes, track IDs, the line, the zone and the counts, written as an H.264 video."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230)]


def colour(key: int) -> tuple[int, int, int]:
    return PALETTE[key % len(PALETTE)]


def draw_tracks(image: Image.Image, boxes_xyxy: np.ndarray, labels: Sequence[str], keys: Sequence[int]) -> None:
    """Boxes (N, 4) in image pixels with their label ("#3 cup"), each in the colour of its key (the track ID)."""
    pen = ImageDraw.Draw(image)
    for box, label, key in zip(boxes_xyxy.tolist(), labels, keys):
        pen.rectangle(box, outline=colour(key), width=2)
        pen.text((box[0] + 2, max(0, box[1] - 11)), label, fill=colour(key))


def draw_line_and_zone(image: Image.Image, line: Sequence[tuple] | None, zone: Sequence[tuple] | None) -> None:
    pen = ImageDraw.Draw(image)
    if zone:
        pen.polygon([tuple(p) for p in zone], outline=(255, 255, 0), width=2)
    if line:
        pen.line([tuple(p) for p in line], fill=(0, 255, 255), width=2)


def draw_text_lines(image: Image.Image, lines: Sequence[str]) -> None:
    """Text in the top-left corner on a dark band, one entry a line (counts, the smoothed class, FPS)."""
    pen = ImageDraw.Draw(image)
    for row, text in enumerate(lines):
        y = 2 + 11 * row
        pen.rectangle((0, y - 1, pen.textbbox((2, y), text)[2] + 2, y + 10), fill=(0, 0, 0))
        pen.text((2, y), text, fill=(255, 255, 255))


class VideoSink:
    """An H.264 file (yuv420p, so even width and height: odd ones lose their last row/column) at ``fps``."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = Path(path), fps
        self._container = self._stream = None
        self.frames = 0

    def write(self, image: Image.Image) -> None:
        import av

        if self._container is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self.path), "w")
            self._stream = self._container.add_stream("libx264", rate=max(1, int(round(self.fps))))
            self._stream.width, self._stream.height, self._stream.pix_fmt = image.width // 2 * 2, image.height // 2 * 2, "yuv420p"
        picture = image.crop((0, 0, self._stream.width, self._stream.height))
        for packet in self._stream.encode(av.VideoFrame.from_image(picture)):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._container is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._container = None
