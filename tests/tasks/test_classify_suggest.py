"""`vislearn suggest RUN --pool DIR -k K`: uncertain, diverse images to label next; foreign images listed apart."""
import csv
import json

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from tiny_runs import SMALL_CLASSIFIER, train_tiny
from vislearn.cli import main


@pytest.fixture(scope="module")
def run_and_pool(tmp_path_factory, make_digits):
    """A tiny classify run on digits 0-2, and a pool: 15 unseen digits 0-2, five copies of one more, four noise images."""
    root = tmp_path_factory.mktemp("suggest")
    data = make_digits(root / "digits", per_class=20, classes=range(3))
    run = train_tiny("classify", data=data, out=root / "run", explain_examples=0, epochs=4, **SMALL_CLASSIFIER)
    pool = root / "pool"
    pool.mkdir()
    digits = load_digits()
    unseen = [i for d in range(3) for i in np.flatnonzero(digits.target == d)[20:25]]
    for i in unseen:
        Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).save(pool / f"d{i:04d}.png")
    copy = Image.fromarray((digits.images[np.flatnonzero(digits.target == 1)[30]] * 255 / 16).astype(np.uint8))
    for j in range(5):
        copy.save(pool / f"copy{j}.png")
    rng = np.random.default_rng(0)
    for j in range(4):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(pool / f"noise{j}.png")
    return run.dir, pool


def test_suggest_lists_uncertain_distinct_images_and_foreign_ones_apart(run_and_pool, tmp_path, capsys):
    run_dir, pool = run_and_pool
    assert main(["suggest", str(run_dir), "--pool", str(pool), "-k", "8", "--out", str(tmp_path), "--json", "--quiet"]) == 0
    answer = json.loads(capsys.readouterr().out)
    rows = list(csv.DictReader(open(tmp_path / "suggest.csv")))
    uncertain = [r for r in rows if r["list"] == "uncertain"]
    foreign = [r for r in rows if r["list"] == "unlike training images"]
    assert answer["pool"] == 24 and answer["suggested"] == len(uncertain) == 8 and answer["unlike_training"] == len(foreign)
    assert {r["path"].rsplit("/", 1)[-1] for r in foreign} >= {f"noise{j}.png" for j in range(4)}
    assert not any("noise" in r["path"] for r in uncertain)
    assert sum("copy" in r["path"] for r in uncertain) <= 1  # five copies of one picture are one question
    assert [int(r["rank"]) for r in uncertain] == list(range(1, 9))
    scores = [float(r["unlike_score"]) for r in foreign]
    assert scores == sorted(scores, reverse=True)
    page = (tmp_path / "suggest.html").read_text()
    assert "What to label next" in page and page.count("<figure>") == len(rows)


def test_suggest_refuses_a_bad_k(run_and_pool, tmp_path, capsys):
    run_dir, pool = run_and_pool
    assert main(["suggest", str(run_dir), "--pool", str(pool), "-k", "0", "--out", str(tmp_path)]) == 2
    assert "-k must be at least 1" in capsys.readouterr().err
