"""The segmentation sample set: exact, seeded, and the PNG masks and COCO RLE say the same thing."""
import json

import numpy as np

from vislearn.data.mask_dataset import read_sample_mask
from vislearn.data.masks import read_mask_data
from vislearn.data.samples.segment import CLASSES, write_shapes_sample


def test_png_masks_and_coco_rle_give_identical_masks(tmp_path):
    write_shapes_sample(tmp_path, count=8, size=48, quiet=True)
    assert json.loads((tmp_path / "classes.json").read_text()) == CLASSES
    folder = read_mask_data(tmp_path, val_fraction=0, test_fraction=0).splits["train"]
    coco = read_mask_data(tmp_path / "annotations.json", val_fraction=0, test_fraction=0).splits["train"]
    assert [s.path for s in folder] == [s.path for s in coco] and len(folder) == 8
    for a, b in zip(folder, coco):
        assert np.array_equal(read_sample_mask(a), read_sample_mask(b)), a.path
    shown = set().union(*(np.unique(read_sample_mask(s)).tolist() for s in folder))
    assert shown == {0, 1, 2, 3}


def test_same_seed_writes_the_same_bytes(tmp_path):
    write_shapes_sample(tmp_path / "a", count=3, size=32, quiet=True)
    write_shapes_sample(tmp_path / "b", count=3, size=32, quiet=True)
    for name in ("images/shapes_0002.png", "masks/shapes_0002.png", "annotations.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
