import os
import pickle
import time

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from vislearn.errors import UnknownNameError, WeightsUnavailableError
from vislearn.models import create_model, preprocessing_for
from vislearn.models.weights import packaged_weights_path


def _photo_batch(pre, photo):
    from PIL import Image

    from vislearn.data import eval_transform

    return eval_transform(pre)(Image.fromarray(photo))[None]


def test_packaged_lite0_weights_load_strictly_and_see_a_cat_in_chelsea():
    skimage_data = pytest.importorskip("skimage.data")
    from timm.data import ImageNetInfo

    model = create_model("tf_efficientnet_lite0", 1000, weights="auto").eval()
    pre = preprocessing_for(model, 224)
    with torch.no_grad():
        probs = model(_photo_batch(pre, skimage_data.chelsea())).softmax(1)[0]
    top = ImageNetInfo().index_to_description(int(probs.argmax()))
    assert "cat" in top.lower()
    assert float(probs.max()) > 0.5
    with torch.no_grad():
        coffee = model(_photo_batch(pre, skimage_data.coffee())).argmax(1)
    assert "espresso" in ImageNetInfo().index_to_description(int(coffee))


def test_packaged_weights_keep_backbone_and_replace_head_for_new_class_count():
    pretrained = create_model("tf_efficientnet_lite0", 1000, weights="auto")
    fine_tune = create_model("tf_efficientnet_lite0", 7, weights="auto")
    assert fine_tune.classifier.out_features == 7
    assert torch.equal(pretrained.conv_stem.weight, fine_tune.conv_stem.weight)
    assert torch.equal(pretrained.blocks[6][0].conv_pw.weight, fine_tune.blocks[6][0].conv_pw.weight)


def test_packaged_weights_path_is_found_offline():
    path = packaged_weights_path("tf_efficientnet_lite0")
    assert path is not None and path.is_file()


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_local_weights_file_loads_exactly(tmp_path, suffix):
    source = create_model("tiny_cnn_small", 4, weights="none")
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    else:
        torch.save({"state_dict": source.state_dict()}, path)
    loaded = create_model("tiny_cnn_small", 4, weights=str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_pickled_code_in_weights_file_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": Evil()}, f)
    with pytest.raises(WeightsUnavailableError, match="evil.pth"):
        create_model("tiny_cnn_small", 4, weights=str(path))
    assert not marker.exists()


def test_weights_of_another_architecture_give_a_clear_error(tmp_path):
    other = create_model("tiny_cnn", 4, weights="none")
    path = tmp_path / "other.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(path))
    with pytest.raises(WeightsUnavailableError, match="do not fit|does not fit"):
        create_model("tiny_cnn_small", 4, weights=str(path))


def test_missing_weights_file_names_the_path(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="nothere.safetensors"):
        create_model("tiny_cnn_small", 4, weights=str(tmp_path / "nothere.safetensors"))


def test_offline_hub_download_fails_fast_with_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as err:
        create_model("resnet18", 3, weights="hub")
    assert time.perf_counter() - start < 10
    message = str(err.value)
    assert "--weights" in message and "tf_efficientnet_lite0" in message


def test_unknown_model_name_lists_where_to_look():
    with pytest.raises(UnknownNameError, match="vislearn models"):
        create_model("no_such_net", 3, weights="none")


def test_preprocessing_travels_with_the_weights():
    pre = preprocessing_for(create_model("tf_efficientnet_lite0", 3, weights="none"), 64)
    assert pre.mean == (0.5, 0.5, 0.5) and pre.std == (0.5, 0.5, 0.5)
    assert pre.image_size == 64 and pre.interpolation == "bicubic"
    assert np.allclose(preprocessing_for(create_model("resnet18", 3, weights="none")).mean, (0.485, 0.456, 0.406))


def test_packaged_weights_load_into_a_headless_feature_extractor():
    import torch

    from vislearn.models import create_model

    features = create_model("tf_efficientnet_lite0", 0, "auto").eval()
    classifier = create_model("tf_efficientnet_lite0", 1000, "auto").eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        pooled = features(x)
        assert pooled.shape == (1, 1280)
        torch.testing.assert_close(pooled, classifier.forward_head(classifier.forward_features(x), pre_logits=True))
