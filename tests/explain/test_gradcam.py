import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from explain_helpers import CAT_CLASS
from vislearn.explain import gradcam


def reference_gradcam(model, images_bchw, targets, layer):
    """pytorch-grad-cam's maps (B, H, W): min-max scaled at feature resolution, then cv2-resized."""
    with GradCAM(model=model, target_layers=[model.get_submodule(layer)]) as cam:
        return cam(input_tensor=images_bchw, targets=[ClassifierOutputTarget(t) for t in targets])


def correlation(a_hw, b_hw) -> float:
    return float(np.corrcoef(np.asarray(a_hw).ravel(), np.asarray(b_hw).ravel())[0, 1])


@pytest.mark.parametrize("layer", ["stages.2", "stages.1"])
def test_gradcam_matches_pytorch_grad_cam_on_tiny_cnn(tiny_cnn, layer):
    torch.manual_seed(1)
    images = torch.randn(2, 3, 48, 48)
    ours = gradcam(tiny_cnn, images, target_classes=[3, 7], layer=layer)
    theirs = reference_gradcam(tiny_cnn, images, [3, 7], layer)
    for ours_hw, theirs_hw in zip(ours, theirs):
        assert ours_hw.std() > 0.05  # a real map, not a flat one that any method would match
        assert correlation(ours_hw, theirs_hw) >= 0.99


@pytest.mark.slow
def test_gradcam_matches_pytorch_grad_cam_on_pretrained_lite0_cat(lite0, chelsea_bchw):
    ours = gradcam(lite0, chelsea_bchw, target_classes=CAT_CLASS, layer="blocks.6")
    theirs = reference_gradcam(lite0, chelsea_bchw, [CAT_CLASS], "blocks.6")
    assert correlation(ours[0], theirs[0]) >= 0.99


@pytest.mark.slow
def test_gradcam_heat_for_cat_lies_on_the_cats_face(lite0, chelsea_bchw):
    # chelsea is 451x300 squashed to 224x224; the face spans x 100..360, y 40..270 in the photo
    face = torch.zeros(224, 224, dtype=torch.bool)
    face[round(40 * 224 / 300):round(270 * 224 / 300), round(100 * 224 / 451):round(360 * 224 / 451)] = True
    heat = gradcam(lite0, chelsea_bchw, target_classes=CAT_CLASS)[0]
    goldfish_heat = gradcam(lite0, chelsea_bchw, target_classes=1)[0]
    assert heat[face].mean() > 1.6 * heat[~face].mean()  # measured 0.78 vs 0.38
    assert goldfish_heat[face].mean() < 1.6 * goldfish_heat[~face].mean()  # 0.53 vs 0.39: the check can fail


def test_gradcam_maps_are_input_sized_and_span_zero_to_one(tiny_cnn):
    heat = gradcam(tiny_cnn, torch.randn(3, 3, 40, 48))
    assert heat.shape == (3, 40, 48)
    torch.testing.assert_close(heat.amin(dim=(1, 2)), torch.zeros(3))
    torch.testing.assert_close(heat.amax(dim=(1, 2)), torch.ones(3))


def test_gradcam_without_targets_explains_the_predicted_class(tiny_cnn):
    images = torch.randn(2, 3, 32, 32)
    predicted = tiny_cnn(images).argmax(dim=1)
    torch.testing.assert_close(gradcam(tiny_cnn, images), gradcam(tiny_cnn, images, target_classes=predicted))


def test_gradcam_one_int_target_applies_to_every_image(tiny_cnn):
    images = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(gradcam(tiny_cnn, images, target_classes=4), gradcam(tiny_cnn, images, target_classes=[4, 4]))


def test_gradcam_with_channels_last_model_and_input_gives_same_map(tiny_cnn):
    images = torch.randn(2, 3, 32, 32)
    expected = gradcam(tiny_cnn, images, target_classes=[1, 2])
    tiny_cnn.to(memory_format=torch.channels_last)
    got = gradcam(tiny_cnn, images.to(memory_format=torch.channels_last), target_classes=[1, 2])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_gradcam_works_inside_inference_mode(tiny_cnn):
    images = torch.randn(1, 3, 32, 32)
    expected = gradcam(tiny_cnn, images, target_classes=0)
    with torch.inference_mode():
        got = gradcam(tiny_cnn, images, target_classes=0)
    torch.testing.assert_close(got, expected)


def test_gradcam_refuses_a_wrong_number_of_targets(tiny_cnn):
    with pytest.raises(ValueError, match="one per image"):
        gradcam(tiny_cnn, torch.randn(2, 3, 32, 32), target_classes=[1, 2, 3])


def test_gradcam_refuses_a_class_the_model_does_not_have(tiny_cnn):
    with pytest.raises(ValueError, match=r"outside 0\.\.9"):
        gradcam(tiny_cnn, torch.randn(1, 3, 32, 32), target_classes=10)
