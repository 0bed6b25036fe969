"""read_folder: class folders (optionally train/val/test), what is skipped and why, and the seeded split."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vislearn.data.layouts import read_folder, read_labelled, stratified_split
from vislearn.errors import DataLayoutError


def all_samples(data) -> list:
    return [s for split in data.splits.values() for s in split]


def split_of(data) -> dict[str, str]:
    """{path: split name}."""
    return {s.path: split for split, samples in data.splits.items() for s in samples}


def test_class_names_are_sorted_folder_names_and_labels_index_them(tmp_path, make_classes):
    make_classes(tmp_path, {"dog": 3, "cat": 2, "bird": 1})
    data = read_folder(tmp_path)
    assert data.class_names == ["bird", "cat", "dog"]
    assert sorted((Path(s.path).parent.name, s.label) for s in all_samples(data)) == [
        ("bird", 0), ("cat", 1), ("cat", 1), ("dog", 2), ("dog", 2), ("dog", 2)]
    assert data.source == str(tmp_path) and data.skipped == [] and data.warnings == []


def test_bad_files_are_skipped_with_reasons_and_empty_class_is_warned(tmp_path, make_classes, save_flat):
    make_classes(tmp_path, {"cat": 4, "dog": 4})
    (tmp_path / "cat" / "corrupt.png").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "cat" / "zero.jpg").write_bytes(b"")
    (tmp_path / "dog" / "notes.txt").write_text("taken in 2019\n")
    (tmp_path / "fish").mkdir()
    data = read_folder(tmp_path)
    assert data.class_names == ["cat", "dog"]
    assert len(all_samples(data)) == 8
    assert sorted((Path(p.path).name, p.reason) for p in data.skipped) == [
        ("corrupt.png", "not an image Pillow can read (wrong format or corrupt header)"),
        ("notes.txt", "not an image file extension (.txt)"),
        ("zero.jpg", "empty file (0 bytes)"),
    ]
    assert data.warnings == [f"class folder {tmp_path / 'fish'} holds no images; left out"]


def test_class_whose_every_file_is_unreadable_is_left_out_with_a_warning(tmp_path, make_classes):
    make_classes(tmp_path, {"a": 3, "c": 3})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.png").write_text("not a picture")
    data = read_folder(tmp_path)
    assert data.class_names == ["a", "c"]
    assert sorted({s.label for s in all_samples(data)}) == [0, 1]
    assert data.warnings == ["class 'b' has no readable images; left out"]
    assert [Path(p.path).name for p in data.skipped] == ["x.png"]


def test_hidden_files_and_folders_are_ignored_silently(tmp_path, make_classes, save_flat):
    make_classes(tmp_path, {"a": 2, "b": 2})
    (tmp_path / "a" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    save_flat(tmp_path / "a" / ".thumbnails" / "a_000.png", (1, 2, 3))
    save_flat(tmp_path / ".cache" / "x.png", (1, 2, 3))
    data = read_folder(tmp_path)
    assert data.class_names == ["a", "b"]
    assert len(all_samples(data)) == 4 and data.skipped == []


def test_images_in_nested_folders_belong_to_their_class(tmp_path, make_classes, save_flat):
    make_classes(tmp_path, {"a": 2, "b": 2})
    save_flat(tmp_path / "a" / "2019" / "june.png", (9, 9, 9))
    data = read_folder(tmp_path)
    nested = [s for s in all_samples(data) if s.path.endswith("june.png")]
    assert [s.label for s in nested] == [0]


def test_image_beside_class_folders_is_skipped(tmp_path, make_classes, save_flat):
    make_classes(tmp_path, {"a": 2, "b": 2})
    save_flat(tmp_path / "stray.png", (0, 0, 0))
    data = read_folder(tmp_path)
    assert [(Path(p.path).name, p.reason) for p in data.skipped] == [("stray.png", "image outside any class folder")]
    assert len(all_samples(data)) == 4


def test_images_directly_in_root_ask_for_class_folders(tmp_path, save_flat):
    for i in range(3):
        save_flat(tmp_path / f"{i}.png", (i, 0, 0))
    with pytest.raises(DataLayoutError, match="images lie directly in the folder. Put them in one folder per class"):
        read_folder(tmp_path)


def test_a_single_class_is_refused(tmp_path, make_classes):
    make_classes(tmp_path, {"cat": 5})
    with pytest.raises(DataLayoutError, match=r"found 1 class \(cat\); classification needs at least two classes"):
        read_folder(tmp_path)


def test_refusal_for_too_few_classes_says_what_was_skipped(tmp_path, make_classes):
    make_classes(tmp_path, {"cat": 2})
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "d.png").write_bytes(b"")
    with pytest.raises(DataLayoutError, match=r"found 1 class \(cat\).*1 file\(s\) skipped, e\.g\. .*d\.png: empty file"):
        read_folder(tmp_path)


def test_min_classes_one_accepts_a_single_class(tmp_path, make_classes):
    make_classes(tmp_path, {"cat": 5})
    assert read_folder(tmp_path, min_classes=1).class_names == ["cat"]


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(DataLayoutError, match=r"found 0 classes \(none\)"):
        read_folder(tmp_path)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(DataLayoutError, match=f"{tmp_path / 'nope'}: no such folder"):
        read_folder(tmp_path / "nope")


# ----- the automatic stratified split -----

def test_split_sizes_follow_the_fractions_per_class(tmp_path, make_classes):
    make_classes(tmp_path, {"a": 20, "b": 20, "c": 10})
    data = read_folder(tmp_path, val_fraction=0.2, test_fraction=0.1)
    assert data.counts() == {
        "train": {"a": 14, "b": 14, "c": 7},
        "val": {"a": 4, "b": 4, "c": 2},
        "test": {"a": 2, "b": 2, "c": 1},
    }


def test_every_image_lands_in_exactly_one_split(tmp_path, make_classes):
    files = make_classes(tmp_path, {"a": 9, "b": 7})
    paths = [s.path for s in all_samples(read_folder(tmp_path, seed=3))]
    assert sorted(paths) == sorted(str(p) for ps in files.values() for p in ps)


def test_split_is_reproducible_for_a_seed_and_changes_with_it(tmp_path, make_classes):
    make_classes(tmp_path, {"a": 20, "b": 20})
    first, again, other = read_folder(tmp_path, seed=1), read_folder(tmp_path, seed=1), read_folder(tmp_path, seed=2)
    assert first.splits == again.splits
    assert {s.path for s in first.splits["val"]} != {s.path for s in other.splits["val"]}


def test_split_does_not_depend_on_folder_listing_order(tmp_path, make_classes):
    make_classes(tmp_path / "one", {"a": 10, "b": 10})
    samples = read_folder(tmp_path / "one", val_fraction=0, test_fraction=0).splits["train"]
    forward = stratified_split(samples, {"val": 0.3}, seed=5)
    backward = stratified_split(samples[::-1], {"val": 0.3}, seed=5)
    assert sorted(s.path for s in forward["val"]) == sorted(s.path for s in backward["val"])


def test_tiny_class_keeps_at_least_one_image_for_training(tmp_path, make_classes):
    make_classes(tmp_path, {"a": 1, "b": 2, "c": 20})
    data = read_folder(tmp_path, val_fraction=0.5, test_fraction=0.5)
    counts = data.counts()
    assert counts["train"]["a"] == 1 and counts["train"]["b"] == 1
    assert all(counts["train"][c] >= 1 for c in data.class_names)


def test_identical_files_never_straddle_splits(tmp_path, make_classes):
    files = make_classes(tmp_path, {"a": 12, "b": 12})
    for i in range(5):  # five more copies of a_000.png under other names
        shutil.copy(files["a"][0], tmp_path / "a" / f"copy_{i}.png")
    copies = [str(files["a"][0])] + [str(tmp_path / "a" / f"copy_{i}.png") for i in range(5)]
    for seed in range(8):
        where = split_of(read_folder(tmp_path, seed=seed, val_fraction=0.3, test_fraction=0.3))
        assert len({where[p] for p in copies}) == 1, f"seed {seed}: {[where[p] for p in copies]}"


def test_identical_files_under_two_classes_stay_in_one_split(tmp_path, make_classes):
    files = make_classes(tmp_path, {"a": 6, "b": 6})
    shutil.copy(files["a"][0], tmp_path / "b" / "same_as_a_000.png")
    splits_seen = set()
    for seed in range(12):
        where = split_of(read_folder(tmp_path, seed=seed, val_fraction=0.3, test_fraction=0.3))
        pair = {where[str(files["a"][0])], where[str(tmp_path / "b" / "same_as_a_000.png")]}
        assert len(pair) == 1, f"seed {seed}: {pair}"
        splits_seen |= pair
    assert len(splits_seen) > 1  # the pair does move between seeds: the check above is not vacuous


# ----- given train/val/test folders -----

def test_given_test_folder_is_kept_and_val_is_carved_from_train(tmp_path, make_classes):
    make_classes(tmp_path / "train", {"a": 10, "b": 10})
    test_files = make_classes(tmp_path / "test", {"a": 3, "b": 2}, size=(5, 5))
    data = read_folder(tmp_path, val_fraction=0.2)
    assert data.class_names == ["a", "b"]
    assert data.counts() == {"train": {"a": 8, "b": 8}, "val": {"a": 2, "b": 2}, "test": {"a": 3, "b": 2}}
    assert list(data.splits) == ["train", "val", "test"]
    assert sorted(s.path for s in data.splits["test"]) == sorted(str(p) for ps in test_files.values() for p in ps)
    assert all("/train/" in s.path for s in data.splits["val"])


def test_given_val_folder_is_used_as_is(tmp_path, make_classes):
    make_classes(tmp_path / "train", {"a": 4, "b": 4})
    make_classes(tmp_path / "val", {"a": 1, "b": 1}, size=(5, 5))
    data = read_folder(tmp_path, val_fraction=0.5)
    assert data.counts() == {"train": {"a": 4, "b": 4}, "val": {"a": 1, "b": 1}}


@pytest.mark.parametrize("train, val, test", [("training", "validation", "testing"), ("Train", "valid", "Test")])
def test_split_folder_aliases_are_recognised(tmp_path, make_classes, train, val, test):
    make_classes(tmp_path / train, {"a": 2, "b": 2})
    make_classes(tmp_path / val, {"a": 1, "b": 1}, size=(5, 5))
    make_classes(tmp_path / test, {"a": 1, "b": 1}, size=(6, 6))
    data = read_folder(tmp_path)
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 4, "val": 2, "test": 2}


def test_duplicate_across_train_and_test_is_warned_naming_both(tmp_path, make_classes):
    files = make_classes(tmp_path / "train", {"a": 3, "b": 3})
    make_classes(tmp_path / "test", {"a": 1, "b": 1}, size=(5, 5))
    leaked = tmp_path / "test" / "b" / "leaked.png"
    shutil.copy(files["a"][1], leaked)
    data = read_folder(tmp_path, val_fraction=0)
    assert data.warnings == [f"same file content in train and test: {files['a'][1]} == {leaked} (inflates test scores)"]


def test_split_folders_without_train_are_refused(tmp_path, make_classes):
    make_classes(tmp_path / "val", {"a": 2, "b": 2})
    make_classes(tmp_path / "test", {"a": 2, "b": 2}, size=(5, 5))
    with pytest.raises(DataLayoutError, match="has test, val folders but no train/ folder"):
        read_folder(tmp_path)


def test_read_labelled_reads_a_folder(tmp_path, make_classes):
    make_classes(tmp_path, {"a": 3, "b": 3})
    assert read_labelled(tmp_path, seed=4).splits == read_folder(tmp_path, seed=4).splits


def test_summary_is_plain_data(tmp_path, make_classes):
    make_classes(tmp_path, {"a": 2, "b": 1})
    (tmp_path / "a" / "x.txt").write_text("")
    summary = read_folder(tmp_path, val_fraction=0, test_fraction=0).summary()
    assert summary == {
        "source": str(tmp_path), "class_names": ["a", "b"],
        "counts": {"train": {"a": 2, "b": 1}, "val": {"a": 0, "b": 0}, "test": {"a": 0, "b": 0}},
        "skipped": [{"path": str(tmp_path / "a" / "x.txt"), "reason": "not an image file extension (.txt)"}],
        "warnings": [],
    }
