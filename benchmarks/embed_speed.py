"""Embedding throughput of ``vislearn organize`` against a plain PyTorch eager loop over the same model.

vislearn side: ``organize.embed.update_store`` into a fresh store: loader workers decode (and hash) in
parallel, the backend is the fastest of ONNX Runtime / eager torch, shards and manifest are written.
Plain side: per batch PIL open -> the same transform -> ``model(x)`` under ``torch.no_grad()``, one process.
Both embed the same photos with the same Lite0 multi-layer model and batch size, alternating rounds.

    .venv/bin/python benchmarks/embed_speed.py                 # 192 photos, 224 px, 3 rounds
    .venv/bin/python benchmarks/embed_speed.py --count 96 --image-size 128 --backend onnx
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import alternate, paired_ratio, photo_files, print_table  # noqa: E402

from vislearn.data.transforms import eval_transform  # noqa: E402
from vislearn.models.backbones import Preprocessing  # noqa: E402
from vislearn.organize.embed import update_store  # noqa: E402
from vislearn.organize.embedders import create_embedder  # noqa: E402
from vislearn.organize.scan import Found  # noqa: E402
from vislearn.organize.store import EmbeddingStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=192)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=-1)
    parser.add_argument("--backend", default="auto", help="vislearn's backend: auto, onnx, torch")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    files = [str(f) for f in photo_files(args.count)]
    found = [Found(f, Path(f).stat().st_size, Path(f).stat().st_mtime_ns) for f in files]
    embedder = create_embedder("lite0", image_size=args.image_size)
    transform = eval_transform(Preprocessing(embedder.mean, embedder.std, embedder.image_size))
    onnx_cache = Path(tempfile.mkdtemp(prefix="vislearn-embed-bench-"))

    def plain() -> int:
        model = embedder.model.eval()
        with torch.no_grad():
            for i in range(0, len(files), args.batch_size):
                batch = torch.stack([transform(Image.open(f).convert("RGB")) for f in files[i:i + args.batch_size]])
                model(batch)
        return len(files)

    def vislearn_side() -> int:
        index = Path(tempfile.mkdtemp(prefix="vislearn-embed-index-"))
        shutil.copytree(onnx_cache, index, dirs_exist_ok=True)  # the ONNX export is made once, as on a re-run
        store = EmbeddingStore(index, embedder.key, embedder.dim)
        # backend "auto" autotunes only for >= 512 new photos; the benchmark asks it to choose every time
        update = update_store(store, embedder, found, index, args.batch_size, args.workers,
                              args.backend if args.backend != "auto" else "onnx", progress=False, log=lambda _m: None)
        shutil.copytree(index / "embedders", onnx_cache / "embedders", dirs_exist_ok=True) if (index / "embedders").exists() else None
        shutil.rmtree(index)
        return update.embedded

    print(f"{args.count} photos, lite0 multi-layer at {args.image_size} px, batch {args.batch_size}, {torch.get_num_threads()} torch threads")
    wall, cpu = alternate({"vislearn organize embed": vislearn_side, "plain eager loop": plain}, args.rounds)
    print_table(wall)
    print_table(cpu, "img/CPU-s")
    print(f"\nratio vislearn/plain (median of per-round ratios): {paired_ratio(wall, 'vislearn organize embed', 'plain eager loop'):.2f}")


if __name__ == "__main__":
    main()
