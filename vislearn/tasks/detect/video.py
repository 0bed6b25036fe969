"""Detection on a video, frame by frame (PyAV): an annotated copy of the video and one JSON row per frame."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...data.box_transforms import box_eval_transform, boxes_to_file_pixels
from ...engine.checkpoint import write_json
from ...errors import ImageReadError
from ...metrics.detection import ImageBoxes
from .files import draw_boxes, refuse_existing
from .kinds import kind_of

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})


def is_video_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@torch.no_grad()
def detect_frame(model, image, pre, conf: float, iou: float, transform=None) -> ImageBoxes:
    """Detections of one PIL frame, in its own pixels; pass ``transform`` (``box_eval_transform(pre)``) when calling per frame."""
    inputs, _ = (transform or box_eval_transform(pre))(image, np.zeros((0, 4), np.float32))
    found = kind_of(model).detect(model, inputs[None], conf, iou)[0]
    boxes_xyxy = boxes_to_file_pixels(found.boxes_xyxy.float().numpy(), pre, image.width, image.height)
    return ImageBoxes(boxes_xyxy, found.class_ids.numpy(), found.scores.float().numpy())


def _frame_row(index: int, seconds: float, item: ImageBoxes, class_names: list[str]) -> dict:
    return {"frame": index, "time": round(seconds, 3), "detections": [
        {"class": class_names[int(c)], "class_id": int(c), "score": round(float(s), 4), "box_xyxy": [round(float(v), 1) for v in b]}
        for b, c, s in zip(item.boxes_xyxy, item.class_ids, item.scores)]}


def predict_video(model, path: Path, pre, class_names: list[str], out_dir: Path, conf: float, iou: float) -> dict:
    """Writes out_dir/<stem>_boxes.mp4 (H.264, the source's frame rate) and out_dir/<stem>_frames.json."""
    import av

    video_out, json_out = out_dir / f"{path.stem}_boxes.mp4", out_dir / f"{path.stem}_frames.json"
    refuse_existing([video_out, json_out])
    model.eval()
    try:
        source = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ImageReadError(path, f"cannot open as a video ({exc})") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, transform = [], box_eval_transform(pre)  # built once, not per frame
    with source, av.open(str(video_out), "w") as sink:
        stream = source.streams.video[0]
        rate = stream.average_rate or 25
        encoder = sink.add_stream("libx264", rate=rate)
        encoder.width, encoder.height, encoder.pix_fmt = stream.width // 2 * 2, stream.height // 2 * 2, "yuv420p"
        for index, frame in enumerate(source.decode(stream)):
            image = frame.to_image()
            item = detect_frame(model, image, pre, conf, iou, transform)
            seconds = float(frame.time) if frame.time is not None else index / float(rate)
            rows.append(_frame_row(index, seconds, item, class_names))
            picture = draw_boxes(image, item, class_names).crop((0, 0, encoder.width, encoder.height))
            for packet in encoder.encode(av.VideoFrame.from_image(picture)):
                sink.mux(packet)
        for packet in encoder.encode():
            sink.mux(packet)
    write_json(json_out, {"video": str(path), "fps": float(rate), "frames": rows}, indent=1)
    return {"video": str(path), "annotated": str(video_out), "frames_json": str(json_out), "frames": len(rows),
            "boxes": sum(len(r["detections"]) for r in rows)}
