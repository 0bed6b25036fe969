"""`vislearn train classify --from RUN`: fine-tuning with a regression gate on the earlier run's frozen test images."""
import json
import random

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from tiny_runs import SMALL_CLASSIFIER, train_tiny
from vislearn.cli import main

pytestmark = pytest.mark.slow  # three tiny trainings (~40 s on an idle 2-core machine)
SMALL = dict(**SMALL_CLASSIFIER, explain_examples=0)


def _digits(root, per_class: int, shuffled: bool = False):
    """Digits 0-2 as class folders; ``shuffled``: every image in a random class folder (corrupted labels)."""
    digits, rng = load_digits(), random.Random(0)
    for d in range(3):
        for i in np.flatnonzero(digits.target == d)[:per_class]:
            folder = root / str(rng.randrange(3) if shuffled else d)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).save(folder / f"d{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    return root, train_tiny("classify", data=_digits(root / "data", 40), out=root / "base", epochs=8, **SMALL)


def test_corrupted_new_labels_are_refused_and_the_old_run_stays_promoted(base, capsys, one_torch_thread):
    root, old = base
    assert old.metrics["accuracy"] >= 0.6  # the base run learnt something its frozen test images can show
    corrupted = _digits(root / "corrupted", 40, shuffled=True)  # the same digits, each in a random class folder
    assert main(["train", "classify", "--data", str(corrupted), "--out", str(root / "bad"), "--from", str(old.dir), "--model",
                 "tiny_cnn_small", "--image-size", "16", "--batch-size", "16", "--weights", "none", "--epochs", "8", "--workers", "0",
                 "--device", "cpu", "--precision", "fp32", "--quiet", "--json"]) == 0
    gate = json.loads((root / "bad" / "gate.json").read_text())
    assert gate["split"] == "frozen test" and gate["images"] == len(list(open(old.dir / "predictions_test.csv"))) - 1
    assert not gate["promoted"] and gate["reasons"]
    assert not (old.dir / "promoted.json").exists()
    assert gate["changed"]["broken"] and all(r["old"] == r["truth"] != r["new"] for r in gate["changed"]["broken"])
    report = (root / "bad" / "report.html").read_text()
    assert '<section id="gate">' in report and "NOT promoted" in report and "Broken: right before, wrong now" in report


def test_more_good_data_with_corrected_labels_is_promoted(base, one_torch_thread):
    root, old = base
    more = _digits(root / "more", 80)
    wrong = sorted((more / "1").glob("*.png"))[:6]  # six ones filed under "2" by mistake, then corrected by a person
    for path in wrong:
        path.rename(more / "2" / path.name)
    (root / "fix.csv").write_text("path,label\n" + "".join(f"more/2/{p.name},1\n" for p in wrong))
    run = train_tiny("classify", data=more, out=root / "better", extra={"from_run": str(old.dir), "corrections": str(root / "fix.csv")},
                     epochs=6, **SMALL)
    assert any("6 labels changed" in w for w in json.loads((run.dir / "data_summary.json").read_text())["warnings"])
    gate = json.loads((run.dir / "gate.json").read_text())
    assert gate["promoted"], gate["reasons"]
    assert gate["accuracy"]["new"] >= gate["accuracy"]["old"] - 0.01
    assert json.loads((old.dir / "promoted.json").read_text())["run"] == str(run.dir.resolve())


def test_from_a_run_with_other_classes_is_a_clear_error(base, tmp_path, capsys):
    _, old = base
    other = _digits(tmp_path / "other", 5)
    (other / "2").rename(other / "seven")
    assert main(["train", "classify", "--data", str(other), "--out", str(tmp_path / "o"), "--from", str(old.dir), "--model",
                 "tiny_cnn_small", "--weights", "none", "--epochs", "1", "--workers", "0", "--quiet"]) == 2
    assert "differ from the data's" in capsys.readouterr().err


def test_fine_tuning_lowers_the_default_learning_rate_and_keeps_the_users(capsys):
    from vislearn.config import TrainConfig
    from vislearn.tasks.classify.gate import FINE_TUNE_LR_SCALE, fine_tune_lr

    said = []
    assert fine_tune_lr(TrainConfig(), said.append).lr == pytest.approx(TrainConfig().lr * FINE_TUNE_LR_SCALE)
    assert "fine-tuning" in said[0] and "--lr" in said[0]
    assert fine_tune_lr(TrainConfig(lr=0.01), said.append).lr == 0.01 and len(said) == 1  # the user's own value wins
