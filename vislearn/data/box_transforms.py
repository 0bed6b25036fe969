"""Augmentations that move boxes with the pixels: flip, crop, resize; colour changes touch the image only.

The last step fits the picture to the model's square input by the run's ``resize_mode`` (:data:`RESIZE_MODES`):
"stretch" (each side to the input size, the aspect ratio lost) or "letterbox" (the longer side to the input size, the
aspect ratio kept, the rest padded with the normalisation mean, i.e. zeros); :func:`boxes_to_file_pixels` undoes either.

Each geometric function takes a PIL image and ``boxes_xyxy`` (N, 4) float pixels and returns both, consistent.
Randomness comes from torch's generator, so the engine's per-epoch seeding makes runs repeatable.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2 as T

from ..registry import Registry

BOX_AUGMENTATIONS: Registry = Registry("box augmentation")
RESIZE_MODES: Registry = Registry("resize mode")


class InputFit(NamedTuple):
    """Where a width x height picture lands in the square input: resized to ``resized_wh``, pasted at ``pad_xy``."""

    resized_wh: tuple[int, int]
    pad_xy: tuple[int, int]


@RESIZE_MODES.register("stretch")
def _stretch(width: int, height: int, size: int) -> InputFit:
    return InputFit((size, size), (0, 0))


@RESIZE_MODES.register("letterbox")
def _letterbox(width: int, height: int, size: int) -> InputFit:
    scale = size / max(width, height)
    resized = (max(1, min(size, round(width * scale))), max(1, min(size, round(height * scale))))
    return InputFit(resized, ((size - resized[0]) // 2, (size - resized[1]) // 2))


def input_fit(pre, width: int, height: int) -> InputFit:
    """Where a ``width`` x ``height`` picture lands in ``pre``'s input (``pre.resize_mode``; "stretch" when it has none)."""
    return RESIZE_MODES.get(getattr(pre, "resize_mode", "stretch"))(width, height, pre.image_size)


def _scale_and_pad(fit: InputFit, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    scale = np.asarray([fit.resized_wh[0] / width, fit.resized_wh[1] / height] * 2, np.float64)
    return scale, np.asarray(fit.pad_xy * 2, np.float64)


def fit_to_input(image: Image.Image, boxes_xyxy: np.ndarray, pre) -> tuple[Image.Image, np.ndarray]:
    """The picture as the model's ``pre.image_size`` square input (by ``pre.resize_mode``), boxes moved with it."""
    size, fit = pre.image_size, input_fit(pre, image.width, image.height)
    scale, pad = _scale_and_pad(fit, image.width, image.height)
    resized = image.resize(fit.resized_wh, Image.BILINEAR)
    if fit.resized_wh != (size, size):
        fill = tuple(int(round(255 * m)) for m in pre.mean)
        canvas = Image.new("RGB", (size, size), fill)
        canvas.paste(resized, fit.pad_xy)
        resized = canvas
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) * scale + pad
    return resized, boxes.astype(np.float32)


def boxes_to_file_pixels(boxes_xyxy: np.ndarray, pre, width: int, height: int) -> np.ndarray:
    """float32 xyxy boxes (..., 4) in the model's input back to a ``width`` x ``height`` file's pixels (inverse of
    :func:`fit_to_input`), clipped to the picture (a letterboxed box may reach into the padding)."""
    scale, pad = _scale_and_pad(input_fit(pre, width, height), width, height)
    boxes = (np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) - pad) / scale
    return np.clip(boxes, 0, [width, height, width, height]).astype(np.float32).reshape(np.shape(boxes_xyxy))


def hflip(image: Image.Image, boxes_xyxy: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    width = image.width
    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
    flipped = np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], axis=1)
    return image.transpose(Image.FLIP_LEFT_RIGHT), flipped


def crop(image: Image.Image, boxes_xyxy: np.ndarray, window_xyxy: tuple[int, int, int, int]) -> tuple[Image.Image, np.ndarray]:
    """Cut ``window_xyxy`` out; boxes shift with it and are clipped to it (callers keep boxes inside)."""
    x1, y1, x2, y2 = window_xyxy
    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4) - np.asarray([x1, y1, x1, y1], np.float32)
    return image.crop(window_xyxy), np.clip(boxes, 0, [x2 - x1, y2 - y1, x2 - x1, y2 - y1]).astype(np.float32)


def _uniform(lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand(()))


def random_crop_window(width: int, height: int, boxes_xyxy: np.ndarray, min_scale: float = 0.6) -> tuple[int, int, int, int]:
    """A window of at least ``min_scale`` of each side that contains every box whole (so no box is cut or lost)."""
    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
    if len(boxes):
        need = (int(np.floor(boxes[:, 0].min())), int(np.floor(boxes[:, 1].min())),
                int(np.ceil(boxes[:, 2].max())), int(np.ceil(boxes[:, 3].max())))
    else:
        need = (width // 2, height // 2, width // 2, height // 2)
    w = int(round(max(need[2] - need[0], _uniform(min_scale, 1.0) * width)))
    h = int(round(max(need[3] - need[1], _uniform(min_scale, 1.0) * height)))
    x1 = int(round(_uniform(max(0, need[2] - w), min(need[0], width - w))))
    y1 = int(round(_uniform(max(0, need[3] - h), min(need[1], height - h))))
    return x1, y1, x1 + w, y1 + h


def input_map_to_file(map_hw: np.ndarray, pre, width: int, height: int) -> np.ndarray:
    """A (S, S) float map over the model's input -> (height, width) over the file: the padding cut off, then resized."""
    (x, y), (w, h) = input_fit(pre, width, height)[::-1]
    picture = Image.fromarray(np.asarray(map_hw, np.float32)[y:y + h, x:x + w], mode="F")
    return np.array(picture.resize((width, height), Image.BILINEAR), np.float32)  # a writable copy


class BoxTransform:
    """``(PIL image, boxes_xyxy) -> (image_chw normalised float tensor, boxes_xyxy float tensor at the output size)``."""

    def __init__(self, pre, steps: list[Callable] | None = None):
        self.pre = pre
        self.steps = steps or []
        self.to_tensor = T.Compose([T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize(pre.mean, pre.std)])

    def __call__(self, image: Image.Image, boxes_xyxy: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        for step in self.steps:
            image, boxes_xyxy = step(image, boxes_xyxy)
        image, boxes_xyxy = fit_to_input(image, boxes_xyxy, self.pre)
        return self.to_tensor(image), torch.as_tensor(boxes_xyxy, dtype=torch.float32).reshape(-1, 4)


def _random_flip(image, boxes):
    return hflip(image, boxes) if float(torch.rand(())) < 0.5 else (image, boxes)


def _random_crop(image, boxes):
    return crop(image, boxes, random_crop_window(image.width, image.height, boxes)) if float(torch.rand(())) < 0.7 else (image, boxes)


def _colour():
    jitter = T.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.25, hue=0.02)
    return lambda image, boxes: (jitter(image), boxes)


@BOX_AUGMENTATIONS.register("none")
def _none() -> list[Callable]:
    return []


@BOX_AUGMENTATIONS.register("light")
def _light() -> list[Callable]:
    """Crops that keep every box whole, horizontal flips, brightness/contrast/saturation jitter."""
    return [_random_crop, _random_flip, _colour()]


BOX_AUGMENTATIONS.register("flip")(_light)  # the classifier's name for "light plus flips": detection always flips


def box_train_transform(pre, augment: str = "light") -> BoxTransform:
    return BoxTransform(pre, BOX_AUGMENTATIONS.get(augment)())


def box_eval_transform(pre) -> BoxTransform:
    return BoxTransform(pre)
