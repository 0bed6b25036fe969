"""vislearn's PatchCore next to anomalib's plain torch PatchCore on one generated texture: AUROCs, fit and score times.

    python benchmarks/defects_vs_anomalib.py --data data/defects/brick [--image-size 128] [--limit 300]

Both get the same images, the same preprocessing and the same backbone weights (the offline EfficientNet-Lite0,
stages at strides 8 and 16, coreset 10 %). anomalib is not a vislearn dependency (it pins its own stack): install it
in a separate environment (`python -m venv v && v/bin/pip install torch==2.14.1 torchvision==0.29.1 anomalib==2.7.0
&& v/bin/pip install -e .`) and run this script there; without it only vislearn's figures are printed.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score


def run_vislearn(data: Path, image_size: int) -> dict:
    import vislearn

    out = Path(tempfile.mkdtemp(prefix="bench-defects-"))
    started = time.perf_counter()
    run = vislearn.train("defects", data=data, out=out, log=None, progress=False, image_size=image_size, workers=0,
                         extra={"method": "patchcore"})
    m = run.metrics
    return {"image_auroc": m["image_auroc"], "pixel_auroc": m.get("pixel_auroc"), "fit_s": time.perf_counter() - started,
            "ms_per_image": m["ms_per_image"]}


def _batches(paths: list[str], image_size: int, batch_size: int = 16):
    from vislearn.data import Sample, eval_transform, make_loader
    from vislearn.models import create_model, preprocessing_for

    pre = preprocessing_for(create_model("tf_efficientnet_lite0", 1000, "none"), image_size)
    for batch in make_loader([Sample(p, i) for i, p in enumerate(paths)], eval_transform(pre), batch_size, False, 0):
        yield batch.images


def _anomalib_model():
    from anomalib.models.image.patchcore.torch_model import PatchcoreModel

    from vislearn.models import create_model

    model = PatchcoreModel(layers=["blocks.2", "blocks.4"], backbone="tf_efficientnet_lite0", pre_trained=False)
    extractor = model.feature_extractor.feature_extractor  # timm features_only net: same module names as the classifier
    classifier = create_model("tf_efficientnet_lite0", 1000, "auto")  # the offline packaged ImageNet weights
    missing, _ = extractor.load_state_dict(classifier.state_dict(), strict=False)
    assert not missing, f"backbone weights did not load: {missing[:3]}"
    return model


def _mask(sample, size: int) -> np.ndarray:
    from PIL import Image

    if not sample.mask_path:
        return np.zeros((size, size), bool)
    return np.asarray(Image.open(sample.mask_path).convert("L").resize((size, size), Image.Resampling.NEAREST)) > 127


def run_anomalib(data: Path, image_size: int) -> dict | None:
    try:
        model = _anomalib_model()
    except ImportError:
        return None
    from vislearn.data.mvtec import read_defect_data

    defects = read_defect_data(data)
    started = time.perf_counter()
    model.train()
    with torch.no_grad():
        for images in _batches(defects.train_good, image_size):
            model(images)
    model.subsample_embedding(0.1)
    fit_s = time.perf_counter() - started
    model.eval()
    scores, maps, started = [], [], time.perf_counter()
    with torch.no_grad():
        for images in _batches([s.path for s in defects.test], image_size):
            out = model(images)
            scores.append(out.pred_score.flatten()), maps.append(out.anomaly_map[:, 0])
    score_s = time.perf_counter() - started
    labels = np.array([s.is_defect for s in defects.test])
    masks = np.stack([_mask(s, image_size) for s in defects.test])
    heat = torch.cat(maps).numpy()
    return {"image_auroc": roc_auc_score(labels, torch.cat(scores).numpy()), "pixel_auroc": roc_auc_score(masks.ravel(), heat.ravel()),
            "fit_s": fit_s, "ms_per_image": 1000 * score_s / len(defects.test)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="one MVTec-layout category, e.g. from `vislearn data sample defects`")
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args()
    ours = run_vislearn(args.data, args.image_size)
    print(f"vislearn patchcore: image AUROC {ours['image_auroc']:.4f}  pixel AUROC {ours['pixel_auroc']:.4f}  "
          f"fit+calibrate+test {ours['fit_s']:.1f} s  score {ours['ms_per_image']:.1f} ms/image")
    theirs = run_anomalib(args.data, args.image_size)
    if theirs is None:
        print("anomalib not importable here: skipped (see the module docstring to compare)")
        return
    print(f"anomalib patchcore: image AUROC {theirs['image_auroc']:.4f}  pixel AUROC {theirs['pixel_auroc']:.4f}  "
          f"fit {theirs['fit_s']:.1f} s  score {theirs['ms_per_image']:.1f} ms/image")
    print(f"fit speed-up (anomalib fit / vislearn fit+calibrate+test): {theirs['fit_s'] / ours['fit_s']:.1f}x   "
          f"score speed-up: {theirs['ms_per_image'] / ours['ms_per_image']:.1f}x")


if __name__ == "__main__":
    main()
