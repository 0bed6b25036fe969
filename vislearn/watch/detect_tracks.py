"""Detection on video with identities: the run's detector on each frame, ByteTrack, then line and zone counts."""
from __future__ import annotations

from PIL import Image

from ..data.box_transforms import box_eval_transform
from ..tasks.detect.model import load_detector, thresholds
from ..tasks.detect.video import detect_frame
from .analysers import ANALYSERS, FrameResult, WatchOptions
from .annotate import draw_line_and_zone, draw_text_lines, draw_tracks
from .counting import LineCounter, ZoneCounter, plain_counts
from .reader import Frame
from .track import Tracker

# Boxes scoring TRACK_LOW or more reach ByteTrack (the weak ones only extend tracks: its second association), boxes
# scoring TRACK_HIGH or more start tracks. Chosen on tuning clips, not the reported ones (docs/watch.md).
TRACK_LOW, TRACK_HIGH = 0.1, 0.5


@ANALYSERS.register("detect")
class TrackAndCount:
    """Boxes of the run's detector down to ``TRACK_LOW`` (or ``conf``), tracked; counts per class and direction."""

    def __init__(self, run, options: WatchOptions, fps: float):
        self.model, self.pre = run.kept("detector", lambda: load_detector(run))
        self.model.eval()
        run_conf, self.iou = thresholds(run, None, options.iou)
        self.conf = options.conf if options.conf is not None else min(TRACK_LOW, run_conf)
        self.high = options.track_high or max(TRACK_HIGH, run_conf)
        self.transform = box_eval_transform(self.pre)
        self.class_names = list(run.class_names)
        self.tracker = Tracker(fps=fps, high=self.high, keep_lost_s=options.track_keep_lost_s, by_class=options.track_by_class)
        self.settings = {"lowest_score": self.conf, "start_score": self.high, "nms_iou": self.iou, "by_class": options.track_by_class,
                         "keep_lost_s": options.track_keep_lost_s, "fps": fps}
        self.line = LineCounter(options.line) if options.line else None
        self.zone = ZoneCounter(options.zone) if options.zone else None
        self.track_ids: set[int] = set()

    def analyse(self, frame: Frame) -> FrameResult:
        image = Image.fromarray(frame.image_hwc)
        found = detect_frame(self.model, image, self.pre, self.conf, self.iou, self.transform)
        tracked = self.tracker.update(found.boxes_xyxy, found.scores, found.class_ids, frame.clock_s)
        self.track_ids.update(tracked.track_ids.tolist())
        events = [e for counter in (self.line, self.zone) if counter for e in counter.update(tracked, self.class_names)]
        labels = [f"#{t} {self.class_names[c]}" for t, c in zip(tracked.track_ids.tolist(), tracked.class_ids.tolist())]
        draw_line_and_zone(image, self.line and self.line.points, self.zone and self.zone.points)
        draw_tracks(image, tracked.boxes_xyxy, labels, tracked.track_ids.tolist())
        draw_text_lines(image, self._count_lines())
        rows = [{"track_id": t, "class": self.class_names[c], "score": round(float(s), 4), "box_xyxy": [round(float(v), 1) for v in b]}
                for t, c, s, b in zip(tracked.track_ids.tolist(), tracked.class_ids.tolist(), tracked.scores, tracked.boxes_xyxy)]
        return FrameResult(image, {"tracks": rows, "boxes": len(found.boxes_xyxy)}, events)

    def _count_lines(self) -> list[str]:
        lines = []
        for name, counter in (("line", self.line), ("zone", self.zone)):
            if counter:
                parts = [f"{c} " + "/".join(f"{d} {n}" for d, n in sorted(by.items())) for c, by in sorted(counter.counts.items())]
                lines.append(f"{name}: " + ("; ".join(parts) or "0"))
        return lines

    def summary(self) -> dict:
        out = {"tracks": len(self.track_ids), "tracker": self.settings}
        if self.line:
            out["line_counts"] = plain_counts(self.line.counts)
        if self.zone:
            out["zone_counts"] = plain_counts(self.zone.counts)
            out["in_zone_now"] = len(self.zone.inside)
        return out
