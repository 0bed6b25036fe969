"""The recipe options reach what they name: the optimizer, the per-step LR schedule, the loss, the memory layout."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from vislearn.config import TrainConfig
from vislearn.engine.recipe import choose_memory_format, make_optimizer, make_schedule
from vislearn.models import create_model
from vislearn.tasks.classify.train import ClassifyTask


def _lr_trace(config: TrainConfig, steps_per_epoch: int) -> list[float]:
    optimizer = make_optimizer(nn.Linear(2, 2), config)
    schedule = make_schedule(optimizer, config, steps_per_epoch)
    trace = []
    for _ in range(config.epochs * steps_per_epoch):
        trace.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return trace


def test_sgd_is_nesterov_with_its_own_weight_decay_unless_given():
    sgd = make_optimizer(nn.Linear(2, 2), TrainConfig(optimizer="sgd", lr=0.05, weight_decay=None))
    assert isinstance(sgd, torch.optim.SGD)
    group = sgd.param_groups[0]
    assert group["nesterov"] and group["momentum"] == 0.9 and group["weight_decay"] == 5e-4 and group["lr"] == 0.05
    given = make_optimizer(nn.Linear(2, 2), TrainConfig(optimizer="sgd", weight_decay=1e-3))
    assert given.param_groups[0]["weight_decay"] == 1e-3
    adamw = make_optimizer(nn.Linear(2, 2), TrainConfig(weight_decay=None))
    assert isinstance(adamw, torch.optim.AdamW) and adamw.param_groups[0]["weight_decay"] == 0.05


def test_one_cycle_rises_from_a_25th_to_the_peak_at_the_warm_up_end_then_falls_to_near_zero():
    config = TrainConfig(optimizer="sgd", lr=0.1, schedule="onecycle", epochs=4, warmup_epochs=1.0)
    trace = _lr_trace(config, steps_per_epoch=10)  # 40 steps, 10 of warm-up
    assert trace[0] == pytest.approx(0.1 / 25)
    assert max(trace) == pytest.approx(0.1) and 9 <= trace.index(max(trace)) <= 10
    assert all(b >= a for a, b in zip(trace[:10], trace[1:10]))  # rises
    assert all(b <= a for a, b in zip(trace[10:], trace[11:]))  # then only falls
    assert trace[-1] < 0.1 / 100


def test_one_cycle_moves_momentum_against_the_learning_rate():
    config = TrainConfig(optimizer="sgd", lr=0.1, schedule="onecycle", epochs=2, warmup_epochs=1.0)
    optimizer = make_optimizer(nn.Linear(2, 2), config)
    schedule = make_schedule(optimizer, config, 5)
    momenta = [optimizer.param_groups[0]["momentum"]]
    for _ in range(5):
        optimizer.step()
        schedule.step()
        momenta.append(optimizer.param_groups[0]["momentum"])
    assert momenta[0] == pytest.approx(0.95) and min(momenta) == pytest.approx(0.85, abs=0.01)


def test_cosine_stays_the_default_schedule():
    trace = _lr_trace(TrainConfig(lr=0.01, epochs=2, warmup_epochs=0.5), steps_per_epoch=10)
    assert trace[0] == pytest.approx(0.01 / 5) and trace[4] == pytest.approx(0.01) and trace[-1] > 0.01 * 0.01


def test_label_smoothing_changes_the_loss_as_its_formula_says():
    logits = torch.tensor([[4.0, 0.0, -2.0], [0.5, 3.0, 0.0]])
    labels = torch.tensor([0, 1])
    plain, smoothed = ClassifyTask(3).loss(logits, labels), ClassifyTask(3, 0.1).loss(logits, labels)
    log_p = logits.log_softmax(1)
    expected = (0.9 * -log_p[[0, 1], labels] + 0.1 * -log_p.mean(1)).mean()
    assert smoothed == pytest.approx(expected.item(), abs=1e-6) and smoothed > plain


def test_memory_format_auto_is_contiguous_on_cpu_channels_last_on_cuda_and_says_why():
    conv = create_model("tiny_cnn_small", 3, "none")
    fmt, why = choose_memory_format(torch.device("cpu"), None, conv)
    assert fmt == torch.contiguous_format and why.startswith("auto") and "channels_last" in why
    assert choose_memory_format(torch.device("cuda"), None, conv)[0] == torch.channels_last
    assert choose_memory_format(torch.device("cpu"), None, nn.Linear(4, 2))[0] == torch.contiguous_format
    assert choose_memory_format(torch.device("cpu"), False, conv) == (torch.contiguous_format, "--memory-format")
    assert choose_memory_format(torch.device("cpu"), True, conv) == (torch.channels_last, "--memory-format")


def test_a_channels_last_step_leaves_the_weights_a_contiguous_step_leaves():
    images, labels = torch.randn(8, 3, 16, 16), torch.randint(0, 3, (8,))
    weights = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        torch.manual_seed(0)
        model = create_model("cnn5", 3, "none").to(memory_format=fmt)
        optimizer = make_optimizer(model, TrainConfig(optimizer="sgd", lr=0.1))
        nn.functional.cross_entropy(model(images.contiguous(memory_format=fmt)), labels).backward()
        optimizer.step()
        weights.append(model.state_dict())
    assert weights[1]["stem.0.weight"].is_contiguous(memory_format=torch.channels_last)
    for name, value in weights[0].items():
        torch.testing.assert_close(weights[1][name], value, rtol=1e-4, atol=1e-5)


def test_fit_trains_with_the_named_recipe_and_reports_it(tmp_path, digit_samples, tiny_config, fit_tiny):
    config = tiny_config.replace(optimizer="sgd", schedule="onecycle", lr=0.05, weight_decay=None, epochs=1, warmup_epochs=0.5,
                                 channels_last=True)
    lines = []
    _, result = fit_tiny(tmp_path, digit_samples, config, log=lines.append)  # 4 steps
    assert result.recipe["optimizer"].startswith("SGD") and result.recipe["weight_decay"] == 5e-4
    assert result.recipe["schedule"] == "onecycle" and result.recipe["memory_format"] == "channels_last"
    assert lines[0].startswith("recipe: SGD with Nesterov momentum 0.9, lr 0.05, weight decay 0.0005, onecycle")
    assert result.history[-1]["lr"] < 0.05 / 100  # one-cycle ran to its end within the epoch
