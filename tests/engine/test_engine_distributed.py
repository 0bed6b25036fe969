"""Training in several processes (torchrun, gloo, 2 CPU processes): the same weights as one process at the same
global batch, resume after ``kill -9`` of one rank, rank 0 alone writing the run folder; accumulation in one process."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import vislearn
from vislearn.cli import _without_nproc, main
from vislearn.config import TrainConfig
from vislearn.engine import LAST, load_tensors, read_json
from vislearn.engine.distributed import process_device, torchrun_command, world_from_env, wrap_model
from vislearn.engine.train import steps_to_accumulate
from vislearn.errors import CheckpointError, DistributedSetupError

HERE = Path(__file__).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
EPOCHS = 12  # ~11 training digits per process, batches of 4: 3 steps an epoch, so the kill lands mid-run


def _model_tensors(run: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_tensors(run / LAST)[0].items() if k.startswith("model.")}


def _one_epoch_script():
    spec = importlib.util.spec_from_file_location("ddp_one_epoch", HERE / "ddp_one_epoch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_one_epoch_in_two_processes_gives_the_weights_of_one_process_at_the_same_global_batch(tmp_path, digit_folders):
    two = subprocess.run(torchrun_command(2, [str(HERE / "ddp_one_epoch.py"), str(digit_folders), str(tmp_path / "two")]),
                         env=ENV, capture_output=True, text=True, timeout=120)
    assert two.returncode == 0, two.stderr[-3000:]
    script = _one_epoch_script()
    script.main(str(digit_folders), str(tmp_path / "one"))

    start = {f"model.{k}": v for k, v in script.start_model().state_dict().items()}
    one, both = _model_tensors(tmp_path / "one"), _model_tensors(tmp_path / "two")
    assert one.keys() == both.keys() == start.keys()
    assert max((one[k] - start[k]).abs().max().item() for k in one) > 1e-3  # 3 AdamW steps moved the weights
    for k in one:
        torch.testing.assert_close(both[k], one[k], rtol=1e-4, atol=1e-5)
    assert [r["epoch"] for r in read_json(tmp_path / "two" / "history.json")] == [1]


def _tiny_net() -> nn.Module:
    torch.manual_seed(0)  # no BatchNorm/dropout: a batch of 16 and two of 8 then see the same arithmetic
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))


def test_accumulating_two_batches_of_8_gives_the_weights_of_batches_of_16(tmp_path, digit_samples, tiny_config, fit_tiny):
    config, samples = tiny_config.replace(epochs=1, augment="none"), digit_samples[:24]  # 2 steps: 16 + 8 images
    fit_tiny(tmp_path / "big", samples, config.replace(batch_size=16), model=_tiny_net())
    fit_tiny(tmp_path / "accumulated", samples, config.replace(batch_size=8, accumulate=2), model=_tiny_net())
    fit_tiny(tmp_path / "small", samples, config.replace(batch_size=8), model=_tiny_net())
    big, accumulated = _model_tensors(tmp_path / "big"), _model_tensors(tmp_path / "accumulated")
    for k in big:
        torch.testing.assert_close(accumulated[k], big[k], rtol=1e-5, atol=1e-6)
    small = _model_tensors(tmp_path / "small")  # 4 steps of 8 land elsewhere: the comparison can fail
    assert max((small[k] - big[k]).abs().max().item() for k in big) > 1e-4


def test_global_batch_sets_the_accumulation_and_says_so():
    lines = []
    config = TrainConfig(batch_size=16, global_batch=128)
    assert steps_to_accumulate(config, range(10), 2, lines.append) == 4
    assert lines == ["global batch 128 = batch 16 x 2 processes x 4 accumulated steps; 3 optimizer steps per epoch"]
    assert steps_to_accumulate(TrainConfig(batch_size=16), range(10), 1, lines.append) == 1
    assert len(lines) == 1  # one plain process: nothing to say


@pytest.mark.parametrize("changes, words", [({"global_batch": 100}, "multiple of --batch-size 16 x 2 process(es) = 32: use e.g. 96"),
                                            ({"global_batch": 64, "accumulate": 3}, "disagree"),
                                            ({"accumulate": 0}, "at least 1")])
def test_impossible_global_batches_are_refused_with_the_fix(changes, words):
    with pytest.raises(DistributedSetupError, match=words.replace("(", r"\(").replace(")", r"\)")):
        steps_to_accumulate(TrainConfig(batch_size=16, **changes), range(10), 2, print)


def test_nproc_is_taken_out_of_the_command_torchrun_runs():
    assert _without_nproc(["train", "classify", "--nproc", "2", "--data", "d", "--nproc=3"]) == ["train", "classify", "--data", "d"]


def test_a_task_that_trains_in_one_process_refuses_nproc_naming_itself(tmp_path, capsys):
    assert main(["train", "segment", "--data", str(tmp_path), "--nproc", "2"]) == 2
    assert "segment trains in one process only" in capsys.readouterr().err


def test_under_torchrun_a_one_process_task_stops_before_joining_the_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it; no process group may be started for segment
    with pytest.raises(DistributedSetupError, match="segment trains in one process only"):
        vislearn.train("segment", data=tmp_path, out=tmp_path / "run")


def test_processes_on_one_node_take_their_own_gpu_and_one_process_is_left_as_it_is():
    world = world_from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert (world.rank, world.size, world.local_rank, world.local_size, world.is_main) == (3, 4, 1, 2, False)
    assert process_device(torch.device("cuda"), world) == torch.device("cuda", 1)
    assert process_device(torch.device("cuda:0"), world) == torch.device("cuda", 0)  # the user's own choice stands
    assert process_device(torch.device("cuda"), world_from_env({})) == torch.device("cuda")
    assert world_from_env({}).is_main


def _epoch_on_disk(run: Path) -> int:
    try:
        return load_tensors(run / LAST)[1]["epoch"]
    except CheckpointError:
        return 0


def _rank_pid(torchrun_pid: int, rank: int) -> int:
    """The worker torchrun started with RANK=``rank``."""
    children = Path(f"/proc/{torchrun_pid}/task/{torchrun_pid}/children").read_text().split()
    for pid in children:
        if f"RANK={rank}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            return int(pid)
    raise AssertionError(f"no rank {rank} among torchrun's children {children}")


@pytest.fixture(scope="module")
def killed_then_resumed(tmp_path_factory, make_digits):
    """A 2-process ``vislearn train classify`` whose rank 1 gets SIGKILL after epoch 1, then the same command with
    --resume; ranks other than 0 die if they write into the run folder (ddp_rank0_writes.py)."""
    tmp = tmp_path_factory.mktemp("ddp")
    data, run = make_digits(tmp / "digits", 10, range(3)), tmp / "run"
    command = torchrun_command(2, [str(HERE / "ddp_rank0_writes.py"), "train", "classify", "--data", str(data), "--out", str(run),
                                   "--model", "tiny_cnn_small", "--weights", "none", "--epochs", str(EPOCHS), "--batch-size", "4",
                                   "--image-size", "16", "--patience", "100", "--workers", "0", "--json"])
    with open(tmp / "first.err", "w") as err:
        first = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 50
        while _epoch_on_disk(run) < 1:
            assert first.poll() is None, (tmp / "first.err").read_text()[-3000:]
            assert time.monotonic() < deadline, "no epoch finished within 50 s"
            time.sleep(0.005)
        os.kill(_rank_pid(first.pid, 1), signal.SIGKILL)
        first.wait(timeout=60)
    kept = load_tensors(run / LAST)[1]["history"]
    resumed = subprocess.run(command + ["--resume"], env=ENV, capture_output=True, text=True, timeout=120)
    return {"run": run, "first_rc": first.returncode, "first_err": (tmp / "first.err").read_text(), "kept": kept, "resumed": resumed}


@pytest.mark.slow
def test_kill_9_of_one_rank_then_the_same_command_with_resume_finishes_the_epochs(killed_then_resumed):
    r = killed_then_resumed
    assert r["first_rc"] != 0  # torchrun saw its worker killed and stopped the run
    assert 1 <= len(r["kept"]) < EPOCHS, "the kill should land mid-run"
    assert r["resumed"].returncode == 0, r["resumed"].stderr[-3000:]
    assert f"resumed from {r['run'] / LAST} after epoch {len(r['kept'])}" in r["resumed"].stderr
    history = read_json(r["run"] / "history.json")
    assert [row["epoch"] for row in history] == list(range(1, EPOCHS + 1))
    assert history[:len(r["kept"])] == r["kept"]  # finished epochs kept as they were, not redone


@pytest.mark.slow
def test_rank_0_alone_writes_the_run_folder_and_the_log(killed_then_resumed):
    r = killed_then_resumed
    assert "wrote" not in r["first_err"] and "wrote" not in r["resumed"].stderr  # no other rank wrote (it would exit 86)
    assert r["resumed"].returncode == 0
    (answer,) = r["resumed"].stdout.strip().splitlines()  # one --json answer, from rank 0
    assert json.loads(answer)["run"] == str(r["run"])
    for epoch in range(len(r["kept"]) + 1, EPOCHS + 1):
        assert r["resumed"].stderr.count(f"epoch {epoch:>3}  loss") == 1
    assert r["resumed"].stderr.count("report: ") == 1
    files = {p.name for p in r["run"].iterdir()}
    assert {"config.json", "data_summary.json", "history.json", LAST, "model.safetensors", "metrics.json", "report.html",
            "predictions_test.csv"} <= files
    assert not [name for name in files if name.endswith(".tmp")]
    assert read_json(r["run"] / "config.json")["runtime"]["processes"] == 2
    assert read_json(r["run"] / "metrics.json")["split"] == "test"


def test_one_process_gets_no_ddp_wrapper_and_sync_bn_is_ignored_aloud():
    lines, model = [], _tiny_net()
    assert wrap_model(model, torch.device("cpu"), True, lines.append) is model
    assert lines == ["--sync-bn ignored: one process, its BatchNorm already sees the whole batch"]
