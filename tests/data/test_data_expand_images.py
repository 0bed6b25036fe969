"""expand_images (what `predict`/`eval` read from the images named on the command line) and size_or_problem."""
import pytest
from PIL import Image

from vislearn.data.images import expand_images, size_or_problem
from vislearn.errors import DataLayoutError
from vislearn.files import Problem


def _png(path, size=(5, 3)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size).save(path)
    return path


def test_folders_are_searched_recursively_sorted_and_named_files_kept_as_given(tmp_path):
    b, a, deep = _png(tmp_path / "f" / "b.png"), _png(tmp_path / "f" / "a.png"), _png(tmp_path / "f" / "sub" / "c.jpg")
    (tmp_path / "f" / "notes.txt").write_text("not an image")
    named = tmp_path / "named.txt"  # named directly: kept, the reader then says why it cannot be read
    assert expand_images([named, tmp_path / "f"]) == [named, a, b, deep]


def test_nothing_to_read_is_one_clear_error_naming_the_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataLayoutError, match=r"no images found in .*empty"):
        expand_images([tmp_path / "empty"])


def test_size_or_problem_gives_the_size_or_the_reason_never_raises(tmp_path):
    assert size_or_problem(_png(tmp_path / "ok.png")) == ((5, 3), None)
    (tmp_path / "zero.png").write_bytes(b"")
    size, problem = size_or_problem(tmp_path / "zero.png")
    assert size is None and isinstance(problem, Problem)
    assert problem.path.endswith("zero.png") and "empty" in problem.reason
