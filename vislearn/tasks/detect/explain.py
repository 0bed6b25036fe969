"""Grad-CAM for one detection: back-propagate that box's class score to a feature map and weigh its channels.

vislearn.explain's one Grad-CAM with a :class:`~vislearn.explain.gradcam.BoxScore` target: the box's own heatmap logit
(CenterNet) or its class score after torchvision's post-processing.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from ...data.box_transforms import box_eval_transform, boxes_to_file_pixels, input_map_to_file
from ...data.images import read_image
from ...engine import write_json
from ...explain.gradcam import BoxScore, GradCAM
from ...explain.overlay import heatmap_overlay
from ...metrics.detection import ImageBoxes
from .files import draw_boxes, upscaled
from .kinds import kind_of

EXPLAINED_IMAGES, BOXES_PER_IMAGE = 3, 3


class ExplainedBox(NamedTuple):
    box_xyxy: np.ndarray  # (4,) in the image file's pixels
    class_id: int
    score: float
    heatmap_hw: np.ndarray  # (H, W) in [0, 1] at the image file's size


def explain_boxes(model, image: Image.Image, pre, conf: float = 0.25, iou: float = 0.5, top: int = BOXES_PER_IMAGE,
                  class_id: int | None = None) -> list[ExplainedBox]:
    """Grad-CAM heatmaps of the ``top`` best detections (of ``class_id`` if given) above ``conf``."""
    kind = kind_of(model)
    layer = kind.explain_layer(model)
    inputs, _ = box_eval_transform(pre)(image, np.zeros((0, 4), np.float32))
    explained = []
    with GradCAM(model, layer, lambda m, x: [kind.scored(m, x, conf, iou)]) as cam:
        [(found, scores)] = cam.forward(inputs[None])
        chosen = [j for j in range(len(scores)) if class_id is None or int(found.class_ids[j]) == class_id][:top]
        for j in chosen:
            heat_hw = input_map_to_file(cam([BoxScore(j)], (pre.image_size,) * 2)[0].cpu().numpy(), pre, image.width, image.height)
            box_xyxy = found.boxes_xyxy[j].detach().float().cpu().numpy()
            box_xyxy = boxes_to_file_pixels(box_xyxy, pre, image.width, image.height)
            explained.append(ExplainedBox(box_xyxy, int(found.class_ids[j]), float(found.scores[j]), heat_hw))
    return explained


def explanation_picture(image: Image.Image, box: ExplainedBox, class_names: list[str]) -> Image.Image:
    """The heatmap over the photo with the explained box drawn on top."""
    overlay = Image.fromarray(heatmap_overlay(np.asarray(image.convert("RGB")), box.heatmap_hw))
    single = ImageBoxes(box.box_xyxy[None], np.asarray([box.class_id]), np.asarray([box.score]))
    return upscaled(draw_boxes(overlay, single, class_names))


def write_explanations(model, image_path: str, pre, class_names: list[str], out_dir: Path, stem: str, conf: float = 0.25,
                       iou: float = 0.5, class_id: int | None = None, top: int = BOXES_PER_IMAGE) -> list[dict]:
    image = read_image(image_path)
    rows = []
    for j, box in enumerate(explain_boxes(model, image, pre, conf, iou, top, class_id)):
        path = out_dir / f"{stem}_box{j}_{class_names[box.class_id]}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        explanation_picture(image, box, class_names).save(path)
        rows.append({"path": image_path, "picture": str(path), "class": class_names[box.class_id], "score": round(box.score, 4),
                     "box_xyxy": [round(float(v), 1) for v in box.box_xyxy]})
    return rows


def explain_examples(run_dir: Path, model, pre, class_names: list[str], examples: list[dict]) -> list[dict]:
    """Heatmaps of the best detections in the first few example images: explain/detections/*.png + detections.json."""
    rows = []
    model = model.cpu().eval()
    for i, example in enumerate(examples[:EXPLAINED_IMAGES]):
        stem = f"{i:02d}_{Path(example['path']).stem}"
        rows += write_explanations(model, example["path"], pre, class_names, run_dir / "explain" / "detections", stem)
    write_json(run_dir / "explain" / "detections.json", rows)
    return rows
