"""`vislearn review RUN --data DIR`: review.csv and review.html for a classify run; other tasks get one line."""
import csv

import pytest

from vislearn.cli import main
from tiny_runs import SMALL_CLASSIFIER, train_tiny



@pytest.fixture(scope="module")
def noisy_run(tmp_path_factory, make_digits):
    """A tiny classify run on 3 digit classes (12 each) where two 1s sit in the 2 folder."""
    root = tmp_path_factory.mktemp("review")
    data = make_digits(root / "digits", per_class=12, classes=range(3))
    moved = []
    for path in sorted((data / "1").iterdir())[:2]:
        moved.append(path.rename(data / "2" / path.name))
    run = train_tiny("classify", data=data, out=root / "run", explain_examples=1, epochs=8, **SMALL_CLASSIFIER)
    return run.dir, data, moved


def test_review_writes_ranked_suggestions_and_a_contact_sheet(noisy_run, tmp_path, capsys):
    run_dir, data, _ = noisy_run
    assert main(["review", str(run_dir), "--data", str(data), "--out", str(tmp_path), "--folds", "3", "--explain", "2", "--json",
                 "--quiet"]) == 0
    answer = __import__("json").loads(capsys.readouterr().out)
    assert answer["images"] == 36 and answer["folds"] == 3 and 0 <= answer["out_of_fold_accuracy"] <= 1
    rows = list(csv.DictReader(open(tmp_path / "review.csv")))
    assert answer["issues"] == len(rows)
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["given"] != r["suggested"] and r["given"] in "012" and r["suggested"] in "012" for r in rows)
    margins = [float(r["margin"]) for r in rows]
    assert margins == sorted(margins) and all(m < 0 for m in margins)
    page = (tmp_path / "review.html").read_text()
    assert "Likely label mistakes" in page and page.count("<figure>") == len(rows)
    assert page.count('alt="Grad-CAM of') == min(2, len(rows))


def test_review_refuses_a_run_of_another_task_and_too_few_images(noisy_run, tmp_path, make_digits, capsys):
    run_dir, _, _ = noisy_run
    few = make_digits(tmp_path / "few", per_class=1, classes=range(3))
    assert main(["review", str(run_dir), "--data", str(few), "--out", str(tmp_path / "o")]) == 2
    assert "at least 2 images of every class" in capsys.readouterr().err
