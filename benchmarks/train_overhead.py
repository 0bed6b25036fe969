"""Training throughput: vislearn's engine loop against a hand-written PyTorch loop, same everything else.

Both sides get the same model (same initial weights), the same loader (``make_loader`` with the
settings ``vislearn train`` uses: light augmentation, shuffle, default workers), the same AdamW and
warm-up/cosine LR schedule, and the device, precision and memory format the engine picks. The
vislearn side is ``vislearn.engine.train.run_epoch``, the function ``fit`` calls for each training
epoch, with the config's gradient clipping and ``fit``'s per-epoch seeding. ``fit``'s validation
pass and checkpoint writes are left out of both sides; the checkpoint's cost is timed on its own
and printed as a share of an epoch. On a GPU each side's epoch ends when the device has finished.

    .venv/bin/python benchmarks/train_overhead.py                      # tiny_cnn, 32 px, digits
    .venv/bin/python benchmarks/train_overhead.py --in-memory          # loop overhead alone, no decoding
    .venv/bin/python benchmarks/train_overhead.py --in-memory --threads 1   # steadiest on a shared machine
    .venv/bin/python benchmarks/train_overhead.py --model tf_efficientnet_lite0 --image-size 64 --images 256 --rounds 4

The REAL data path (``--data-path``): ``vislearn train classify`` (the CLI's own argument parsing and ``train``) on a
PNG folder, every stage timed where the run calls it (``_stages.py``): imports, listing + header check, hashing,
image-size choice, cache decision, decoding into the cache, resize to the input tensor, then per epoch the train
steps, batch assembly + augmentation, validation, checkpoint and history writes, then calibration and test. Each is
printed as wall and CPU seconds and as a ratio to one epoch of the plain in-memory loop of time_to_accuracy.py on
the same images (its bare step cost). ``fm:N`` is the Fashion-MNIST sample with N training images.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_overhead.py --data-path fm:10000
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_overhead.py --data-path fm:60000 --epochs 2 --runs 2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_overhead.py --data-path fm:60000 --runs 2 --until-first-step \\
        --plain-images 10000
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_overhead.py --data-path /some/folder --recipe "--model small_cnn"
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CACHE, alternate, digit_files, paired_ratio, print_table  # noqa: E402

from vislearn.config import TrainConfig  # noqa: E402
from vislearn.data import make_loader, read_labelled, train_transform  # noqa: E402
from vislearn.engine import autocast, default_workers, memory_format, pick_device, pick_precision, save_tensors  # noqa: E402
from vislearn.engine.checkpoint import optimizer_state  # noqa: E402
from vislearn.engine.train import BEST, LAST, run_epoch, seed_epoch, warmup_cosine  # noqa: E402
from vislearn.models import create_model, preprocessing_for  # noqa: E402
from vislearn.tasks.classify.train import ClassifyTask  # noqa: E402

TARGET = 0.97
VISLEARN, PLAIN = "vislearn run_epoch", "plain PyTorch loop"


def plain_epoch(model, batches, optimizer, scheduler, device, precision, fmt) -> int:
    """The loop anyone would write: forward, cross-entropy, backward, AdamW step. Returns images seen."""
    model.train()
    seen = 0
    for batch in batches:
        images = batch.images.to(device, non_blocking=True, memory_format=fmt)
        labels = batch.labels.to(device, non_blocking=True)
        with autocast(device, precision):
            loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        seen += len(labels)
    return seen


def finish(device: torch.device) -> None:
    """Wait for queued GPU work, so that an epoch's time includes all of it."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def optimizer_and_schedule(model, config: TrainConfig, steps_per_epoch: int, epochs: int):
    """AdamW + warm-up/cosine exactly as ``fit`` builds them."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    warmup = max(1, int(config.warmup_epochs * steps_per_epoch))
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(epochs * steps_per_epoch, warmup))


def checkpoint_seconds(model, optimizer, repeats: int = 3) -> float:
    """Median time to write what ``fit`` writes after an improving epoch: the weights (model.safetensors)
    and the resumable state, weights + AdamW moments (last.safetensors)."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            start = time.perf_counter()
            save_tensors(Path(tmp) / BEST, model.state_dict(), {"epoch": 1})
            opt_tensors, opt_meta = optimizer_state(optimizer)
            save_tensors(Path(tmp) / LAST, {f"model.{k}": v for k, v in model.state_dict().items()} | opt_tensors,
                         {"epoch": 1, "optimizer": opt_meta})
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="tiny_cnn")
    p.add_argument("--image-size", type=int, default=None, help="default: the model's own (tiny_cnn 32)")
    p.add_argument("--rounds", "--epochs", type=int, default=10, help="timed epochs per side, alternated (data path: epochs)")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--images", type=int, default=512,
                   help="epoch = the first N of the training split (0: all 1,259); short epochs pair up better under noise")
    p.add_argument("--workers", type=int, default=None, help="loader processes (default: vislearn's, one per core but one)")
    p.add_argument("--grad-clip", type=float, default=TrainConfig.grad_clip, help="engine side; 0 turns clipping off")
    p.add_argument("--threads", type=int, help="torch intra-op threads, both sides (default: torch's, one per core)")
    p.add_argument("--in-memory", action="store_true", help="decode and augment once, then both sides loop over the same batches")
    p.add_argument("--data-path", help="time the real `vislearn train classify` stages on this PNG folder (fm:N: Fashion-MNIST)")
    p.add_argument("--runs", type=int, default=1, help="data-path mode: runs one after the other (2: the second reuses "
                   "the decoded images the first kept on disk)")
    p.add_argument("--until-first-step", action="store_true", help="data-path mode: time the start-up alone (no training)")
    p.add_argument("--plain-images", type=int, help="data-path mode: time the plain epoch on this many images, scaled up")
    p.add_argument("--recipe", default=None, help="data-path mode: the train flags (default: time_to_accuracy.py's recipe)")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.data_path:
        from _data_path import data_path_main

        return data_path_main(args.data_path, args.recipe, args.rounds, args.runs, args.until_first_step, args.plain_images)
    torch.manual_seed(0)
    config = TrainConfig(model=args.model, weights="none", batch_size=args.batch_size, image_size=args.image_size,
                         grad_clip=args.grad_clip or None)
    digit_files(1)  # writes the digits once
    data = read_labelled(CACHE / "digits", config.seed, config.val_fraction, config.test_fraction)
    samples = data.splits["train"][: args.images or None]
    model = create_model(config.model, len(data.class_names), config.weights)
    pre = preprocessing_for(model, config.image_size)
    workers = default_workers() if args.workers is None else args.workers
    loader = make_loader(samples, train_transform(pre, config.augment), config.batch_size, True, workers, config.seed)
    batches = list(loader) if args.in_memory else loader

    device = pick_device(config.device)
    precision = pick_precision(device, config.precision)
    fmt = memory_format(device, config.channels_last)
    task = ClassifyTask(len(data.class_names))
    engine_model, plain_model = model.to(device, memory_format=fmt), copy.deepcopy(model).to(device, memory_format=fmt)
    epochs = args.rounds + 1  # + the untimed warm-up epoch
    engine_opt, engine_sched = optimizer_and_schedule(engine_model, config, len(loader), epochs)
    plain_opt, plain_sched = optimizer_and_schedule(plain_model, config, len(loader), epochs)
    epoch = {"vislearn": 0, "plain": 0}

    def vislearn_side() -> int:
        epoch["vislearn"] += 1
        seed_epoch(loader, config.seed, epoch["vislearn"])
        run_epoch(engine_model, task, batches, device, precision, fmt, engine_opt, engine_sched, config.grad_clip,
                  progress=False)
        finish(device)
        return len(samples)

    def plain_side() -> int:
        epoch["plain"] += 1
        seed_epoch(loader, config.seed, epoch["plain"])
        seen = plain_epoch(plain_model, batches, plain_opt, plain_sched, device, precision, fmt)
        finish(device)
        return seen

    print(f"model {config.model} at {pre.image_size}px, {len(samples)} digits/epoch, batch {config.batch_size}, "
          f"{workers} loader workers{' (batches held in memory)' if args.in_memory else ''}, device {device} {precision}, "
          f"{torch.get_num_threads()} torch threads, grad_clip {config.grad_clip}")
    wall, cpu = alternate({VISLEARN: vislearn_side, PLAIN: plain_side}, args.rounds)
    medians = print_table(wall)
    print_table(cpu, "img/CPU-s")
    ckpt = checkpoint_seconds(engine_model, engine_opt)
    epoch_s = len(samples) / medians[VISLEARN]
    print(f"\nfit's per-epoch checkpoint (not timed above): {ckpt * 1000:.0f} ms = {100 * ckpt / epoch_s:.1f} % of a training epoch")
    print(f"wall clock: ratio of medians {medians[VISLEARN] / medians[PLAIN]:.3f}, "
          f"of best rounds {max(wall[VISLEARN]) / max(wall[PLAIN]):.3f}, median per-round {paired_ratio(wall, VISLEARN, PLAIN):.3f}")
    print(f"CPU time:   median per-round ratio {paired_ratio(cpu, VISLEARN, PLAIN):.3f}")
    print(f"ratio vislearn/plain: {paired_ratio(wall, VISLEARN, PLAIN):.2f} (target >= {TARGET})  [wall clock, median of per-round ratios]")


if __name__ == "__main__":
    main()
