"""vislearn's PatchCore next to anomalib's plain torch PatchCore on one generated texture: AUROCs, fit and score times.

    python benchmarks/defects_vs_anomalib.py --data data/defects/brick [--image-size 128]   # default: vislearn's choice
    python benchmarks/defects_vs_anomalib.py --make-set /tmp/brick300 --good 300 --image-size 256   # the issue's scale

At the issue's scale (300 good images, 256 px: 307k patches, 30k coreset picks) anomalib's greedy coreset runs for
over an hour on 2 cores; with ``--extrapolate-after N`` it times its first N picks (each pick costs the same: one
distance update over all patches) and projects the full fit from them, saying so in the output.

Both get the same images at the resolution vislearn chose (or ``--image-size``), the same preprocessing and the
same backbone weights (the offline EfficientNet-Lite0, stages at strides 8 and 16), and memory banks of the same
size: anomalib's coreset ratio is set to the share of patches vislearn kept (at most 10 %, at most 4,096 vectors).
anomalib is not a vislearn dependency (it pins its own stack): install it in a separate environment
(`python -m venv v && v/bin/pip install torch==2.14.1 torchvision==0.29.1 anomalib==2.7.0 && v/bin/pip install -e .`)
and run this script there; without it only vislearn's figures are printed.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score


def run_vislearn(data: Path, image_size: int | None, method: str = "patchcore") -> dict:
    import vislearn
    from vislearn.engine import load_tensors

    out = Path(tempfile.mkdtemp(prefix="bench-defects-"))
    started, cpu = time.perf_counter(), time.process_time()
    run = vislearn.train("defects", data=data, out=out, log=None, progress=False, image_size=image_size, workers=0,
                         extra={"method": method})
    m = run.metrics
    return {"image_auroc": m["image_auroc"], "pixel_auroc": m.get("pixel_auroc"), "fit_s": time.perf_counter() - started,
            "fit_cpu_s": time.process_time() - cpu, "ms_per_image": m["ms_per_image"], "image_size": run.config.image_size,
            "bank": len(load_tensors(out / "detector.safetensors")[0]["bank.coarse.features"])}


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


def _timed_coreset(model, picks: int, bank_size: int) -> tuple[float, int]:
    """Seconds per pick of anomalib's KCenterGreedy over the stored embeddings, and its full pick count."""
    from anomalib.models.components.sampling import KCenterGreedy

    bank = torch.vstack(model.embedding_store)
    full = min(bank_size, len(bank))
    started = time.perf_counter()
    KCenterGreedy(embedding=bank, sampling_ratio=picks / len(bank)).sample_coreset()
    return (time.perf_counter() - started) / picks, full


def run_anomalib(data: Path, image_size: int, bank_size: int, extrapolate_after: int | None = None) -> dict | None:
    try:
        model = _anomalib_model()
    except ImportError:
        return None
    from vislearn.data.mvtec import read_defect_data

    defects = read_defect_data(data)
    started, cpu = time.perf_counter(), time.process_time()
    model.train()
    with torch.no_grad():
        for images in _batches(defects.train_good, image_size):
            model(images)
    if extrapolate_after:
        features_s = time.perf_counter() - started
        per_pick, full = _timed_coreset(model, extrapolate_after, bank_size)
        # scoring time depends on the bank's size, not on which patches it holds: time it with a random bank
        bank = torch.vstack(model.embedding_store)
        model.memory_bank = bank[torch.randperm(len(bank), generator=torch.Generator().manual_seed(0))[:full]]
        model.embedding_store.clear()
        model.eval()
        started = time.perf_counter()
        with torch.no_grad():
            for images in _batches([s.path for s in defects.test], image_size):
                model(images)
        return {"fit_s": features_s + per_pick * full, "projected": True, "per_pick_ms": 1000 * per_pick, "picks": full,
                "ms_per_image": 1000 * (time.perf_counter() - started) / len(defects.test)}
    model.subsample_embedding(bank_size / sum(len(e) for e in model.embedding_store))  # vislearn's bank size
    fit_s, fit_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    model.eval()
    scores, maps, started, cpu = [], [], time.perf_counter(), time.process_time()
    with torch.no_grad():
        for images in _batches([s.path for s in defects.test], image_size):
            out = model(images)
            scores.append(out.pred_score.flatten()), maps.append(out.anomaly_map[:, 0])
    score_s, score_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    labels = np.array([s.is_defect for s in defects.test])
    # as vislearn's metric: the pixels of good images and of the defect types that come with masks
    judged = [i for i, s in enumerate(defects.test) if s.mask_path or not s.is_defect]
    masks = np.stack([_mask(defects.test[i], image_size) for i in judged])
    heat = torch.cat(maps).numpy()[judged]
    return {"image_auroc": roc_auc_score(labels, torch.cat(scores).numpy()), "pixel_auroc": roc_auc_score(masks.ravel(), heat.ravel()),
            "fit_s": fit_s, "fit_cpu_s": fit_cpu_s, "ms_per_image": 1000 * score_s / len(defects.test),
            "cpu_ms_per_image": 1000 * score_cpu_s / len(defects.test)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="one MVTec-layout category, e.g. from `vislearn data sample defects`")
    parser.add_argument("--image-size", type=int, help="default: the resolution vislearn chooses (native up to 512 px)")
    parser.add_argument("--make-set", type=Path, help="first write one texture's MVTec set here (brick) and use it as --data")
    parser.add_argument("--good", type=int, default=300, help="with --make-set: good training images")
    parser.add_argument("--method", default="patchcore", help="vislearn's method: patchcore (the same algorithm as "
                        "anomalib's, default) or e.g. patchcore+distill (vislearn's default, adds a trained student)")
    parser.add_argument("--extrapolate-after", type=int, help="time only this many of anomalib's coreset picks and project the rest")
    args = parser.parse_args()
    if args.make_set:
        import numpy as np

        from vislearn.data.samples.defects import write_texture

        if not args.make_set.exists():
            write_texture("brick", args.make_set, np.random.default_rng(0), size=args.image_size or 256, n_train=args.good,
                          n_test_good=30, n_per_defect=8)
        args.data = args.make_set
    if args.data is None:
        parser.error("--data or --make-set is required")
    ours = run_vislearn(args.data, args.image_size, args.method)
    print(f"vislearn {args.method} at {ours['image_size']} px, bank {ours['bank']:,}: image AUROC {ours['image_auroc']:.4f}  "
          f"pixel AUROC {ours['pixel_auroc']:.4f}  fit+calibrate+test {ours['fit_s']:.1f} s ({ours['fit_cpu_s']:.0f} CPU s)  "
          f"score {ours['ms_per_image']:.1f} ms/image")
    theirs = run_anomalib(args.data, ours["image_size"], ours["bank"], args.extrapolate_after)
    if theirs is None:
        print("anomalib not importable here: skipped (see the module docstring to compare)")
        return
    if theirs.get("projected"):
        print(f"anomalib patchcore: fit projected {theirs['fit_s']:.0f} s ({theirs['picks']:,} coreset picks at "
              f"{theirs['per_pick_ms']:.0f} ms each, timed on the first {args.extrapolate_after}); AUROC not measured at this scale")
        print(f"anomalib scoring with a bank of that size: {theirs['ms_per_image']:.1f} ms/image")
        print(f"fit speed-up (anomalib projected fit / vislearn fit+calibrate+test): {theirs['fit_s'] / ours['fit_s']:.1f}x   "
              f"score speed-up: {theirs['ms_per_image'] / ours['ms_per_image']:.1f}x")
        return
    print(f"anomalib patchcore: image AUROC {theirs['image_auroc']:.4f}  pixel AUROC {theirs['pixel_auroc']:.4f}  "
          f"fit {theirs['fit_s']:.1f} s ({theirs['fit_cpu_s']:.0f} CPU s)  score {theirs['ms_per_image']:.1f} ms/image "
          f"({theirs['cpu_ms_per_image']:.0f} CPU ms)")
    print(f"fit CPU ratio (anomalib / vislearn): {theirs['fit_cpu_s'] / ours['fit_cpu_s']:.1f}x; load average {os.getloadavg()}")
    print(f"fit speed-up (anomalib fit / vislearn fit+calibrate+test): {theirs['fit_s'] / ours['fit_s']:.1f}x   "
          f"score speed-up: {theirs['ms_per_image'] / ours['ms_per_image']:.1f}x")


if __name__ == "__main__":
    main()
