"""warmup_cosine: the LR multiplier rises linearly to 1 over the warm-up, then falls along a cosine to 1 %."""
from __future__ import annotations

import math

import pytest

from vislearn.engine.train import warmup_cosine


def test_warmup_starts_near_zero_and_rises_linearly_to_one():
    factor = warmup_cosine(total_steps=100, warmup_steps=10)
    assert [factor(s) for s in range(10)] == pytest.approx([0.1 * (s + 1) for s in range(10)])


def test_cosine_starts_at_one_and_ends_at_one_percent():
    factor = warmup_cosine(total_steps=100, warmup_steps=10)
    assert factor(10) == 1.0
    assert factor(55) == pytest.approx(0.01 + 0.99 * 0.5)  # half-way through the decay
    assert factor(100) == pytest.approx(0.01)
    assert factor(250) == pytest.approx(0.01)  # steps past the end stay at the floor


def test_decay_never_rises():
    factor = warmup_cosine(total_steps=50, warmup_steps=5)
    values = [factor(s) for s in range(5, 51)]
    assert all(later <= earlier for earlier, later in zip(values, values[1:]))
    assert min(values) == pytest.approx(0.01) and not any(math.isnan(v) for v in values)
