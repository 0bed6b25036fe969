"""vislearn's PatchCore next to anomalib's (when installed) on one generated texture: AUROCs and fit/score times.

    python benchmarks/defects_vs_anomalib.py --data data/defects/brick [--image-size 128]

anomalib is not a vislearn dependency (it pins its own torch); the script skips it when it is absent.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def run_vislearn(data: Path, image_size: int, method: str) -> dict:
    import vislearn

    out = Path(tempfile.mkdtemp(prefix="bench-defects-"))
    started = time.perf_counter()
    run = vislearn.train("defects", data=data, out=out, log=None, progress=False, image_size=image_size, extra={"method": method})
    seconds = time.perf_counter() - started
    m = run.metrics
    return {"image_auroc": m["image_auroc"], "pixel_auroc": m.get("pixel_auroc"), "train_s": seconds, "ms_per_image": m["ms_per_image"]}


def run_anomalib(data: Path, image_size: int) -> dict | None:
    try:
        from anomalib.data import Folder
        from anomalib.engine import Engine
        from anomalib.models import Patchcore
    except ImportError:
        return None
    datamodule = Folder(name=data.name, root=data, normal_dir="train/good", abnormal_dir="test", mask_dir="ground_truth",
                        normal_test_dir="test/good")
    engine, model = Engine(), Patchcore()
    started = time.perf_counter()
    engine.fit(model=model, datamodule=datamodule)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    results = engine.test(model=model, datamodule=datamodule)[0]
    return {"image_auroc": results.get("image_AUROC"), "pixel_auroc": results.get("pixel_AUROC"), "train_s": fit_s,
            "test_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="one MVTec-layout category, e.g. from `vislearn data sample defects`")
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args()
    ours = run_vislearn(args.data, args.image_size, "patchcore")
    print(f"vislearn patchcore: image AUROC {ours['image_auroc']:.4f}  pixel AUROC {ours['pixel_auroc']:.4f}  "
          f"fit+calibrate+test {ours['train_s']:.1f} s  score {ours['ms_per_image']:.1f} ms/image")
    theirs = run_anomalib(args.data, args.image_size)
    if theirs is None:
        print("anomalib not importable here: skipped (install it in a separate environment to compare)")
        return
    print(f"anomalib patchcore: image AUROC {theirs['image_auroc']}  pixel AUROC {theirs['pixel_auroc']}  fit {theirs['train_s']:.1f} s")
    print(f"time ratio vislearn/anomalib (fit): {ours['train_s'] / max(theirs['train_s'], 1e-9):.2f}")


if __name__ == "__main__":
    main()
