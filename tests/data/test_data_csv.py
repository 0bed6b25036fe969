"""read_csv: ``path,label[,split]`` with paths relative to the CSV; every row left out is named by line."""
from __future__ import annotations

from pathlib import Path

import pytest

from vislearn.data.layouts import read_csv, read_labelled
from vislearn.errors import DataLayoutError


@pytest.fixture
def images(tmp_path, save_flat) -> Path:
    """``tmp_path/img/{a,b}{0..5}.png``: twelve distinct 4x4 images."""
    for i in range(6):
        save_flat(tmp_path / "img" / f"a{i}.png", (200, i, 0))
        save_flat(tmp_path / "img" / f"b{i}.png", (0, i, 200))
    return tmp_path / "img"


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


def rows(names: str, label: str, split: str | None = None, prefix: str = "img/") -> str:
    return "".join(f"{prefix}{n}.png,{label}" + (f",{split}" if split is not None else "") + "\n" for n in names.split())


def by_split(data) -> dict[str, list[str]]:
    """{split: sorted file names}."""
    return {k: sorted(Path(s.path).name for s in v) for k, v in data.splits.items()}


def test_paths_are_relative_to_the_csv_not_the_working_folder(tmp_path, images, monkeypatch):
    text = "path,label\n" + rows("a0 a1", "cat", prefix="../img/") + rows("b0 b1", "dog", prefix="../img/")
    csv_path = write_csv(tmp_path / "meta" / "labels.csv", text)
    monkeypatch.chdir(images)
    data = read_csv(csv_path, val_fraction=0, test_fraction=0)
    assert data.class_names == ["cat", "dog"]
    assert sorted((s.path, s.label) for s in data.splits["train"]) == [
        (str(images / "a0.png"), 0), (str(images / "a1.png"), 0), (str(images / "b0.png"), 1), (str(images / "b1.png"), 1)]


def test_absolute_paths_are_used_as_they_are(tmp_path, images):
    text = "path,label\n" + "".join(f"{images / f'{n}.png'},{n[0]}\n" for n in ["a0", "a1", "b0", "b1"])
    data = read_csv(write_csv(tmp_path / "elsewhere" / "l.csv", text), val_fraction=0, test_fraction=0)
    assert by_split(data)["train"] == ["a0.png", "a1.png", "b0.png", "b1.png"]


def test_split_column_is_followed_exactly(tmp_path, images):
    text = ("path,label,split\n" + rows("a0 a1 a2", "a", "train") + rows("b0 b1 b2", "b", "train")
            + rows("a3", "a", "val") + rows("b3", "b", "valid") + rows("a4", "a", "test") + rows("b4", "b", "TEST"))
    data = read_csv(write_csv(tmp_path / "l.csv", text))
    assert by_split(data) == {
        "train": ["a0.png", "a1.png", "a2.png", "b0.png", "b1.png", "b2.png"],
        "val": ["a3.png", "b3.png"], "test": ["a4.png", "b4.png"]}
    assert list(data.splits) == ["train", "val", "test"]


def test_split_column_without_val_carves_val_from_train(tmp_path, images):
    text = "path,label,split\n" + rows("a0 a1 a2 a3", "a", "train") + rows("b0 b1 b2 b3", "b", "train") + rows("a4 b4", "x", "test")
    text = text.replace("a4.png,x", "a4.png,a").replace("b4.png,x", "b4.png,b")
    data = read_csv(write_csv(tmp_path / "l.csv", text), val_fraction=0.25)
    assert data.counts() == {"train": {"a": 3, "b": 3}, "val": {"a": 1, "b": 1}, "test": {"a": 1, "b": 1}}
    assert by_split(data)["test"] == ["a4.png", "b4.png"]


def test_without_split_column_the_split_is_stratified_and_seeded(tmp_path, images):
    csv_path = write_csv(tmp_path / "l.csv", "path,label\n" + rows("a0 a1 a2 a3 a4 a5", "a") + rows("b0 b1 b2 b3 b4 b5", "b"))
    data = read_csv(csv_path, seed=7, val_fraction=1 / 3, test_fraction=1 / 6)
    assert data.counts() == {"train": {"a": 3, "b": 3}, "val": {"a": 2, "b": 2}, "test": {"a": 1, "b": 1}}
    assert read_csv(csv_path, seed=7, val_fraction=1 / 3, test_fraction=1 / 6).splits == data.splits


def test_missing_columns_are_named(tmp_path):
    csv_path = write_csv(tmp_path / "l.csv", "file,class\nimg/a0.png,a\n")
    with pytest.raises(DataLayoutError, match=r"l\.csv: needs a header with columns path,label \(found file, class\)"):
        read_csv(csv_path)


def test_header_without_rows_is_refused(tmp_path):
    with pytest.raises(DataLayoutError, match=r"l\.csv: has a header but no rows"):
        read_csv(write_csv(tmp_path / "l.csv", "path,label\n"))


def test_empty_file_is_refused(tmp_path):
    with pytest.raises(DataLayoutError, match=r"needs a header with columns path,label \(found an empty file\)"):
        read_csv(write_csv(tmp_path / "l.csv", ""))


def test_missing_csv_is_refused(tmp_path):
    with pytest.raises(DataLayoutError, match=r"nope\.csv: cannot read CSV"):
        read_csv(tmp_path / "nope.csv")


def test_row_without_label_is_skipped_with_its_line_number(tmp_path, images):
    text = "path,label\n" + rows("a0 a1", "a") + "img/a2.png,\n" + rows("b0 b1", "b") + "img/b2.png\n"
    csv_path = write_csv(tmp_path / "l.csv", text)
    data = read_csv(csv_path, val_fraction=0, test_fraction=0)
    assert [(p.path, p.reason) for p in data.skipped] == [
        (f"{csv_path}:4", "row without path or label"), (f"{csv_path}:7", "row without path or label")]
    assert len(data.splits["train"]) == 4


def test_line_numbers_count_blank_lines(tmp_path, images):
    csv_path = write_csv(tmp_path / "l.csv", "path,label\n" + rows("a0", "a") + "\n\n" + rows("b0", "b") + ",b\n")
    data = read_csv(csv_path, val_fraction=0, test_fraction=0)
    assert [p.path for p in data.skipped] == [f"{csv_path}:6"]


def test_missing_and_corrupt_image_rows_are_skipped_with_reasons(tmp_path, images):
    (images / "bad.png").write_text("not a picture")
    text = "path,label\n" + rows("a0 a1 gone", "a") + rows("b0 b1 bad", "b")
    data = read_csv(write_csv(tmp_path / "l.csv", text), val_fraction=0, test_fraction=0)
    assert sorted((Path(p.path).name, p.reason) for p in data.skipped) == [
        ("bad.png", "not an image Pillow can read (wrong format or corrupt header)"),
        ("gone.png", "cannot open: No such file or directory")]
    assert len(data.splits["train"]) == 4


def test_unknown_split_name_is_skipped_not_dropped_silently(tmp_path, images):
    text = "path,label,split\n" + rows("a0 a1", "a", "train") + rows("b0 b1", "b", "train") + rows("a2", "a", "holdout")
    csv_path = write_csv(tmp_path / "l.csv", text)
    data = read_csv(csv_path, val_fraction=0)
    assert [(p.path, p.reason) for p in data.skipped] == [(f"{csv_path}:6", "split 'holdout' is not one of train, val, test")]


def test_row_without_split_among_rows_with_splits_is_skipped(tmp_path, images):
    text = "path,label,split\n" + rows("a0 a1", "a", "train") + rows("b0 b1", "b", "train") + rows("a2", "a", "")
    csv_path = write_csv(tmp_path / "l.csv", text)
    data = read_csv(csv_path, val_fraction=0)
    assert [(p.path, p.reason) for p in data.skipped] == [(f"{csv_path}:6", "row without a split while other rows have one")]
    assert len([s for v in data.splits.values() for s in v]) == 4


def test_empty_split_column_means_automatic_split(tmp_path, images):
    text = "path,label,split\n" + rows("a0 a1 a2 a3", "a", "") + rows("b0 b1 b2 b3", "b", "")
    data = read_csv(write_csv(tmp_path / "l.csv", text), val_fraction=0.25, test_fraction=0.25)
    assert data.counts() == {"train": {"a": 2, "b": 2}, "val": {"a": 1, "b": 1}, "test": {"a": 1, "b": 1}}


def test_spreadsheet_byte_order_mark_and_spaces_are_tolerated(tmp_path, images):
    text = "path , label\n" + "".join(f"img/{n}.png, {n[0]}\n" for n in ["a0", "a1", "b0", "b1"])
    data = read_csv(write_csv(tmp_path / "l.csv", text, encoding="utf-8-sig"), val_fraction=0, test_fraction=0)
    assert data.class_names == ["a", "b"] and len(data.splits["train"]) == 4


def test_non_ascii_class_names_are_read_as_utf8(tmp_path, images):
    text = "path,label\n" + rows("a0 a1", "café") + rows("b0 b1", "naïve")
    data = read_csv(write_csv(tmp_path / "l.csv", text), val_fraction=0, test_fraction=0)
    assert data.class_names == ["café", "naïve"]


def test_label_whose_every_row_is_unreadable_is_left_out(tmp_path, images):
    text = "path,label\n" + rows("a0 a1", "a") + rows("b0 b1", "b") + rows("gone1 gone2", "ghost")
    data = read_csv(write_csv(tmp_path / "l.csv", text), val_fraction=0, test_fraction=0)
    assert data.class_names == ["a", "b"]
    assert data.warnings == ["class 'ghost' has no readable images; left out"]


def test_a_single_label_is_refused(tmp_path, images):
    with pytest.raises(DataLayoutError, match=r"found 1 class \(a\)"):
        read_csv(write_csv(tmp_path / "l.csv", "path,label\n" + rows("a0 a1 a2", "a")))


def test_duplicate_across_given_splits_is_warned(tmp_path, images):
    text = "path,label,split\n" + rows("a0 a1", "a", "train") + rows("b0 b1", "b", "train") + rows("a0", "a", "test")
    data = read_csv(write_csv(tmp_path / "l.csv", text), val_fraction=0)
    assert data.warnings == [f"same file content in train and test: {images / 'a0.png'} == {images / 'a0.png'} (inflates test scores)"]


def test_read_labelled_reads_a_csv_by_its_suffix(tmp_path, images):
    csv_path = write_csv(tmp_path / "L.CSV", "path,label\n" + rows("a0 a1 a2", "a") + rows("b0 b1 b2", "b"))
    assert read_labelled(csv_path, seed=2).splits == read_csv(csv_path, seed=2).splits
