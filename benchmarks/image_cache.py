"""Training epochs on photos with vislearn's image cache against a plain PyTorch loop that decodes every epoch.

The data are JPEG photos 192-512 px a side cut from scikit-image's colour photos (not the project's digits), trained
at a small input size, where decoding costs more than the model. Three contenders, alternated ABBA on the same model
(same initial weights), the same AdamW and the same light augmentation, default loader workers:

- "plain PyTorch loop": a Dataset that opens each file with Pillow every epoch (``Image.open(...).convert("RGB")``),
  the usual ImageFolder pattern, and the loop anyone would write;
- "vislearn, decode every epoch": ``make_loader`` + the engine's ``run_epoch`` (``--image-cache off``);
- "vislearn, image cache": the same, reading the pictures ``decode_once`` kept in memory (what ``train classify``
  does by default when they fit); the one-time decode is timed apart and its break-even epoch printed.

    .venv/bin/python benchmarks/image_cache.py                          # 400 photos, tiny_cnn at 64 px, 4 rounds
    .venv/bin/python benchmarks/image_cache.py --upscale 4 --images 200 # phone-sized photos (768-2048 px)
    .venv/bin/python benchmarks/image_cache.py --images 800 --image-size 96 --rounds 6
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import alternate, cpu_seconds, paired_ratio, photo_files, print_table  # noqa: E402
from train_overhead import optimizer_and_schedule, plain_epoch  # noqa: E402

from vislearn.config import TrainConfig  # noqa: E402
from vislearn.data import Sample, make_loader, train_transform  # noqa: E402
from vislearn.data.dataset import collate  # noqa: E402
from vislearn.data.image_cache import cached_loader, decode_once  # noqa: E402
from vislearn.engine import default_workers, memory_format, pick_device, pick_precision  # noqa: E402
from vislearn.engine.train import run_epoch, seed_epoch  # noqa: E402
from vislearn.models import create_model, preprocessing_for  # noqa: E402
from vislearn.tasks.classify.train import ClassifyTask, cache_side  # noqa: E402

CACHED, DECODING, PLAIN = "vislearn, image cache", "vislearn, decode every epoch", "plain PyTorch loop"


class PlainFolder(Dataset):
    """What a hand-written training script does: open and convert the file on every access."""

    def __init__(self, samples, transform):
        self.samples, self.transform = samples, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):
        sample = self.samples[index]
        with Image.open(sample.path) as image:
            return self.transform(image.convert("RGB")), sample.label, index


def _upscaled(files: list[Path], factor: int) -> list[Path]:
    """``files`` saved ``factor`` times larger (JPEG quality 90) in a sibling folder, once; the files themselves for 1."""
    if factor == 1:
        return files
    out = []
    for path in files:
        big = path.parent.with_name(f"{path.parent.name}-x{factor}") / path.name
        if not big.exists():
            big.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(path) as image:
                image.resize((image.width * factor, image.height * factor), Image.BICUBIC).save(big, quality=90)
        out.append(big)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--model", default="tiny_cnn")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--upscale", type=int, default=1, help="save the photos this many times larger (4: 768-2048 px, as phones take)")
    args = p.parse_args()
    torch.manual_seed(0)
    samples = [Sample(str(f), i % 4) for i, f in enumerate(_upscaled(photo_files(args.images), args.upscale))]
    config = TrainConfig(model=args.model, weights="none", image_size=args.image_size)
    model = create_model(config.model, 4, config.weights)
    pre = preprocessing_for(model, config.image_size)
    workers = default_workers() if args.workers is None else args.workers
    transform = train_transform(pre, config.augment)
    start, start_cpu = time.perf_counter(), cpu_seconds()
    cache = decode_once(samples, cache_side(pre), workers)
    decode_wall, decode_cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    print(f"{len(samples)} photos ({192 * args.upscale}-{512 * args.upscale} px JPEG), {config.model} at {pre.image_size} px, "
          f"{workers} loader worker(s); "
          f"decoded once in {decode_wall:.1f} s ({decode_cpu:.1f} CPU s), {cache.buffer.nbytes / 2**20:.1f} MB kept")
    loaders = {CACHED: cached_loader(samples, cache, transform, config.batch_size, True, workers, config.seed),
               DECODING: make_loader(samples, transform, config.batch_size, True, workers, config.seed),
               PLAIN: DataLoader(PlainFolder(samples, transform), batch_size=config.batch_size, shuffle=True, num_workers=workers,
                                 collate_fn=collate, generator=torch.Generator().manual_seed(config.seed))}
    device = pick_device(config.device)
    precision, fmt = pick_precision(device, config.precision), memory_format(device, config.channels_last)
    task = ClassifyTask(4)
    models = {name: copy.deepcopy(model).to(device, memory_format=fmt) for name in loaders}
    steps = {name: optimizer_and_schedule(models[name], config, len(loaders[name]), args.rounds + 2) for name in loaders}
    epoch = dict.fromkeys(loaders, 0)

    def side(name):
        def one_epoch() -> int:
            epoch[name] += 1
            seed_epoch(loaders[name], config.seed, epoch[name])
            optimizer, scheduler = steps[name]
            if name == PLAIN:
                return plain_epoch(models[name], loaders[name], optimizer, scheduler, device, precision, fmt)
            run_epoch(models[name], task, loaders[name], device, precision, fmt, optimizer, scheduler, config.grad_clip, progress=False)
            return len(samples)
        return one_epoch

    wall, cpu = alternate({name: side(name) for name in loaders}, args.rounds)
    print("\nimages per wall-clock second")
    medians = print_table(wall)
    print("\nimages per CPU second (this process and its loader workers)")
    cpu_medians = print_table(cpu, "img/CPU-s")
    print(f"\nimage cache vs plain PyTorch loop: {paired_ratio(wall, CACHED, PLAIN):.2f}x wall, "
          f"{paired_ratio(cpu, CACHED, PLAIN):.2f}x CPU; vs vislearn decoding every epoch: {paired_ratio(wall, CACHED, DECODING):.2f}x wall")
    for what, rates, cost in (("wall", medians, decode_wall), ("CPU", cpu_medians, decode_cpu)):
        saved = len(samples) / rates[DECODING] - len(samples) / rates[CACHED]
        if saved > 0:
            print(f"the one-time decode ({cost:.1f} {what} s) is paid back after {cost / saved:.1f} epochs ({what} time)")


if __name__ == "__main__":
    main()
