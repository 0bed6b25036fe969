"""`vislearn review RUN --data DIR`: review.csv and review.html for a classify run; other tasks get one line."""
import csv

import numpy as np
import pytest
import torch

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
    quality = [float(r["normalised_margin"]) for r in rows]  # most likely mistake first: lowest normalised margin
    assert quality == sorted(quality) and all(float(r["margin"]) < 0 and r["both_tests"] in ("yes", "no") for r in rows)
    assert {r["flagged"] for r in rows} == {"yes"} and answer["ranked_beyond_flagged"] == 0
    # 36 images: too few to trust pairs, so auto keeps the normalised margin and says why
    assert answer["ranked_by"] == "margin" and "fewer than 1000 to trust pairs" in answer["ranking_reason"]
    assert all(0 <= float(r["mistake_probability"]) <= 1 for r in rows)
    page = (tmp_path / "review.html").read_text()
    assert "by the normalised margin" in page and "fewer than 1000 to trust pairs" in page
    mistakes, copies = page.split("<h2>Copies with different labels or splits")
    assert "Likely label mistakes" in mistakes and mistakes.count("<figure>") == len(rows)
    assert "None found." in copies and not list(csv.DictReader(open(tmp_path / "review_duplicates.csv")))  # 36 distinct digits
    assert page.count('alt="Grad-CAM of') == min(2, len(rows))


def test_review_top_goes_on_past_the_flagged_images_and_the_page_keeps_to_them(noisy_run, tmp_path, capsys):
    run_dir, data, _ = noisy_run
    assert main(["review", str(run_dir), "--data", str(data), "--out", str(tmp_path), "--folds", "3", "--explain", "0", "--json",
                 "--quiet", "--top", "30"]) == 0
    answer = __import__("json").loads(capsys.readouterr().out)
    rows = list(csv.DictReader(open(tmp_path / "review.csv")))
    flagged = [r for r in rows if r["flagged"] == "yes"]
    assert len(rows) == 30 and len(flagged) == answer["issues"] < 30 and answer["ranked_beyond_flagged"] == 30 - len(flagged)
    assert [r["flagged"] for r in rows] == ["yes"] * len(flagged) + ["no"] * (30 - len(flagged))  # flagged first
    assert [int(r["rank"]) for r in rows] == list(range(1, 31)) and len({r["path"] for r in rows}) == 30
    tail = [float(r["normalised_margin"]) for r in rows[len(flagged):]]
    assert tail == sorted(tail) and all(r["given"] != r["suggested"] and r["both_tests"] == "no" for r in rows[len(flagged):])
    assert (tmp_path / "review.html").read_text().count("<figure>") == len(flagged)


def test_review_rank_pairs_orders_by_the_probability_of_a_mistake(noisy_run, tmp_path, capsys):
    run_dir, data, _ = noisy_run
    assert main(["review", str(run_dir), "--data", str(data), "--out", str(tmp_path), "--folds", "3", "--explain", "0", "--json",
                 "--quiet", "--top", "30", "--rank", "pairs"]) == 0
    answer = __import__("json").loads(capsys.readouterr().out)
    assert answer["ranked_by"] == "pairs" and answer["ranking_reason"].startswith("asked for")
    rows = list(csv.DictReader(open(tmp_path / "review.csv")))
    flagged = [r for r in rows if r["flagged"] == "yes"]
    for part in (rows[:len(flagged)], rows[len(flagged):]):  # each part by the probability of a mistake, highest first
        wrong = [float(r["mistake_probability"]) for r in part]
        assert wrong == sorted(wrong, reverse=True)
    assert "estimated noise pairs" in (tmp_path / "review.html").read_text()


def test_review_refuses_a_run_of_another_task_and_too_few_images(noisy_run, tmp_path, make_digits, capsys):
    run_dir, _, _ = noisy_run
    few = make_digits(tmp_path / "few", per_class=1, classes=range(3))
    assert main(["review", str(run_dir), "--data", str(few), "--out", str(tmp_path / "o")]) == 2
    assert "at least 2 images of every class" in capsys.readouterr().err


def test_review_lists_copies_of_one_photo_with_two_labels_and_never_look_alikes(noisy_run, tmp_path, capsys):
    import shutil

    from PIL import Image

    run_dir, data, _ = noisy_run
    copy = shutil.copytree(data, tmp_path / "data")
    original = sorted((copy / "0").iterdir())[0]
    shutil.copy(original, copy / "1" / "same_bytes.png")  # an exact copy filed as a 1
    with Image.open(original) as image:  # the same pixels in another format, filed as a 2 (8 px digits are too small
        image.save(copy / "2" / "converted.bmp")  # for the aligned-pixels test: organize's near copies need more pixels)
    assert main(["review", str(run_dir), "--data", str(copy), "--out", str(tmp_path / "o"), "--folds", "3", "--explain", "0",
                 "--json", "--quiet"]) == 0
    answer = __import__("json").loads(capsys.readouterr().out)
    rows = list(csv.DictReader(open(tmp_path / "o" / "review_duplicates.csv")))
    assert answer["duplicate_groups"] == 1 and {r["group"] for r in rows} == {"1"}
    assert sorted(r["label"] for r in rows) == ["0", "1", "2"] and all("different labels" in r["problem"] for r in rows)
    assert {r["kind"] for r in rows} == {"exact"} and "kept file" in {r["evidence"] for r in rows}, rows
    assert "Copies with different labels or splits (1)" in (tmp_path / "o" / "review.html").read_text()


class _Fingerprints(torch.nn.Module):
    """Wraps a classifier: records each scored image's fingerprint (its pixels weighted by position, summed) and returns
    the classifier's logits."""

    def __init__(self, model, scored: list):
        super().__init__()
        self.model, self.scored = model, scored

    def forward(self, images_bchw):
        pixels = images_bchw.flatten(1).double()
        weights = torch.cos(torch.arange(pixels.shape[1], dtype=torch.float64))
        self.scored.extend((pixels @ weights).round(decimals=4).tolist())
        return self.model(images_bchw)


def test_retrain_scores_each_image_by_a_fold_model_that_never_trained_on_it(noisy_run):
    """Fold membership checked on what the models saw: the images each fold's model scored (fingerprinted through the
    real loader) are none of the images it was trained on, and every image is scored exactly once."""
    from vislearn import load_run
    from vislearn.tasks.classify.review_probabilities import retrained_probs, stratified_folds
    from vislearn.tasks.classify.train import labelled_for_run, predict_logits, train

    run_dir, data, _ = noisy_run
    run = load_run(run_dir)
    samples = labelled_for_run(data, run, split="all").splits["all"]
    labels_n = np.array([s.label for s in samples])
    all_prints: list = []
    channel_means = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())  # (B, 3): any output will do
    predict_logits(_Fingerprints(channel_means, all_prints).eval(), samples, run.preprocessing, run.config, "prints", False)
    assert len(set(all_prints)) == len(samples)  # 36 distinct digits: a fingerprint names one image
    print_of = dict(zip([s.path for s in samples], all_prints))
    folds = []  # per fold model: (fingerprints of the images it trained on, of the images it scored)

    def recording_train(config, run_dir, log, progress):
        trained_on = {print_of[row["path"]] for row in csv.DictReader(open(config.data))}
        result = train(config, run_dir, log=log, progress=progress)
        folds.append((trained_on, []))
        return {**result, "model": _Fingerprints(result["model"], folds[-1][1])}

    fold_n = stratified_folds(labels_n, 3, seed=0)
    probs = retrained_probs(run, samples, labels_n, None, fold_n, log=lambda *_: None, train=recording_train)
    assert len(folds) == 3 and probs.shape == (36, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    for fold, (trained_on, scored) in enumerate(folds):
        assert not trained_on & set(scored)
        assert sorted(scored) == sorted(all_prints[i] for i in np.flatnonzero(fold_n == fold))
        assert len(trained_on) == int((fold_n != fold).sum())  # trained on every other fold's image
    assert sorted(p for _, scored in folds for p in scored) == sorted(all_prints)


def test_review_retrain_says_which_method_made_the_probabilities_and_keeps_no_fold_models(noisy_run, tmp_path, capsys, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    run_dir, data, _ = noisy_run
    assert main(["review", str(run_dir), "--data", str(data), "--out", str(tmp_path / "o"), "--folds", "2", "--explain", "0",
                 "--method", "retrain"]) == 0
    err = capsys.readouterr().err
    assert "fold 1/2: training" in err and "fold 2/2 done" in err and "retrain: the run's recipe" in err
    assert not list((tmp_path / "scratch").iterdir())  # the fold models were scratch
    page = (tmp_path / "o" / "review.html").read_text()
    assert "retrained on the other folds, 2 trainings" in page and "never trained on it" in page
    rows = list(csv.DictReader(open(tmp_path / "o" / "review.csv")))
    assert all(r["given"] != r["suggested"] for r in rows)
    assert main(["review", str(run_dir), "--data", str(data), "--out", str(tmp_path / "x"), "--method", "guess"]) == 2
    assert "unknown review probability method 'guess'; known: features, retrain" in capsys.readouterr().err
