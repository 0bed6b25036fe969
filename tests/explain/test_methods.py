import pytest
import torch

from explain_helpers import hooks_left
from vislearn.errors import UnknownNameError
from vislearn.explain import EXPLAINERS, explain, gradcam


def test_registry_lists_both_methods():
    assert EXPLAINERS.names() == ["gradcam", "integrated_gradients"]


@pytest.mark.parametrize("method", EXPLAINERS.names())
def test_every_method_gives_input_sized_maps_in_zero_one(tiny_cnn, method):
    heat = explain(tiny_cnn, torch.randn(2, 3, 32, 32), method=method, target_classes=[0, 5])
    assert heat.shape == (2, 32, 32)
    assert heat.min() >= 0 and heat.max() <= 1
    torch.testing.assert_close(heat.amax(dim=(1, 2)), torch.ones(2))


@pytest.mark.parametrize("method", EXPLAINERS.names())
def test_every_method_leaves_model_state_unchanged(tiny_cnn, method):
    tiny_cnn.train()
    tiny_cnn.stem[1].eval()  # a mix of modes must come back as it was
    for param in tiny_cnn.stages[0].parameters():
        param.requires_grad_(False)
    modes = [module.training for module in tiny_cnn.modules()]
    flags = [param.requires_grad for param in tiny_cnn.parameters()]
    buffers = {name: buffer.clone() for name, buffer in tiny_cnn.named_buffers()}

    EXPLAINERS.get(method)(tiny_cnn, torch.randn(2, 3, 32, 32))

    assert [module.training for module in tiny_cnn.modules()] == modes
    assert [param.requires_grad for param in tiny_cnn.parameters()] == flags
    assert all(param.grad is None for param in tiny_cnn.parameters())
    for name, buffer in tiny_cnn.named_buffers():  # BatchNorm statistics were not updated
        torch.testing.assert_close(buffer, buffers[name])
    assert hooks_left(tiny_cnn) == []


def test_every_method_works_on_a_fully_frozen_model(tiny_cnn):
    tiny_cnn.requires_grad_(False)
    for method in EXPLAINERS.names():
        assert explain(tiny_cnn, torch.randn(1, 3, 32, 32), method=method).max() == 1


def test_explain_dispatches_by_name(tiny_cnn):
    images = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(explain(tiny_cnn, images, "gradcam", 3), gradcam(tiny_cnn, images, 3))


def test_explain_names_the_known_methods_for_an_unknown_one(tiny_cnn):
    with pytest.raises(UnknownNameError, match="gradcam, integrated_gradients"):
        explain(tiny_cnn, torch.randn(1, 3, 32, 32), method="lime")
