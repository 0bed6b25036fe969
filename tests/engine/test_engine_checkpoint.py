"""Checkpoints: safetensors only, written atomically, unreadable files named; optimizer state round-trips."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

import vislearn.engine.checkpoint as checkpoint
from vislearn.engine.checkpoint import (
    load_tensors,
    optimizer_state,
    read_json,
    restore_optimizer,
    save_tensors,
    write_json,
)
from vislearn.errors import CheckpointError


def test_tensors_and_metadata_round_trip(tmp_path):
    tensors = {"w": torch.arange(6.0).reshape(2, 3), "steps": torch.tensor([3], dtype=torch.int64)}
    save_tensors(tmp_path / "c.safetensors", tensors, {"epoch": 4, "best_score": float("-inf"), "history": [{"lr": 0.1}]})
    loaded, meta = load_tensors(tmp_path / "c.safetensors")
    assert torch.equal(loaded["w"], tensors["w"]) and torch.equal(loaded["steps"], tensors["steps"])
    assert meta == {"epoch": 4, "best_score": float("-inf"), "history": [{"lr": 0.1}]}


class _FailingSaveFile:
    """Stands in for safetensors' save_file: writes half a file, then fails like a full disk."""

    def __call__(self, tensors, filename, metadata=None):
        Path(filename).write_bytes(b"\x00" * 100)
        raise OSError(28, "No space left on device")


def test_failed_write_keeps_the_previous_checkpoint_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "last.safetensors"
    save_tensors(path, {"w": torch.ones(3)}, {"epoch": 1})
    monkeypatch.setattr(checkpoint, "save_file", _FailingSaveFile())
    with pytest.raises(OSError, match="No space left"):
        save_tensors(path, {"w": torch.zeros(3)}, {"epoch": 2})
    tensors, meta = load_tensors(path)
    assert torch.equal(tensors["w"], torch.ones(3)) and meta == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.safetensors"]


def test_failed_json_write_keeps_the_previous_file_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "history.json"
    write_json(path, [{"epoch": 1}])
    with pytest.raises(TypeError):
        write_json(path, [{"epoch": 2, "model": object()}])  # not JSON: fails half-way through the dump
    assert read_json(path) == [{"epoch": 1}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json"]


def test_json_is_indented_by_two_unless_asked_otherwise(tmp_path):
    data = {"paths": ["a.jpg", "b.jpg"], "dim": 3}
    write_json(tmp_path / "two.json", data)
    write_json(tmp_path / "one.json", data, indent=1)
    write_json(tmp_path / "compact.json", data, indent=None)
    assert (tmp_path / "two.json").read_text() == json.dumps(data, indent=2)
    assert (tmp_path / "one.json").read_text() == json.dumps(data, indent=1)
    assert (tmp_path / "compact.json").read_text() == '{"paths": ["a.jpg", "b.jpg"], "dim": 3}'


def test_missing_checkpoint_is_named_in_the_error(tmp_path):
    with pytest.raises(CheckpointError, match=f"^{tmp_path / 'last.safetensors'}: checkpoint not found$"):
        load_tensors(tmp_path / "last.safetensors")


@pytest.mark.parametrize("damage", ["empty", "text", "truncated", "header_only"])
def test_damaged_checkpoint_raises_checkpoint_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "model.safetensors"
    save_tensors(path, {"w": torch.randn(64)}, {"epoch": 1})
    whole = path.read_bytes()
    path.write_bytes({"empty": b"", "text": b"epoch 1, weights lost", "truncated": whole[:-40], "header_only": whole[:6]}[damage])
    with pytest.raises(CheckpointError, match=f"^{path}: not a readable safetensors checkpoint"):
        load_tensors(path)


class _LeavesMarker:
    """Unpickling this creates ``marker``: proof that a loader ran pickled code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_pickle_payload_is_refused_and_never_unpickled(tmp_path, writer):
    marker, path = tmp_path / "code_ran", tmp_path / "model.safetensors"
    payload = {"w": torch.ones(2), "evil": _LeavesMarker(marker)}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    with pytest.raises(CheckpointError, match=f"^{path}: not a readable safetensors checkpoint"):
        load_tensors(path)
    assert not marker.exists()


def test_unreadable_json_is_named_in_the_error(tmp_path):
    (tmp_path / "config.json").write_text('{"epochs": 3,')
    with pytest.raises(CheckpointError, match=f"^{tmp_path / 'config.json'}: unreadable JSON"):
        read_json(tmp_path / "config.json")


def _adamw_after_steps(steps: int):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 2)
    for _ in range(steps):
        _step(model, optimizer, x, y)
    return model, optimizer, (x, y)


def _step(model, optimizer, x, y) -> None:
    optimizer.zero_grad()
    torch.nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()


def test_optimizer_state_round_trips_through_a_checkpoint_file(tmp_path):
    model, optimizer, (x, y) = _adamw_after_steps(5)
    tensors, meta = optimizer_state(optimizer)
    save_tensors(tmp_path / "opt.safetensors", tensors | {f"model.{k}": v for k, v in model.state_dict().items()}, {"optimizer": meta})

    restored_model, restored, _ = _adamw_after_steps(0)
    loaded, loaded_meta = load_tensors(tmp_path / "opt.safetensors")
    restored_model.load_state_dict({k.removeprefix("model."): v for k, v in loaded.items() if k.startswith("model.")})
    restore_optimizer(restored, loaded, loaded_meta["optimizer"])

    assert float(restored.state_dict()["state"][0]["step"]) == 5.0
    _step(model, optimizer, x, y)
    _step(restored_model, restored, x, y)
    for a, b in zip(model.parameters(), restored_model.parameters()):
        assert torch.equal(a, b)


def test_optimizer_tensors_are_named_by_parameter_and_key():
    _, optimizer, _ = _adamw_after_steps(2)
    tensors, meta = optimizer_state(optimizer)
    assert meta["plain"] == {} and meta["param_groups"][0]["lr"] == 0.05
    assert sorted(tensors) == [f"optimizer.{p}.{k}" for p in range(4) for k in ("exp_avg", "exp_avg_sq", "step")]


def test_checkpoints_get_the_same_permissions_as_any_new_file(tmp_path):
    save_tensors(tmp_path / "model.safetensors", {"w": torch.ones(1)})
    write_json(tmp_path / "history.json", [])
    (tmp_path / "plain.txt").write_text("")
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes["model.safetensors"] == modes["history.json"] == modes["plain.txt"]
