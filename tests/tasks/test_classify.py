"""Classification end to end through the Python API, with real data and measured quality."""
import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vislearn
from vislearn.data.samples import FASHION_MNIST_DIR
from vislearn.tasks.classify import run as classify_run
from vislearn.tasks.classify.train import auto_image_size, relabel
from vislearn.data import LabelledData, Sample


def test_auto_image_size_follows_the_data_within_the_model_range(tiny_digits):
    samples = [Sample(str(p), 0) for p in sorted(tiny_digits.rglob("*.png"))]
    assert auto_image_size(samples, 224) == 64  # 8 px digits: raised to the 64 px floor
    assert auto_image_size(samples, 32) == 32  # never above what the model was built for


def test_relabel_maps_a_subset_of_classes_onto_the_trained_order():
    data = LabelledData(["b", "c"], {"test": [Sample("x.png", 0), Sample("y.png", 1)]})
    mapped = relabel(data, ["a", "b", "c"])
    assert [s.label for s in mapped.splits["test"]] == [1, 2] and mapped.class_names == ["a", "b", "c"]


def demo_recipe() -> dict:
    """`make demo`'s recipe, read from the Makefile's DEMO_ARGS so that the test and the demo cannot drift apart."""
    makefile = Path(__file__).resolve().parents[2] / "Makefile"
    line = next(x for x in makefile.read_text().splitlines() if x.startswith("DEMO_ARGS"))
    words = line.split("=", 1)[1].split()
    recipe = {}
    for flag, value in zip(words[::2], words[1::2]):
        for cast in (int, float, str):
            try:
                recipe[flag.lstrip("-").replace("-", "_")] = cast(value)
                break
            except ValueError:
                continue
    return recipe


def test_the_demo_recipe_is_read_from_the_makefile():
    recipe = demo_recipe()
    assert recipe["model"] == "tiny_cnn" and isinstance(recipe["epochs"], int) and 0 < recipe["calibration_share"] < 1


DEMO = demo_recipe()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    data = vislearn.sample("digits", root / "digits", quiet=True)
    return vislearn.train("classify", data=data, out=root / "run", log=None, progress=False, **DEMO)


@pytest.mark.slow
def test_demo_recipe_reaches_98_percent_on_real_digits(demo_run):
    """`make demo` on scikit-learn's 1,797 digits: measured 0.9926-1.0 on seeds 0-4 (0-2 errors in 269); the bound
    (5 errors) leaves three more errors of room for other CPUs' floating point."""
    metrics = demo_run.metrics
    assert metrics["split"] == "test" and metrics["num_images"] == 269
    assert metrics["accuracy"] >= 0.98
    assert metrics["ece"] < 0.05
    assert classify_run.temperature(demo_run) > 0.3 and demo_run.report_path.is_file()


def _test_rows(run):
    with open(run.dir / "predictions_test.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_demo_errors_never_come_out_sure_and_max_error_keeps_its_promise(demo_run):
    rows = _test_rows(demo_run)
    assert not [r for r in rows if r["correct"] == "0" and float(r["confidence"]) >= 0.99]
    predictions, _ = vislearn.predict(demo_run, [r["path"] for r in rows], max_error=0.01, progress=False)
    truth = {r["path"]: r["label"] for r in rows}
    decided = [p for p in predictions if not p.refer_to_human]
    # measured 0.978-0.996 on seeds 0-4 (pooled features, their spreads and the middle stage; 0.929-0.970 with the
    # pooled features alone at --unlike-rate 0.03); the target is 0.95, three to seven images below the lowest seed
    assert len(decided) >= 0.95 * len(rows)
    assert sum(p.predicted != truth[p.path] for p in decided) <= 0.01 * len(decided)


@pytest.mark.slow
def test_demo_refers_blank_and_foreign_images_as_unlike_training(demo_run, tmp_path):
    import skimage.data

    blanks = {"black_cmyk.jpg": Image.new("CMYK", (8, 8), (0, 0, 0, 255)), "clear.png": Image.new("RGBA", (8, 8), (0, 0, 0, 0)),
              "grey16.png": Image.fromarray(np.full((8, 8), 30000, dtype=np.uint16)), "white.png": Image.new("L", (8, 8), 255)}
    rng = np.random.default_rng(0)
    foreign = {**blanks, **{f"noise{i}.png": Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)) for i in range(6)},
               "astronaut.png": Image.fromarray(skimage.data.astronaut()).resize((64, 64)),
               "brick.png": Image.fromarray(skimage.data.brick()).resize((64, 64))}
    for name, image in foreign.items():
        image.save(tmp_path / name)
    predictions, problems = vislearn.predict(demo_run, [tmp_path / n for n in foreign], progress=False)
    assert not problems and len(predictions) == len(foreign)
    assert all(p.refer_reason == "unlike training images" for p in predictions), [(p.path, p.refer_reason) for p in predictions]
    held_out = [r for r in _test_rows(demo_run)]
    assert sum(r["refer_reason"] == "unlike training images" for r in held_out) <= 0.05 * len(held_out)
    if Path(FASHION_MNIST_DIR).is_dir():  # look-alike grey 28 px items from another data set: measured 99.3-100 % on seeds 0-4
        items = sorted(vislearn.sample("fashion-mnist", tmp_path / "fm", quiet=True, limit=200).rglob("*.png"))
        predictions, _ = vislearn.predict(demo_run, items, progress=False)
        assert sum(p.refer_reason == "unlike training images" for p in predictions) >= 0.95 * len(items)


@pytest.mark.slow
def test_fashion_mnist_subset_learns_real_clothing_classes(tmp_path):
    if not Path(FASHION_MNIST_DIR).is_dir():
        pytest.skip(f"{FASHION_MNIST_DIR} absent (Debian: apt-get install dataset-fashion-mnist)")
    data = vislearn.sample("fashion-mnist", tmp_path / "fm", quiet=True, limit=2000)
    run = vislearn.train("classify", data=data, out=tmp_path / "run", model="tiny_cnn", weights="none", epochs=4,
                         image_size=28, log=None, progress=False)
    assert run.metrics["num_images"] == 2000  # the official test split, limited
    assert run.metrics["accuracy"] >= 0.72  # measured 0.77 with seed 0 (tiny_cnn_small: 0.62, too small)


def test_calibration_images_are_held_out_from_the_images_that_pick_the_epoch():
    from vislearn.tasks.classify.referral import split_calibration

    val = [Sample(f"{c}_{i}.png", c) for c in range(3) for i in range(10)]
    data = LabelledData(["a", "b", "c"], {"train": [Sample("t.png", 0)], "val": val, "test": []})
    split = split_calibration(data, 0.8, seed=0)
    picked, calibration = split.splits["val"], split.splits["calibration"]
    assert {s.path for s in picked}.isdisjoint(s.path for s in calibration)
    assert sorted(s.path for s in picked + calibration) == sorted(s.path for s in val)
    assert [sum(s.label == c for s in calibration) for c in range(3)] == [8, 8, 8]  # stratified
    assert split_calibration(data, 0.8, seed=0).splits["calibration"] == calibration  # seeded
    single = LabelledData(["a"], {"train": [], "val": [Sample("x.png", 0)]})
    assert "calibration" not in split_calibration(single, 0.5, 0).splits  # too few to split: val keeps both roles
