"""Metrics tests run on one torch thread: their tensors are small, and on a busy 2-core machine OpenMP
threads spinning against each other made LBFGS and torchmetrics several times slower."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
