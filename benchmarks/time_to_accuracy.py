"""Time to accuracy on Fashion-MNIST: `vislearn train classify` (the CLI, from PNG files) against the issue's plain loop.

The plain loop (issue 17): the training images read from the IDX files into one in-memory tensor, 5 conv layers with
BatchNorm, SGD with Nesterov momentum and a one-cycle LR, random horizontal flips on the batch, 6 epochs.
vislearn: `vislearn data sample fashion-mnist` writes the PNG folder (once, not timed); then `vislearn train classify`
runs as a subprocess on it, decoding included, with the recipe given by ``--vislearn-args``.

Both are evaluated on the Fashion-MNIST test split after every epoch (not timed: vislearn's weights are read from the
run's last.safetensors and scored with its own preprocessing). The machine is shared: the two ALTERNATE epoch by epoch.
The vislearn process group is stopped (SIGSTOP) while the plain loop trains and continued (SIGCONT) for its next epoch;
its time counts while it runs, from its start (imports, reading and decoding the files) to the end of each epoch
(history.json), its CPU seconds are those of its process tree (/proc). Both sides use torch's default threads.

    .venv/bin/python benchmarks/time_to_accuracy.py --train-images 10000 --target 0.88     # a subset: 25 min at load 10-18
    .venv/bin/python benchmarks/time_to_accuracy.py                                       # all 60,000: ~20 min, quiet machine
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CACHE  # noqa: E402

from vislearn.data.idx import read_idx_folder  # noqa: E402
from vislearn.data.samples import FASHION_MNIST_DIR  # noqa: E402

# the plain loop's own recipe in vislearn's engine (cnn5 = its 5 conv layers; SGD Nesterov, one-cycle with a 30 %
# warm-up, flips), plus label smoothing 0.1, in channels_last (docs/scale.md)
VISLEARN_RECIPE = ("--model cnn5 --weights none --epochs 6 --batch-size 128 --optimizer sgd --lr 0.05 --schedule onecycle "
                   "--warmup-epochs 1.8 --label-smoothing 0.1 --augment mirror --val-fraction 0.05 --memory-format channels_last")
FM_MEAN, FM_STD = 0.286, 0.353


def plain_model() -> nn.Module:
    """5 conv layers (32, 32, 64, 64, 128) with BatchNorm and ReLU, two max pools, global average pool, linear."""
    def conv(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    return nn.Sequential(*conv(1, 32), *conv(32, 32), nn.MaxPool2d(2), *conv(32, 64), *conv(64, 64), nn.MaxPool2d(2),
                         *conv(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


class PlainLoop:
    """The issue's hand-written loop, one epoch per call."""

    def __init__(self, train_images: int, epochs: int, batch_size: int = 128, lr: float = 0.05):
        images, labels = read_idx_folder(FASHION_MNIST_DIR, "train")
        self.x = (torch.from_numpy(images[:train_images].copy()).float().div(255).unsqueeze(1) - FM_MEAN) / FM_STD
        self.y = torch.from_numpy(labels[:train_images].copy())
        torch.manual_seed(0)
        self.model, self.batch_size = plain_model(), batch_size
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
        steps = epochs * -(-len(self.y) // batch_size)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=lr, total_steps=steps)

    def epoch(self) -> None:
        self.model.train()
        order = torch.randperm(len(self.y))
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            x = self.x[rows]
            flip = torch.rand(len(rows)) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
            loss = F.cross_entropy(self.model(x), self.y[rows])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()

    def accuracy(self, test_x: torch.Tensor, test_y: torch.Tensor) -> float:
        return accuracy(self.model, (test_x.float().div(255).unsqueeze(1) - FM_MEAN) / FM_STD, test_y)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    predicted = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return (predicted == y).float().mean().item()


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its descendants, the finished ones included (/proc utime+stime+cutime+cstime)."""
    tick, total, todo = os.sysconf("SC_CLK_TCK"), 0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / tick


class VislearnRun:
    """`vislearn train classify` in its own process group, run one epoch at a time."""

    def __init__(self, data: Path, out: Path, recipe: str):
        cmd = [str(Path(sys.executable).parent / "vislearn"), "train", "classify", "--data", str(data), "--out", str(out),
               "--quiet", *shlex.split(recipe)]
        print("vislearn:", " ".join(cmd), flush=True)
        self.out, self.epochs_done, self.wall, self.cpu, self.after_last = out, 0, 0.0, 0.0, 0.0
        self.process = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=open(out.with_suffix(".log"), "w"))
        self._signal(signal.SIGSTOP)

    def _signal(self, sig) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def _history(self) -> int:
        try:
            return len(json.loads((self.out / "history.json").read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            return 0

    def next_epoch(self) -> bool:
        """Continue until one more epoch is in history.json (True), or the run ended (False); then stop it again."""
        start = time.perf_counter()
        self._signal(signal.SIGCONT)
        while self._history() <= self.epochs_done and self.process.poll() is None:
            time.sleep(0.05)
        self._signal(signal.SIGSTOP)
        if self._history() > self.epochs_done:
            self.wall += time.perf_counter() - start
            self.cpu = tree_cpu_seconds(self.process.pid)
            self.epochs_done += 1
            return True
        self.after_last += time.perf_counter() - start  # calibration, test, report: after the last epoch
        return False

    def finish(self) -> float:
        """Let the run finish (calibration, test, report); returns the wall seconds it ran after its last epoch."""
        start = time.perf_counter()
        self._signal(signal.SIGCONT)
        self.process.wait()
        return self.after_last + time.perf_counter() - start

    def accuracy(self, test_x: torch.Tensor, test_y: torch.Tensor, cache: dict) -> float:
        from vislearn.engine.checkpoint import load_tensors
        from vislearn.models import Preprocessing, create_model

        config = json.loads((self.out / "config.json").read_text())
        pre = Preprocessing.from_dict(config["preprocessing"])
        if "x" not in cache:
            from PIL import Image

            from vislearn.data import eval_transform

            transform = eval_transform(pre)
            cache["x"] = torch.stack([transform(Image.fromarray(a.numpy()).convert("RGB")) for a in test_x])
        model = create_model(config["model"], len(config["class_names"]), "none")
        tensors, _ = load_tensors(self.out / "last.safetensors")
        model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
        names = config["class_names"]  # folder names sorted: map the IDX label order onto them
        from vislearn.data.samples import FASHION_CLASSES

        order = torch.tensor([names.index(n) for n in FASHION_CLASSES])
        return accuracy(model, cache["x"], order[test_y])


def sample_folder(train_images: int) -> Path:
    folder = CACHE / f"fashion-mnist-{train_images}"
    if not (folder / ".complete").exists():
        subprocess.run([str(Path(sys.executable).parent / "vislearn"), "data", "sample", "fashion-mnist", str(folder),
                        "--limit", str(train_images)], check=True, stdout=subprocess.DEVNULL)
        (folder / ".complete").touch()
    return folder


def first_reaching(rows: list[dict], target: float) -> dict | None:
    return next((r for r in rows if r["accuracy"] >= target), None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train-images", type=int, default=60000)
    p.add_argument("--target", type=float, action="append", help="accuracy to time (repeatable; default 0.92 and 0.927)")
    p.add_argument("--plain-epochs", type=int, default=6)
    p.add_argument("--vislearn-args", default=VISLEARN_RECIPE, help=f"the vislearn recipe (default: {VISLEARN_RECIPE})")
    args = p.parse_args()
    targets = args.target or [0.92, 0.927]
    data = sample_folder(args.train_images)
    test_images, test_labels = read_idx_folder(FASHION_MNIST_DIR, "test")
    test_x, test_y = torch.from_numpy(test_images.copy()), torch.from_numpy(test_labels.copy())
    run_dir = CACHE / f"time-to-accuracy-{os.getpid()}"
    print(f"{args.train_images:,} training images, {len(test_y):,} test images; torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    vislearn_run = VislearnRun(data, run_dir, args.vislearn_args)
    start, cpu_start = time.perf_counter(), time.process_time()
    plain = PlainLoop(args.train_images, args.plain_epochs)
    plain_wall, plain_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rows: dict[str, list[dict]] = {"plain": [], "vislearn": []}
    cache: dict = {}
    epoch = 0
    while True:
        epoch += 1
        progressed = False
        if epoch <= args.plain_epochs:
            start, cpu_start = time.perf_counter(), time.process_time()
            plain.epoch()
            plain_wall += time.perf_counter() - start
            plain_cpu += time.process_time() - cpu_start
            rows["plain"].append({"epoch": epoch, "accuracy": plain.accuracy(test_x, test_y), "wall": plain_wall, "cpu": plain_cpu,
                                  "load": os.getloadavg()[0]})
            progressed = True
        if vislearn_run.next_epoch():
            rows["vislearn"].append({"epoch": epoch, "accuracy": vislearn_run.accuracy(test_x, test_y, cache),
                                     "wall": vislearn_run.wall, "cpu": vislearn_run.cpu, "load": os.getloadavg()[0]})
            progressed = True
        for name in rows:
            if rows[name] and rows[name][-1]["epoch"] == epoch:
                r = rows[name][-1]
                print(f"  {name:<9} epoch {epoch}  test accuracy {r['accuracy']:.4f}  {r['wall']:7.1f} s wall  "
                      f"{r['cpu']:7.1f} CPU s  load {r['load']:.1f}", flush=True)
        if not progressed:
            break
    rest = vislearn_run.finish()
    print(f"vislearn's run after its last epoch (calibration, test, report): {rest:.1f} s wall; log {run_dir.with_suffix('.log')}")
    for target in targets:
        reached = {name: first_reaching(rows[name], target) for name in rows}
        cells = [f"{name} " + (f"epoch {r['epoch']}: {r['wall']:.1f} s wall, {r['cpu']:.1f} CPU s" if r else "not reached")
                 for name, r in reached.items()]
        line = f"time to {target}: " + "; ".join(cells)
        if all(reached.values()):
            line += (f"  -> plain/vislearn {reached['plain']['cpu'] / reached['vislearn']['cpu']:.2f}x CPU, "
                     f"{reached['plain']['wall'] / reached['vislearn']['wall']:.2f}x wall")
        print(line)
    print(f"load average at the end {os.getloadavg()[0]:.1f} (1 min) {os.getloadavg()[1]:.1f} (5 min)")


if __name__ == "__main__":
    main()
