"""Resume promise: a run killed mid-training and resumed ends with the weights of a run never interrupted."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from vislearn.config import TrainConfig
from vislearn.data import read_labelled
from vislearn.engine import BEST, LAST, fit, load_tensors, read_json
from vislearn.errors import CheckpointError
from vislearn.models import create_model, preprocessing_for
from vislearn.tasks import classify

EPOCHS = 10
BATCH = 4  # 18 training images: 5 steps per epoch, so the kill lands mid-run


def _epoch_on_disk(run: Path) -> int:
    try:
        return load_tensors(run / LAST)[1]["epoch"]
    except CheckpointError:
        return 0


def _cli(data: Path, start: Path, run: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("vislearn")), "train", "classify", "--data", str(data), "--out", str(run),
            "--model", "tiny_cnn_small", "--weights", str(start), "--epochs", str(EPOCHS), "--batch-size", str(BATCH),
            "--image-size", "16", "--patience", "100", "--workers", "0", "--quiet"]


def _uninterrupted_fit(data: Path, start: Path, run: Path) -> None:
    """What ``vislearn train`` does up to the end of training, in one go: read, split, build, fit."""
    config = TrainConfig(task="classify", data=str(data), model="tiny_cnn_small", weights=str(start), epochs=EPOCHS,
                         batch_size=BATCH, image_size=16, patience=100, workers=0)
    labelled = read_labelled(config.data, config.seed, config.val_fraction, config.test_fraction)
    model = create_model(config.model, len(labelled.class_names), config.weights)
    train_loader, val_loader = classify.loaders(labelled, preprocessing_for(model, 16), config)
    fit(model, classify.ClassifyTask(len(labelled.class_names)), train_loader, val_loader, config, run,
        log=lambda _line: None, progress=False)


@pytest.mark.slow
def test_resume_after_kill_loses_at_most_one_epoch(tmp_path, digit_folders, new_model):
    start, run = tmp_path / "start.safetensors", tmp_path / "run"
    save_file(new_model(num_classes=3, seed=0).state_dict(), str(start))  # one starting point for both runs
    command = _cli(digit_folders, start, run)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as the in-process reference (one_torch_thread)

    training = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 50
    while (seen := _epoch_on_disk(run)) < 1:
        assert training.poll() is None, training.stderr.read().decode()
        assert time.monotonic() < deadline, "no epoch finished within 50 s"
        time.sleep(0.005)
    training.kill()  # SIGKILL: no handler, no cleanup
    training.wait()
    killed_after = _epoch_on_disk(run)
    assert seen <= killed_after < EPOCHS  # the checkpoint survived the kill, and epochs were left to do
    kept = load_tensors(run / LAST)[1]["history"]

    resumed = subprocess.run(command + ["--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr

    _uninterrupted_fit(digit_folders, start, tmp_path / "reference")
    last, meta = load_tensors(run / LAST)
    reference, reference_meta = load_tensors(tmp_path / "reference" / LAST)
    assert [row["epoch"] for row in meta["history"]] == list(range(1, EPOCHS + 1))
    assert meta["history"][:killed_after] == kept  # finished epochs kept as they were (timings too), not redone
    assert [row["epoch"] for row in read_json(run / "history.json")] == list(range(1, EPOCHS + 1))
    timing = {"seconds", "images_per_second"}
    assert [{k: v for k, v in row.items() if k not in timing} for row in meta["history"]] == \
        [{k: v for k, v in row.items() if k not in timing} for row in reference_meta["history"]]
    for name in (LAST, BEST):  # model and optimizer tensors, then the best epoch's weights
        ours, theirs = load_tensors(run / name)[0], load_tensors(tmp_path / "reference" / name)[0]
        assert ours.keys() == theirs.keys()
        assert [k for k in ours if not torch.equal(ours[k], theirs[k])] == []


@pytest.mark.xfail(strict=True, reason="classify.train calls create_model before anything seeds torch, so random "
                   "initial weights (weights='none', or a new head) ignore config.seed; fix: torch.manual_seed(config.seed) "
                   "before create_model in vislearn/tasks/classify.py, then drop this marker")
def test_training_from_scratch_twice_with_one_seed_gives_the_same_weights(tmp_path, digit_folders):
    config = TrainConfig(task="classify", data=str(digit_folders), model="tiny_cnn_small", weights="none", epochs=1,
                         batch_size=8, image_size=16, workers=0, device="cpu", precision="fp32")
    models = []
    for process_state, run in ((1, "a"), (2, "b")):
        torch.manual_seed(process_state)  # whatever the process did before must not matter
        models.append(classify.train(config, tmp_path / run, log=lambda _line: None, progress=False)["model"])
    first, second = (m.state_dict() for m in models)
    assert [k for k in first if not torch.equal(first[k], second[k])] == []
