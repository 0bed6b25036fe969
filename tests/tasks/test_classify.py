"""Classification end to end through the Python API, with real data and measured quality."""
from pathlib import Path

import pytest

import vislearn
from vislearn.data.samples import FASHION_MNIST_DIR
from vislearn.tasks.classify import auto_image_size, relabel
from vislearn.data import LabelledData, Sample


def test_auto_image_size_follows_the_data_within_the_model_range(tiny_digits):
    samples = [Sample(str(p), 0) for p in sorted(tiny_digits.rglob("*.png"))]
    assert auto_image_size(samples, 224) == 64  # 8 px digits: raised to the 64 px floor
    assert auto_image_size(samples, 32) == 32  # never above what the model was built for


def test_relabel_maps_a_subset_of_classes_onto_the_trained_order():
    data = LabelledData(["b", "c"], {"test": [Sample("x.png", 0), Sample("y.png", 1)]})
    mapped = relabel(data, ["a", "b", "c"])
    assert [s.label for s in mapped.splits["test"]] == [1, 2] and mapped.class_names == ["a", "b", "c"]


@pytest.mark.slow
def test_demo_recipe_reaches_98_percent_on_real_digits(tmp_path):
    """What `make demo` promises: >= 98 % test accuracy on scikit-learn's 1,797 digits."""
    data = vislearn.sample("digits", tmp_path / "digits", quiet=True)
    run = vislearn.train("classify", data=data, out=tmp_path / "run", model="tiny_cnn", weights="none", epochs=15,
                         log=None, progress=False)
    metrics = run.metrics
    assert metrics["split"] == "test" and metrics["num_images"] == 269
    assert metrics["accuracy"] >= 0.98
    assert metrics["ece"] < 0.05
    assert run.temperature > 0 and run.report_path.is_file()


@pytest.mark.slow
def test_fashion_mnist_subset_learns_real_clothing_classes(tmp_path):
    if not Path(FASHION_MNIST_DIR).is_dir():
        pytest.skip(f"{FASHION_MNIST_DIR} absent (Debian: apt-get install dataset-fashion-mnist)")
    data = vislearn.sample("fashion-mnist", tmp_path / "fm", quiet=True, limit=2000)
    run = vislearn.train("classify", data=data, out=tmp_path / "run", model="tiny_cnn", weights="none", epochs=4,
                         image_size=28, log=None, progress=False)
    assert run.metrics["num_images"] == 2000  # the official test split, limited
    assert run.metrics["accuracy"] >= 0.72  # measured 0.77 with seed 0 (tiny_cnn_small: 0.62, too small)
