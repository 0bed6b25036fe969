"""write_sample: sample sets written as ordinary class folders, never into a folder that holds files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vislearn.data.samples import FASHION_CLASSES, FASHION_MNIST_DIR, SAMPLES, write_sample
from vislearn.errors import DataLayoutError, UnknownNameError


def pngs_per_folder(root: Path) -> dict[str, int]:
    return {d.name: len(list(d.glob("*.png"))) for d in sorted(root.iterdir())}


def test_sample_names_are_registered():
    assert SAMPLES.names() == ["collection", "defects", "detect", "digits", "fashion-mnist", "segment", "tracks", "tracks-frames"]


@pytest.mark.slow  # 1,797 PNG files: 0.6-1.2 s
def test_digits_writes_1797_pngs_in_ten_digit_folders(tmp_path):
    out = write_sample("digits", tmp_path / "digits", quiet=True)
    counts = pngs_per_folder(out)
    assert counts == {"0": 178, "1": 182, "2": 177, "3": 183, "4": 181, "5": 182, "6": 181, "7": 179, "8": 174, "9": 180}
    assert sum(counts.values()) == 1797
    first = Image.open(out / "0" / "digit_00000.png")
    assert (first.size, first.mode) == ((8, 8), "L")
    # scikit-learn's grey levels 0..16 stretched to 0..255
    assert np.asarray(first)[1].tolist() == [0, 0, 207, 239, 159, 239, 80, 0]


def test_non_empty_folder_is_refused_and_left_untouched(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(DataLayoutError, match=f"{tmp_path}: folder exists and is not empty"):
        write_sample("digits", tmp_path, quiet=True)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_existing_file_as_output_is_refused(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(DataLayoutError, match="is a file; choose a new folder"):
        write_sample("digits", tmp_path / "out", quiet=True)


def test_unknown_sample_is_refused_before_creating_the_folder(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown sample dataset 'cifar'; known: collection, defects, detect, digits, fashion-mnist"):
        write_sample("cifar", tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()


@pytest.fixture
def tiny_fashion(tmp_path, write_idx) -> Path:
    """IDX files of 3 training and 2 test 2x2 images, labels 0, 9, 1 and 8, 2, in the Fashion-MNIST names."""
    source = tmp_path / "idx"
    source.mkdir()
    write_idx(source / "train-images-idx3-ubyte.gz", np.arange(12, dtype=np.uint8).reshape(3, 2, 2) * 20)
    write_idx(source / "train-labels-idx1-ubyte.gz", np.array([0, 9, 1], dtype=np.uint8))
    write_idx(source / "t10k-images-idx3-ubyte.gz", np.full((2, 2, 2), 77, dtype=np.uint8))
    write_idx(source / "t10k-labels-idx1-ubyte.gz", np.array([8, 2], dtype=np.uint8))
    return source


def test_fashion_mnist_writes_train_and_test_class_folders(tmp_path, tiny_fashion):
    out = write_sample("fashion-mnist", tmp_path / "fm", quiet=True, source=str(tiny_fashion))
    assert sorted(p.name for p in (out / "train").iterdir()) == sorted(FASHION_CLASSES)
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert written == ["test/bag/test_00000.png", "test/pullover/test_00001.png",
                       "train/ankle-boot/train_00001.png", "train/t-shirt/train_00000.png", "train/trouser/train_00002.png"]
    assert np.asarray(Image.open(out / "train" / "trouser" / "train_00002.png")).tolist() == [[160, 180], [200, 220]]


def test_fashion_mnist_limit_caps_each_split(tmp_path, tiny_fashion):
    out = write_sample("fashion-mnist", tmp_path / "fm", quiet=True, source=str(tiny_fashion), limit=1)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["test/bag/test_00000.png", "train/t-shirt/train_00000.png"]


def test_fashion_mnist_without_its_files_says_how_to_get_them(tmp_path):
    with pytest.raises(DataLayoutError, match="apt-get install dataset-fashion-mnist"):
        write_sample("fashion-mnist", tmp_path / "fm", quiet=True, source=str(tmp_path / "nowhere"))


@pytest.mark.skipif(not Path(FASHION_MNIST_DIR).is_dir(), reason=f"Fashion-MNIST IDX files not installed at {FASHION_MNIST_DIR}")
@pytest.mark.slow  # decompresses all 70,000 images to keep 10: about 0.8 s
def test_installed_fashion_mnist_gives_28x28_greyscale_images(tmp_path):
    out = write_sample("fashion-mnist", tmp_path / "fm", quiet=True, limit=5)
    pngs = sorted(out.rglob("*.png"))
    assert len(pngs) == 10
    assert {Image.open(p).size for p in pngs} == {(28, 28)}
    assert {p.parent.name for p in pngs} <= set(FASHION_CLASSES)
