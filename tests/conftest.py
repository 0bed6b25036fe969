"""Shared tiny data: a few real handwritten digits (scikit-learn) as class folders; one torch thread where asked."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as vislearn/__init__.py, but before this file imports vislearn and torch
# decoded images of test runs are kept in a throw-away folder, never in the user's ~/.cache (data/decoded_store.py)
os.environ.setdefault("VISLEARN_CACHE_DIR", __import__("tempfile").mkdtemp(prefix="vislearn-test-decoded-"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from vislearn.engine.device import one_thread  # noqa: E402


@pytest.fixture
def one_torch_thread():
    """Tiny tensors gain nothing from threads, and on a busy 2-core machine OpenMP threads spinning against
    each other made fits and metrics 3-10x slower; restored afterwards."""
    with one_thread():
        yield


def write_digits(root, per_class: int, classes=range(10)):
    from sklearn.datasets import load_digits

    data = load_digits()
    for digit in classes:
        (root / str(digit)).mkdir(parents=True, exist_ok=True)
        picks = np.flatnonzero(data.target == digit)[:per_class]
        for i in picks:
            Image.fromarray((data.images[i] * 255 / 16).astype(np.uint8)).save(root / str(digit) / f"d{i:04d}.png")
    return root


@pytest.fixture(scope="session")
def tiny_digits(tmp_path_factory):
    """30 digits of each class 0-9 (300 PNGs of 8x8 pixels) in ``<tmp>/digits/<class>/``."""
    return write_digits(tmp_path_factory.mktemp("data") / "digits", per_class=30)


@pytest.fixture(scope="session")
def make_digits():
    """``make_digits(root, per_class, classes)`` writes real digits as class folders under ``root``."""
    return write_digits


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster of 2 CPUs, started once per test session and shut down after it (skipped without
    ``vislearn[ray]``); vislearn's ``--engine ray`` jobs find it connected and use it."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
