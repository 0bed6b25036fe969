import os

import pytest

from vislearn.errors import VislearnError
from vislearn.organize.files import export_groups, safe_folder_name


@pytest.fixture
def photos(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    files = {"a/cat.jpg": b"cat A", "b/cat.jpg": b"cat B", "a/dog.jpg": b"dog"}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    return tmp_path


def test_copy_never_overwrites_and_leaves_originals_alone(photos):
    dest = photos / "out"
    (dest / "cats").mkdir(parents=True)
    (dest / "cats" / "cat.jpg").write_bytes(b"already here")
    groups = {"cats": [str(photos / "a/cat.jpg"), str(photos / "b/cat.jpg")], "dogs": [str(photos / "a/dog.jpg")]}
    placed = export_groups(groups, dest)
    assert [os.path.relpath(p, dest) for _, p in placed] == ["cats/cat_1.jpg", "cats/cat_2.jpg", "dogs/dog.jpg"]
    assert (dest / "cats" / "cat.jpg").read_bytes() == b"already here"
    assert (dest / "cats" / "cat_1.jpg").read_bytes() == b"cat A" and (dest / "cats" / "cat_2.jpg").read_bytes() == b"cat B"
    assert (photos / "a/cat.jpg").read_bytes() == b"cat A" and not (dest / "cats" / "cat_1.jpg").is_symlink()
    assert export_groups(groups, dest) == placed  # exporting again reuses the same copies
    assert len(list((dest / "cats").iterdir())) == 3


def test_links_point_at_the_originals(photos):
    placed = export_groups({"pets": [str(photos / "a/dog.jpg"), str(photos / "b/cat.jpg")]}, photos / "out", "link")
    link = photos / "out" / "pets" / "dog.jpg"
    assert placed[0] == (str(photos / "a/dog.jpg"), str(link))
    assert link.is_symlink() and os.readlink(link) == str(photos / "a/dog.jpg") and link.read_bytes() == b"dog"
    assert export_groups({"pets": [str(photos / "a/dog.jpg")]}, photos / "out", "link")[0][1] == str(link)


def test_dest_may_be_a_source_folder_as_nothing_is_overwritten(photos):
    placed = export_groups({"": [str(photos / "a/cat.jpg")], ".": [str(photos / "a/dog.jpg")]}, photos / "a")
    assert [os.path.relpath(p, photos) for _, p in placed] == ["a/unnamed/cat.jpg", "a/unnamed_1/dog.jpg"]
    assert sorted(os.listdir(photos / "a")) == ["cat.jpg", "dog.jpg", "unnamed", "unnamed_1"]


@pytest.mark.parametrize("name, folder", [("../../etc", "_etc"), ("/abs/path", "_abs_path"), ("..", "_"),
                                          ("a\\b:c", "a_b_c"), ("Cats at the beach", "Cats at the beach"),
                                          ("  .hidden ", "hidden"), ("x" * 300, "x" * 100)])
def test_group_names_cannot_escape_dest(name, folder):
    assert safe_folder_name(name) == folder


def test_names_that_clean_alike_get_distinct_folders(photos):
    placed = export_groups({"a/b": [str(photos / "a/cat.jpg")], "a_b": [str(photos / "a/dog.jpg")],
                            "A_B": [str(photos / "b/cat.jpg")]}, photos / "out")
    assert [os.path.relpath(p, photos / "out") for _, p in placed] == ["a_b/cat.jpg", "a_b_1/dog.jpg", "A_B_2/cat.jpg"]
    assert all(os.path.realpath(p).startswith(str(photos / "out")) for _, p in placed)


def test_missing_source_or_bad_mode_stops_before_writing(photos):
    with pytest.raises(VislearnError, match="gone.jpg: not found.*nothing was exported"):
        export_groups({"g": [str(photos / "a/cat.jpg"), str(photos / "gone.jpg")]}, photos / "out")
    assert not (photos / "out").exists()
    with pytest.raises(VislearnError, match="unknown export mode 'move'"):
        export_groups({"g": [str(photos / "a/cat.jpg")]}, photos / "out", "move")
    with pytest.raises(VislearnError, match="not a folder"):
        export_groups({"g": [str(photos / "a/cat.jpg")]}, photos / "a/dog.jpg")
