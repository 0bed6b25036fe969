"""Grouping quality pinned against the two baselines (measured figures in docs/organize.md).

Baselines are given the true number of groups; vislearn chooses K itself. Margins are below the measured ones.
"""
import numpy as np
import pytest
from PIL import Image

from vislearn.data.samples.collection import write_collection
from vislearn.tasks.organize.index import OrganizeOptions, organize

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]
OPTIONS = OrganizeOptions(image_size=128, workers=1, evaluate_labels=True)


def _scores(quality):
    vislearn, pixels, pooled = quality
    assert vislearn.method.startswith("vislearn") and "raw pixels" in pixels.method and "pooled" in pooled.method
    return vislearn, pixels, pooled


def test_photo_collection_groups_beat_pixels_and_pooled_features(tmp_path):
    write_collection(tmp_path / "photos")  # 8 groups of 12-48 photo crops, 4 duplicates
    result = organize(tmp_path / "photos", tmp_path / "index", OPTIONS, log=lambda _m: None, progress=False)
    vislearn, pixels, pooled = _scores(result.quality)
    # measured: vislearn NMI 1.000 ARI 1.000 (K=8 chosen), pixels 0.556 / 0.396, pooled 0.946 / 0.934
    assert vislearn.n_groups == 8
    assert vislearn.nmi >= pixels.nmi + 0.3 and vislearn.ari >= pixels.ari + 0.4
    assert vislearn.nmi >= pooled.nmi + 0.03 and vislearn.ari >= pooled.ari + 0.04


def test_upsampled_digits_groups_beat_pixels_and_pooled_features(tmp_path):
    from sklearn.datasets import load_digits

    data = load_digits()
    picks = np.random.default_rng(0).choice(len(data.target), 300, replace=False)
    for i in picks:
        folder = tmp_path / "digits" / str(data.target[i])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((data.images[i] * 255 / 16).astype(np.uint8)).resize((64, 64), Image.BILINEAR).save(folder / f"d{i}.png")
    result = organize(tmp_path / "digits", tmp_path / "index", OPTIONS, log=lambda _m: None, progress=False)
    vislearn, pixels, pooled = _scores(result.quality)
    # measured: vislearn NMI 0.811 ARI 0.704 (K=12 chosen; the silhouette chose 20), pixels 0.733 / 0.594, pooled 0.411 / 0.239:
    # the quadrant features carry the digits' shapes that pooling loses; raw pixels of centred digits are a strong baseline
    assert 7 <= vislearn.n_groups <= 15  # within a factor 1.5 of the 10 digits
    assert vislearn.nmi >= pooled.nmi + 0.3 and vislearn.ari >= pooled.ari + 0.3
    assert vislearn.nmi >= pixels.nmi + 0.03 and vislearn.ari >= pixels.ari
