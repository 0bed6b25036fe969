"""classification_report, reliability_bins, coverage_curve and ClassificationMeter against known answers."""
from __future__ import annotations

import math

import pytest
import torch
from sklearn import metrics as skm

from vislearn.metrics import ClassificationMeter, classification_report, coverage_curve, reliability_bins

# 8 images, 3 classes. Predicted (argmax): 0 0 1 1 2 1 2 1
PROBS = torch.tensor([
    [0.70, 0.20, 0.10],  # true 0, right
    [0.50, 0.40, 0.10],  # true 0, right
    [0.20, 0.60, 0.20],  # true 0, called 1
    [0.10, 0.80, 0.10],  # true 1, right
    [0.25, 0.35, 0.40],  # true 1, called 2
    [0.10, 0.60, 0.30],  # true 1, right
    [0.10, 0.10, 0.80],  # true 2, right
    [0.20, 0.50, 0.30],  # true 2, called 1
])
LABELS = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
PREDICTED = PROBS.argmax(dim=1)
NAMES = ["zero", "one", "two"]


@pytest.fixture(scope="module")
def report() -> dict:
    return classification_report(PROBS, LABELS, NAMES)


def test_accuracy_and_macro_f1_match_hand_counts(report):
    assert report["num_images"] == 8
    assert report["accuracy"] == pytest.approx(5 / 8)
    # per-class F1: 2PR/(P+R) = 4/5, 4/7, 1/2
    assert report["macro_f1"] == pytest.approx((4 / 5 + 4 / 7 + 1 / 2) / 3)


def test_per_class_precision_recall_and_support_match_hand_counts(report):
    rows = [(r["name"], r["precision"], r["recall"], r["f1"], r["support"]) for r in report["per_class"]]
    expected = [("zero", 2 / 2, 2 / 3, 4 / 5, 3), ("one", 2 / 4, 2 / 3, 4 / 7, 3), ("two", 1 / 2, 1 / 2, 1 / 2, 2)]
    assert rows == [(n, pytest.approx(p), pytest.approx(r), pytest.approx(f), s) for n, p, r, f, s in expected]


def test_confusion_matrix_rows_are_true_classes(report):
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 2, 1], [0, 1, 1]]


def test_numbers_match_scikit_learn(report):
    y, p = LABELS.numpy(), PREDICTED.numpy()
    assert report["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert report["macro_f1"] == pytest.approx(skm.f1_score(y, p, average="macro"))
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, p)
    assert [r["precision"] for r in report["per_class"]] == pytest.approx(precision.tolist())
    assert [r["recall"] for r in report["per_class"]] == pytest.approx(recall.tolist())
    assert [r["f1"] for r in report["per_class"]] == pytest.approx(f1.tolist())
    assert [r["support"] for r in report["per_class"]] == support.tolist()
    assert report["confusion_matrix"] == skm.confusion_matrix(y, p).tolist()


def test_auroc_is_scikit_learns_one_vs_rest_macro_average(report):
    expected = skm.roc_auc_score(LABELS.numpy(), PROBS.numpy(), multi_class="ovr", average="macro")
    assert report["auroc"] == pytest.approx(expected, abs=1e-6)


def test_auroc_is_nan_when_a_class_has_no_images():
    report = classification_report(PROBS[:6], LABELS[:6], NAMES)  # no image of class "two"
    assert math.isnan(report["auroc"])


# 5 images, 2 classes, confidences away from the bin edges of 5 bins (0.2 apart)
ECE_PROBS = torch.tensor([[0.95, 0.05], [0.10, 0.90], [0.30, 0.70], [0.65, 0.35], [0.45, 0.55]])
ECE_LABELS = torch.tensor([0, 0, 1, 0, 0])  # right, wrong (0.90), right, right, wrong (0.55)


def test_ece_is_the_count_weighted_gap_between_confidence_and_accuracy_per_bin():
    # bin [0.8, 1): 0.95 right, 0.90 wrong -> |0.5 - 0.925|; [0.6, 0.8): 0.70, 0.65 right -> |1 - 0.675|;
    # [0.4, 0.6): 0.55 wrong -> |0 - 0.55|
    expected = 2 / 5 * 0.425 + 2 / 5 * 0.325 + 1 / 5 * 0.55
    assert classification_report(ECE_PROBS, ECE_LABELS, ["a", "b"], n_bins=5)["ece"] == pytest.approx(0.41)
    assert expected == pytest.approx(0.41)


def test_nll_is_the_mean_negative_log_probability_of_the_true_class():
    expected = -sum(math.log(p) for p in (0.95, 0.10, 0.70, 0.65, 0.45)) / 5
    assert classification_report(ECE_PROBS, ECE_LABELS, ["a", "b"])["nll"] == pytest.approx(expected, rel=1e-5)


def test_reliability_bins_hold_count_accuracy_and_confidence_per_bin():
    bins = reliability_bins(ECE_PROBS, ECE_LABELS, n_bins=5)
    assert bins["bin_edges"] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert bins["bin_count"] == [0, 0, 1, 2, 2]
    assert bins["bin_accuracy"] == pytest.approx([0, 0, 0, 1, 0.5])
    assert bins["bin_confidence"] == pytest.approx([0, 0, 0.55, 0.675, 0.925])


def test_reliability_bin_counts_sum_to_the_number_of_images():
    probs = torch.softmax(3 * torch.randn(997, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    probs[:5] = torch.eye(4)[[0, 1, 2, 3, 0]]  # confidence exactly 1.0 belongs to the last bin
    labels = torch.randint(0, 4, (997,), generator=torch.Generator().manual_seed(1))
    counts = reliability_bins(probs, labels, n_bins=15)["bin_count"]
    assert sum(counts) == 997 and counts[-1] >= 5


def test_ece_equals_the_gap_read_off_the_reliability_bins():
    generator = torch.Generator().manual_seed(2)
    probs = torch.softmax(2 * torch.randn(500, 3, generator=generator), dim=1)
    labels = torch.randint(0, 3, (500,), generator=generator)
    bins = reliability_bins(probs, labels, n_bins=10)
    from_bins = sum(n / 500 * abs(a - c) for n, a, c in zip(bins["bin_count"], bins["bin_accuracy"], bins["bin_confidence"]))
    assert classification_report(probs, labels, ["a", "b", "c"], n_bins=10)["ece"] == pytest.approx(from_bins, abs=1e-6)


def test_coverage_curve_on_a_hand_case():
    rows = coverage_curve(ECE_PROBS, ECE_LABELS, thresholds=[0.0, 0.6, 0.92, 0.99])
    assert [(r["threshold"], r["coverage"]) for r in rows] == [(0.0, 1.0), (0.6, 0.8), (0.92, 0.2), (0.99, 0.0)]
    assert [r["accuracy"] for r in rows[:3]] == pytest.approx([3 / 5, 3 / 4, 1.0])
    assert math.isnan(rows[3]["accuracy"])  # nothing kept: no accuracy to report


def test_coverage_starts_at_everything_with_overall_accuracy_and_never_rises():
    generator = torch.Generator().manual_seed(3)
    probs = torch.softmax(2 * torch.randn(400, 5, generator=generator), dim=1)
    labels = torch.randint(0, 5, (400,), generator=generator)
    rows = coverage_curve(probs, labels)
    assert rows[0]["threshold"] == 0.0 and rows[0]["coverage"] == 1.0
    assert rows[0]["accuracy"] == pytest.approx(float((probs.argmax(1) == labels).float().mean()))
    coverages = [r["coverage"] for r in rows]
    assert all(later <= earlier for earlier, later in zip(coverages, coverages[1:]))


def test_meter_over_batches_equals_scikit_learn_on_all_images():
    meter = ClassificationMeter(3)
    logits = PROBS.log()
    meter.update(logits[:5], LABELS[:5], torch.tensor(1.0))
    meter.update(logits[5:], LABELS[5:], torch.tensor(3.0))
    result = meter.compute()
    assert result["loss"] == pytest.approx((5 * 1.0 + 3 * 3.0) / 8)  # per image, not per batch
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(LABELS.numpy(), PREDICTED.numpy()))
    assert result["macro_f1"] == pytest.approx(skm.f1_score(LABELS.numpy(), PREDICTED.numpy(), average="macro"))


def test_meter_without_images_reports_nan_loss_and_zero_scores():
    result = ClassificationMeter(3).compute()
    assert math.isnan(result["loss"]) and (result["accuracy"], result["macro_f1"]) == (0.0, 0.0)
