import numpy as np
import pytest
import torch

from vislearn.errors import UnknownNameError, WeightsUnavailableError
from vislearn.organize.embedders import EMBEDDERS, create_embedder

TINY_CLIP = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
             "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def test_registry_names_and_unknown_embedder_is_clear():
    assert EMBEDDERS.names() == ["lite0", "openclip", "self-supervised"]
    with pytest.raises(UnknownNameError, match="openclip:<arch>"):
        create_embedder("resnet-magic")


def test_lite0_embedding_is_unit_length_with_imagenet_top5():
    e = create_embedder("lite0", image_size=64)
    out = e.split(e.model(torch.rand(2, 3, 64, 64)))
    assert out.embedding_nd.shape == (2, e.dim) and e.dim == 320 + 448 + 192 + 1280 and e.pooled_dim == 1280
    assert torch.allclose(out.embedding_nd.norm(dim=1), torch.ones(2), atol=1e-5)
    assert out.top5_index.shape == (2, 5) and (out.top5_prob[:, :-1] >= out.top5_prob[:, 1:]).all()
    assert e.class_names[285] == "Egyptian cat"


def test_openclip_without_weights_offline_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="--weights FILE"):
        create_embedder("openclip:ViT-B-32")
    with pytest.raises(WeightsUnavailableError, match="not found"):
        create_embedder("openclip:ViT-B-32", weights="/nowhere/clip.safetensors")
    with pytest.raises(UnknownNameError, match="open_clip architecture"):
        create_embedder("openclip:NoSuchNet")


def test_openclip_code_path_gives_image_and_text_embeddings_in_one_space(monkeypatch):
    from open_clip import factory

    monkeypatch.setitem(factory._MODEL_CONFIGS, "vislearn-tiny-clip", TINY_CLIP)
    e = create_embedder("openclip:vislearn-tiny-clip", random_init=True)
    images = e.split(e.model(torch.rand(3, 3, e.image_size, e.image_size))).embedding_nd
    text = e.embed_text(["a photo of a cat", "a photo of a beach"])
    assert images.shape == (3, 16) and text.shape == (2, 16) and e.image_size == 32
    assert np.allclose(text.norm(dim=1).numpy(), 1.0, atol=1e-5)
    assert e.split(e.model(torch.rand(1, 3, 32, 32))).top5_index.tolist() == [[-1] * 5]  # no classes: names come from text


def test_groups_are_named_zero_shot_with_an_image_text_model(monkeypatch):
    from open_clip import factory

    from vislearn.organize.store import Embeddings
    from vislearn.tasks.organize.index import name_groups

    monkeypatch.setitem(factory._MODEL_CONFIGS, "vislearn-tiny-clip", TINY_CLIP)
    e = create_embedder("openclip:vislearn-tiny-clip", random_init=True)
    text = e.embed_text(["a photo of cat", "a photo of beach"]).numpy()
    emb = Embeddings([], np.vstack([text[[0]]] * 2 + [text[[1]]] * 2), np.full((4, 5), -1), np.zeros((4, 5)))
    names = name_groups(e, emb, np.array([0, 0, 1, 1]), 2, ("cat", "beach"))
    assert [n.name for n in names] == ["cat", "beach"] and names[0].method == "zero-shot (openclip)"
    from vislearn.tasks.organize.index import image_labels

    assert image_labels(e, emb, ("cat", "beach")) == ["cat", "cat", "beach", "beach"]  # zero-shot per photo


def test_grid_pool_equals_adaptive_pooling_on_even_maps_and_handles_odd_ones():
    import torch.nn.functional as F

    from vislearn.organize.embedders import grid_pool

    x = torch.rand(2, 3, 6, 8)
    assert torch.allclose(grid_pool(x), F.adaptive_avg_pool2d(x, 2).flatten(1))
    odd = torch.arange(9.0).view(1, 1, 3, 3)
    assert grid_pool(odd).tolist() == [[2.0, 3.0, 5.0, 6.0]]  # quadrants share the middle row and column


def test_lite0_exports_to_onnx_with_the_same_numbers(tmp_path):
    from vislearn.engine.predict import BACKENDS

    e = create_embedder("lite0", image_size=64)
    x = torch.rand(2, 3, 64, 64)
    onnx = BACKENDS.get("onnx")(e.model, image_size=64, onnx_path=tmp_path / "m.onnx")(x)
    assert torch.allclose(onnx, e.model(x).detach(), atol=1e-3)


def test_organize_embeds_the_vocabulary_once_for_group_names_and_photo_labels(monkeypatch, tmp_path):
    import csv
    import dataclasses
    import json

    from open_clip import factory

    import vislearn.tasks.organize.index as organize_task
    from organize_helpers import write_photo

    monkeypatch.setitem(factory._MODEL_CONFIGS, "vislearn-tiny-clip", TINY_CLIP)
    clip = create_embedder("openclip:vislearn-tiny-clip", random_init=True)
    calls = []

    def embed_text(texts):
        calls.append(list(texts))
        return clip.embed_text(texts)

    counted = dataclasses.replace(clip, embed_text=embed_text)
    monkeypatch.setattr(organize_task, "load_embedder", lambda *_a, **_k: counted)
    for i, colour in enumerate([(250, 0, 0), (240, 10, 0), (0, 0, 250), (0, 10, 240), (0, 250, 0), (10, 240, 0)]):
        write_photo(tmp_path / "photos" / f"p{i}.png", colour, noise_seed=i)
    words = ("cat", "beach", "rocket")
    result = organize_task.organize(tmp_path / "photos", tmp_path / "index", organize_task.OrganizeOptions(names=words, workers=0),
                                    log=lambda _m: None, progress=False)
    assert calls == [["a photo of cat", "a photo of beach", "a photo of rocket"]]
    assert result.named_by == "zero-shot (openclip)" and result.n_images == 6
    with open(tmp_path / "index" / "groups.csv") as f:
        assert {row["image_label"] for row in csv.DictReader(f)} <= set(words)
    groups = json.loads((tmp_path / "index" / "groups.json").read_text())["groups"]
    assert groups and all(g["name"].rstrip(" 0123456789") in words for g in groups)
