"""Every registered backbone (and a few timm ones) honours the same contract."""
import pytest
import torch

from vislearn.engine import load_tensors, save_tensors
from vislearn.models import BACKBONES, create_model
from vislearn.registry import Registry

NAMES = BACKBONES.names() + ["resnet18", "tf_efficientnet_lite0"]


@pytest.mark.parametrize("name", NAMES)
def test_backbone_forward_backward_save_load_and_features(name, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, 5, weights="none")
    x = torch.randn(2, 3, 32, 32)
    logits = model(x)
    assert logits.shape == (2, 5)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    info = model.feature_info
    assert len(info) >= 3 and all({"module", "num_chs", "reduction"} <= set(f) for f in info)
    features = model.forward_features(x)
    assert features.shape[1] == model.num_features
    assert model.pretrained_cfg["first_conv"] and model.pretrained_cfg["classifier"]
    save_tensors(tmp_path / "m.safetensors", model.state_dict())
    clone = create_model(name, 5, weights="none")
    clone.load_state_dict(load_tensors(tmp_path / "m.safetensors")[0])
    model.eval(), clone.eval()
    with torch.no_grad():
        assert torch.allclose(model(x), clone(x))


def test_registry_refuses_a_name_twice_and_lists_names():
    reg = Registry("thing")
    reg.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)
    assert reg.names() == ["a"] and "a" in reg
