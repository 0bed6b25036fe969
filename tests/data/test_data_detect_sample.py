"""The detect sample set: exact boxes, identical in its YOLO and COCO files, the same for the same seed."""
import numpy as np

from vislearn.data.detection import read_detection
from vislearn.data.samples.detect import make_image, object_photos, write_detect_sample


def test_sample_has_both_layouts_with_identical_boxes_and_is_deterministic(tmp_path):
    assert write_detect_sample(tmp_path / "a", limit=6, size=64) == 6 + 4 + 4
    write_detect_sample(tmp_path / "b", limit=6, size=64)
    coco, yolo = read_detection(tmp_path / "a"), read_detection(tmp_path / "a", layout="yolo")
    assert coco.layout == "coco" and yolo.layout == "yolo" and coco.class_names == yolo.class_names == ["cup", "cat", "rocket"]
    assert {k: len(v) for k, v in coco.splits.items()} == {"train": 6, "val": 4, "test": 4} and coco.warnings == yolo.warnings == []
    for split in coco.splits:
        for c, y in zip(coco.splits[split], yolo.splits[split]):
            assert c.path == y.path and c.class_ids.tolist() == y.class_ids.tolist() and 1 <= len(c.class_ids) <= 4
            np.testing.assert_allclose(c.boxes_xyxy, y.boxes_xyxy, atol=1e-3)
    for label in (tmp_path / "a" / "labels" / "train").glob("*.txt"):
        assert label.read_text() == (tmp_path / "b" / "labels" / "train" / label.name).read_text()
    assert not (tmp_path / "a" / ".staging").exists()


def test_sample_boxes_frame_the_pasted_objects_exactly():
    rng = np.random.default_rng(0)
    black = [np.zeros((300, 300, 3), np.float32)]  # a black texture: every lit pixel belongs to a pasted object
    for _ in range(10):
        picture, boxes, ids = make_image(black, object_photos(), 64, rng)
        lit = np.asarray(picture).max(axis=2) > 0
        inside = np.zeros_like(lit)
        for x1, y1, x2, y2 in boxes:
            inside[y1:y2, x1:x2] = True
            edges = [lit[y1, x1:x2], lit[y2 - 1, x1:x2], lit[y1:y2, x1], lit[y1:y2, x2 - 1]]
            assert all(edge.mean() > 0.5 for edge in edges)  # the box is tight on every side
        assert not (lit & ~inside).any() and 1 <= len(ids) <= 4  # nothing outside the boxes


def test_sample_images_are_written_once_in_place_and_never_overwritten(tmp_path, monkeypatch):
    import shutil

    import pytest

    from vislearn.errors import DataLayoutError

    copies = []
    monkeypatch.setattr(shutil, "copyfile", lambda *a, **k: copies.append(a))
    write_detect_sample(tmp_path / "a", limit=4, size=48)
    assert copies == [] and sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "annotations_test.json", "annotations_train.json", "annotations_val.json", "classes.txt", "images", "labels"]
    assert len(list((tmp_path / "a" / "images").rglob("*.png"))) == len(list((tmp_path / "a" / "labels").rglob("*.txt"))) == 12
    with pytest.raises(DataLayoutError, match="already exists"):
        write_detect_sample(tmp_path / "a", limit=4, size=48)
