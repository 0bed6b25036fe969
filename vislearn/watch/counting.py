"""Line and zone counting on tracked boxes, per class and direction, as events.

The geometry is supervision's (``LineZone``: a box centre crossing the segment start -> end; ``PolygonZone``: a box
centre inside the polygon); what is counted and the events are ours. Directions are supervision's: for a line drawn
from top to bottom (x, 0 -> x, H) "in" is moving left to right, "out" right to left; swap the two ends to swap them.

    line = LineCounter((0, 96, 192, 96)); zone = ZoneCounter([(10, 10), (100, 10), (100, 100), (10, 100)])
    events = line.update(tracked, names) + zone.update(tracked, names)   # [{"event": "crossed line", ...}]
    line.counts                                                          # {"cup": {"in": 2, "out": 1}}
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .track import TrackedBoxes


def parse_points(text: str, what: str, least: int) -> list[tuple[float, float]]:
    """"x1,y1,x2,y2,..." -> [(x1, y1), (x2, y2), ...] with at least ``least`` points; ValueError names the flag."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{what}: expected numbers separated by commas, got {text!r}") from None
    if len(values) % 2 or len(values) < 2 * least:
        raise ValueError(f"{what}: expected at least {least} x,y pairs, got {text!r}")
    return list(zip(values[::2], values[1::2]))


def _detections(tracked: TrackedBoxes):
    import supervision as sv

    return sv.Detections(xyxy=tracked.boxes_xyxy.reshape(-1, 4), confidence=tracked.scores, class_id=tracked.class_ids,
                         tracker_id=tracked.track_ids)


def _nested() -> defaultdict:
    return defaultdict(lambda: defaultdict(int))


class LineCounter:
    """Tracks whose box centre crosses the segment (x1, y1, x2, y2); counts[class][direction]."""

    def __init__(self, points: Sequence[tuple[float, float]]):
        import supervision as sv

        (x1, y1), (x2, y2) = points[:2]
        self.points = [(x1, y1), (x2, y2)]
        self._zone = sv.LineZone(sv.Point(x1, y1), sv.Point(x2, y2), triggering_anchors=[sv.Position.CENTER])
        self.counts = _nested()

    def update(self, tracked: TrackedBoxes, class_names: Sequence[str]) -> list[dict]:
        if not len(tracked):
            return []
        crossed_in, crossed_out = self._zone.trigger(_detections(tracked))
        events = []
        for i in np.flatnonzero(crossed_in | crossed_out):
            direction = "in" if crossed_in[i] else "out"
            name = class_names[int(tracked.class_ids[i])]
            self.counts[name][direction] += 1
            events.append({"event": "crossed line", "track_id": int(tracked.track_ids[i]), "class": name, "direction": direction})
        return events


class ZoneCounter:
    """Tracks whose box centre enters or leaves the polygon; counts[class]["entered" | "left"], ``inside`` now."""

    def __init__(self, points: Sequence[tuple[float, float]]):
        import supervision as sv

        self.points = [tuple(p) for p in points]
        self._zone = sv.PolygonZone(np.asarray(points, np.int64), triggering_anchors=[sv.Position.CENTER])
        self.counts = _nested()
        self.inside: dict[int, str] = {}  # track id -> class name, for the tracks in the zone now

    def update(self, tracked: TrackedBoxes, class_names: Sequence[str]) -> list[dict]:
        is_in = self._zone.trigger(_detections(tracked)) if len(tracked) else np.zeros(0, bool)
        events = []
        for track_id, class_id, now_in in zip(tracked.track_ids.tolist(), tracked.class_ids.tolist(), is_in.tolist()):
            name, was_in = class_names[class_id], track_id in self.inside
            if now_in == was_in:
                continue
            change = "entered" if now_in else "left"
            self.counts[name][change] += 1
            events.append({"event": f"{change} zone", "track_id": track_id, "class": name})
            if now_in:
                self.inside[track_id] = name
            else:
                self.inside.pop(track_id)
        return events


def plain_counts(counts: defaultdict) -> dict:
    """{class: {direction: n}} as plain dicts (JSON)."""
    return {name: dict(by_direction) for name, by_direction in sorted(counts.items())}
