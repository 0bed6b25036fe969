"""One Grad-CAM for every task, driven by targets: a session answers many targets from one forward, and each kind
of target (class logit, mean logit over a region) gives the map pytorch-grad-cam gives for its own target."""
import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM as ReferenceGradCAM
from pytorch_grad_cam.utils.model_targets import SemanticSegmentationTarget

from explain_helpers import hooks_left
from vislearn.explain import BoxScore, ClassLogit, GradCAM, RegionMeanLogit, gradcam
from vislearn.models.segmentation import create_segmentation_model


def test_one_forward_answers_many_targets_as_separate_runs_do_and_leaves_no_hooks(tiny_cnn):
    torch.manual_seed(2)
    images = torch.randn(2, 3, 48, 48)
    with GradCAM(tiny_cnn, "stages.2") as cam:
        cam.forward(images)
        first = cam([ClassLogit(1), ClassLogit(2)], (48, 48))
        second = cam([ClassLogit(5), ClassLogit(5)], (24, 24))
        assert hooks_left(tiny_cnn) == ["stages.2"]
    assert hooks_left(tiny_cnn) == [] and all(p.grad is None for p in tiny_cnn.parameters())
    torch.testing.assert_close(first, gradcam(tiny_cnn, images, [1, 2], layer="stages.2"))
    assert second.shape == (2, 24, 24) and float(second.amax(dim=(1, 2)).min()) == pytest.approx(1.0)
    assert not torch.allclose(first[0], torch.nn.functional.interpolate(second[:1, None], size=(48, 48))[0, 0])


def test_a_session_refuses_a_wrong_number_of_targets(tiny_cnn):
    with GradCAM(tiny_cnn, "stages.2") as cam:
        cam.forward(torch.randn(2, 3, 32, 32))
        with pytest.raises(ValueError, match="2 images"):
            cam([ClassLogit(0)], (32, 32))


def test_region_target_matches_pytorch_grad_cam_semantic_segmentation_target():
    """Their target sums a class's logits over a mask, ours averages over the class's region: a scale the [0, 1]
    scaling removes, so the maps agree (up to their cv2 resize)."""
    torch.manual_seed(0)
    segmenter = create_segmentation_model("tiny_unet", 3).eval()
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        shown_hw = segmenter(images).argmax(1)[0]
    for k in torch.unique(shown_hw).tolist():
        with GradCAM(segmenter, "encoder.stages.3") as cam:
            cam.forward(images)
            ours = cam([RegionMeanLogit(k)], (64, 64))[0]
        mask = (shown_hw == k).float().numpy()
        with ReferenceGradCAM(segmenter, [segmenter.get_submodule("encoder.stages.3")]) as reference:
            theirs = reference(input_tensor=images, targets=[SemanticSegmentationTarget(k, mask)])[0]
        assert ours.std() > 0.05
        assert float(np.corrcoef(ours.numpy().ravel(), theirs.ravel())[0, 1]) >= 0.99


def test_box_score_picks_one_detection_score():
    scores = torch.tensor([0.9, 0.4, 0.7])
    assert float(BoxScore(2)((None, scores))) == pytest.approx(0.7)
