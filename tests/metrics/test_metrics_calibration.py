"""Temperature scaling recovers a known temperature and lowers the calibration error."""
from __future__ import annotations

import pytest
import torch

from vislearn.metrics import calibrated_probs, classification_report, fit_temperature
from vislearn.metrics.calibration import calibrate_temperature

TRUE_TEMPERATURE = 2.5


def _overconfident_logits(n: int = 4_000, k: int = 5, seed: int = 0):
    """Logits z (n, k) and labels drawn from softmax(z / 2.5): z is 2.5x too sure of itself."""
    generator = torch.Generator().manual_seed(seed)
    logits = 4 * torch.randn(n, k, generator=generator)
    labels = torch.multinomial(torch.softmax(logits / TRUE_TEMPERATURE, dim=1), 1, generator=generator).squeeze(1)
    return logits, labels


def test_fit_temperature_recovers_a_known_temperature():
    logits, labels = _overconfident_logits()
    assert fit_temperature(logits, labels) == pytest.approx(TRUE_TEMPERATURE, rel=0.1)


def test_calibrated_probabilities_have_lower_ece_and_nll():
    logits, labels = _overconfident_logits()
    names = [str(i) for i in range(5)]
    before = classification_report(calibrated_probs(logits, 1.0), labels, names)
    after = classification_report(calibrated_probs(logits, fit_temperature(logits, labels)), labels, names)
    assert after["ece"] < before["ece"] / 3
    assert after["nll"] < before["nll"]
    assert after["accuracy"] == before["accuracy"]  # dividing by T > 0 never changes the argmax


def test_well_calibrated_logits_keep_a_temperature_near_one():
    generator = torch.Generator().manual_seed(1)
    logits = 3 * torch.randn(4_000, 4, generator=generator)
    labels = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator).squeeze(1)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, rel=0.1)


def test_fit_temperature_accepts_inference_mode_tensors():
    logits, labels = _overconfident_logits(n=2_000)
    with torch.inference_mode():
        logits, labels = logits.clone(), labels.clone()
    assert fit_temperature(logits, labels) == pytest.approx(TRUE_TEMPERATURE, rel=0.2)


def test_calibrated_probs_rows_sum_to_one():
    logits, _ = _overconfident_logits(n=10)
    probs = calibrated_probs(logits, 2.0)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(10))
    torch.testing.assert_close(probs, torch.softmax(logits / 2.0, dim=1))


def test_a_perfectly_classified_calibration_set_never_sharpens():
    """No errors: NLL falls without end as T shrinks; the rule keeps T = 1 instead of the bound (was 0.05)."""
    generator = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 4, (300,), generator=generator)
    logits = torch.randn(300, 4, generator=generator) + 6 * torch.nn.functional.one_hot(labels, 4)
    calibration = calibrate_temperature(logits, labels)
    assert calibration.errors == 0 and calibration.temperature == 1.0
    assert calibration.rule == "no sharpening without evidence" and calibration.fitted < 1.0
    assert "too little evidence" in calibration.reason


def test_enough_errors_let_an_underconfident_model_sharpen():
    """Logits too timid by 2.5x (z / 2.5 drawn at T = 1): the fit sharpens to T near 0.4, with evidence."""
    generator = torch.Generator().manual_seed(3)
    logits = 1.6 * torch.randn(3_000, 5, generator=generator)
    labels = torch.multinomial(torch.softmax(logits * 2.5, dim=1), 1, generator=generator).squeeze(1)
    calibration = calibrate_temperature(logits, labels)
    assert calibration.rule == "fitted" and calibration.temperature == pytest.approx(0.4, rel=0.15)


def test_a_single_class_calibration_set_keeps_t_one():
    logits = torch.randn(50, 3)
    calibration = calibrate_temperature(logits, torch.zeros(50, dtype=torch.long))
    assert calibration.temperature == 1.0 and calibration.rule == "single class"


def test_the_prior_pulls_a_tiny_set_towards_one_but_not_a_large_one():
    logits, labels = _overconfident_logits(n=4_000)
    assert calibrate_temperature(logits, labels).temperature == pytest.approx(TRUE_TEMPERATURE, rel=0.1)
    few = calibrate_temperature(logits[:20], labels[:20]).temperature
    assert 1.0 <= few <= TRUE_TEMPERATURE * 1.5
