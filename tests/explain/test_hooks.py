import pytest
import torch

from explain_helpers import hooks_left
from vislearn.explain import capture


def test_capture_gives_each_named_module_output_and_its_gradient(tiny_cnn):
    x = torch.randn(2, 3, 32, 32)
    with capture(tiny_cnn, ["stages.1", "stages.2"], gradients=True) as seen:
        score = tiny_cnn(x)[:, 3].sum()
        expected = torch.autograd.grad(score, seen.activations["stages.2"], retain_graph=True)[0]
        score.backward()
    assert seen.activations["stages.1"].shape == (2, 64, 8, 8)
    assert seen.activations["stages.2"].shape == (2, 128, 4, 4)
    assert seen.gradients["stages.1"].shape == (2, 64, 8, 8)
    torch.testing.assert_close(seen.gradients["stages.2"], expected)
    torch.testing.assert_close(seen.activations["stages.2"], tiny_cnn.forward_features(x))


def test_hooks_are_removed_when_the_block_ends(tiny_cnn):
    with capture(tiny_cnn, ["stem", "stages.2"], gradients=True) as seen:
        assert sorted(hooks_left(tiny_cnn)) == ["stages.2", "stem"]
        tiny_cnn(torch.randn(1, 3, 32, 32))
    kept = seen.activations["stem"]
    tiny_cnn(torch.randn(1, 3, 32, 32))
    assert hooks_left(tiny_cnn) == []
    assert seen.activations["stem"] is kept


def test_hooks_are_removed_when_the_block_raises(tiny_cnn):
    with pytest.raises(RuntimeError, match="boom"):
        with capture(tiny_cnn, ["stem", "stages.0", "stages.2"], gradients=True):
            tiny_cnn(torch.randn(1, 3, 32, 32)).sum().backward()
            raise RuntimeError("boom")
    assert hooks_left(tiny_cnn) == []


def test_hooks_already_placed_are_removed_when_a_later_name_is_unknown(tiny_cnn):
    with pytest.raises(AttributeError):
        with capture(tiny_cnn, ["stem", "no_such_block"]):
            pass
    assert hooks_left(tiny_cnn) == []
