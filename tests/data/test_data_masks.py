"""Reading image/mask pairs: PNG mask folders and COCO JSON, and every way they can be wrong."""
import json

import numpy as np
import pytest
from PIL import Image

from vislearn.data.coco_masks import rasterize
from vislearn.data.mask_dataset import read_sample_mask
from vislearn.data.masks import read_mask_data, save_mask_png
from vislearn.errors import DataLayoutError

MASK = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 0, 0], [2, 2, 0, 255]], np.uint8)


def write_pair(root, stem, mask=MASK, size=(4, 4)):
    (root / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (10, 20, 30)).save(root / "images" / f"{stem}.png")
    save_mask_png(mask, root / "masks" / f"{stem}.png")


def mask_folder(root, n=10, names=("background", "disc", "square")):
    for i in range(n):
        write_pair(root, f"im{i:02d}")
    (root / "classes.json").write_text(json.dumps(list(names)))
    return root


def test_folder_layout_pairs_by_stem_and_splits_with_the_seed(tmp_path):
    data = read_mask_data(mask_folder(tmp_path), seed=3, val_fraction=0.2, test_fraction=0.2)
    assert data.class_names == ["background", "disc", "square"]
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 6, "val": 2, "test": 2}
    assert data.counts()["train"] == {"background": 6, "disc": 6, "square": 6}
    again = read_mask_data(tmp_path, seed=3, val_fraction=0.2, test_fraction=0.2)
    assert [s.path for s in again.splits["test"]] == [s.path for s in data.splits["test"]]
    assert (read_sample_mask(data.splits["train"][0]) == MASK).all()


def test_train_val_test_subfolders_are_used_as_given(tmp_path):
    for split, n in (("train", 3), ("val", 2), ("test", 1)):
        mask_folder(tmp_path / split, n)
    (tmp_path / "classes.json").write_text(json.dumps(["background", "disc", "square"]))
    data = read_mask_data(tmp_path)
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 3, "val": 2, "test": 1}


def test_image_without_mask_is_an_error_naming_it(tmp_path):
    mask_folder(tmp_path, 3)
    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "lonely.png")
    with pytest.raises(DataLayoutError, match=r"lonely\.png: image has no mask"):
        read_mask_data(tmp_path)


def test_mask_without_image_is_an_error_naming_it(tmp_path):
    mask_folder(tmp_path, 3)
    save_mask_png(MASK, tmp_path / "masks" / "orphan.png")
    with pytest.raises(DataLayoutError, match=r"orphan\.png: mask has no image"):
        read_mask_data(tmp_path)


def test_mask_of_another_size_is_an_error_naming_both_files(tmp_path):
    mask_folder(tmp_path, 3)
    write_pair(tmp_path, "big", size=(5, 4))
    with pytest.raises(DataLayoutError, match=r"masks/big\.png: mask is 4x4 but its image .*big\.png is 5x4"):
        read_mask_data(tmp_path)


def test_undeclared_class_values_are_an_error(tmp_path):
    mask_folder(tmp_path, 3, names=("background", "disc"))
    with pytest.raises(DataLayoutError, match=r"pixel values \[2\] are not declared classes"):
        read_mask_data(tmp_path)


def test_colour_mask_is_an_error_saying_how_to_save_it(tmp_path):
    mask_folder(tmp_path, 3)
    Image.new("RGB", (4, 4), (200, 0, 0)).save(tmp_path / "masks" / "im00.png")
    with pytest.raises(DataLayoutError, match="one-channel PNG"):
        read_mask_data(tmp_path)


def test_unreadable_image_is_skipped_and_reported(tmp_path):
    mask_folder(tmp_path, 5)
    (tmp_path / "images" / "im01.png").write_bytes(b"not a png")
    data = read_mask_data(tmp_path, val_fraction=0.2, test_fraction=0.2)
    assert sum(len(v) for v in data.splits.values()) == 4
    assert [p.path.endswith("im01.png") for p in data.skipped] == [True]


def test_without_classes_json_classes_are_named_from_the_mask_values(tmp_path):
    mask_folder(tmp_path, 4)
    (tmp_path / "classes.json").unlink()
    data = read_mask_data(tmp_path)
    assert data.class_names == ["class_0", "class_1", "class_2"]
    assert "no " in data.warnings[0]


def coco_file(root, annotations, images=None, categories=None):
    (root / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 6)).save(root / "images" / "a.png")
    coco = {"images": images or [{"id": 1, "file_name": "a.png", "width": 8, "height": 6}], "annotations": annotations,
            "categories": categories or [{"id": 7, "name": "disc"}, {"id": 9, "name": "square"}]}
    (root / "annotations.json").write_text(json.dumps(coco))
    return root / "annotations.json"


def test_coco_polygons_and_rle_become_class_masks(tmp_path):
    from pycocotools import mask as mask_utils

    square = np.zeros((6, 8), np.uint8)
    square[3:6, 5:8] = 1
    rle = mask_utils.encode(np.asfortranarray(square))
    rle["counts"] = rle["counts"].decode()
    anns = [{"id": 1, "image_id": 1, "category_id": 7, "segmentation": [[0, 0, 4, 0, 4, 3, 0, 3]]},
            {"id": 2, "image_id": 1, "category_id": 9, "segmentation": rle}]
    data = read_mask_data(coco_file(tmp_path, anns), val_fraction=0, test_fraction=0)
    assert data.class_names == ["background", "disc", "square"]
    mask = read_sample_mask(data.splits["train"][0])
    assert mask.shape == (6, 8)
    assert (mask[3:6, 5:8] == 2).all() and (mask == 2).sum() == 9
    assert (mask == 1).sum() > 0 and mask[1, 1] == 1 and mask[5, 0] == 0


def test_coco_image_record_without_file_is_an_error_naming_the_record(tmp_path):
    images = [{"id": 1, "file_name": "a.png", "width": 8, "height": 6}, {"id": 2, "file_name": "gone.png", "width": 8, "height": 6}]
    with pytest.raises(DataLayoutError, match=r"image record id=2 file_name='gone\.png'.*not found"):
        read_mask_data(coco_file(tmp_path, [], images))


def test_coco_unknown_category_is_an_error_naming_the_annotation(tmp_path):
    anns = [{"id": 5, "image_id": 1, "category_id": 3, "segmentation": [[0, 0, 4, 0, 4, 3]]}]
    with pytest.raises(DataLayoutError, match=r"annotation id=5 .*category_id 3, not among the categories \[7, 9\]"):
        read_mask_data(coco_file(tmp_path, anns))


def test_coco_record_size_must_match_the_file(tmp_path):
    images = [{"id": 1, "file_name": "a.png", "width": 9, "height": 6}]
    with pytest.raises(DataLayoutError, match=r"record id=1 says 9x6 but .*a\.png is 8x6"):
        read_mask_data(coco_file(tmp_path, [], images))


def test_later_shapes_are_drawn_over_earlier_ones():
    full = [[0, 0, 4, 0, 4, 4, 0, 4]]
    mask = rasterize([(1, full), (2, [[0, 0, 2, 0, 2, 2, 0, 2]])], (4, 4))
    assert (mask[:2, :2] == 2).all() and (mask == 1).sum() == 12


def test_coco_files_in_split_folders_are_read_per_split(tmp_path):
    ann = [{"id": 1, "image_id": 1, "category_id": 7, "segmentation": [[0, 0, 4, 0, 4, 3, 0, 3]]}]
    for split in ("train", "test"):
        coco_file(tmp_path / split, ann)
    data = read_mask_data(tmp_path, val_fraction=0.5)
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 1, "val": 0, "test": 1}
    assert data.class_names == ["background", "disc", "square"]


def test_class_colours_is_one_read_only_voc_palette():
    from vislearn.data.masks import class_colours

    colours = class_colours()
    assert colours is class_colours() and colours.shape == (256, 3) and colours.dtype == np.uint8
    assert colours[:4].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]] and colours[255].tolist() == [255, 255, 255]
    with pytest.raises(ValueError):
        colours[1] = (1, 2, 3)
