"""A tiny trained classify run for the serve tests (the live server they need sockets for: live_server.py)."""
import pytest
from tiny_runs import SMALL_CLASSIFIER, train_tiny


@pytest.fixture(scope="session")
def classify_run(tmp_path_factory, make_digits):
    """(run folder, one digit image) of a one-epoch tiny_cnn_small on 3 classes of real digits."""
    root = tmp_path_factory.mktemp("serve")
    data = make_digits(root / "digits", per_class=8, classes=range(3))
    run = train_tiny("classify", data=data, out=root / "run-digits", **SMALL_CLASSIFIER)
    return run.dir, sorted((data / "1").iterdir())[0]
