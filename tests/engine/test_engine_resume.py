"""Resume promise: a run killed mid-training and resumed ends with the weights of a run never interrupted."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vislearn.config import TrainConfig
from vislearn.engine import BEST, LAST, load_tensors, read_json
from vislearn.errors import CheckpointError
from vislearn.tasks.classify import train as classify

EPOCHS = 10
BATCH = 4  # 18 training images: 5 steps per epoch, so the kill lands mid-run


def _epoch_on_disk(run: Path) -> int:
    try:
        return load_tensors(run / LAST)[1]["epoch"]
    except CheckpointError:
        return 0


def _cli(data: Path, run: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("vislearn")), "train", "classify", "--data", str(data), "--out", str(run),
            "--model", "tiny_cnn_small", "--weights", "none", "--epochs", str(EPOCHS), "--batch-size", str(BATCH),
            "--image-size", "16", "--patience", "100", "--workers", "0", "--quiet"]


def _config(data: Path, **changes) -> TrainConfig:
    """The config ``_cli`` gives ``classify.train`` (CLI defaults are TrainConfig's)."""
    return TrainConfig(task="classify", data=str(data), model="tiny_cnn_small", weights="none", epochs=EPOCHS,
                       batch_size=BATCH, image_size=16, patience=100, workers=0).replace(**changes)


def _tensors_that_differ(a: Path, b: Path) -> list[str]:
    ours, theirs = load_tensors(a)[0], load_tensors(b)[0]
    assert ours.keys() == theirs.keys()
    return [k for k in ours if not torch.equal(ours[k], theirs[k])]


@pytest.mark.slow
def test_resume_after_kill_loses_at_most_one_epoch(tmp_path, digit_folders):
    run, command = tmp_path / "run", _cli(digit_folders, tmp_path / "run")
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

    classify.train(_config(digit_folders), tmp_path / "reference", log=lambda _line: None, progress=False)
    history, reference = load_tensors(run / LAST)[1]["history"], load_tensors(tmp_path / "reference" / LAST)[1]["history"]
    assert [row["epoch"] for row in history] == list(range(1, EPOCHS + 1))
    assert [row["epoch"] for row in read_json(run / "history.json")] == list(range(1, EPOCHS + 1))
    assert history[:killed_after] == kept  # finished epochs kept as they were (timings too), not redone
    timing = {"seconds", "images_per_second"}
    assert [{k: v for k, v in row.items() if k not in timing} for row in history] == \
        [{k: v for k, v in row.items() if k not in timing} for row in reference]
    for name in (LAST, BEST):  # model and optimizer tensors, then the best epoch's weights
        assert _tensors_that_differ(run / name, tmp_path / "reference" / name) == []


def test_training_from_scratch_twice_with_one_seed_gives_the_same_weights(tmp_path, digit_folders):
    config = _config(digit_folders, epochs=1, batch_size=8, device="cpu", precision="fp32")
    for process_state, run in ((1, "a"), (2, "b")):
        torch.manual_seed(process_state)  # whatever the process did before must not matter
        classify.train(config, tmp_path / run, log=lambda _line: None, progress=False)
    assert _tensors_that_differ(tmp_path / "a" / LAST, tmp_path / "b" / LAST) == []


def test_training_from_scratch_with_another_seed_gives_other_weights(tmp_path, digit_folders):
    config = _config(digit_folders, epochs=1, batch_size=8, device="cpu", precision="fp32")
    classify.train(config, tmp_path / "a", log=lambda _line: None, progress=False)
    classify.train(config.replace(seed=1), tmp_path / "b", log=lambda _line: None, progress=False)
    assert "model.fc.weight" in _tensors_that_differ(tmp_path / "a" / LAST, tmp_path / "b" / LAST)
