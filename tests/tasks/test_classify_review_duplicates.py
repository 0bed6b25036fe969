"""The copies check of `vislearn review` (labelled_duplicates): copies of one photo with different labels or in
different splits are listed; look-alikes never are (issue #16: it judges only what can be a copy)."""
import numpy as np
from PIL import Image

from vislearn.organize.planted import look_alike_trousers
from vislearn.tasks.classify.review_duplicates import labelled_duplicates


def test_copies_with_other_labels_or_splits_are_listed_among_look_alikes_and_the_look_alikes_never(tmp_path):
    trousers = look_alike_trousers(8, seed=3)
    paths, labels, splits = [], [], []
    for i, image in enumerate(trousers):  # distinct items of one cut, labelled both ways: never copies
        image.save(tmp_path / f"t{i}.png")
        paths.append(str(tmp_path / f"t{i}.png"))
        labels.append("trouser" if i % 2 == 0 else "dress")
        splits.append("train")
    copies = {"resaved.jpg": (trousers[0], "dress", "train"), "cropped.png": (trousers[0].crop((2, 2, 62, 62)), "trouser", "test"),
              "shrunk.png": (trousers[0].resize((48, 48), Image.Resampling.LANCZOS), "trouser", "train")}
    for name, (image, label, split) in copies.items():
        image.save(tmp_path / name, **({"quality": 80} if name.endswith(".jpg") else {}))
        paths.append(str(tmp_path / name))
        labels.append(label)
        splits.append(split)
    # 8x8 pixels as features: the copies at cosine >= 0.99, two look-alikes (one labelled dress) >= 0.97: all candidates
    features = np.array([np.asarray(Image.open(p).convert("L").resize((8, 8), Image.Resampling.BILINEAR), np.float32).ravel()
                         for p in paths])
    logged = []
    rows = labelled_duplicates(paths, labels, splits, features / np.linalg.norm(features, axis=1, keepdims=True), log=logged.append)
    assert {r["path"] for r in rows} == {paths[0], *(str(tmp_path / n) for n in copies)}, rows
    assert {r["group"] for r in rows} == {1} and {r["kind"] for r in rows} <= {"exact", "near"}
    assert {r["problem"] for r in rows} == {"different labels and in different splits"}
    assert "candidate pairs" in logged[0] and "1 near groups of copies" in logged[0] and "remove" not in logged[0]
