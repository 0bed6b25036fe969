"""Box formats and the checks every reader applies at the boundary."""
import numpy as np
import pytest

from vislearn.data.boxes import (
    boxes_cxcywh_to_xyxy,
    boxes_xywh_to_xyxy,
    boxes_xyxy_to_cxcywh,
    boxes_xyxy_to_xywh,
    check_boxes,
    copy_record_images,
    input_boxes_to_file_pixels,
)
from vislearn.errors import DataLayoutError


def test_formats_round_trip_exactly():
    xyxy = np.array([[10.0, 20.0, 50.0, 80.0]])
    assert boxes_xyxy_to_xywh(xyxy).tolist() == [[10, 20, 40, 60]]
    assert boxes_xyxy_to_cxcywh(xyxy).tolist() == [[30, 50, 40, 60]]
    assert boxes_xywh_to_xyxy([[10, 20, 40, 60]]).tolist() == xyxy.tolist()
    assert boxes_cxcywh_to_xyxy([[30, 50, 40, 60]]).tolist() == xyxy.tolist()


def _check(boxes, ids=(0,), width=100, height=100):
    warnings = []
    out = check_boxes(np.array(boxes, float), list(ids), width, height, 2, "a.txt", [f"line {i + 1}" for i in range(len(ids))], warnings)
    return out, warnings


def test_box_partly_outside_is_clipped_with_a_warning_naming_file_and_record():
    (boxes, ids), warnings = _check([[-10, 5, 50, 120]])
    assert boxes.tolist() == [[0, 5, 50, 100]] and ids.tolist() == [0]
    assert len(warnings) == 1 and "a.txt, line 1" in warnings[0] and "clipped" in warnings[0]


def test_box_wholly_outside_is_an_error_naming_the_record():
    with pytest.raises(DataLayoutError, match=r"a.txt, line 1: .*wholly outside the 100x100 image"):
        _check([[120, 5, 150, 50]])


def test_zero_area_box_is_left_out_with_a_warning():
    (boxes, ids), warnings = _check([[10, 10, 10, 50], [1, 1, 5, 5]], ids=(0, 1))
    assert boxes.tolist() == [[1, 1, 5, 5]] and ids.tolist() == [1]
    assert "line 1" in warnings[0] and "zero area" in warnings[0]


def test_unknown_class_is_an_error():
    with pytest.raises(DataLayoutError, match=r"a.txt, line 1: class id 5 is not one of the 2 classes"):
        _check([[1, 1, 5, 5]], ids=(5,))


def test_rounding_overshoot_is_clipped_silently():
    (boxes, _), warnings = _check([[0, 0, 100.00001, 50]])
    assert boxes.tolist() == [[0, 0, 100, 50]] and warnings == []


def test_boxes_on_the_model_input_scale_to_the_file_width_and_height():
    boxes = np.array([[8.0, 16.0, 32.0, 64.0]], np.float32)  # on a 64 x 64 input
    scaled = input_boxes_to_file_pixels(boxes, 64, 200, 100)
    assert scaled.dtype == np.float32 and scaled.tolist() == [[25.0, 25.0, 100.0, 100.0]]
    assert input_boxes_to_file_pixels(boxes[0], 64, 200, 100).tolist() == [25.0, 25.0, 100.0, 100.0]  # one box (4,)
    assert input_boxes_to_file_pixels(np.zeros((0, 4), np.float32), 64, 200, 100).shape == (0, 4)


def test_copied_images_get_unique_names_and_nothing_is_overwritten(tmp_path):
    from vislearn.data.boxes import BoxRecord

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.png").write_bytes(folder.encode())
    none = np.zeros((0, 4), np.float32)
    records = [BoxRecord(str(tmp_path / f / "x.png"), 4, 4, none, np.zeros(0, np.int64)) for f in ("a", "b")]
    copied = copy_record_images(records, tmp_path / "out")
    assert [p.rsplit("/", 1)[1] for p in (r.path for r in copied)] == ["x.png", "000001_x.png"]
    assert [open(r.path, "rb").read() for r in copied] == [b"a", b"b"] and (tmp_path / "a" / "x.png").read_bytes() == b"a"
    with pytest.raises(DataLayoutError, match="already exists"):
        copy_record_images(records[:1], tmp_path / "out")
