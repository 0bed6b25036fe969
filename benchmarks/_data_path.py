"""``train_overhead.py --data-path``: the stages of a real `vislearn train classify` run against the plain loop's epoch.

One run of the CLI (``vislearn.cli.main``, in this process so that :class:`_stages.StageClock` sees its calls), the
import of the CLI timed in a fresh interpreter, and one epoch of time_to_accuracy.py's plain in-memory loop over the
same number of training images. Printed per stage: calls, wall s, CPU s, and CPU s as a share of the plain epoch.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _stages import StageClock, cpu_now

DEFAULT_RECIPE = "--model small_cnn --weights none --batch-size 128 --lr 0.003 --augment mirror --val-fraction 0.05"


def import_seconds() -> tuple[float, float]:
    """(wall, CPU) seconds of a fresh interpreter importing the CLI and the classify task, as `vislearn train` does."""
    code = "import vislearn.cli, vislearn.tasks.classify.train"
    wall, cpu = time.perf_counter(), cpu_now()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - wall, cpu_now() - cpu


def folder_of(data_path: str) -> tuple[Path, int]:
    """(PNG folder, training images it holds): ``fm:N`` is the Fashion-MNIST sample of N, written once."""
    if data_path.startswith("fm:"):
        from time_to_accuracy import sample_folder

        n = int(data_path[3:])
        return sample_folder(n), n
    folder = Path(data_path)
    return folder, sum(1 for _ in (folder / "train" if (folder / "train").is_dir() else folder).rglob("*.*"))


def plain_epoch_cpu(images: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one epoch of the issue's plain loop over ``images`` Fashion-MNIST images in memory."""
    from time_to_accuracy import PlainLoop

    loop = PlainLoop(min(images, 60000), epochs=1)
    wall, cpu = time.perf_counter(), cpu_now()
    loop.epoch()
    return time.perf_counter() - wall, cpu_now() - cpu


class FirstStep(Exception):
    """Raised instead of training (``--until-first-step``): the run's start-up alone is timed."""


def stop_at_fit(*_args, **_kwargs):
    raise FirstStep


def data_path_main(data_path: str, recipe: str | None, epochs: int, runs: int = 1, until_first_step: bool = False,
                   plain_images: int | None = None) -> None:
    """Time ``runs`` runs of the CLI one after the other; the decoded images are kept in a fresh folder (unless
    VISLEARN_CACHE_DIR is set), so the first run decodes and the later ones reuse its copy on disk. With
    ``until_first_step`` each run stops where training would start. The plain epoch is measured on ``plain_images``
    (default: as many as the folder) and scaled linearly to the folder's count when fewer."""
    from unittest import mock

    from vislearn.cli import main as cli

    folder, n_train = folder_of(data_path)
    flags = shlex.split(recipe or DEFAULT_RECIPE)
    if "--epochs" not in flags:
        flags += ["--epochs", str(epochs)]
    print(f"data {folder} ({n_train:,} training files); vislearn train classify {' '.join(flags)}; "
          f"load average {os.getloadavg()[0]:.1f}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}", flush=True)
    imports = import_seconds()
    measured = min(plain_images or n_train, n_train)
    plain = tuple(t * n_train / measured for t in plain_epoch_cpu(measured))
    print(f"plain loop, one epoch of {n_train:,} in-memory images: {plain[0]:.1f} s wall, {plain[1]:.1f} CPU s"
          + (f" (measured on {measured:,}, scaled)" if measured < n_train else ""), flush=True)
    with tempfile.TemporaryDirectory() as store:
        os.environ.setdefault("VISLEARN_CACHE_DIR", store)
        for run in range(1, runs + 1):
            with tempfile.TemporaryDirectory() as out, StageClock() as clock:
                if not until_first_step:
                    cli(["train", "classify", "--data", str(folder), "--out", out, "--quiet", *flags])
                else:
                    with mock.patch("vislearn.tasks.classify.train.fit", stop_at_fit):
                        try:
                            cli(["train", "classify", "--data", str(folder), "--out", out, "--quiet", *flags])
                        except FirstStep:
                            pass
            print_stages(f"run {run} of {runs} (load average {os.getloadavg()[0]:.1f})",
                         [("imports (fresh interpreter)", 1, *imports)] + clock.rows(), plain[1],
                         int(flags[flags.index("--epochs") + 1]))


def print_stages(title: str, rows: list, plain_cpu: float, n_epochs: int) -> None:
    print(f"\n{title}\n{'stage':34} {'calls':>6} {'wall s':>8} {'CPU s':>8} {'CPU/plain epoch':>16}")
    for name, calls, wall, cpu in rows:
        print(f"{name:34} {calls:>6} {wall:>8.2f} {cpu:>8.2f} {cpu / plain_cpu:>16.3f}")
    before = sum(r[3] for r in rows if r[0] in BEFORE_FIRST_STEP)
    per_epoch = sum(r[3] for r in rows if r[0] in PER_EPOCH) / n_epochs
    print(f"before the first step: {before:.1f} CPU s = {before / plain_cpu:.2f} plain epochs; "
          f"per epoch: {per_epoch:.1f} CPU s = {per_epoch / plain_cpu:.2f} plain epochs ({n_epochs} epochs)", flush=True)


BEFORE_FIRST_STEP = {"imports (fresh interpreter)", "listing + header check", "hashing (duplicate check)", "image size choice",
                     "model creation", "cache decision (headers)", "content key (hashing)",
                     "decoded store read/write", "decode into the cache", "resize to input tensor"}
PER_EPOCH = {"train steps", "batch assembly + augmentation", "validation", "validation batches", "checkpoint write",
             "history/report json"}
