"""Devices and precision: fp32 on CPU by default; fp16 scales the loss so small gradients survive, and resumes exactly."""
from __future__ import annotations

import contextlib

import pytest
import torch

from vislearn.engine import LAST, load_tensors
from vislearn.engine.device import autocast, memory_format, one_thread, pick_device, pick_precision
from vislearn.tasks.classify.train import ClassifyTask


def test_cpu_defaults_to_fp32_and_contiguous_memory():
    cpu = pick_device("cpu")
    assert (cpu.type, pick_precision(cpu, "auto"), memory_format(cpu, None)) == ("cpu", "fp32", torch.contiguous_format)
    assert isinstance(autocast(cpu, "fp32"), contextlib.nullcontext)


def test_one_thread_holds_inside_the_block_and_restores_the_count_after_even_on_error():
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(KeyError), one_thread():
            raise KeyError("inside")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_an_explicit_precision_is_kept():
    assert [pick_precision(torch.device("cpu"), p) for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]


class TinyLoss(ClassifyTask):
    """Cross-entropy x 1e-8: every gradient lies below fp16's smallest number (6e-8) unless the loss is scaled."""

    def loss(self, logits, labels):
        return 1e-8 * super().loss(logits, labels)


def test_fp16_training_keeps_gradients_too_small_for_fp16(tmp_path, digit_samples, tiny_config, fit_tiny, new_model):
    model = new_model()
    start = model.stem[0].weight.detach().clone()
    config = tiny_config.replace(precision="fp16", epochs=1, weight_decay=0.0)  # no decay: only gradients move weights
    fit_tiny(tmp_path, digit_samples[::2], config, task=TinyLoss(3), model=model)
    assert not torch.equal(model.stem[0].weight.detach(), start)


def test_fp16_resume_restores_the_loss_scale_and_replays_exactly(tmp_path, digit_samples, tiny_config, fit_tiny,
                                                                 ctrl_c_after_epoch):
    samples, config = digit_samples[::2], tiny_config.replace(precision="fp16", epochs=2)
    fit_tiny(tmp_path / "straight", samples, config)
    with pytest.raises(KeyboardInterrupt):
        fit_tiny(tmp_path / "resumed", samples, config, log=ctrl_c_after_epoch(1))
    assert load_tensors(tmp_path / "resumed" / LAST)[1]["grad_scaler"]["scale"] > 0
    fit_tiny(tmp_path / "resumed", samples, config, resume=True)
    straight, resumed = load_tensors(tmp_path / "straight" / LAST), load_tensors(tmp_path / "resumed" / LAST)
    assert [k for k in straight[0] if not torch.equal(straight[0][k], resumed[0][k])] == []
    assert straight[1]["grad_scaler"] == resumed[1]["grad_scaler"]
