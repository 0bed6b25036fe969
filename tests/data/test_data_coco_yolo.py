"""COCO and YOLO readers: same boxes from both, bad records named, background images kept, conversion both ways."""
import json

import numpy as np
import pytest
from PIL import Image

from vislearn.cli import main
from vislearn.data.coco import read_coco
from vislearn.data.convert import convert
from vislearn.data.detection import read_detection, read_splits
from vislearn.data.yolo import read_names
from vislearn.errors import DataLayoutError


def _image(path, size=(100, 80)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 30)).save(path)


def _coco(root, annotations, images=None, categories=None):
    _image(root / "a.png"), _image(root / "b.png")
    data = {"images": images or [{"id": 1, "file_name": "a.png", "width": 100, "height": 80},
                                 {"id": 2, "file_name": "b.png", "width": 100, "height": 80}],
            "annotations": annotations, "categories": categories or [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}]}
    (root / "annotations.json").write_text(json.dumps(data))
    return root / "annotations.json"


def _yolo(root, lines="1 0.5 0.5 0.2 0.25\n", names="cat\ndog\n"):
    _image(root / "images" / "a.png"), _image(root / "images" / "b.png")
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "a.txt").write_text(lines)
    (root / "classes.txt").write_text(names)
    return root


def test_coco_boxes_are_xyxy_pixels_and_unannotated_images_are_background(tmp_path):
    coco = read_coco(_coco(tmp_path, [{"id": 11, "image_id": 1, "category_id": 7, "bbox": [40, 30, 20, 20]}]))
    assert coco.class_names == ["cat", "dog"]
    a, b = coco.records
    assert a.boxes_xyxy.tolist() == [[40, 30, 60, 50]] and a.class_ids.tolist() == [1]
    assert len(b.boxes_xyxy) == 0 and coco.warnings == [] and coco.skipped == []


def test_yolo_reads_the_same_box_as_coco(tmp_path):
    data = read_splits(_yolo(tmp_path))
    a = [r for r in data.splits["all"] if r.path.endswith("a.png")][0]
    assert data.layout == "yolo" and data.class_names == ["cat", "dog"]
    assert a.boxes_xyxy.tolist() == [[40, 30, 60, 50]] and a.class_ids.tolist() == [1]


def test_coco_unknown_category_names_the_annotation_id(tmp_path):
    path = _coco(tmp_path, [{"id": 11, "image_id": 1, "category_id": 9, "bbox": [40, 30, 20, 20]}])
    with pytest.raises(DataLayoutError, match=r"annotation id 11: category_id 9 is not in 'categories'"):
        read_coco(path)


def test_coco_missing_image_is_skipped_and_reported(tmp_path):
    images = [{"id": 1, "file_name": "a.png", "width": 100, "height": 80}, {"id": 2, "file_name": "gone.png", "width": 100, "height": 80}]
    coco = read_coco(_coco(tmp_path, [], images=images))
    assert len(coco.records) == 1 and len(coco.skipped) == 1
    assert coco.skipped[0].path.endswith("gone.png") and "image id 2" in coco.skipped[0].reason


def test_coco_box_outside_image_names_file_and_annotation(tmp_path):
    path = _coco(tmp_path, [{"id": 5, "image_id": 1, "category_id": 3, "bbox": [200, 30, 20, 20]}])
    with pytest.raises(DataLayoutError, match=r"annotations.json, annotation id 5: .*wholly outside"):
        read_coco(path)


def test_yolo_malformed_line_names_file_and_line_number(tmp_path):
    _yolo(tmp_path, lines="0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2\n")
    with pytest.raises(DataLayoutError, match=r"a.txt, line 2: expected 'class cx cy w h'"):
        read_splits(tmp_path)


def test_yolo_unknown_class_names_the_line(tmp_path):
    _yolo(tmp_path, lines="4 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DataLayoutError, match=r"a.txt, line 1: class id 4"):
        read_splits(tmp_path)


def test_yolo_without_names_says_what_to_add(tmp_path):
    _yolo(tmp_path)
    (tmp_path / "classes.txt").unlink()
    with pytest.raises(DataLayoutError, match="classes.txt"):
        read_splits(tmp_path)


@pytest.mark.parametrize("text", ["names: [cat, dog]\n", "names:\n  - cat\n  - dog\n", "nc: 2\nnames:\n  0: cat\n  1: 'dog'\n"])
def test_yolo_data_yaml_names_in_the_three_usual_forms(tmp_path, text):
    (tmp_path / "data.yaml").write_text(text)
    assert read_names(tmp_path / "data.yaml") == ["cat", "dog"]


def test_unsplit_data_is_split_reproducibly(tmp_path):
    _yolo(tmp_path)
    for i in range(8):
        _image(tmp_path / "images" / f"x{i}.png")
    first = read_detection(tmp_path, seed=3, val_fraction=0.2, test_fraction=0.2)
    again = read_detection(tmp_path, seed=3, val_fraction=0.2, test_fraction=0.2)
    assert {k: len(v) for k, v in first.splits.items()} == {"train": 6, "val": 2, "test": 2}
    assert [r.path for r in first.splits["val"]] == [r.path for r in again.splits["val"]]


def test_convert_coco_to_yolo_and_back_keeps_boxes_and_never_overwrites(tmp_path):
    src = _coco(tmp_path / "src", [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [40.5, 30, 20, 20.25]},
                                   {"id": 2, "image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10]}]).parent
    convert(src, tmp_path / "yolo", "yolo")
    assert (tmp_path / "yolo" / "labels" / "a.txt").read_text().splitlines()[0] == "1 0.505000 0.501563 0.200000 0.253125"
    assert main(["data", "convert", str(tmp_path / "yolo"), str(tmp_path / "back"), "--to", "coco", "--quiet"]) == 0
    back = read_splits(tmp_path / "back")
    records = sorted(back.splits["all"], key=lambda r: r.path)
    assert back.class_names == ["cat", "dog"]
    np.testing.assert_allclose(records[0].boxes_xyxy, [[40.5, 30, 60.5, 50.25], [0, 0, 10, 10]], atol=1e-3)
    assert records[0].class_ids.tolist() == [1, 0] and len(records[1].class_ids) == 0
    assert main(["data", "convert", str(src), str(tmp_path / "yolo"), "--to", "yolo", "--quiet"]) == 2  # DST not empty
    assert sorted(p.name for p in src.iterdir()) == ["a.png", "annotations.json", "b.png"]  # source untouched


def test_too_few_images_for_a_validation_split_is_a_clear_error(tmp_path):
    _yolo(tmp_path)  # two images: 15 % of 2 rounds to no validation image
    with pytest.raises(DataLayoutError, match="no validation images"):
        read_detection(tmp_path)


def test_coco_and_prediction_json_are_written_atomically_and_never_overwrite(tmp_path, monkeypatch):
    from vislearn import files
    from vislearn.data.boxes import BoxRecord
    from vislearn.data.coco import write_coco
    from vislearn.tasks.detect.files import write_json_new

    atomic, plain = [], files.atomic_write_bytes
    monkeypatch.setattr(files, "atomic_write_bytes", lambda path, write: atomic.append(path.name) or plain(path, write))
    _image(tmp_path / "a.png")
    record = BoxRecord(str(tmp_path / "a.png"), 100, 80, np.asarray([[10, 20, 40.5, 60]], np.float32), np.asarray([1]))
    coco = write_coco(tmp_path / "out" / "annotations.json", ["cat", "dog"], [record])
    assert json.loads(coco.read_text())["annotations"][0]["bbox"] == [10.0, 20.0, 30.5, 40.0]
    assert coco.read_text().startswith('{\n "images"')  # indent 1, as before
    new = write_json_new(tmp_path / "out" / "predictions.json", {"annotations": []})
    assert json.loads(new.read_text()) == {"annotations": []} and atomic == ["annotations.json", "predictions.json"]
    for again in (lambda: write_coco(coco, ["cat"], []), lambda: write_json_new(new, {})):
        with pytest.raises(DataLayoutError, match="already exists"):
            again()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["annotations.json", "predictions.json"]  # no temp files left


def test_one_coco_builder_rounds_scores_and_names_as_asked():
    from vislearn.data.coco import coco_dataset
    from vislearn.metrics.detection import ImageBoxes

    item = ImageBoxes(np.asarray([[1.0, 2.0, 11.126, 22.334]], np.float32), np.asarray([1]), np.asarray([0.876543], np.float32))
    exact = coco_dataset(["cat", "dog"], [{}], [item])
    assert exact["images"] == [{"id": 1}] and exact["categories"] == [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    ann = exact["annotations"][0]
    assert list(ann) == ["id", "image_id", "category_id", "bbox", "area", "iscrowd"] and ann["category_id"] == 2
    assert ann["bbox"] == pytest.approx([1, 2, 10.126, 20.334], abs=1e-5) and ann["area"] == pytest.approx(10.126 * 20.334, abs=1e-3)
    shown = coco_dataset(["cat", "dog"], [{"file_name": "a.png"}], [item], decimals=2, with_scores=True, score_decimals=4,
                         category_names=True)["annotations"][0]
    assert list(shown) == ["id", "image_id", "category_id", "category", "bbox", "area", "score", "iscrowd"]
    assert shown["category"] == "dog" and shown["bbox"] == [1.0, 2.0, 10.13, 20.33] and shown["score"] == 0.8765
    assert shown["area"] == 205.9  # round(10.126 * 20.334, 2): the exact box's area
    written = coco_dataset(["cat", "dog"], [{}], [item], decimals=2, area_of_rounded_box=True)["annotations"][0]
    assert written["area"] == 205.94  # round(10.13 * 20.33, 2): the area of the box as written
