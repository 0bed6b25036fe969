"""The regression gate's verdict on paired predictions: McNemar, bootstrap interval, margin."""
import pytest
import torch

from vislearn.metrics.regression_gate import compare_models


def _one_hot(predicted, k=3):
    return torch.nn.functional.one_hot(torch.as_tensor(predicted), k).float() * 0.9 + 0.1 / k


def test_a_clearly_worse_model_is_refused_with_both_reasons():
    labels = torch.tensor([i % 3 for i in range(100)])
    old = labels.clone()
    old[:5] = (labels[:5] + 1) % 3  # old: 95 right
    new = old.clone()
    new[10:18] = (labels[10:18] + 1) % 3  # 8 images only the old model gets right
    new[0] = labels[0]  # 1 image only the new one gets right
    verdict = compare_models(_one_hot(old), _one_hot(new), labels, ["a", "b", "c"])
    assert verdict["accuracy"]["old"] == pytest.approx(0.95) and verdict["accuracy"]["new"] == pytest.approx(0.88)
    assert verdict["mcnemar"] == {"only_old_right": 8, "only_new_right": 1, "p_value": pytest.approx(20 / 512)}  # exact binomial
    assert not verdict["promoted"] and len(verdict["reasons"]) == 2
    lo, hi = verdict["difference_interval_95"]
    assert lo < -0.07 < hi < 0


def test_the_same_or_a_better_model_is_promoted():
    labels = torch.tensor([i % 3 for i in range(60)])
    wrong = (labels + 1) % 3
    old = torch.where(torch.arange(60) < 12, wrong, labels)
    same = compare_models(_one_hot(old), _one_hot(old), labels, ["a", "b", "c"])
    assert same["promoted"] and same["mcnemar"]["p_value"] == 1.0 and same["difference_interval_95"] == [0.0, 0.0]
    better = compare_models(_one_hot(old), _one_hot(labels), labels, ["a", "b", "c"])
    assert better["promoted"] and better["accuracy_difference"] == pytest.approx(0.2) and not better["worse_classes"]


def test_a_drop_within_the_margin_passes_and_per_class_drops_are_listed():
    labels = torch.tensor([i % 2 for i in range(400)])
    new = labels.clone()
    new[0] = 1  # one class-a image lost: accuracy -0.0025, class a's recall -0.005
    verdict = compare_models(_one_hot(labels, 2), _one_hot(new, 2), labels, ["a", "b"], margin=0.01)
    assert verdict["promoted"] and verdict["worse_classes"] == []
    strict = compare_models(_one_hot(labels, 2), _one_hot(new, 2), labels, ["a", "b"], margin=0.002)
    assert strict["promoted"] is False and strict["worse_classes"] == ["a"]
