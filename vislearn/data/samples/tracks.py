"""The ``tracks`` sample: a short video of objects with known identities moving over a background, crossing and
occluding each other, with MOT-format ground truth:

    DIR/video.mp4        H.264, ``fps`` frames a second, size x size pixels
    DIR/gt/gt.txt        MOT rows: frame (1-based), id, x, y, w, h, 1, class (1-based), visibility (0-1)
    DIR/classes.txt      class names, one a line (the detect sample's: cup, cat, rocket)

The objects are the detect sample's photos (:mod:`vislearn.data.samples.detect`), so a run trained on
``vislearn data sample detect`` finds them. ``background="noise"`` (grey noise) with other speeds and sizes makes a
set made differently from the textured one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .defects import TEXTURES, random_crop, texture_rgb
from .detect import object_photos


@dataclass
class Mover:
    """One object: class, picture (h, w, 3) uint8, top-left position and velocity in pixels per frame."""

    track_id: int
    class_id: int
    picture: np.ndarray
    xy: np.ndarray
    velocity: np.ndarray

    def step(self, size: int) -> None:
        """Move one frame; bounce off the borders so that objects stay in view and cross each other."""
        h, w = self.picture.shape[:2]
        self.xy = self.xy + self.velocity
        for axis, extent in ((0, w), (1, h)):
            if self.xy[axis] < 0 or self.xy[axis] + extent > size:
                self.velocity[axis] = -self.velocity[axis]
                self.xy[axis] = float(np.clip(self.xy[axis], 0, size - extent))


def _background(kind: str, size: int, rng) -> np.ndarray:
    """(size, size, 3) uint8: a crop of a textured photo (brick, grass, gravel), or grey noise."""
    if kind == "noise":
        grey = np.clip(rng.normal(128, 45, (size, size)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    texture = texture_rgb(list(TEXTURES)[int(rng.integers(len(TEXTURES)))])
    return (random_crop(texture, size, rng) * 255).astype(np.uint8)


def _movers(count: int, size: int, rng, scale: tuple[float, float], speed: tuple[float, float]) -> list[Mover]:
    photos = list(object_photos().values())
    movers = []
    for track_id in range(1, count + 1):
        class_id = (track_id - 1) % len(photos)
        photo = photos[class_id]
        long_side = rng.uniform(*scale) * size
        aspect = photo.shape[1] / photo.shape[0]
        w, h = (long_side, long_side / aspect) if aspect >= 1 else (long_side * aspect, long_side)
        picture = np.asarray(Image.fromarray(photo).resize((int(w), int(h)), Image.BILINEAR))
        xy = np.array([rng.uniform(0, size - picture.shape[1]), rng.uniform(0, size - picture.shape[0])])
        angle = rng.uniform(0, 2 * np.pi)
        velocity = rng.uniform(*speed) * np.array([np.cos(angle), np.sin(angle)])
        movers.append(Mover(track_id, class_id, picture, xy, velocity))
    return movers


def render(background: np.ndarray, movers: list[Mover]) -> tuple[np.ndarray, list[tuple]]:
    """The frame (H, W, 3) uint8 (later movers drawn over earlier ones) and one MOT row per at least partly visible mover:
    (id, x, y, w, h, class_id, visibility)."""
    frame, owner = background.copy(), np.zeros(background.shape[:2], np.int32)
    placed = []
    for m in movers:
        h, w = m.picture.shape[:2]
        x, y = (int(round(v)) for v in m.xy)
        frame[y:y + h, x:x + w] = m.picture
        owner[y:y + h, x:x + w] = m.track_id
        placed.append((m, x, y, w, h))
    rows = []
    for m, x, y, w, h in placed:
        visibility = float((owner[y:y + h, x:x + w] == m.track_id).mean())
        if visibility > 0:
            rows.append((m.track_id, x, y, w, h, m.class_id, visibility))
    return frame, rows


def write_tracks_sample(out: Path, quiet: bool = False, limit: int | None = None, size: int = 192, fps: int = 30, objects: int = 4,
                        seed: int = 0, background: str = "texture", speed: tuple[float, float] = (1.0, 2.5),
                        scale: tuple[float, float] = (0.22, 0.34), **_) -> int:
    """``limit`` frames (default 180) of ``objects`` movers; returns the number of frames written."""
    import av

    rng = np.random.default_rng(seed)
    frames = limit or 180
    canvas = _background(background, size, rng)
    movers = _movers(objects, size, rng, scale, speed)
    names = list(object_photos())
    out.mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("".join(n + "\n" for n in names), encoding="utf-8")
    (out / "gt").mkdir(exist_ok=True)
    lines = []
    with av.open(str(out / "video.mp4"), "w") as sink:
        encoder = sink.add_stream("libx264", rate=fps, options={"crf": "16"})
        encoder.width, encoder.height, encoder.pix_fmt = size, size, "yuv420p"
        for index in range(1, frames + 1):
            frame, rows = render(canvas, movers)
            lines += [f"{index},{i},{x},{y},{w},{h},1,{c + 1},{v:.3f}\n" for i, x, y, w, h, c, v in rows]
            for packet in encoder.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                sink.mux(packet)
            for m in movers:
                m.step(size)
        for packet in encoder.encode():
            sink.mux(packet)
    (out / "gt" / "gt.txt").write_text("".join(lines), encoding="utf-8")
    return frames
