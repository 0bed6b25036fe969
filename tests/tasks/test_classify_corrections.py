"""`--corrections FILE.csv`: labels a person corrected, applied to the data before training, never dropped silently."""
import pytest
from PIL import Image

from vislearn.data import LabelledData, Sample
from vislearn.errors import DataLayoutError
from vislearn.tasks.classify.corrections import apply_corrections, correct_samples, read_corrections

CLASSES = ["cat", "dog"]


def _image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (4, 4), 128).save(path)
    return path


def test_corrections_relabel_data_in_any_split_and_add_images_the_data_lacks(tmp_path):
    a, b, c, new = (_image(tmp_path / "data" / n) for n in ("a.png", "b.png", "c.png", "new.png"))
    data = LabelledData(CLASSES, {"train": [Sample(str(a), 0), Sample(str(b), 0)], "test": [Sample(str(c), 1)]})
    (tmp_path / "fix.csv").write_text("path,label\ndata/a.png,dog\ndata/b.png,cat\ndata/c.png,cat\ndata/new.png,dog\ndata/gone.png,cat\n")
    fixed = apply_corrections(data, read_corrections(tmp_path / "fix.csv", CLASSES), "fix.csv")
    labels = {s.path: s.label for part in fixed.splits.values() for s in part}
    assert labels == {str(a): 1, str(b): 0, str(c): 0, str(new.resolve()): 1}
    assert [s.path for s in fixed.splits["test"]] == [str(c)]  # corrected where it sits: no image changes split
    note = fixed.warnings[0]
    assert "2 labels changed (1 in train, 1 in test)" in note and "1 already as given" in note and "1 images added to train" in note
    assert "1 files not found" in note


def test_correct_samples_counts_only_real_changes(tmp_path):
    samples = [Sample(str(tmp_path / "x.png"), 0), Sample(str(tmp_path / "y.png"), 1)]
    out, changed = correct_samples(samples, {str((tmp_path / "x.png").resolve()): 1, str((tmp_path / "y.png").resolve()): 1})
    assert [s.label for s in out] == [1, 1] and changed == 1


def test_a_label_outside_the_classes_is_an_error_naming_the_line(tmp_path):
    (tmp_path / "fix.csv").write_text("path,label\na.png,dog\nb.png,dgo\n,cat\n")
    with pytest.raises(DataLayoutError, match=r"2 corrections cannot be applied: line 3: label 'dgo' is not one of the classes.*line 4: no path"):
        read_corrections(tmp_path / "fix.csv", CLASSES)


def test_a_review_csv_without_a_label_column_says_what_to_do(tmp_path):
    (tmp_path / "review.csv").write_text("rank,path,given,suggested\n1,a.png,cat,dog\n")
    with pytest.raises(DataLayoutError, match="name the column of the right label 'label'"):
        read_corrections(tmp_path / "review.csv", CLASSES)
    with pytest.raises(DataLayoutError, match="file not found"):
        read_corrections(tmp_path / "none.csv", CLASSES)
