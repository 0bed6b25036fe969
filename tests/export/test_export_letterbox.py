"""The exported chain fits a letterboxed detect run's pictures and maps its boxes back as the task itself does."""
import numpy as np
import pytest
from PIL import Image

from vislearn.data.box_transforms import box_eval_transform, boxes_to_file_pixels
from vislearn.export.boxes import file_pixels
from vislearn.export.bundle import model_input_and_size, preprocessing_entry
from vislearn.models import Preprocessing


@pytest.mark.parametrize("mode", ["letterbox", "stretch"])
@pytest.mark.parametrize("width, height", [(90, 50), (33, 70)])
def test_export_input_and_boxes_match_the_task_on_non_square_pictures(tmp_path, mode, width, height):
    rng = np.random.default_rng(0)
    path = tmp_path / "picture.png"
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    pre = Preprocessing((0.4, 0.5, 0.6), (0.2, 0.25, 0.3), 48, resize_mode=mode)
    sidecar_pre = {**preprocessing_entry(pre), "resize_mode": mode}
    exported, size = model_input_and_size(path, sidecar_pre)
    own, _ = box_eval_transform(pre)(Image.open(path).convert("RGB"), np.zeros((0, 4), np.float32))
    assert size == (width, height) and exported.shape == (3, 48, 48)
    assert np.abs(exported - own.numpy()).max() < 1e-5
    boxes_in_input = np.array([[3.0, 10.5, 20.25, 40.0], [0.0, 0.0, 48.0, 48.0]], np.float32)
    ours = boxes_to_file_pixels(boxes_in_input, pre, width, height)
    assert file_pixels(boxes_in_input, sidecar_pre, width, height) == pytest.approx(ours, abs=1e-3)
