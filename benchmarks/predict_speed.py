"""Prediction throughput, image files to calibrated probabilities: ``classify_run.predict`` against plain eager PyTorch.

The vislearn side is what ``vislearn predict RUN FILES`` does: ``classify_run.predict(Run.load(run), files)``, timed
whole (loading the weights, choosing a backend, decoding in loader workers, calibration, Prediction
rows). The plain side is the loop anyone would write, also timed whole: build the model, load the same
safetensors, then per batch PIL open -> torchvision Resize/ToTensor/Normalize -> ``torch.stack`` ->
``model(x)`` under ``torch.no_grad()`` in the default memory format -> softmax(logits / T).
Both read the same files in the same process, alternating, and must agree on the predicted classes.

    .venv/bin/python benchmarks/predict_speed.py                            # tf_efficientnet_lite0, 224 px, 384 photos
    .venv/bin/python benchmarks/predict_speed.py --model tiny_cnn            # 32 px, 1,024 digit PNGs
    .venv/bin/python benchmarks/predict_speed.py --backend torch             # pin vislearn's backend instead of auto
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from safetensors.torch import load_file
from torchvision import transforms as T

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import alternate, bench_run, digit_files, paired_ratio, photo_files, print_table  # noqa: E402

from vislearn.models import create_model  # noqa: E402
from vislearn.run import Run  # noqa: E402
from vislearn.tasks.classify import run as classify_run  # noqa: E402
from vislearn.tasks.classify.run import BACKEND_CHOICE  # noqa: E402

TARGET = 1.5
PLAIN = "plain eager PyTorch"
DEFAULT_SIZE = {"tf_efficientnet_lite0": 224, "tiny_cnn": 32, "tiny_cnn_small": 32}


def plain_predict(run_dir: Path, files: list[Path], batch_size: int) -> torch.Tensor:
    """Probabilities (N, K) the straightforward way: one process, eager PyTorch, default memory format."""
    run = Run.load(run_dir)  # only to read class count, preprocessing and temperature from the JSON files
    pre = run.preprocessing
    model = create_model(run.config.model, len(run.class_names), weights="none")
    model.load_state_dict(load_file(run_dir / "model.safetensors"))
    model.eval()
    interpolation = T.InterpolationMode.BICUBIC if pre.interpolation == "bicubic" else T.InterpolationMode.BILINEAR
    transform = T.Compose([T.Resize((pre.image_size, pre.image_size), interpolation=interpolation), T.ToTensor(),
                           T.Normalize(pre.mean, pre.std)])
    probs = []
    with torch.no_grad():
        for start in range(0, len(files), batch_size):
            images = torch.stack([transform(Image.open(f).convert("RGB")) for f in files[start:start + batch_size]])
            probs.append(torch.softmax(model(images) / classify_run.temperature(run), dim=1))
    return torch.cat(probs)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="tf_efficientnet_lite0", help="tf_efficientnet_lite0 (default) or tiny_cnn")
    p.add_argument("--image-size", type=int, default=None, help="default: 224 for lite0, 32 for tiny_cnn")
    p.add_argument("--run", type=Path, help="an existing run folder (default: one made once under /tmp/vislearn-bench)")
    p.add_argument("--images", choices=["photos", "digits"], help="default: photos for lite0, digits for tiny_cnn")
    p.add_argument("--count", type=int, default=None, help="how many image files (default: 384 photos / 1,024 digits)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64, help="both sides (vislearn predict's default is 64)")
    p.add_argument("--backend", default="auto", help="vislearn side: auto (as users get it), torch or onnx")
    p.add_argument("--workers", type=int, default=None, help="vislearn side's decoding processes (default: vislearn's)")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    size = args.image_size or DEFAULT_SIZE.get(args.model, 224)
    run_dir = args.run or bench_run(args.model, size)
    kind = args.images or ("digits" if args.model.startswith("tiny_cnn") else "photos")
    count = args.count or (1024 if kind == "digits" else 384)
    files = digit_files(count) if kind == "digits" else photo_files(count)
    run = Run.load(run_dir)
    results = {}

    def vislearn_side(files=files) -> int:
        predictions, problems = classify_run.predict(Run.load(run_dir), files, backend=args.backend, batch_size=args.batch_size,
                                                     workers=args.workers, progress=False)
        assert not problems, problems[:3]
        results["vislearn"] = predictions
        return len(predictions)

    def plain_side(files=files) -> int:
        results["plain"] = plain_predict(run_dir, files, args.batch_size)
        return len(results["plain"])

    # the first call exports model.onnx and times the backends; users pay that once per run folder and machine
    remembered = (run_dir / BACKEND_CHOICE).exists()
    start = time.perf_counter()
    backend, _ = classify_run.runner(run, args.backend, len(files))
    how = f"read from {BACKEND_CHOICE}" if remembered and args.backend == "auto" else "export + timing if needed"
    print(f"backend choice: {backend!r} in {time.perf_counter() - start:.1f} s ({how})")
    print(f"model {run.config.model} at {run.preprocessing.image_size}px, {len(files)} {kind} files, batch {args.batch_size}, "
          f"{torch.get_num_threads()} torch threads")
    vislearn_side(files[:args.batch_size]), plain_side(files[:args.batch_size])  # warm-up: lazy initialisation, file cache
    vislearn_name = f"vislearn predict ({backend})"
    wall, cpu = alternate({vislearn_name: vislearn_side, PLAIN: plain_side}, args.rounds, warmup=False)
    medians = print_table(wall)
    print_table(cpu, "img/CPU-s")
    plain_classes = results["plain"].argmax(dim=1).tolist()
    same = sum(run.class_names[k] == p.predicted for k, p in zip(plain_classes, results["vislearn"]))
    worst = max(abs(p.probabilities[n] - float(q[i])) for p, q in zip(results["vislearn"], results["plain"])
                for i, n in enumerate(run.class_names))
    print(f"\nagreement: {same}/{len(files)} same class, max |probability difference| {worst:.2g}")
    print(f"wall clock: ratio of medians {medians[vislearn_name] / medians[PLAIN]:.2f}, "
          f"of best rounds {max(wall[vislearn_name]) / max(wall[PLAIN]):.2f}")
    print(f"ratio vislearn/plain: {paired_ratio(wall, vislearn_name, PLAIN):.2f} (target >= {TARGET})  "
          f"[wall clock, median of per-round ratios]")


if __name__ == "__main__":
    main()
