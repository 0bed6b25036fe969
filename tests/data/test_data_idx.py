"""read_idx / read_idx_folder: the MNIST IDX format, plain or gzip, checked against its own header."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from vislearn.data.idx import read_idx, read_idx_folder
from vislearn.errors import DataLayoutError


def test_hand_written_header_and_bytes_read_back(tmp_path):
    # magic 0x00000803: unsigned bytes, 3 dimensions; then 2, 3, 4 as big-endian uint32
    header = bytes([0, 0, 0x08, 3]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + (4).to_bytes(4, "big")
    (tmp_path / "x-idx3-ubyte").write_bytes(header + bytes(range(24)))
    array = read_idx(tmp_path / "x-idx3-ubyte")
    assert array.dtype == np.uint8 and array.shape == (2, 3, 4)
    assert array[1, 2, 3] == 23 and array[0, 1, 0] == 4


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
def test_every_idx_type_round_trips(tmp_path, write_idx, dtype):
    expected = (np.arange(12).reshape(3, 4) - 5).astype(dtype) if dtype != np.uint8 else np.arange(12, dtype=np.uint8).reshape(3, 4)
    array = read_idx(write_idx(tmp_path / "x-idx2", expected))
    assert array.dtype == np.dtype(dtype) and np.array_equal(array, expected)


def test_gzip_file_reads_like_the_plain_one(tmp_path, write_idx):
    expected = np.arange(60, dtype=np.uint8).reshape(5, 3, 4)
    plain, packed = write_idx(tmp_path / "x-idx3-ubyte", expected), write_idx(tmp_path / "x-idx3-ubyte.gz", expected)
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert np.array_equal(read_idx(packed), expected)


def test_labels_file_is_one_dimensional(tmp_path, write_idx):
    labels = read_idx(write_idx(tmp_path / "l-idx1-ubyte", np.array([3, 1, 4, 1, 5], dtype=np.uint8)))
    assert labels.tolist() == [3, 1, 4, 1, 5]


def test_truncated_file_is_refused_with_byte_counts(tmp_path, write_idx):
    whole = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((2, 3, 4), dtype=np.uint8)).read_bytes()
    (tmp_path / "x-idx3-ubyte").write_bytes(whole[:-1])
    with pytest.raises(DataLayoutError, match=r"x-idx3-ubyte: holds 23 bytes of data, its header promises 24 \(truncated\?\)"):
        read_idx(tmp_path / "x-idx3-ubyte")


def test_truncated_gzip_is_refused(tmp_path, write_idx):
    packed = write_idx(tmp_path / "x.gz", np.arange(200, dtype=np.uint8).reshape(10, 20)).read_bytes()
    (tmp_path / "x.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataLayoutError, match=r"x\.gz: cannot read IDX file"):
        read_idx(tmp_path / "x.gz")


def test_corrupt_gzip_data_is_refused(tmp_path, write_idx):
    packed = bytearray(write_idx(tmp_path / "x.gz", np.arange(100, dtype=np.uint8)).read_bytes())
    packed[10] ^= 0xFF  # the first byte of the deflate stream
    (tmp_path / "x.gz").write_bytes(bytes(packed))
    with pytest.raises(DataLayoutError, match=r"x\.gz: cannot read IDX file"):
        read_idx(tmp_path / "x.gz")


@pytest.mark.parametrize("data", [b"", b"\x00\x00", b"\x89PNG\r\n\x1a\n", bytes([0, 0, 0x07, 1, 0, 0, 0, 0])])
def test_non_idx_bytes_are_refused_as_bad_magic(tmp_path, data):
    (tmp_path / "x").write_bytes(data)
    with pytest.raises(DataLayoutError, match=r"not an IDX file \(bad magic number\)"):
        read_idx(tmp_path / "x")


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(DataLayoutError, match=r"gone: cannot read IDX file"):
        read_idx(tmp_path / "gone")


def test_folder_gives_images_and_int64_labels_per_split(tmp_path, write_idx):
    images = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([2, 0, 1], dtype=np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images[:1])  # plain, and the dotted name below
    write_idx(tmp_path / "t10k-labels.idx1-ubyte", np.array([7], dtype=np.uint8))
    train_images, train_labels = read_idx_folder(tmp_path, "train")
    assert np.array_equal(train_images, images) and train_labels.tolist() == [2, 0, 1]
    assert train_labels.dtype == np.int64
    test_images, test_labels = read_idx_folder(tmp_path, "test")
    assert test_images.shape == (1, 2, 2) and test_labels.tolist() == [7]


def test_folder_with_more_images_than_labels_is_refused(tmp_path, write_idx):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 2, 2), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, dtype=np.uint8))
    with pytest.raises(DataLayoutError, match="3 images but 2 labels in the train split"):
        read_idx_folder(tmp_path, "train")


def test_folder_without_the_files_names_the_one_missing(tmp_path, write_idx):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((1, 2, 2), dtype=np.uint8))
    with pytest.raises(DataLayoutError, match=r"no train-labels-idx1-ubyte\[\.gz\] file"):
        read_idx_folder(tmp_path, "train")
