"""The scoring front: ONNX Runtime when it agrees with PyTorch, PyTorch otherwise, and the choice said."""
import sys

import pytest
import torch

from vislearn.anomaly.front import BACKENDS, ConvFront, Front
from vislearn.anomaly.pixel_gaussian import PixelGaussian
from vislearn.models import create_model


def _front() -> ConvFront:
    torch.manual_seed(0)
    backbone = create_model("tiny_cnn", 2, "none").eval()
    pixels = PixelGaussian()
    pixels.add(torch.rand(4, 3, 32, 32))
    pixels.finish()
    student = torch.nn.Conv2d(3, 1, 3, padding=1)  # a head with trainable weights, as the distillation student's
    return ConvFront(backbone, ["stem", "stages.0"], [pixels.distance_map, lambda x: student(x)[:, 0]], (student,))


def test_onnxruntime_front_gives_pytorchs_maps_for_any_batch_and_size(one_torch_thread):
    pytest.importorskip("onnxruntime")
    front = Front(_front())
    images = torch.rand(3, 3, 32, 32)
    fast = front(images)
    assert front.backend == "onnxruntime" and "run by onnxruntime" in front.decision
    reference = torch.no_grad()(front.module)(images, stop_early=True)
    assert len(fast) == 4 and [m.shape for m in fast] == [m.shape for m in reference]
    for f, r in zip(fast, reference):
        assert torch.allclose(f, r, rtol=1e-4, atol=1e-4 * float(r.abs().max()))
    other = torch.rand(1, 3, 48, 40)  # another batch size and another image size: the same graph
    assert torch.allclose(front(other)[-2], front.module(other)[-2], rtol=1e-4, atol=1e-3)
    assert not any(m.training for m in front.module.modules())  # the export restored eval mode, not train mode


def test_without_onnxruntime_the_front_runs_in_pytorch_and_says_why(monkeypatch, one_torch_thread):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    front = Front(_front())
    images = torch.rand(2, 3, 32, 32)
    maps = front(images)
    assert front.backend == "torch"
    assert "run by torch" in front.decision and "onnxruntime: not installed" in front.decision
    assert torch.equal(maps[0], front.module(images, stop_early=True)[0])


def test_a_backend_whose_maps_disagree_is_not_used(one_torch_thread):
    def wrong(front, example):
        return lambda images: [m + 1.0 for m in front(images, stop_early=True)]

    BACKENDS.register("wrong-for-test")(wrong)
    try:
        front = Front(_front(), prefer=("wrong-for-test", "torch"))
        front(torch.rand(2, 3, 32, 32))
    finally:
        BACKENDS.unregister("wrong-for-test")
    assert front.backend == "torch" and "wrong-for-test: maps differ from PyTorch's" in front.decision



def test_two_threads_run_the_batch_as_two_slices_with_the_whole_batchs_maps(one_torch_thread):
    pytest.importorskip("onnxruntime")
    torch.set_num_threads(2)  # restored by the fixture
    front = Front(_front())
    images = torch.rand(5, 3, 32, 32)  # uneven: slices of 3 and 2
    sliced = front(images)
    assert "2 image slices at once, one thread each" in front.decision
    whole = front._run.narrow.run(None, {"images": images.numpy()})
    for s, w in zip(sliced, whole):
        assert torch.allclose(s, torch.from_numpy(w), rtol=1e-5, atol=1e-5 * float(abs(w).max()))
    assert [m.shape[0] for m in front(images[:1])] == [1] * 4  # fewer images than threads: whole, on both threads
