"""Box-aware augmentations move boxes with the pixels; colour changes leave boxes alone."""
import numpy as np
import pytest
import torch
from PIL import Image

from vislearn.data.box_transforms import (
    box_eval_transform,
    box_train_transform,
    boxes_to_file_pixels,
    crop,
    fit_to_input,
    hflip,
    input_map_to_file,
    random_crop_window,
)
from vislearn.models import Preprocessing


def _marked(width=40, height=30, box=(5, 10, 15, 20)) -> Image.Image:
    """Black image with one white rectangle exactly at ``box`` (x1, y1, x2, y2)."""
    a = np.zeros((height, width, 3), np.uint8)
    a[box[1]:box[3], box[0]:box[2]] = 255
    return Image.fromarray(a)


def _white_box(image: Image.Image) -> list[int]:
    ys, xs = np.nonzero(np.asarray(image)[..., 0] > 127)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def test_hflip_moves_the_box_with_the_pixels():
    image, boxes = hflip(_marked(), np.array([[5, 10, 15, 20]]))
    assert boxes.tolist() == [[25, 10, 35, 20]] and _white_box(image) == [25, 10, 35, 20]


def test_stretch_scales_boxes_per_axis():
    image, boxes = fit_to_input(_marked(), np.array([[5, 10, 15, 20]]), Preprocessing((0.0,) * 3, (1.0,) * 3, 60))
    assert image.size == (60, 60) and boxes.tolist() == [[7.5, 20, 22.5, 40]]


def test_letterbox_keeps_the_aspect_ratio_and_pads_with_the_mean_colour():
    pre = Preprocessing((0.2,) * 3, (0.5,) * 3, 80, resize_mode="letterbox")
    image, boxes = fit_to_input(_marked(40, 20, (4, 6, 16, 14)), np.array([[4, 6, 16, 14]]), pre)
    # 40 x 20 -> 80 x 40 (scale 2), centred: 20 rows of padding above and below
    assert image.size == (80, 80) and boxes.tolist() == [[8, 32, 32, 48]] and _white_box(image) == [8, 32, 32, 48]
    assert np.asarray(image)[:20].max() == np.asarray(image)[60:].min() == 51  # the mean colour: zeros once normalised


@pytest.mark.parametrize("mode", ["letterbox", "stretch"])
@pytest.mark.parametrize("width, height", [(97, 41), (41, 97), (64, 64), (1000, 7)])
def test_boxes_go_back_to_the_file_pixels_exactly(mode, width, height):
    pre = Preprocessing((0.0,) * 3, (1.0,) * 3, 64, resize_mode=mode)
    boxes = np.array([[0, 0, width, height], [1.5, 2, 7, min(height, 5.25)]], np.float32)
    _, in_input = fit_to_input(Image.new("RGB", (width, height)), boxes, pre)
    assert boxes_to_file_pixels(in_input, pre, width, height) == pytest.approx(boxes, abs=1e-4)
    assert boxes_to_file_pixels(in_input[0], pre, width, height).shape == (4,)


def test_a_map_over_the_letterboxed_input_comes_back_over_the_picture_only():
    pre = Preprocessing((0.0,) * 3, (1.0,) * 3, 8, resize_mode="letterbox")
    map_hw = np.zeros((8, 8), np.float32)
    map_hw[2:6] = 1.0  # the picture's rows; the padding rows stay 0
    assert input_map_to_file(map_hw, pre, 16, 8).shape == (8, 16) and input_map_to_file(map_hw, pre, 16, 8).min() == 1.0


def test_crop_shifts_boxes_into_the_window():
    image, boxes = crop(_marked(), np.array([[5, 10, 15, 20]]), (3, 4, 33, 28))
    assert image.size == (30, 24) and boxes.tolist() == [[2, 6, 12, 16]] and _white_box(image) == [2, 6, 12, 16]


def test_random_crop_window_always_keeps_every_box_whole():
    torch.manual_seed(0)
    boxes = np.array([[5, 10, 15, 20], [30, 2, 38, 9]], np.float32)
    for _ in range(200):
        x1, y1, x2, y2 = random_crop_window(40, 30, boxes, min_scale=0.5)
        assert 0 <= x1 <= 5 and 0 <= y1 <= 2 and 38 <= x2 <= 40 and 20 <= y2 <= 30


def test_train_transform_keeps_box_on_the_object_and_colour_changes_nothing_else():
    pre = Preprocessing((0.0,) * 3, (1.0,) * 3, 40)
    torch.manual_seed(1)
    transform = box_train_transform(pre, "light")
    for _ in range(20):
        image_chw, boxes = transform(_marked(40, 40, (8, 12, 20, 30)), np.array([[8, 12, 20, 30]], np.float32))
        x1, y1, x2, y2 = boxes[0].tolist()
        inside = image_chw[:, int(np.ceil(y1)) + 1:int(y2) - 1, int(np.ceil(x1)) + 1:int(x2) - 1].mean()
        outside = torch.cat([image_chw[:, :, :max(1, int(x1) - 1)].flatten(), image_chw[:, :, int(np.ceil(x2)) + 1:].flatten()]).mean()
        assert inside > outside + 0.3  # the box still frames the bright object


def test_eval_transform_returns_tensor_and_scaled_boxes():
    pre = Preprocessing((0.5,) * 3, (0.5,) * 3, 20)
    image_chw, boxes = box_eval_transform(pre)(_marked(), np.array([[5, 10, 15, 20]]))
    assert image_chw.shape == (3, 20, 20) and boxes[0].tolist() == pytest.approx([2.5, 10 * 20 / 30, 7.5, 20 * 20 / 30])
