"""Prediction backends by name: eager PyTorch and ONNX Runtime answer alike; the fastest one is picked by timing."""
from __future__ import annotations

import pytest
import torch

from vislearn.engine.predict import BACKENDS, fastest_backend

pytest.importorskip("onnxruntime")


@pytest.fixture
def trained_like(new_model):
    """tiny_cnn_small in eval mode with BatchNorm statistics from 2 random batches (random init alone
    gives near-constant logits, which would hide differences)."""
    model = new_model(num_classes=4, seed=0).train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(8, 3, 16, 16) * 2)
    return model.eval()


def test_torch_and_onnx_backends_give_the_same_outputs(tmp_path, trained_like):
    images = torch.randn(5, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    eager = BACKENDS.get("torch")(trained_like, device="cpu")(images)
    onnx = BACKENDS.get("onnx")(trained_like, image_size=16, onnx_path=tmp_path / "model.onnx")(images)
    assert eager.shape == onnx.shape == (5, 4)
    assert eager.std() > 0.01  # outputs that differ per image, so agreement means something
    torch.testing.assert_close(onnx, eager, atol=1e-4, rtol=1e-4)


def test_onnx_backend_without_a_path_runs_the_model_as_it_is_now(trained_like):
    images = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    before = BACKENDS.get("onnx")(trained_like, image_size=16)(images)
    with torch.no_grad():
        trained_like.fc.bias += 1.0  # same model object, new weights
    after = BACKENDS.get("onnx")(trained_like, image_size=16)(images)
    torch.testing.assert_close(after, before + 1.0, atol=1e-4, rtol=1e-4)


def test_fastest_backend_names_one_of_the_candidates(tmp_path, trained_like):
    candidates = {"torch": {"device": "cpu"}, "onnx": {"onnx_path": tmp_path / "model.onnx"}}
    assert fastest_backend(trained_like, 16, candidates, batch=4, repeats=2) in candidates


def test_fastest_backend_skips_a_backend_that_fails(tmp_path, trained_like):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder: the ONNX export cannot be written below it")
    candidates = {"onnx": {"onnx_path": blocked / "model.onnx"}, "torch": {"device": "cpu"}}
    assert fastest_backend(trained_like, 16, candidates, batch=4, repeats=1) == "torch"
