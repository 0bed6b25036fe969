"""Metrics tests run on one torch thread: their tensors are small, and on a busy 2-core machine OpenMP
threads spinning against each other made LBFGS and torchmetrics several times slower."""
import pytest


@pytest.fixture(autouse=True)
def _metrics_on_one_thread(one_torch_thread):
    yield
