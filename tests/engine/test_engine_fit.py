"""fit: reproducible from (weights, seed), resumable to the bit, early stopping, LR schedule, skipped files."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from vislearn.data import Sample
from vislearn.engine import BEST, LAST, load_tensors
from vislearn.tasks.classify.train import ClassifyTask


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"{len(differ)} of {len(a)} tensors differ, e.g. {differ[:3]}"


def test_same_seed_and_start_train_identical_weights(tmp_path, digit_samples, tiny_config, fit_tiny):
    first, _ = fit_tiny(tmp_path / "a", digit_samples[::2], tiny_config.replace(seed=7))
    second, _ = fit_tiny(tmp_path / "b", digit_samples[::2], tiny_config.replace(seed=7))
    assert_same_tensors(first.state_dict(), second.state_dict())


def test_other_seed_trains_other_weights(tmp_path, digit_samples, tiny_config, fit_tiny):
    first, _ = fit_tiny(tmp_path / "a", digit_samples[::2], tiny_config.replace(seed=7))
    other, _ = fit_tiny(tmp_path / "b", digit_samples[::2], tiny_config.replace(seed=8))
    assert not torch.equal(first.fc.weight, other.fc.weight)


def test_resume_replays_the_uninterrupted_run_exactly(tmp_path, digit_samples, tiny_config, fit_tiny, new_model,
                                                      ctrl_c_after_epoch):
    samples, config = digit_samples, tiny_config.replace(epochs=3, seed=3)
    _, straight = fit_tiny(tmp_path / "straight", samples, config)
    with pytest.raises(KeyboardInterrupt):
        fit_tiny(tmp_path / "resumed", samples, config, log=ctrl_c_after_epoch(1))
    # another starting point: the resumed weights must come from last.safetensors, not from the model handed in
    _, resumed = fit_tiny(tmp_path / "resumed", samples, config, model=new_model(seed=99), resume=True)

    assert [row["epoch"] for row in resumed.history] == [1, 2, 3]
    assert (resumed.best_epoch, resumed.best_score) == (straight.best_epoch, straight.best_score)
    for name in (LAST, BEST):
        assert_same_tensors(load_tensors(tmp_path / "straight" / name)[0], load_tensors(tmp_path / "resumed" / name)[0])


def test_resume_of_a_finished_run_trains_nothing_more(tmp_path, digit_samples, tiny_config, fit_tiny):
    samples, config = digit_samples[::3], tiny_config.replace(epochs=1)
    fit_tiny(tmp_path, samples, config)
    before = load_tensors(tmp_path / LAST)[0]
    lines = []
    _, again = fit_tiny(tmp_path, samples, config, resume=True, log=lines.append)
    assert lines[0].startswith("recipe: AdamW") and lines[1:] == [f"resumed from {tmp_path / LAST} after epoch 1"]
    assert [row["epoch"] for row in again.history] == [1]
    assert_same_tensors(before, load_tensors(tmp_path / LAST)[0])


def test_every_epoch_is_checkpointed_with_its_history(tmp_path, digit_samples, tiny_config, fit_tiny):
    _, result = fit_tiny(tmp_path, digit_samples[::2], tiny_config.replace(epochs=2))
    _, last = load_tensors(tmp_path / LAST)
    _, best = load_tensors(tmp_path / BEST)
    assert last["epoch"] == 2 and last["history"] == result.history
    assert json.loads((tmp_path / "history.json").read_text()) == result.history
    assert best == {"epoch": result.best_epoch, "score": result.best_score}
    assert result.best_score == max(row["val_macro_f1"] for row in result.history)


class ConstantMeter:
    """A validation score that never improves on the first epoch's."""

    def update(self, outputs, labels, loss) -> None:
        pass

    def compute(self) -> dict[str, float]:
        return {"loss": 1.0, "macro_f1": 0.5}


class NeverImproves(ClassifyTask):
    def new_meter(self) -> ConstantMeter:
        return ConstantMeter()


def test_early_stopping_after_patience_epochs_without_improvement(tmp_path, digit_samples, tiny_config, fit_tiny):
    samples = digit_samples[::3]
    _, result = fit_tiny(tmp_path, samples, tiny_config.replace(epochs=10, patience=2), task=NeverImproves(3))
    assert [row["epoch"] for row in result.history] == [1, 2, 3]  # epoch 1 sets the best, 2 and 3 fail to beat it
    assert (result.stopped_early, result.best_epoch, result.best_score) == (True, 1, 0.5)
    assert load_tensors(tmp_path / BEST)[1]["epoch"] == 1


def test_a_run_that_reaches_its_last_epoch_did_not_stop_early(tmp_path, digit_samples, tiny_config, fit_tiny):
    samples = digit_samples[::3]
    _, result = fit_tiny(tmp_path, samples, tiny_config.replace(epochs=3, patience=2), task=NeverImproves(3))
    assert len(result.history) == 3 and result.stopped_early is False


def test_resuming_an_early_stopped_run_stays_stopped(tmp_path, digit_samples, tiny_config, fit_tiny):
    samples, config = digit_samples[::3], tiny_config.replace(epochs=10, patience=1)
    fit_tiny(tmp_path, samples, config, task=NeverImproves(3))
    _, again = fit_tiny(tmp_path, samples, config, task=NeverImproves(3), resume=True)
    assert len(again.history) == 2 and again.stopped_early is True


def test_learning_rate_ends_the_run_at_one_percent(tmp_path, digit_samples, tiny_config, fit_tiny):
    _, result = fit_tiny(tmp_path, digit_samples[::2], tiny_config.replace(epochs=2, lr=2e-3, warmup_epochs=1))
    # 15 images in batches of 8: 2 steps per epoch, warm-up over epoch 1 ends at the full rate
    assert result.history[0]["lr"] == pytest.approx(2e-3)
    assert result.history[-1]["lr"] == pytest.approx(0.01 * 2e-3)


def _write_png(path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)


def test_unreadable_images_are_skipped_and_reported_with_their_reason(tmp_path, digit_samples, tiny_config, fit_tiny):
    truncated, garbage = tmp_path / "bad" / "0" / "truncated.png", tmp_path / "bad" / "1" / "garbage.png"
    _write_png(truncated, seed=1)
    truncated.write_bytes(truncated.read_bytes()[:1500])  # header intact, pixel data cut: passes a header check
    garbage.parent.mkdir(parents=True)
    garbage.write_bytes(b"not a png at all")
    samples = digit_samples[::2] + [Sample(str(truncated), 0), Sample(str(garbage), 1)]

    _, result = fit_tiny(tmp_path / "run", samples, tiny_config.replace(epochs=2))

    assert len(result.history) == 2 and all(math.isfinite(row["train_loss"]) for row in result.history)
    assert sorted((p.path, p.reason) for p in result.skipped) == [
        (str(truncated), "cannot decode: file is truncated (an interrupted copy or download?)"),
        (str(garbage), "not an image Pillow can read (wrong format or corrupt header)"),
    ]


def test_skipped_files_survive_a_resume(tmp_path, digit_samples, tiny_config, fit_tiny):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG broken")
    samples, config = digit_samples[::3] + [Sample(str(garbage), 2)], tiny_config.replace(epochs=1)
    fit_tiny(tmp_path / "run", samples, config)
    _, resumed = fit_tiny(tmp_path / "run", samples, config, resume=True)
    assert [p.path for p in resumed.skipped] == [str(garbage)]


class SaturatedMeter(ConstantMeter):
    """Validation at 100 % from the first epoch on, while its loss keeps falling."""

    calls = 0

    def compute(self) -> dict[str, float]:
        SaturatedMeter.calls += 1
        return {"loss": 1.0 / SaturatedMeter.calls, "macro_f1": 1.0}


class SaturatesAtOnce(ClassifyTask):
    def new_meter(self) -> SaturatedMeter:
        return SaturatedMeter()


def test_a_tie_on_the_score_goes_to_the_epoch_with_the_lower_validation_loss(tmp_path, digit_samples, tiny_config, fit_tiny):
    SaturatedMeter.calls = 0
    _, result = fit_tiny(tmp_path, digit_samples[::3], tiny_config.replace(epochs=3, patience=1), task=SaturatesAtOnce(3))
    assert result.best_epoch == 3 and not result.stopped_early
