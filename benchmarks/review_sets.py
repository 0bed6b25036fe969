"""The clean labelled sets ``review_mistakes.py`` flips labels in: digits and Fashion-MNIST (the project's samples), and
grey crops of scikit-image pictures in 6 kinds (made differently: textures and photo crops, 32 px), each with its
"most confusable" class table."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

import vislearn

# the class a person most easily files an image of each class under (digits: shapes; Fashion-MNIST: kinds)
CONFUSABLE = {"digits": {"0": "6", "1": "7", "2": "3", "3": "8", "4": "9", "5": "6", "6": "5", "7": "1", "8": "3", "9": "4"},
              "fashion-mnist": {"t-shirt": "shirt", "trouser": "dress", "pullover": "coat", "dress": "coat", "coat": "pullover",
                                "sandal": "sneaker", "shirt": "t-shirt", "sneaker": "sandal", "bag": "pullover", "ankle-boot": "sneaker"}}
CROP_KINDS = ("brick", "grass", "gravel", "moon", "camera", "cell")  # skimage.data pictures, all offline


def crop_set(root: Path, per_kind: int = 250, size: int = 32, seed: int = 0) -> Path:
    """``root/{train,test}/<kind>/*.png``: grey ``size`` px crops of each picture, 40-96 px boxes at random places,
    mirrored at random, with pixel noise; a fifth of each kind in test."""
    import skimage.data

    rng = np.random.default_rng(seed)
    for kind in CROP_KINDS:
        picture = np.asarray(getattr(skimage.data, kind)(), dtype=np.float32)
        h, w = picture.shape[:2]
        for i in range(per_kind):
            box = int(rng.integers(40, 97))
            top, left = int(rng.integers(0, h - box)), int(rng.integers(0, w - box))
            crop = picture[top:top + box, left:left + box]
            crop = crop[:, ::-1] if rng.random() < 0.5 else crop
            small = np.asarray(Image.fromarray(crop.astype(np.uint8)).resize((size, size), Image.BILINEAR), np.float32)
            small = np.clip(small + rng.normal(0, 8, small.shape), 0, 255).astype(np.uint8)
            dest = root / ("test" if i % 5 == 0 else "train") / kind / f"{kind}_{i:04d}.png"
            dest.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(small).save(dest)
    return root


def measured_confusable(clean: Path) -> dict[str, str]:
    """Each class's most confused other class, from 5-fold logistic-regression predictions on the clean train pixels
    (for a set made here, no person's table exists)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import cross_val_predict

    classes = sorted(p.name for p in (clean / "train").iterdir())
    paths = [(p, c) for c in range(len(classes)) for p in sorted((clean / "train" / classes[c]).iterdir())]
    pixels = np.stack([np.asarray(Image.open(p).convert("L"), np.float32).ravel() / 255 for p, _ in paths])
    labels = np.array([c for _, c in paths])
    predicted = cross_val_predict(LogisticRegression(max_iter=1000), pixels, labels, cv=5)
    confusion = confusion_matrix(labels, predicted, labels=range(len(classes))).astype(float)
    np.fill_diagonal(confusion, -1)
    return {classes[i]: classes[int(confusion[i].argmax())] for i in range(len(classes))}


def clean_set(data: str, images: int, cache: Path) -> Path:
    """The clean set ``data`` under ``cache`` (written once): ``train/<class>``, ``test/<class>``."""
    root = cache / f"review_{data}_{images}"
    if root.is_dir():
        return root
    if data == "crops":
        return crop_set(root)
    if data == "digits":  # the digits sample has no split: make one
        tmp = vislearn.sample("digits", root / "all", quiet=True)
        rng = random.Random(0)
        for cls in sorted(tmp.iterdir()):
            for path in sorted(cls.iterdir()):
                dest = root / ("test" if rng.random() < 0.2 else "train") / cls.name / path.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), dest)
        shutil.rmtree(root / "all")
        return root
    vislearn.sample(data, root, quiet=True, limit=images)
    return root


def confusable_table(data: str, clean: Path) -> dict[str, str]:
    return CONFUSABLE[data] if data in CONFUSABLE else measured_confusable(clean)
